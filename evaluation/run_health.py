"""A run folder that heals: every file a run caches or writes is checked before it is read or written over.

A bad one (garbage, `[]`, wrong field types, a symlink, a FIFO, a folder where a file belongs) is named in one
warning line, set aside as `<name>.bad-<time>` (kept for whoever wants to look) and rebuilt from what is sound:
metrics and features from the images, the table from the images' own rows, an unreadable image made again by
the next `run`. Only the writer of the folder heals it (it holds the lock).
"""
from __future__ import annotations

import fnmatch
import io
import json
import os
import pathlib
import stat
import sys
import time
from collections import Counter, defaultdict

import numpy as np

from evaluation.settings_check import sound_settings
from evaluation.store import StoreError, read_row, valid_row
from models.safe_files import FileRefused, open_image, read_bytes, set_aside

MAX_CACHE_BYTES = 1 << 30  # metrics.json and features-*.npz of even shapes-full stay far below a gigabyte
OUTPUTS = ("report.md", "report.html", "images.csv", "*.png")  # rewritten each time: a regular file or nothing
SHOWN = 10  # bad images named one by one, then counted


def _irregular(path: pathlib.Path) -> str | None:
    """Why the entry at `path` is no plain file (None when it is one, or absent)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return None if stat.S_ISREG(mode) else "not a regular file"


def _metrics_problem(data: bytes) -> str | None:
    try:
        saved = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        return "not JSON"
    if not isinstance(saved, dict) or not isinstance(saved.get("fingerprint"), str):
        return "not a metrics record (a JSON object with a fingerprint)"
    records = saved.get("records")
    if not isinstance(records, list) or not all(isinstance(r, dict) and isinstance(r.get("model"), str)
                                                and isinstance(r.get("setting"), str) for r in records):
        return "its records are not a list of objects with a model and a setting"
    return None


def _features_problem(data: bytes) -> str | None:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as saved:
            ids, features = saved["ids"], saved["features"]
    except Exception as error:  # noqa: BLE001 - a zip, pickle or key error of any kind: the cache is unreadable
        return f"not a feature cache ({type(error).__name__})"
    if ids.ndim != 1 or ids.dtype.kind != "U" or features.ndim != 2 or len(ids) != len(features):
        return "its ids and features do not match"
    if features.dtype.kind != "f" or not np.isfinite(features).all() or len(set(ids.tolist())) != len(ids):
        return "its features are not finite numbers, one row per id"
    return None


def _entries(root: pathlib.Path, pattern: str) -> list[pathlib.Path]:
    """Every entry of RUN_DIR matching `pattern`, a symlink loop included (Path.glob skips what does not exist)."""
    return sorted(path for path in root.iterdir() if fnmatch.fnmatchcase(path.name, pattern))


def heal_caches(root: pathlib.Path) -> list[str]:
    """Set aside every bad cache and output of RUN_DIR; returns the names set aside."""
    aside = []
    for pattern, check in (("metrics.json", _metrics_problem), ("features-*.npz", _features_problem)):
        for path in _entries(root, pattern):
            why = _irregular(path)
            if why is None:
                try:
                    why = check(read_bytes(path, limit=MAX_CACHE_BYTES))
                except (FileRefused, OSError) as error:
                    why = str(error).removeprefix(f"{path} ")
            if why:
                aside.append(set_aside(root / path.name, why).name)
    for pattern in (*OUTPUTS, "rows*.jsonl"):
        for path in _entries(root, pattern):
            why = _irregular(path)
            if why:
                then = "its rows read back from the PNGs" if pattern.startswith("rows") else "written anew"
                aside.append(set_aside(path, why, then).name)
    return aside


def heal_settings(root: pathlib.Path, holds_run: bool) -> dict:
    """RUN_DIR/run.json's sound fields. A bad one in a folder holding a run's images is set aside and rewritten
    with what is sound; in a folder holding none it is not ours to move: a StoreError naming it."""
    path = root / "run.json"
    why = _irregular(path)
    if why is None and not path.exists():
        return {}
    settings, bad = ({}, [why]) if why else sound_settings(path)
    if not bad:
        return settings
    if settings is None or why:
        if not holds_run:
            raise StoreError(f"{path} is not a run record (a JSON object written by `python -m evaluation run`): "
                             f"restore or delete it, or choose another --out")
        set_aside(path, bad[0], "rebuilt from this command (the record of which checkpoints made the images is lost)")
        return {}
    set_aside(path, f"wrong types or values in {', '.join(bad)}", "rewritten without them")
    path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return settings


def heal_images(root: pathlib.Path, rows: dict[str, dict]) -> dict[str, dict]:
    """The rows whose images decode, at their group's one size; every other image is set aside (a generated one
    is made again by the next run). Returns the sound rows."""
    sizes: dict[str, tuple[int, int]] = {}
    bad: list[tuple[str, str]] = []
    for key, row in rows.items():
        try:
            with open_image(root / row["file"]) as image:
                sizes[key] = image.size
        except (FileRefused, OSError) as error:
            bad.append((key, str(error).removeprefix(f"{root / row['file']} ")))
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for key in sizes:
        groups[(rows[key]["model"], rows[key]["setting"])].append(key)
    for keys in groups.values():  # one size per model and setting (features stack them): the most common wins
        common = Counter(sizes[k] for k in keys).most_common(1)[0][0]
        bad += [(k, f"{sizes[k][0]}x{sizes[k][1]}, not its setting's {common[0]}x{common[1]}")
                for k in keys if sizes[k] != common]
    for number, (key, why) in enumerate(sorted(bad)):
        path = root / rows[key]["file"]
        if os.path.lexists(path):
            if number < SHOWN:
                set_aside(path, why, "made again by the next run")
            else:
                os.rename(path, path.with_name(f"{path.name}.bad-{time.strftime('%Y%m%dT%H%M%S')}-{number}"))
    if len(bad) > SHOWN:
        print(f"warning: {root}: {len(bad) - SHOWN} more unreadable images set aside the same way", file=sys.stderr)
    return {key: row for key, row in rows.items() if key not in dict(bad)}



def holds_run(root: pathlib.Path) -> bool:
    """Whether RUN_DIR holds a run's work (a table or an image): then its files are ours to set aside."""
    return any(root.glob("rows*.jsonl")) or any((root / "images").rglob("*.png"))


