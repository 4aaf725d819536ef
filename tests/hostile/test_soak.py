"""A random-corruption soak of a run folder: one random corruption at a time (truncate, garbage, delete, a symlink
out or a loop, a zeroed PNG, wrong-typed JSON) of a random file of the folder, each followed by a rerun that must
end with every image and row exactly once and the clean run's metrics. GENBENCH_SOAK=N sets the number of
corruptions (default 40, under a minute on a shared 2-core host); GENBENCH_SOAK_SEED another sequence."""
from __future__ import annotations

import collections
import json
import os
import random

from hostile.run_folders import complete, metrics_of, run_tiny, same_numbers

CORRUPTIONS = int(os.environ.get("GENBENCH_SOAK", "40"))
SEED = int(os.environ.get("GENBENCH_SOAK_SEED", "36"))
FILES = ("metrics.json", "features-world.npz", "run.json", "rows.jsonl", "report.md", "images.csv", ".lock", "png")
KINDS = ("truncate", "garbage", "delete", "symlink", "loop", "zero", "wrong-json")


def _rows_without_timing(rows: dict) -> dict:
    return {key: {k: v for k, v in row.items() if k != "latency_s"} for key, row in rows.items()}


def _wrong_json(path, rng: random.Random) -> None:
    """One field of one JSON object turned into another type (a list, a string, an object, null)."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.suffix == ".jsonl" else [path.read_text()]
    number = rng.randrange(len(lines))
    record = json.loads(lines[number])
    if isinstance(record, dict) and record:
        field = rng.choice(sorted(record))
        record[field] = rng.choice([[], "oops", {"x": 1}, None, -1.5, True])
    else:
        record = rng.choice([[], "oops", 7])
    lines[number] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def corrupt(out, rng: random.Random, outside) -> str:
    """Corrupt one random file of the run folder one random way; returns what was done."""
    name = rng.choice(FILES + ("png", "png"))  # the images thrice as often: they are what a run is for
    path = rng.choice(sorted((out / "images").rglob("*.png"))) if name == "png" else out / name
    kind = rng.choice(KINDS)
    if not path.is_file() or path.is_symlink():  # set aside last time and not yet remade: delete is all there is
        kind = "delete"
    if kind == "wrong-json" and path.suffix not in (".json", ".jsonl"):
        kind = "garbage"
    if kind == "zero" and path.suffix != ".png":
        kind = "truncate"
    data = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
    if kind == "wrong-json":
        _wrong_json(path, rng)
        return f"{kind} {name}"
    if os.path.lexists(path):
        path.unlink()
    if kind == "truncate":
        path.write_bytes(data[:rng.randrange(max(1, len(data)))])
    elif kind == "garbage":
        path.write_bytes(rng.randbytes(rng.randrange(1, 4096)))
    elif kind == "zero":
        path.write_bytes(b"\0" * len(data))
    elif kind == "symlink":
        path.symlink_to(outside)
    elif kind == "loop":
        path.symlink_to(path.name)
    return f"{kind} {name}"


def _figure_skipped(figure, path) -> None:
    """The report's plots, not drawn (matplotlib takes most of a rerun's time; the soak checks images, rows and
    metrics): a placeholder written the way the report writes its figures."""
    import matplotlib.pyplot as plt
    from PIL import Image

    from models.files import atomic_path

    with atomic_path(path) as temporary:
        Image.new("RGB", (1, 1)).save(temporary, format="PNG")
    plt.close(figure)


def test_random_corruptions_each_followed_by_a_rerun_end_whole(tmp_path, store_tiny, monkeypatch):
    from evaluation.report import plots

    monkeypatch.setattr(plots, "save_figure", _figure_skipped)
    out, outside = tmp_path / "run", tmp_path / "outside.png"
    run_tiny(out, n=2)
    clean_rows, clean_metrics = _rows_without_timing(complete(out, 4)), metrics_of(out)
    outside.write_bytes((out / "report.md").read_bytes())
    original = outside.read_bytes()
    rng, done = random.Random(SEED), collections.Counter()
    for number in range(CORRUPTIONS):
        what = corrupt(out, rng, outside)
        run_tiny(out, n=2)
        assert _rows_without_timing(complete(out, 4)) == clean_rows, f"after {number + 1} corruptions ({what})"
        assert same_numbers(metrics_of(out), clean_metrics), f"after {number + 1} corruptions ({what})"
        done[what.split()[0]] += 1
    assert outside.read_bytes() == original  # nothing was ever written through a link out
    print(f"soak: {CORRUPTIONS} corruptions, each followed by a sound rerun: {dict(sorted(done.items()))}")
