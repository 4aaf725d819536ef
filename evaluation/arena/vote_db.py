"""The votes database file: GenBench's own or refused untouched, opened read-only or for writing, and every
SQLite failure as one line (a lock held elsewhere reads "busy, try again" after BUSY_S, not a 30 s hang).

A file is GenBench's when it holds exactly the tables below, or nothing at all (a new or empty file). Another
application's database is refused before anything is written to it: no table added, its journal mode kept.
"""
from __future__ import annotations

import contextlib
import pathlib
import sqlite3
import urllib.parse

SCHEMA_VERSION = 1
BUSY_S = 3.0  # how long a call waits for another process's transaction before answering "busy"
TABLES = {"schema_version", "battles", "votes"}
BUSY = "The votes database is busy (another process holds it): try again in a moment."

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
    """A vote, battle or database the store refuses; the message is one line for the voter."""


@contextlib.contextmanager
def connection(path: pathlib.Path, read_only: bool = False):
    """A connection of its own (sqlite3 connections are not shared between threads), closed afterwards; SQLite's
    errors inside the block come out as one-line VoteErrors."""
    target = f"file:{urllib.parse.quote(str(path))}?mode=ro" if read_only else str(path)
    try:
        db = sqlite3.connect(target, timeout=BUSY_S, isolation_level=None, uri=read_only)
    except sqlite3.Error as error:
        raise VoteError(f"{path}: cannot open it as the votes database ({error})") from None
    try:
        db.row_factory = sqlite3.Row
        yield db
    except sqlite3.OperationalError as error:
        if "locked" in str(error) or "busy" in str(error):
            raise VoteError(BUSY) from None
        raise VoteError(f"{path}: not a usable votes database ({error})") from None
    except sqlite3.DatabaseError as error:  # not a database, a corrupt page
        raise VoteError(f"{path}: not a usable votes database ({error})") from None
    finally:
        db.close()


@contextlib.contextmanager
def transaction(db):
    """One write transaction, taken at once (BEGIN IMMEDIATE): no two writers interleave a read and a write."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def check_ours(db, path: pathlib.Path, empty_allowed: bool) -> bool:
    """Whether the file holds GenBench's tables (False: nothing at all, when `empty_allowed`); else a VoteError,
    raised before anything is written."""
    names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")}
    if names == TABLES:
        version = db.execute("SELECT version FROM schema_version").fetchone()
        if version is None or version[0] != SCHEMA_VERSION:
            raise VoteError(f"{path}: schema version {version[0] if version else 'missing'}, this GenBench reads "
                            f"{SCHEMA_VERSION}")
        return True
    if names or not empty_allowed:
        shown = ", ".join(sorted(names))[:120] or "none"
        raise VoteError(f"{path}: not GenBench's votes database (its tables: {shown}); give a new file or one "
                        f"the demo wrote")
    return False


def prepare(path: pathlib.Path) -> None:
    """Make `path` a votes database (its folder too): checked first, then WAL and the tables where it has none."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise VoteError(f"{path}: cannot be created ({error.strerror or error})") from None
    with connection(path) as db:
        if check_ours(db, path, empty_allowed=True):
            return
        db.execute("PRAGMA journal_mode=WAL")  # readers never block the writer, nor it them
        with transaction(db):
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)
            if db.execute("SELECT version FROM schema_version").fetchone() is None:  # another process may have
                db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))


def missing(path: pathlib.Path) -> bool:
    """The file is gone (deleted under a running demo) or was left empty: prepare it again before use."""
    try:
        return path.stat().st_size == 0
    except FileNotFoundError:
        return True
