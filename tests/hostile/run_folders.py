"""Helpers for the hostile tests of run folders: a tiny run into a folder, and what a sound folder looks like after."""
from __future__ import annotations

import json
import math
import pathlib
import struct
import subprocess
import sys
import zlib

REPO = pathlib.Path(__file__).resolve().parents[2]


def tiny_options(out, **extra):
    from evaluation.runs.sweep import RunOptions

    settings = {"models": ["tiny"], "prompts": "shapes-single-2", "out": str(out), "guidance": [3.0], "steps": [2],
                "samplers": ["ddim"], "n": 1, "device": "cpu", "floor": False, **extra}  # the store alone, no floor row
    return RunOptions(**settings)


def run_tiny(out, **extra) -> dict:
    from evaluation.runs.sweep import run

    return run(tiny_options(out, **extra))


def cli_args(out, *more) -> list[str]:
    return ["run", "--models", "tiny", "--prompts", "shapes-single-2", "--guidance", "3", "--steps", "2", "--n", "1",
            "--device", "cpu", "--out", str(out), "--no-floor", *more]


def complete(out, count: int) -> dict:
    """Every image and row exactly once: one table line per key, one PNG per key, no temporary file."""
    from evaluation.store import RunStore

    rows = RunStore(out).rows()
    keys = [json.loads(line)["key"] for line in (out / "rows.jsonl").read_text().splitlines()]
    assert len(rows) == count and sorted(keys) == sorted(rows)
    assert sorted(r["file"] for r in rows.values()) == sorted(p.relative_to(out).as_posix()
                                                              for p in (out / "images").rglob("*.png"))
    assert not list(out.rglob("*.tmp")) and not list(out.glob("rows.*.jsonl"))
    return rows


def table_lines(out) -> list[bytes]:
    return (out / "rows.jsonl").read_bytes().splitlines(keepends=True)


def warnings_of(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]


def holder_of(folder):
    """Another process holding the run folder the way `evaluation run` does (RunStore.lock)."""
    code = ("import sys, time; from evaluation.store import RunStore; store = RunStore(sys.argv[1]); store.lock(); "
            "print('locked', flush=True); time.sleep(120)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(folder)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def metrics_of(out) -> list[dict]:
    """metrics.json's records without the timing (images/s is not a metric)."""
    records = json.loads((out / "metrics.json").read_text())["records"]
    return [{k: v for k, v in record.items() if k != "images_per_s"} for record in records]


def same_numbers(a, b) -> bool:
    """Equal structures, floats to 1e-6 relative: a remade image is measured again (the feature cache follows the
    bytes), its float32 features computed in another batch, and its pixels may differ by 1/255 (another batch size
    made it); reports print four digits at most."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=1e-6,
                                                                                             abs_tol=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_numbers(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_numbers(x, y) for x, y in zip(a, b))
    return a == b


def png_bomb(path: pathlib.Path, width: int, height: int) -> pathlib.Path:
    """A valid 1-bit PNG of width x height, all black: a few kB on disk, width x height pixels once decoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\0" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row * 1000) for _ in range(height // 1000)) + packer.compress(row * (height % 1000))
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", body + packer.flush()) + chunk(b"IEND", b""))
    path.write_bytes(data)
    return path
