"""Prompt sets: the built-in world sets by task, and loaders for text, CSV/TSV (PartiPrompts) and JSONL (GenEval).

Every prompt carries a category (the world task, PartiPrompts' Category, GenEval's tag) that flows
through to per-category results, and a `target`: the world caption it is judged against, when it
has one (world prompts are their own target; other prompts are scored by FID and CLIP only).
"""
from __future__ import annotations

import csv
import dataclasses
import json
import pathlib

from models.contract import MAX_PROMPT_CHARS
from world.accuracy import world_prompts
from world import parse_caption

V1_TASKS = ("single", "pair", "count", "novel")  # world version 1's scenes; novel = held-out singles
V2_TASKS = ("count-high", "multi", "mixed", "between", "sizes")  # the scenes version 2 adds
WORLD_TASKS = V1_TASKS + V2_TASKS
# name -> (prompts per task, tasks); categories are the tasks. shapes-quick keeps its 40 v1 prompts, so runs
# made before version 2 stay comparable
BUILTIN_SETS = {"shapes-quick": (10, V1_TASKS), "shapes-v2-quick": (10, WORLD_TASKS), "shapes-full": (100, WORLD_TASKS)}


def task_order(categories) -> list[str]:
    """Categories as tables show them: the world's tasks in the world's order (v1, then v2), then the rest."""
    found = set(categories)
    return [t for t in WORLD_TASKS if t in found] + sorted(found - set(WORLD_TASKS))


MAX_PER_TASK = 10_000  # shapes-<task>-<N>: the prompts are built before anything else runs


class PromptSetError(ValueError):
    """A prompt set that cannot be read; the message names the file and line."""


@dataclasses.dataclass(frozen=True)
class PromptItem:
    prompt: str
    category: str
    target: str | None = None  # world caption to judge against, or None

    @property
    def judged(self) -> bool:
        return self.target is not None


def world_set(per_task: int, tasks: tuple[str, ...] = WORLD_TASKS) -> list[PromptItem]:
    """per_task prompts of each world task, held-in color-shape pairs; novel = held-out singles."""
    items = []
    for task in tasks:
        kind = "single" if task == "novel" else task
        items += [PromptItem(p, task, p) for p in world_prompts(per_task, kind, held_out=task == "novel")]
    return items


def _item(prompt: str, category: str, where: str) -> PromptItem:
    """One prompt, checked against the request limits now rather than after the models have loaded."""
    prompt = " ".join(prompt.split())
    if not prompt:
        raise PromptSetError(f"{where}: empty prompt")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise PromptSetError(f"{where}: the prompt is {len(prompt)} characters long; shorten it to at most "
                             f"{MAX_PROMPT_CHARS}")
    return PromptItem(prompt, category or "all", prompt if parse_caption(prompt) else None)


def _load_text(path: pathlib.Path) -> list[PromptItem]:
    lines = path.read_text(encoding="utf-8-sig").splitlines()  # -sig: a byte-order mark is not part of a prompt
    return [_item(line, path.stem, f"{path}:{number}") for number, line in enumerate(lines, start=1)
            if line.strip() and not line.lstrip().startswith("#")]


def _rows(path: pathlib.Path, reader) -> list[tuple[int, list[str]]]:
    """(first line, cells) of every record; a csv.Error (a runaway quote, a field over the limit) as one line."""
    records = []
    while True:
        start = reader.line_num + 1
        try:
            records.append((start, next(reader)))
        except StopIteration:
            return records
        except csv.Error as error:
            raise PromptSetError(f"{path}:{start}: unreadable row ({error}); check its quotes (a prompt is at "
                                 f"most {MAX_PROMPT_CHARS} characters)") from None


def _load_table(path: pathlib.Path, delimiter: str) -> list[PromptItem]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        records = _rows(path, csv.reader(handle, delimiter=delimiter))
    header = [h.strip().lower() for h in (records[0][1] if records else [])]
    if "prompt" not in header:
        raise PromptSetError(f"{path}:1: no 'prompt' column in the header {header!r}")
    column, category = header.index("prompt"), header.index("category") if "category" in header else None
    items = []
    for line, row in records[1:]:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise PromptSetError(f"{path}:{line}: expected {len(header)} columns, got {len(row)}")
        items.append(_item(row[column], row[category].strip() if category is not None else path.stem,
                           f"{path}:{line}"))
    return items


def _load_jsonl(path: pathlib.Path) -> list[PromptItem]:
    items = []
    for line, text in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            raise PromptSetError(f"{path}:{line}: not JSON ({error.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get("prompt"), str) or not record["prompt"].strip():
            raise PromptSetError(f"{path}:{line}: expected an object with a non-empty \"prompt\" string")
        items.append(_item(record["prompt"], str(record.get("tag") or record.get("category") or path.stem),
                           f"{path}:{line}"))
    return items


def _is_file(path: pathlib.Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long for the filesystem is no file either
        return False


LOADERS = {".txt": _load_text, ".csv": lambda p: _load_table(p, ","), ".tsv": lambda p: _load_table(p, "\t"),
           ".jsonl": _load_jsonl}  # a prompt file's reader, by its suffix


def _task_set(spec: str) -> tuple[tuple[str, ...], str] | None:
    """shapes-<task>-<N> (task: all or a world task, N plain digits) -> (its tasks, N as written); else None."""
    task, _, count = spec[7:].rpartition("-") if spec.startswith("shapes-") else ("", "", "")
    tasks = WORLD_TASKS if task == "all" else (task,)
    number = count.isascii() and count.isdigit()  # str.isdigit alone says yes to '²', which int() refuses
    return (tasks, count) if task and number and set(tasks) <= set(WORLD_TASKS) else None


def names_prompt_set(spec: str) -> bool:
    """Whether `spec` is a name load_prompts could mean: a built-in set, shapes-<task>-<N>, or a prompt file by its
    suffix (the file itself may have moved since). run.json's record of its prompts is checked against it."""
    return spec in BUILTIN_SETS or _task_set(spec) is not None or pathlib.PurePath(spec).suffix.lower() in LOADERS


def load_prompts(spec: str) -> list[PromptItem]:
    """A built-in set name (shapes-quick, shapes-full, shapes-<task>-<N>, shapes-all-<N>: N of every task) or a
    .txt/.csv/.tsv/.jsonl file."""
    if spec in BUILTIN_SETS:
        return world_set(*BUILTIN_SETS[spec])
    task_set = _task_set(spec)  # shapes-novel-25, shapes-count-high-40
    if task_set is not None:
        tasks, count = task_set
        if len(count) < 9 and 0 < int(count) <= MAX_PER_TASK:
            return world_set(int(count), tasks)
        raise PromptSetError(f"{spec[:80]}: from 1 to {MAX_PER_TASK} prompts per task")  # before one prompt is built
    path = pathlib.Path(spec)
    if not _is_file(path):
        raise PromptSetError(f"no prompt set {spec[:80]!r}: use {', '.join(BUILTIN_SETS)}, shapes-<task>-<N> "
                             f"(task: all, {', '.join(WORLD_TASKS)}) or a .txt, .csv, .tsv or .jsonl file")
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise PromptSetError(f"{path}: unknown prompt file type {path.suffix!r} (use .txt, .csv, .tsv or .jsonl)")
    try:
        items = loader(path)
    except UnicodeDecodeError:
        raise PromptSetError(f"{path}: not UTF-8 text") from None
    if not items:
        raise PromptSetError(f"{path}: no prompts")
    return items
