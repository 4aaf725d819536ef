"""The run store: one PNG per (model, setting, prompt, sample) and one table row per image, crash-safe.

Layout of RUN_DIR:
    run.json                      the last command's settings
    .lock                         the PID of the run writing here (an flock: one writer per folder)
    images/<model>/<setting>/p0007-s01-seed7001.png
    rows.jsonl (rows.<rank>.jsonl) one JSON row per image, appended as images are written
    images.csv                    the same rows as CSV, rewritten from the JSONL
Every PNG also carries its own row in a text chunk, and is written to a temporary name and renamed
(models.files.atomic_path, as every other file here), so a run killed at any instant leaves whole images
only, and a row lost with the kill (or half written) is recovered from its image: each image and each row
exists exactly once. Images, rows and new folders are fsynced, so a power cut keeps what was reported done.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import pathlib
import re
import sys
import threading
import weakref

from PIL import Image, PngImagePlugin

from models.files import atomic_path, atomic_write, sync_folder
from models.safe_files import FileRefused, image_size, open_for_write, read_bytes, set_aside

try:
    import fcntl
except ImportError:  # Windows: no flock, no lock
    fcntl = None

ROW_CHUNK = "genbench-row"
LOCK_FILE = ".lock"
COLUMNS = ("key", "model", "family", "setting", "sampler", "steps", "guidance", "prompt_index", "sample", "seed",
           "prompt", "category", "target", "clip_score", "correct", "color_shape", "latency_s", "device", "file",
           "planned_caption", "layout", "batch_size", "reason", "truncation")  # planned_caption, layout: what a
# layout-aware model was given; reason: why the judge failed the image ("" when it passed, None when there is
# no world target); truncation: a GAN's psi when the run set one
# what metrics and reports read from every row: a row without one of these is unreadable
REQUIRED = ("key", "model", "family", "setting", "sampler", "steps", "guidance", "prompt_index", "sample", "seed",
            "category", "target", "clip_score", "correct", "color_shape", "latency_s", "file")
MAX_TABLE_BYTES = 1 << 30  # rows.jsonl of a million images is about 600 MB
SAFE_NAME = re.compile(r"[A-Za-z0-9+-][A-Za-z0-9.+-]{0,119}")


class StoreError(ValueError):
    """A run folder that cannot be used as asked; the message is one line saying what to do."""


def slug(text: str) -> str:
    """A file-name-safe form of a model name or setting, one per text: names of [A-Za-z0-9.+-] keep their
    own spelling; any other gets '_' in place of each unsafe run and its sha1 (hub:a/b -> hub_a_b_1f0c...),
    so hub:a/b and hub:a_b get different folders ('_' marks a changed name, so the two kinds never meet)."""
    if SAFE_NAME.fullmatch(text):
        return text
    cleaned = re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_.")[:100]
    return f"{cleaned}_{hashlib.sha1(text.encode('utf-8', 'surrogatepass')).hexdigest()[:10]}"


def make_folders(folder: pathlib.Path) -> None:
    """mkdir -p, fsyncing the parent of every folder it creates (a new name is durable once its parent is)."""
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for new in reversed(missing):
        new.mkdir(exist_ok=True)
        sync_folder(new.parent)


def read_settings(root: str | os.PathLike) -> dict:
    """RUN_DIR/run.json as a dict ({} when there is none); a StoreError when it is not a run's record."""
    path = pathlib.Path(root) / "run.json"
    if not path.is_file():
        return {}
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError):
        settings = None
    if not isinstance(settings, dict) or not isinstance(settings.get("checkpoints", {}), dict):
        raise StoreError(f"{path} is not a run record (a JSON object written by `python -m evaluation run`): "
                         f"restore or delete it, or choose another --out")
    return settings


