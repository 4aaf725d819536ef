"""The arena's votes database: one row per vote, refusals, restarts, concurrent writers, export."""
import csv
import json
import sqlite3
import threading

import pytest

from evaluation.arena.votes import SCHEMA_VERSION, Battle, VoteError, VoteStore, export


def battle(model_a="ddpm", model_b="gan", caption="a red circle", full=(True, False)) -> Battle:
    return Battle("a red circle", "single", 7, {"steps": 25, "guidance": 3.0}, model_a, model_b, caption,
                  {"full": full[0], "reason": ""}, {"full": full[1], "reason": "saw nothing"})


def test_a_vote_is_one_row_with_the_battles_prompt_seed_settings_models_and_verdicts(tmp_path):
    store = VoteStore(tmp_path / "votes.sqlite3")
    battle_id = store.record_battle(battle())
    row = store.vote(battle_id, "A", "c0ffee")
    [stored] = store.votes()
    assert stored == row
    assert (stored["prompt"], stored["category"], stored["seed"], stored["model_a"], stored["model_b"],
            stored["vote"], stored["session"]) == ("a red circle", "single", 7, "ddpm", "gan", "A", "c0ffee")
    assert stored["settings"] == {"steps": 25, "guidance": 3.0}
    assert stored["judge_a"]["full"] is True and stored["judge_b"]["reason"] == "saw nothing"
    assert stored["created"].endswith("+00:00")  # UTC


def test_the_database_is_wal_with_a_schema_version(tmp_path):
    VoteStore(tmp_path / "votes.sqlite3")
    db = sqlite3.connect(tmp_path / "votes.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]


def test_unknown_already_voted_and_malformed_votes_are_refused_with_one_line(tmp_path):
    store = VoteStore(tmp_path / "votes.sqlite3")
    battle_id = store.record_battle(battle())
    for bad, message in ((("nope", "A"), "Unknown battle 'nope'"), ((battle_id, "C"), "A vote is one of A, B, tie"),
                         (("", "A"), "Draw a battle first")):
        with pytest.raises(VoteError, match=message):
            store.vote(*bad)
    store.vote(battle_id, "tie")
    with pytest.raises(VoteError, match="voted on already") as refused:
        store.vote(battle_id, "B")
    assert "\n" not in str(refused.value)
    assert [v["vote"] for v in store.votes()] == ["tie"]


def test_votes_survive_reopening_the_file(tmp_path):
    path = tmp_path / "votes.sqlite3"
    store = VoteStore(path)
    for choice in ("A", "B", "both_bad"):
        store.vote(store.record_battle(battle()), choice)
    assert [v["vote"] for v in VoteStore(path).votes()] == ["A", "B", "both_bad"]


def test_a_file_of_another_kind_or_version_is_a_one_line_error(tmp_path):
    (tmp_path / "junk.sqlite3").write_bytes(b"not a database at all" * 100)
    with pytest.raises(VoteError, match="not a usable votes database"):
        VoteStore(tmp_path / "junk.sqlite3")
    VoteStore(tmp_path / "old.sqlite3")
    sqlite3.connect(tmp_path / "old.sqlite3", isolation_level=None).execute("UPDATE schema_version SET version = 99")
    with pytest.raises(VoteError, match="schema version 99"):
        VoteStore(tmp_path / "old.sqlite3")


def test_twenty_threads_voting_at_once_lose_no_vote_and_a_battle_takes_one(tmp_path):
    store = VoteStore(tmp_path / "votes.sqlite3")
    battles = [store.record_battle(battle()) for _ in range(20)]
    barrier, refused = threading.Barrier(40), []

    def vote(battle_id, choice):
        barrier.wait()
        try:
            VoteStore(store.path).vote(battle_id, choice)
        except VoteError as error:
            refused.append(str(error))

    # two voters per battle: one of each pair must be refused, never both taken or both lost
    threads = [threading.Thread(target=vote, args=(b, c)) for b in battles for c in ("A", "B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.count() == 20 and len(refused) == 20
    assert sorted(v["battle_id"] for v in store.votes()) == sorted(battles)


def test_export_writes_csv_and_jsonl_and_refuses_other_files(tmp_path):
    store = VoteStore(tmp_path / "votes.sqlite3")
    store.vote(store.record_battle(battle()), "A")
    assert export(store.votes(), tmp_path / "v.jsonl") == 1
    assert json.loads((tmp_path / "v.jsonl").read_text())["judge_a"]["full"] is True
    export(store.votes(), tmp_path / "v.csv")
    [row] = list(csv.DictReader(open(tmp_path / "v.csv")))
    assert row["vote"] == "A" and json.loads(row["settings"]) == {"guidance": 3.0, "steps": 25}
    with pytest.raises(VoteError, match=r"\.csv or \.jsonl"):
        export(store.votes(), tmp_path / "v.xlsx")
