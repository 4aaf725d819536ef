"""Folders of images made elsewhere, and prompt sets written out for a job elsewhere.

Two layouts are read:
    GenEval's   IMAGES/00007/metadata.jsonl   {"prompt": ...} for prompt 7 of the set
                IMAGES/00007/samples/0000.png, 0001.png, ...   its samples, in file-name order
    flat        IMAGES/images.csv             file,prompt[,seed]: one row per image, files relative to IMAGES
`export_prompts` writes the first layout with empty samples/ folders (and evaluation_metadata.jsonl, every
prompt on one line each, as GenEval ships its set), so a cluster job fills them and `evaluation score` reads
them back.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import pathlib

from evaluation.prompts import PromptItem
from evaluation.runs.geneval_folders import (METADATA, ImageFolderError, check_one_size, metadata, prompt_folders,
                                             samples)
from models.contract import MAX_SEED
from models.files import atomic_write

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
FLAT_TABLE = "images.csv"


@dataclasses.dataclass(frozen=True)
class PlacedImage:
    """An image file and its place in the prompt set: prompt j, sample k (the k-th image of that prompt)."""
    path: pathlib.Path
    prompt_index: int
    sample: int
    seed: int | None  # the seed it was made with, when the folder says


def layout_of(folder: pathlib.Path) -> str:
    """'geneval' or 'flat'; an ImageFolderError when the folder is neither."""
    if not folder.is_dir():
        raise ImageFolderError(f"{folder}: no such folder of images")
    if (folder / FLAT_TABLE).is_file():
        return "flat"
    if any((child / METADATA).is_file() for child in folder.iterdir() if child.is_dir()):
        return "geneval"
    raise ImageFolderError(f"{folder}: neither GenEval's layout (00000/{METADATA} + 00000/samples/*.png) nor a "
                           f"flat folder with {FLAT_TABLE} (file,prompt[,seed])")


def read_folder(folder: pathlib.Path, prompts: list[PromptItem]) -> list[PlacedImage]:
    """Every image of the folder placed in the prompt set; an ImageFolderError for a prompt not in the set."""
    folder = pathlib.Path(folder)
    lookup = PromptLookup(prompts)
    placed = _read_geneval(folder, lookup) if layout_of(folder) == "geneval" else _read_flat(folder, lookup)
    if not placed:
        raise ImageFolderError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) found")
    check_one_size([image.path for image in placed], folder)
    return placed


class PromptLookup:
    """A prompt's index in the set by a dict, not a scan: a folder of 100k images is placed in one pass."""

    def __init__(self, prompts: list[PromptItem]):
        self.prompts, self.first = prompts, {}
        for index, item in enumerate(prompts):
            self.first.setdefault(item.prompt, index)

    def index(self, prompt: str, where: str, hint: int | None = None) -> int:
        """The prompt's index: the folder number, which must hold that very prompt, else its first match."""
        text = " ".join(str(prompt).split())
        if hint is not None and 0 <= hint < len(self.prompts) and self.prompts[hint].prompt == text:
            return hint
        if hint is not None:  # folder 3 of another set: refused, never moved to wherever its prompt happens to be
            held = repr(self.prompts[hint].prompt[:80]) if 0 <= hint < len(self.prompts) else "no prompt"
            raise ImageFolderError(f"{where}: prompt {text[:80]!r}, but the prompt set holds {held} at {hint}; "
                                   f"score with the set the images were made for (--prompts, or none: the folders')")
        if text not in self.first:
            raise ImageFolderError(f"{where}: prompt {text[:80]!r} is not in the prompt set; score with the set the "
                                   f"images were made for (--prompts)")
        return self.first[text]


def _read_geneval(folder: pathlib.Path, lookup: PromptLookup) -> list[PlacedImage]:
    placed, taken = [], {}
    for child, number in prompt_folders(folder):
        index = lookup.index(metadata(child / METADATA)["prompt"], str(child / METADATA), number)
        if index in taken:  # a named folder and a numbered one meaning one prompt: one would overwrite the other
            raise ImageFolderError(f"{taken[index]} and {child} both hold prompt {index}: keep one")
        taken[index] = child
        placed += [PlacedImage(path, index, sample, None)
                   for sample, path in enumerate(samples(child, folder, IMAGE_SUFFIXES))]
    return placed


def _is_number(text: str) -> bool:
    """ASCII digits only: str.isdigit also says yes to '²', which int() refuses."""
    return text.isascii() and text.isdigit()


def _table_records(table: pathlib.Path) -> list[tuple[int, dict]]:
    """(line, row) of every record of images.csv; bad bytes, a runaway quote or an oversized field as one line."""
    data = table.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ImageFolderError(f"{table}:{line}: not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    records, line = [], 1
    try:
        if not reader.fieldnames or not {"file", "prompt"} <= set(reader.fieldnames):  # reads the header
            raise ImageFolderError(f"{table}:1: the header must name file and prompt (and optionally seed), "
                                   f"got {','.join(reader.fieldnames or [])[:200]!r}")
        while True:
            line = reader.line_num + 1  # a record may span lines: name the one it starts on
            row = next(reader, None)
            if row is None:
                return records
            records.append((line, row))
    except csv.Error as error:  # a field over csv's 128 kB limit, a NUL byte
        raise ImageFolderError(f"{table}:{line}: unreadable row ({error})") from None


def _read_flat(folder: pathlib.Path, lookup: PromptLookup) -> list[PlacedImage]:
    table = folder / FLAT_TABLE
    inside, samples, placed = folder.resolve(), {}, []
    for line, row in _table_records(table):
        name = row["file"] or ""
        path = (folder / name).resolve()
        if not name or not path.is_file() or not path.is_relative_to(inside):
            raise ImageFolderError(f"{table}:{line}: no image {name[:80]!r} inside {folder}")
        seed = (row.get("seed") or "").strip()
        if seed and not (_is_number(seed) and int(seed) <= MAX_SEED):
            raise ImageFolderError(f"{table}:{line}: seed must be an integer from 0 to {MAX_SEED}, got {seed[:40]!r}")
        index = lookup.index(row["prompt"] or "", f"{table}:{line}")
        samples[index] = samples.get(index, -1) + 1
        placed.append(PlacedImage(path, index, samples[index], int(seed) if seed else None))
    return placed


def export_prompts(prompts: list[PromptItem], out: pathlib.Path) -> int:
    """GenEval's layout for a job elsewhere: OUT/<j:05d>/metadata.jsonl and an empty samples/ per prompt."""
    out = pathlib.Path(out)
    if out.exists() and any(out.iterdir()):
        raise ImageFolderError(f"{out} exists and is not empty: choose a new folder")
    records = [{"prompt": item.prompt, "tag": item.category, "target": item.target, "index": index}
               for index, item in enumerate(prompts)]
    for record in records:
        folder = out / f"{record['index']:05d}"
        (folder / "samples").mkdir(parents=True)
        atomic_write(folder / METADATA, json.dumps(record) + "\n")
    atomic_write(out / "evaluation_metadata.jsonl", "".join(json.dumps(r) + "\n" for r in records))
    return len(records)
