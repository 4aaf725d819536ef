"""The backbone table: every shipped family side by side at its recorded training budget.

Reads an `evaluation run` on shapes-full (its metrics.json: accuracy per task, FID, within-prompt diversity,
images/s) and each model's manifest (training steps, images seen, wall time, warm starts included), counts
parameters and GFLOPs per network call, and judges fully specified single-object captions (size, color,
shape and position all given) with the same sampler, steps and guidance. Prints a markdown table.

    python -m evaluation run --models ddpm,ldm,dit,dit-layout,gan,ar --prompts shapes-full --guidance 3 --n 2 \\
        --out runs/backbones
    python -m evaluation run --models ar --prompts shapes-full --guidance 1 --n 2 --out runs/backbones-ar-g1
    python scripts/backbone_table.py runs/backbones runs/backbones-ar-g1 [--full-prompts 200] [--out table.md]

Every model x setting of every run given is a row (a model at its best guidance may come from a run of its own).
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from evaluation.markdown_tables import markdown_table  # noqa: E402
from models.checkpoints import CHECKPOINT_ROOT, read_manifest  # noqa: E402
from models.registry import load  # noqa: E402
from world.accuracy import score, world_prompts  # noqa: E402

TASKS = ("single", "pair", "count", "novel", "count-high", "multi", "mixed", "between", "sizes")


def budget(manifest: dict) -> tuple[int, float]:
    """(images seen, training wall seconds) over the whole warm-start chain (earlier runs: the same batch)."""
    batch = manifest["train_config"]["batch_size"]
    earlier = manifest.get("warm_start") or {}
    steps = manifest["training"]["steps"] + earlier.get("prior_steps", 0)
    return steps * batch, manifest["training"]["wall_time_s"] + earlier.get("prior_wall_time_s", 0.0)


def _percent(interval) -> str:
    return "–" if interval is None else f"{100 * interval[0]:.0f} %"


def row(record: dict, full_prompts: list[str]) -> list[str]:
    name = record["model"]
    generator = load(name)
    manifest = read_manifest(CHECKPOINT_ROOT / name, verify=False)
    images, wall = budget(manifest)
    flops = generator.flops_per_evaluation() if hasattr(generator, "flops_per_evaluation") else float("nan")
    full = score(generator, full_prompts, guidance=record["guidance"] or 0.0, steps=record["steps"] or 1,
                 sampler=record["sampler"])
    diversity = record.get("diversity") or {}
    differ = diversity.get("layouts_differ")
    reference = diversity.get("layouts_differ_reference")
    return [name, record["setting"], f"{generator.info.parameters / 1e6:.2f} M", "–" if flops != flops else f"{flops / 1e9:.3f}",
            f"{images:,}", f"{wall / 60:.0f} min", f"{100 * full['full']:.0f} %",
            *[_percent(record["accuracy"].get(task)) for task in TASKS],
            f"{record['fid'].get('world', float('nan')):.2f}",
            "–" if differ is None else f"{100 * differ:.0f} % / {100 * reference:.0f} %",
            f"{record['images_per_s']:.1f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=pathlib.Path, nargs="+", help="`evaluation run` folders on shapes-full")
    parser.add_argument("--full-prompts", type=int, default=200,
                        help="fully specified single-object captions judged per model (default 200)")
    parser.add_argument("--out", default=None, help="also write the table to this markdown file")
    args = parser.parse_args()
    records = [r for run in args.runs for r in json.loads((run / "metrics.json").read_text())["records"]]
    full_prompts = world_prompts(args.full_prompts, "single", every_word=True)
    header = ["model", "setting", "parameters", "GFLOPs / call", "images seen", "train wall",
              "single, every word given", *TASKS, "FID (world)", "layouts differ: generated / data", "img/s"]
    body = []
    for record in records:
        body.append(row(record, full_prompts))
        print(" | ".join(body[-1]), file=sys.stderr, flush=True)
    table = markdown_table(header, body)
    print(table)
    if args.out:
        pathlib.Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
