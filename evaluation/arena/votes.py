"""The arena's votes in SQLite: battles as they are drawn, one row per vote, safe under concurrent writers.

A battle is recorded when it is drawn (prompt, seed, settings, the two models, the judge's verdict on each
image where the prompt has a world caption); a vote names a recorded battle and is taken once. Every call
opens its own connection (WAL journal, a busy timeout, writes in BEGIN IMMEDIATE), so threads and processes
may share one file. No personal data: a voter is an anonymous session hash.
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime
import json
import pathlib
import sqlite3
import uuid

SCHEMA_VERSION = 1
VOTES = ("A", "B", "tie", "both_bad")
BUSY_MS = 30_000  # how long a writer waits for another's transaction before giving up
EXPORT_FIELDS = ("battle_id", "prompt", "category", "caption", "seed", "settings", "model_a", "model_b", "vote",
                 "created", "session", "judge_a", "judge_b")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS battles (
    id TEXT PRIMARY KEY, prompt TEXT NOT NULL, category TEXT NOT NULL, caption TEXT, seed INTEGER NOT NULL,
    settings TEXT NOT NULL, model_a TEXT NOT NULL, model_b TEXT NOT NULL, judge_a TEXT, judge_b TEXT,
    created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS votes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, battle_id TEXT NOT NULL UNIQUE REFERENCES battles(id),
    prompt TEXT NOT NULL, category TEXT NOT NULL, caption TEXT, seed INTEGER NOT NULL, settings TEXT NOT NULL,
    model_a TEXT NOT NULL, model_b TEXT NOT NULL, vote TEXT NOT NULL CHECK (vote IN ('A', 'B', 'tie', 'both_bad')),
    created TEXT NOT NULL, session TEXT NOT NULL, judge_a TEXT, judge_b TEXT);
"""


class VoteError(ValueError):
    """A vote or battle the store refuses; the message is one line for the voter."""


@dataclasses.dataclass(frozen=True)
class Battle:
    """Two models on one prompt and seed. caption: the world caption the judge read (None: not judged);
    judge_a / judge_b: world.accuracy.judge's verdict on each image, or None."""
    prompt: str
    category: str
    seed: int
    settings: dict
    model_a: str
    model_b: str
    caption: str | None = None
    judge_a: dict | None = None
    judge_b: dict | None = None


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _json(value) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True)


class VoteStore:
    """The votes database at `path` (created with its folder on first use)."""

    def __init__(self, path: str | pathlib.Path):
        self.path = pathlib.Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.execute("PRAGMA journal_mode=WAL")  # readers never block the writer, nor it them
                self._migrate(db)
        except sqlite3.DatabaseError as error:  # not a database, locked for good, read-only
            raise VoteError(f"{self.path}: not a usable votes database ({error})") from None
        except OSError as error:
            raise VoteError(f"{self.path}: cannot be created ({error.strerror or error})") from None

    @contextlib.contextmanager
    def _connect(self):
        """A connection of its own (sqlite3 connections are not shared between threads), closed afterwards."""
        db = sqlite3.connect(self.path, timeout=BUSY_MS / 1000, isolation_level=None)
        try:
            db.execute(f"PRAGMA busy_timeout={BUSY_MS}")
            db.row_factory = sqlite3.Row
            yield db
        finally:
            db.close()

    @contextlib.contextmanager
    def _write(self):
        """One write transaction, taken at once (BEGIN IMMEDIATE): no two writers interleave a read and a write."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _migrate(self, db) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)
            found = db.execute("SELECT version FROM schema_version").fetchone()
            if found is None:
                db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
            elif found[0] != SCHEMA_VERSION:
                raise VoteError(f"{self.path}: schema version {found[0]}, this GenBench reads {SCHEMA_VERSION}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def record_battle(self, battle: Battle) -> str:
        """Store a battle as it is drawn; returns its id, which a vote must name."""
        battle_id = uuid.uuid4().hex
        with self._write() as db:
            db.execute("INSERT INTO battles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (battle_id, battle.prompt, battle.category, battle.caption, int(battle.seed),
                        _json(battle.settings), battle.model_a, battle.model_b, _json(battle.judge_a),
                        _json(battle.judge_b), utc_now()))
        return battle_id

    def vote(self, battle_id: str, vote: str, session: str = "") -> dict:
        """Record `vote` on battle `battle_id`; returns the vote's row. A VoteError for a bad label, an unknown
        battle or one already voted on."""
        if vote not in VOTES:
            raise VoteError(f"A vote is one of {', '.join(VOTES)}, got {str(vote)[:40]!r}.")
        if not isinstance(battle_id, str) or not battle_id.strip():
            raise VoteError("Draw a battle first: there is nothing to vote on.")
        with self._write() as db:
            battle = db.execute("SELECT * FROM battles WHERE id = ?", (battle_id,)).fetchone()
            if battle is None:
                raise VoteError(f"Unknown battle {battle_id[:40]!r}: draw a new one.")
            if db.execute("SELECT 1 FROM votes WHERE battle_id = ?", (battle_id,)).fetchone():
                raise VoteError("This battle has been voted on already: draw a new one.")
            row = {"battle_id": battle_id, "prompt": battle["prompt"], "category": battle["category"],
                   "caption": battle["caption"], "seed": battle["seed"], "settings": battle["settings"],
                   "model_a": battle["model_a"], "model_b": battle["model_b"], "vote": vote, "created": utc_now(),
                   "session": str(session)[:64], "judge_a": battle["judge_a"], "judge_b": battle["judge_b"]}
            db.execute(f"INSERT INTO votes ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                       tuple(row.values()))
        return _decoded(row)

    def votes(self) -> list[dict]:
        """Every vote, oldest first, with settings and verdicts decoded."""
        with self._connect() as db:
            rows = db.execute(f"SELECT {', '.join(EXPORT_FIELDS)} FROM votes ORDER BY id").fetchall()
        return [_decoded(dict(r)) for r in rows]

    def count(self) -> int:
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM votes").fetchone()[0]

    def battles_drawn(self) -> int:
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM battles").fetchone()[0]


def _decoded(row: dict) -> dict:
    return {**row, **{k: json.loads(row[k]) if row[k] else None for k in ("settings", "judge_a", "judge_b")}}


def export(votes: list[dict], path: str | pathlib.Path) -> int:
    """Write votes to a .csv or .jsonl file (settings and verdicts as JSON text in the CSV); returns the count."""
    path = pathlib.Path(path)
    if path.suffix.lower() not in (".csv", ".jsonl"):
        raise VoteError(f"{path}: export to a .csv or .jsonl file")
    with open(path, "w", newline="", encoding="utf-8") as handle:
        if path.suffix.lower() == ".jsonl":
            for vote in votes:
                handle.write(json.dumps(vote, sort_keys=True) + "\n")
        else:
            writer = csv.DictWriter(handle, fieldnames=EXPORT_FIELDS)
            writer.writeheader()
            for vote in votes:
                writer.writerow({k: _json(v) if isinstance(v, dict) else v for k, v in vote.items()})
    return len(votes)
