"""The arena's votes database under attack: another application's file, read-only commands, a file deleted or
locked under a running demo, formula-looking cells in an export, corrupt JSON in a row."""
from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
import subprocess
import sys
import time

import gradio as gr
import pytest

from demo import arena_handlers
from demo.handlers import DemoSession
from evaluation.arena import vote_db
from evaluation.arena.votes import Battle, VoteError, VoteStore, export
from models.text.planners import make_planner



def arena_cli(capsys, *args: str) -> tuple[int, str]:
    """`python -m evaluation arena ARGS` in this process: (exit status, stderr)."""
    from evaluation.__main__ import main

    capsys.readouterr()
    try:
        main(["arena", *args])
        code = 0
    except SystemExit as stopped:
        code = stopped.code
    return code, capsys.readouterr().err


def battle(prompt: str = "a red circle") -> Battle:
    return Battle(prompt, "single", 7, {"steps": 25}, "ddpm", "gan", "a red circle", {"full": True}, {"full": False})


def voted(path, prompts=("a red circle",)) -> VoteStore:
    store = VoteStore(path)
    for prompt in prompts:
        store.vote(store.record_battle(battle(prompt)), "A", "s")
    return store


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tables(path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")}


@pytest.fixture
def foreign(tmp_path):
    """Another application's SQLite file, journal mode DELETE."""
    path = tmp_path / "app.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (name TEXT)")
        db.execute("INSERT INTO users VALUES ('ada')")
    return path


def test_another_applications_database_is_refused_untouched(foreign):
    before = digest(foreign)
    with pytest.raises(VoteError, match="not GenBench's votes database") as refused:
        VoteStore(foreign)
    assert "\n" not in str(refused.value)
    with pytest.raises(VoteError, match="not GenBench's"):
        VoteStore(foreign, read_only=True)
    assert digest(foreign) == before and tables(foreign) == {"users"}
    with sqlite3.connect(foreign) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # not switched to WAL


def test_the_demo_and_the_cli_refuse_another_applications_database_in_one_line(foreign, tiny_generator, tmp_path,
                                                                               capsys):
    before = digest(foreign)
    with pytest.raises(SystemExit, match=r"^error: .*not GenBench's") as stopped:
        arena_handlers.open_arena(DemoSession({"tiny": tiny_generator}, make_planner("rules")), foreign)
    assert "\n" not in str(stopped.value)
    code, err = arena_cli(capsys, str(foreign), "--export", str(tmp_path / "v.csv"))
    assert code != 0 and err.count("\n") == 1 and "not GenBench's" in err
    assert digest(foreign) == before and not (tmp_path / "v.csv").exists()


def test_an_empty_new_file_becomes_a_votes_database(tmp_path):
    (tmp_path / "new.sqlite3").write_bytes(b"")
    voted(tmp_path / "new.sqlite3")
    assert tables(tmp_path / "new.sqlite3") == vote_db.TABLES


def test_export_and_ratings_open_the_file_read_only(tmp_path, capsys):
    path = tmp_path / "votes.sqlite3"
    voted(path, ["a red circle", "a blue square"])
    with sqlite3.connect(path, isolation_level=None) as db:
        db.execute("PRAGMA journal_mode=DELETE")  # so that any write would show in the file's bytes
    before = digest(path)
    code, err = arena_cli(capsys, str(path), "--export", str(tmp_path / "v.jsonl"), "--bootstrap", "0")
    assert code == 0, err
    assert digest(path) == before and len((tmp_path / "v.jsonl").read_text().splitlines()) == 2
    store = VoteStore(path, read_only=True)
    with pytest.raises(VoteError, match="readonly"):
        store.record_battle(battle())
    assert digest(path) == before


def test_a_read_only_command_on_an_empty_file_is_refused(tmp_path):
    (tmp_path / "empty.sqlite3").write_bytes(b"")
    with pytest.raises(VoteError, match=r"its tables: none"):
        VoteStore(tmp_path / "empty.sqlite3", read_only=True)


