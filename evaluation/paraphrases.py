"""The planner's paraphrase set: free text people might type, with the world caption each one means.

Written by hand (evaluation/prompt_sets/paraphrases.tsv: text, caption; "OUTSIDE" marks text the
world cannot draw). Tests hold the rules planner to it; `python -m evaluation accuracy --task
paraphrase` measures what a generator draws from it with and without the planner.
"""
from __future__ import annotations

import csv
import pathlib

PARAPHRASES = pathlib.Path(__file__).parent / "prompt_sets" / "paraphrases.tsv"
OUTSIDE = "OUTSIDE"


def load(path: pathlib.Path = PARAPHRASES) -> list[tuple[str, str]]:
    """(text, caption) rows; a row without both columns is an error naming the file and line."""
    rows = []
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = next(reader, None)
        if header != ["text", "caption"]:
            raise ValueError(f"{path}:1: expected the header 'text<TAB>caption', got {header!r}")
        for line, row in enumerate(reader, start=2):
            if len(row) != 2:
                raise ValueError(f"{path}:{line}: expected 2 tab-separated columns, got {len(row)}")
            rows.append((row[0], row[1]))
    return rows


def inside(path: pathlib.Path = PARAPHRASES) -> list[tuple[str, str]]:
    return [(text, caption) for text, caption in load(path) if caption != OUTSIDE]


def outside(path: pathlib.Path = PARAPHRASES) -> list[str]:
    return [text for text, caption in load(path) if caption == OUTSIDE]