class RunStore:
    def __init__(self, root: str | os.PathLike, rank: int = 0):
        self.root = pathlib.Path(root)
        self.rank = rank
        make_folders(self.root / "images")
        self.sizes: dict[pathlib.Path, tuple[int, int]] = {}  # model/setting folder -> its images' one size
        self.rows_path = self.root / ("rows.jsonl" if rank == 0 else f"rows.{rank}.jsonl")

    def image_path(self, model: str, setting: str, prompt_index: int, sample: int, seed: int) -> pathlib.Path:
        return self.root / "images" / slug(model) / slug(setting) / f"p{prompt_index:04d}-s{sample:02d}-seed{seed}.png"

    def lock(self) -> None:
        """Be the one writer of RUN_DIR while this store lives; a StoreError naming the PID when another run is.
        Under accelerate only rank 0 locks: the other ranks write nothing before rank 0 has repaired the store."""
        key = _acquire(self.root)
        weakref.finalize(self, _release, key)

    # ------------------------------------------------------------ reading (and repairing)
    def rows(self) -> dict[str, dict]:
        """key -> row for every image on disk; rows missing from the tables are recovered from the PNGs.
        Unreadable rows (not UTF-8, not JSON, no file inside images/) are skipped with one warning line."""
        found: dict[str, dict] = {}
        for path in sorted(self.root.glob("rows*.jsonl")):
            for row in self._read_table(path):
                if (self.root / row["file"]).is_file():
                    found.setdefault(row["key"], row)
        known_files = {row["file"] for row in found.values()}
        for png in sorted((self.root / "images").rglob("*.png")):
            relative = png.relative_to(self.root).as_posix()
            if relative not in known_files:
                row = read_row(png)
                if row is not None and valid_row({**row, "file": relative}, self.root):
                    found.setdefault(row["key"], {**row, "file": relative})  # the image is where it lies
        return found

    def _read_table(self, path: pathlib.Path) -> list[dict]:
        try:  # never through a link, never blocking on a FIFO
            lines = read_bytes(path, limit=MAX_TABLE_BYTES).split(b"\n")
        except (FileRefused, OSError) as error:
            print(f"warning: {(str(error).splitlines() or [path])[0]}; its rows are read back from the PNGs",
                  file=sys.stderr)
            return []
        rows, bad = [], []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            row = parse_row(line)
            if row is not None and valid_row(row, self.root):
                rows.append(row)
            elif row is not None or number < len(lines):  # the torn last line a kill leaves: its PNG holds it
                bad.append(number)
        if bad:
            shown = ", ".join(map(str, bad[:10])) + (", ..." if len(bad) > 10 else "")
            print(f"warning: {path}: skipped {len(bad)} unreadable row(s) (line {shown}); their images are read "
                  f"back from the PNGs or made again", file=sys.stderr)
        return rows

    def repair(self) -> dict[str, dict]:
        """Drop temporary files, rewrite this rank's table with every row exactly once; return the rows."""
        for temporary in [*self.root.glob(".*.tmp"), *(self.root / "images").rglob(".*.tmp")]:
            temporary.unlink(missing_ok=True)
        rows = self.rows()
        if self.rank == 0:
            for extra in self.root.glob("rows.*.jsonl"):  # other ranks' tables fold into the main one
                extra.unlink()
            self.write_table(rows)
        return rows

    def write_table(self, rows: dict[str, dict]) -> None:
        atomic_write(self.rows_path, "".join(json.dumps(rows[k]) + "\n" for k in sorted(rows)))

    # ------------------------------------------------------------ writing
    def add(self, image: Image.Image, row: dict) -> None:
        """Write the image (with its row inside), then append the row: the image is the record."""
        path = self.root / row["file"]
        make_folders(path.parent)
        self._check_size(path.parent, image, row)
        meta = PngImagePlugin.PngInfo()
        meta.add_text(ROW_CHUNK, json.dumps(row))
        with atomic_path(path) as temporary:  # fsyncs the PNG and its folder
            image.save(temporary, format="PNG", pnginfo=meta)
        created = not self.rows_path.exists()
        with open(self.rows_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        if created:
            sync_folder(self.root)

    def _check_size(self, folder: pathlib.Path, image: Image.Image, row: dict) -> None:
        """One size per model and setting (their features are stacked): another one is a StoreError, before
        anything is written."""
        if folder not in self.sizes:
            self.sizes[folder] = next((size for size in map(_size_or_none, sorted(folder.glob("*.png"))) if size),
                                      image.size)
        if image.size != self.sizes[folder]:
            width, height = self.sizes[folder]
            raise StoreError(f"{row.get('model')} ({row.get('setting')}): a {image.size[0]}x{image.size[1]} image "
                             f"after {width}x{height} ones; every image of a model and setting must have one size")

    def write_csv(self, rows: dict[str, dict]) -> None:
        def write(handle) -> None:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
            writer.writeheader()
            for key in sorted(rows):
                writer.writerow(rows[key])

        atomic_write(self.root / "images.csv", write)


def parse_row(line: bytes) -> dict | None:
    try:
        row = json.loads(line.decode("utf-8"))
    except (ValueError, RecursionError):  # not UTF-8 (UnicodeDecodeError is a ValueError), not JSON, too deep
        return None
    return row if isinstance(row, dict) else None


def key_for(model: str, setting: str, prompt_index: int, sample: int, seed: int) -> str:
    """A row's key: what it is an image of, so that a row's fields and its key can be checked against each other."""
    return f"{model}|{setting}|{prompt_index:04d}|{sample:02d}|{seed}"


def valid_row(row: dict, root: pathlib.Path) -> bool:
    """Every field the metrics read, a key that is the one its fields name, and a file that is a relative path
    inside RUN_DIR/images."""
    if any(name not in row for name in REQUIRED) or not isinstance(row["key"], str) or not row["key"]:
        return False
    if not all(isinstance(row[name], str) for name in ("model", "setting", "file")) or not _typed(row):
        return False
    if not all(isinstance(row[name], int) and not isinstance(row[name], bool) and row[name] >= 0
               for name in ("prompt_index", "sample", "seed")):
        return False
    if row["key"] != key_for(row["model"], row["setting"], row["prompt_index"], row["sample"], row["seed"]):
        return False  # a key changed in place would file the image under another name
    file = pathlib.PurePosixPath(row["file"])
    if file.is_absolute() or ".." in file.parts or file.parts[:1] != ("images",) or "\\" in row["file"]:
        return False
    try:  # a symlink out of images/ is outside too
        return (root / file).resolve().is_relative_to((root / "images").resolve())
    except (OSError, ValueError, RuntimeError):  # a NUL byte, a loop (RuntimeError before Python 3.13)
        return False


def _size_or_none(png: pathlib.Path) -> tuple[int, int] | None:
    try:
        return image_size(png)
    except (FileRefused, OSError):
        return None


def _typed(row: dict) -> bool:
    """The numbers the metrics add up are numbers, the verdicts booleans (or None where nothing was judged)."""
    def number(value, empty=True):
        return (empty and value is None) or (isinstance(value, (int, float)) and not isinstance(value, bool))

    return (all(number(row[name], empty=False) and isinstance(row[name], int) for name in ("prompt_index", "sample", "seed"))
            and all(number(row[name]) for name in ("clip_score", "latency_s", "guidance", "steps"))
            and all(row[name] is None or isinstance(row[name], bool) for name in ("correct", "color_shape"))
            and all(row[name] is None or isinstance(row[name], str) for name in ("target", "family", "sampler"))
            and isinstance(row["category"], str))


def read_row(png: pathlib.Path) -> dict | None:
    try:
        with Image.open(io.BytesIO(read_bytes(png))) as image:  # a link or a FIFO named like a PNG: refused
            text = image.text.get(ROW_CHUNK)  # type: ignore[attr-defined]
        row = json.loads(text) if text else None
    except (OSError, ValueError, SyntaxError, RecursionError):  # FileRefused is a ValueError
        return None
    return row if isinstance(row, dict) else None


# ---------------------------------------------------------------- one writer per folder
# folder -> [descriptor, holders, thread]: re-entrant within the thread that holds it, so a finished run
# kept alive by a traceback does not lock out the next run of the same process
_HELD: dict[str, list] = {}
_HELD_GUARD = threading.Lock()


def _acquire(root: pathlib.Path) -> str:
    key = str(root.resolve())
    with _HELD_GUARD:
        held = _HELD.get(key)
        if held is not None and held[2] == threading.get_ident():
            held[1] += 1
            return key
        if held is not None:
            raise _in_use(root, os.getpid())
        _HELD[key] = [_lock_file(root), 1, threading.get_ident()]
    return key


def _lock_file(root: pathlib.Path) -> int | None:
    if fcntl is None:
        return None
    try:  # a link planted at .lock must not make the run write its PID through it
        descriptor = open_for_write(root / LOCK_FILE, truncate=False, read_too=True)
    except FileRefused as refused:
        set_aside(root / LOCK_FILE, str(refused).removeprefix(f"{root / LOCK_FILE} "), "a fresh lock made")
        descriptor = open_for_write(root / LOCK_FILE, truncate=False, read_too=True)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the kernel drops it when the process dies
    except OSError:
        owner = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip()
        os.close(descriptor)
        raise _in_use(root, owner or "?") from None
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    return descriptor


def _in_use(root: pathlib.Path, owner) -> StoreError:
    return StoreError(f"{root} is in use by PID {owner} (another evaluation run); wait for it or choose another --out")


def _release(key: str) -> None:
    with _HELD_GUARD:
        held = _HELD.get(key)
        if held is None:
            return
        held[1] -= 1
        if held[1] == 0:
            del _HELD[key]
            if held[0] is not None:
                os.close(held[0])
