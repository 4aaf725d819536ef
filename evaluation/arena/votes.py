"""The arena's votes in SQLite: battles as they are drawn, one row per vote, safe under concurrent writers.

A battle is recorded when it is drawn (prompt, seed, settings, the two models, the judge's verdict on each
image where the prompt has a world caption); a vote names a recorded battle and is taken once. Every call
opens its own connection (WAL journal, a busy timeout, writes in BEGIN IMMEDIATE), so threads and processes
may share one file; the file itself (refusing another application's, read-only opening, "busy") is
evaluation/arena/vote_db.py. No personal data: a voter is an anonymous session hash.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import pathlib
import sys
import uuid

from evaluation.arena.vote_db import (SCHEMA_VERSION, VoteError, check_ours, connection, missing,  # noqa: F401
                                      prepare, transaction)  # SCHEMA_VERSION and VoteError: votes.*, as before
from evaluation.arena.vote_export import EXPORT_FIELDS, export  # noqa: F401  (votes.export, as before)

VOTES = ("A", "B", "tie", "both_bad")
DECODED = ("settings", "judge_a", "judge_b")  # stored as JSON text


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
    """The votes database at `path`: created with its folder on first use, and again if it disappears while
    in use; `read_only` (export, ratings) never writes, and refuses a file that holds no votes tables."""

    def __init__(self, path: str | pathlib.Path, read_only: bool = False):
        self.path, self.read_only = pathlib.Path(path), read_only
        if read_only:
            with connection(self.path, read_only=True) as db:
                check_ours(db, self.path, empty_allowed=False)
        else:
            prepare(self.path)

    def _connect(self):
        if not self.read_only and missing(self.path):  # deleted under a running demo: its tables come back
            prepare(self.path)
        return connection(self.path, self.read_only)

    @contextlib.contextmanager
    def _write(self):
        with self._connect() as db, transaction(db):
            yield db

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
        """Every vote, oldest first, with settings and verdicts decoded; a row whose JSON is unreadable is skipped
        and reported in one warning line."""
        with self._connect() as db:
            rows = db.execute(f"SELECT id, {', '.join(EXPORT_FIELDS)} FROM votes ORDER BY id").fetchall()
        decoded, unreadable = [], []
        for row in map(dict, rows):
            number = row.pop("id")
            try:
                decoded.append(_decoded(row))
            except VoteError:
                unreadable.append(str(number))
        if unreadable:
            print(f"warning: {self.path}: skipped {len(unreadable)} vote(s) whose settings or verdicts are not "
                  f"JSON objects (vote id {', '.join(unreadable[:5])}{' …' if len(unreadable) > 5 else ''})",
                  file=sys.stderr)
        return decoded

    def count(self) -> int:
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM votes").fetchone()[0]

    def battles_drawn(self) -> int:
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM battles").fetchone()[0]


def _decoded(row: dict) -> dict:
    """The row with its JSON fields read back: each an object or empty; else a VoteError."""
    decoded = dict(row)
    for key in DECODED:
        try:
            decoded[key] = json.loads(row[key]) if row[key] else None
        except (TypeError, ValueError):  # corrupt JSON text
            decoded[key] = "unreadable"
        if decoded[key] is not None and not isinstance(decoded[key], dict):
            raise VoteError(f"the vote's {key} is not a JSON object")
    return decoded
