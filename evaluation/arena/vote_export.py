"""Votes written out for a spreadsheet or a script: .csv (formula-safe) or .jsonl (as stored)."""
from __future__ import annotations

import csv
import json
import pathlib

from evaluation.arena.vote_db import VoteError

EXPORT_FIELDS = ("battle_id", "prompt", "category", "caption", "seed", "settings", "model_a", "model_b", "vote",
                 "created", "session", "judge_a", "judge_b")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may run as a formula (OWASP CSV injection)


def spreadsheet_safe(value):
    """A text cell a spreadsheet shows as text: one starting like a formula gets a leading apostrophe."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


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
                writer.writerow({k: spreadsheet_safe(json.dumps(v, sort_keys=True) if isinstance(v, dict) else v)
                                 for k, v in vote.items()})
    return len(votes)