def heal_folder(store) -> dict[str, dict]:
    """Caches and outputs checked, the table repaired, unreadable images set aside (made again by the next run),
    every row as its image records it; returns the sound rows. For the folder's one writer (it holds the lock)."""
    heal_caches(store.root)
    rows = store.repair()
    sound = heal_images(store.root, rows)
    if len(sound) != len(rows):
        rows = sound = store.repair()
    recorded = {key: _as_recorded(store.root, row) for key, row in sound.items()}
    changed = sorted(key for key in sound if recorded[key] != sound[key])
    if changed:  # the image is the record: a table row that says otherwise is a row damaged in place
        print(f"warning: {store.rows_path}: {len(changed)} row(s) differ from their images' own (first {changed[0]}); "
              f"the images' rows are kept", file=sys.stderr)
        store.write_table(recorded)
    return recorded


def _as_recorded(root: pathlib.Path, row: dict) -> dict:
    """The row the image carries (where the image lies), when it is sound; else the table's."""
    own = read_row(root / row["file"])
    if own is None or own.get("key") != row["key"]:
        return row
    own = {**own, "file": row["file"]}
    return own if valid_row(own, root) else row


def check_prompts(rows: dict[str, dict], prompts: list, root: pathlib.Path) -> None:
    """Every row's prompt is the set's prompt at its index: a folder of images of other prompts is refused."""
    for row in rows.values():
        index, text = row["prompt_index"], row.get("prompt")
        if isinstance(text, str) and not (0 <= index < len(prompts) and prompts[index].prompt == text):
            raise StoreError(f"{root / row['file']}: made for prompt {text[:60]!r} at index {index}, which the "
                             f"prompt set does not hold there: choose another --out")


def records_cover(records, rows: dict[str, dict]) -> bool:
    """Whether cached records are one per (model, setting) of the rows: a cache edited in place (records emptied,
    one dropped) is computed again, not reported."""
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        return False
    groups = {(row["model"], row["setting"]) for row in rows.values()}
    return sorted((r.get("model"), r.get("setting")) for r in records) == sorted(groups)