def test_the_file_deleted_under_a_running_demo_is_made_again(tiny_generator, tmp_path):
    path = tmp_path / "votes.sqlite3"
    arena = arena_handlers.Arena(DemoSession({"tiny": tiny_generator}, make_planner("rules")), voted(path))
    old = arena.store.record_battle(battle())
    for leftover in tmp_path.iterdir():  # the database with its -wal and -shm, as `rm votes.sqlite3*` would
        leftover.unlink()
    assert arena_handlers.board(arena).votes == 0  # no exception: the tables came back, empty
    with pytest.raises(gr.Error, match="Unknown battle"):  # the lost battle is named, not a generic error
        arena_handlers.vote(arena, old, "A")
    row = arena_handlers.vote(arena, arena.store.record_battle(battle()), "B")
    assert row["vote"] == "B" and arena.store.count() == 1 and tables(path) == vote_db.TABLES


def hold(path, statements: str):
    """Another process holding the database with `statements`, until its stdin closes."""
    code = ("import sqlite3, sys\n"
            f"db = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
            f"for s in {statements!r}.split(';'):\n    db.execute(s)\n"
            "print('held', flush=True)\nsys.stdin.read()\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


@pytest.mark.parametrize("statements, reads_blocked", [("BEGIN EXCLUSIVE", False),
                                                       ("PRAGMA locking_mode=EXCLUSIVE;BEGIN EXCLUSIVE", True)])
def test_a_database_locked_elsewhere_answers_busy_within_seconds(tiny_generator, tmp_path, statements,
                                                                 reads_blocked):
    assert vote_db.BUSY_S <= 5
    path = tmp_path / "votes.sqlite3"
    arena = arena_handlers.Arena(DemoSession({"tiny": tiny_generator}, make_planner("rules")), voted(path))
    battle_id = arena.store.record_battle(battle())
    holder = hold(path, statements)
    try:
        started = time.monotonic()
        with pytest.raises(gr.Error, match="busy.*try again") as refused:
            arena_handlers.vote(arena, battle_id, "A")
        assert time.monotonic() - started < 6 and "\n" not in str(refused.value)
        if reads_blocked:
            with pytest.raises(gr.Error, match="busy"):
                arena_handlers.board(arena)
        else:
            assert arena_handlers.board(arena).votes == 1  # WAL: readers go on beside the writer
    finally:
        holder.communicate("")
    assert arena_handlers.vote(arena, battle_id, "A")["vote"] == "A"  # released: the same vote goes through


FORMULAS = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]


def test_csv_export_neutralises_formula_prefixes(tmp_path):
    store = voted(tmp_path / "votes.sqlite3", [*FORMULAS, "a red circle"])
    export(store.votes(), tmp_path / "v.csv")
    rows = list(csv.DictReader(open(tmp_path / "v.csv", newline="", encoding="utf-8")))
    assert [row["prompt"] for row in rows] == ["'" + f for f in FORMULAS] + ["a red circle"]
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row.values())
    assert rows[0]["seed"] == "7" and json.loads(rows[0]["settings"]) == {"steps": 25}
    export(store.votes(), tmp_path / "v.jsonl")  # JSON lines keep the text as it was typed
    assert [json.loads(line)["prompt"] for line in open(tmp_path / "v.jsonl")][:len(FORMULAS)] == FORMULAS


@pytest.mark.parametrize("column, text", [("settings", "{not json"), ("judge_a", "[1, 2]"), ("judge_b", "\"yes\"")])
def test_a_vote_with_corrupt_json_is_skipped_with_one_warning(tmp_path, capsys, column, text):
    path = tmp_path / "votes.sqlite3"
    voted(path, ["a red circle", "a blue square"])
    with sqlite3.connect(path) as db:
        db.execute(f"UPDATE votes SET {column} = ? WHERE id = 1", (text,))
    assert [v["prompt"] for v in VoteStore(path).votes()] == ["a blue square"]
    warning = capsys.readouterr().err
    assert warning.count("\n") == 1 and "skipped 1 vote" in warning and "vote id 1" in warning
    code, err = arena_cli(capsys, str(path), "--bootstrap", "0")
    assert code == 0 and "skipped 1 vote" in err
