"""The run store: one PNG per (model, setting, prompt, sample) and one table row per image, crash-safe.

Layout of RUN_DIR:
    run.json                      the last command's settings
    images/<model>/<setting>/p0007-s01-seed7001.png
    rows.jsonl (rows.<rank>.jsonl) one JSON row per image, appended as images are written
    images.csv                    the same rows as CSV, rewritten from the JSONL
Every PNG also carries its own row in a text chunk, and is written to a temporary name and renamed
(models.files.atomic_path, as every other file here), so a run killed at any instant leaves whole images
only, and a row lost with the kill (or half written) is recovered from its image: each image and each row
exists exactly once.
"""
from __future__ import annotations

import csv
import json
import os
import pathlib
import re

from PIL import Image, PngImagePlugin

from models.files import atomic_path, atomic_write

ROW_CHUNK = "genbench-row"
COLUMNS = ("key", "model", "family", "setting", "sampler", "steps", "guidance", "prompt_index", "sample", "seed",
           "prompt", "category", "target", "clip_score", "correct", "color_shape", "latency_s", "device", "file",
           "planned_caption", "layout")  # the last two: what a layout-aware model was given


def slug(text: str) -> str:
    """A file-name-safe form of a model name or setting (hub:org/repo -> hub_org_repo)."""
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_") or "_"


class RunStore:
    def __init__(self, root: str | os.PathLike, rank: int = 0):
        self.root = pathlib.Path(root)
        self.rank = rank
        (self.root / "images").mkdir(parents=True, exist_ok=True)
        self.rows_path = self.root / ("rows.jsonl" if rank == 0 else f"rows.{rank}.jsonl")

    def image_path(self, model: str, setting: str, prompt_index: int, sample: int, seed: int) -> pathlib.Path:
        return self.root / "images" / slug(model) / slug(setting) / f"p{prompt_index:04d}-s{sample:02d}-seed{seed}.png"

    # ------------------------------------------------------------ reading (and repairing)
    def rows(self) -> dict[str, dict]:
        """key -> row for every image on disk; rows missing from the tables are recovered from the PNGs."""
        found: dict[str, dict] = {}
        for path in sorted(self.root.glob("rows*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:  # the half-written last line of a killed run
                    continue
                if isinstance(row, dict) and "key" in row and (self.root / row.get("file", "")).is_file():
                    found.setdefault(row["key"], row)
        known_files = {row["file"] for row in found.values()}
        for png in sorted((self.root / "images").rglob("*.png")):
            relative = png.relative_to(self.root).as_posix()
            if relative not in known_files:
                row = read_row(png)
                if row is not None:
                    found.setdefault(row["key"], row)
        return found

    def repair(self) -> dict[str, dict]:
        """Drop temporary files, rewrite this rank's table with every row exactly once; return the rows."""
        for temporary in [*self.root.glob(".*.tmp"), *(self.root / "images").rglob(".*.tmp")]:
            temporary.unlink(missing_ok=True)
        rows = self.rows()
        if self.rank == 0:
            for extra in self.root.glob("rows.*.jsonl"):  # other ranks' tables fold into the main one
                extra.unlink()
            atomic_write(self.rows_path, "".join(json.dumps(rows[k]) + "\n" for k in sorted(rows)))
        return rows

    # ------------------------------------------------------------ writing
    def add(self, image: Image.Image, row: dict) -> None:
        """Write the image (with its row inside), then append the row: the image is the record."""
        path = self.root / row["file"]
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = PngImagePlugin.PngInfo()
        meta.add_text(ROW_CHUNK, json.dumps(row))
        with atomic_path(path) as temporary:
            image.save(temporary, format="PNG", pnginfo=meta)
        with open(self.rows_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def write_csv(self, rows: dict[str, dict]) -> None:
        def write(handle) -> None:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
            writer.writeheader()
            for key in sorted(rows):
                writer.writerow(rows[key])

        atomic_write(self.root / "images.csv", write)


def read_row(png: pathlib.Path) -> dict | None:
    try:
        with Image.open(png) as image:
            text = image.text.get(ROW_CHUNK)  # type: ignore[attr-defined]
        return json.loads(text) if text else None
    except (OSError, json.JSONDecodeError, SyntaxError):
        return None

