"""GenEval's layout read safely: one folder per prompt (IMAGES/00007/metadata.jsonl, IMAGES/00007/samples/*.png).

Two folders of one number (`0` and `00000`) are refused rather than letting one's images overwrite the other's;
a sample must be a regular file inside IMAGES (a link out, a FIFO or a device is refused by name); every image
of the folder must be one size, read from the headers before anything is decoded. Without a prompt set the
folders name it themselves: folder j holds prompt j, numbered from 0 without a gap.
"""
from __future__ import annotations

import json
import pathlib

from models.safe_files import FileRefused, image_size, resolved_inside

METADATA = "metadata.jsonl"


class ImageFolderError(ValueError):
    """A folder that is not in either layout, or whose prompts are not the set's; one line, naming the file."""


def prompt_folders(folder: pathlib.Path) -> list[tuple[pathlib.Path, int | None]]:
    """(subfolder, its number or None) of every prompt folder; two of one number are refused."""
    found, seen = [], {}
    for child in sorted(c for c in folder.iterdir() if c.is_dir() and (c / METADATA).is_file()):
        number = int(child.name) if child.name.isascii() and child.name.isdigit() else None
        if number is not None and number in seen:
            raise ImageFolderError(f"{seen[number]} and {child} both hold prompt {number}: keep one, or their "
                                     f"images would overwrite each other")
        seen[number] = child
        found.append((child, number))
    return found


def metadata(where: pathlib.Path) -> dict:
    """The first record of a prompt folder's metadata.jsonl: an object with a "prompt" string."""
    try:
        lines = [line for line in where.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
        record = json.loads(lines[0]) if lines else None
    except (ValueError, UnicodeDecodeError):
        record = None
    if not isinstance(record, dict) or not isinstance(record.get("prompt"), str):
        raise ImageFolderError(f"{where}: expected a JSON object with a \"prompt\" string")
    return record


def own_prompts(folder: pathlib.Path) -> list[dict]:
    """The folder's own prompt set, {"prompt", "tag"} per prompt, in folder order 0 .. N-1."""
    numbered = {number: child for child, number in prompt_folders(folder) if number is not None}
    missing = next((j for j in range(len(numbered)) if j not in numbered), None)
    if missing is not None or not numbered:
        gap = f"no folder {missing:05d}" if numbered else "no numbered folder"
        raise ImageFolderError(f"{folder}: prompt folders must be numbered 0 to N-1 to name the set themselves "
                                 f"({gap}); give --prompts")
    records = [metadata(numbered[j] / METADATA) for j in range(len(numbered))]
    return [{"prompt": r["prompt"], "tag": str(r.get("tag") or r.get("category") or "geneval")} for r in records]


def samples(child: pathlib.Path, folder: pathlib.Path, suffixes: tuple[str, ...]) -> list[pathlib.Path]:
    """A prompt folder's sample files in name order, each a regular file inside IMAGES."""
    found = sorted(p for p in (child / "samples").glob("*") if p.suffix.lower() in suffixes)
    for path in found:
        try:
            real = resolved_inside(path, folder)
        except FileRefused as error:
            raise ImageFolderError(str(error)) from None
        if not real.is_file():  # a FIFO named like a sample would block the first read
            raise ImageFolderError(f"{path} is not a regular file: refused")
    return found


def check_one_size(paths: list[pathlib.Path], folder: pathlib.Path) -> None:
    """Every image one size (their features are stacked), from the headers, before any image is decoded."""
    first = None
    for path in paths:
        try:
            size = image_size(path, inside=folder)
        except FileRefused as error:
            raise ImageFolderError(str(error)) from None
        first = first or (path, size)
        if size != first[1]:
            raise ImageFolderError(f"{path} is {size[0]}x{size[1]}, {first[0]} is {first[1][0]}x{first[1][1]}: "
                                     f"every image of one model must have one size")
