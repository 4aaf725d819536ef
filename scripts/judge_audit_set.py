"""Make the candidates of the judge's hand-labelled audit set (tests/data/judge_audit): generated images where
the judge's shape fit (world/detector.py shape_fit) is poorest, one contact sheet per 12 for labelling by eye.

    OMP_NUM_THREADS=1 python scripts/judge_audit_set.py --out /tmp/judge_audit

Generates v1 prompts (single with every word, pair, count, novel) from gan, gan-layout and ar, and the v2 tasks
multi, between, sizes and count-high from dit-layout and dit (seed 733, a stream no run uses); keeps per family
the QUOTA images whose worst object fits least (near-duplicates, mean pixel difference under 6, once); writes
them with labels.jsonl, whose `objects` a person fills in by looking at sheet-NN.png (format: world/hand_labels.py).
The shipped set was made with the detector's scale-1 templates alone (before SCALES); rerunning with today's
detector picks a similar, not identical, set.
"""
from __future__ import annotations

import argparse
import json
import pathlib

import numpy as np
from PIL import Image, ImageDraw

from models.registry import load
from world import COLORS
from world.accuracy import world_prompts
from world.detector import detect

SEED = 733
V1 = {"gan": 40, "gan-layout": 40, "ar": 40}  # images kept per family
V2 = {"dit-layout": 6, "dit": 6}  # images kept per family and v2 task
V2_TASKS = ("multi", "between", "sizes", "count-high")


def prompts_of(model: str) -> list[tuple[str, list[str]]]:
    if model in V2:
        return [(task, world_prompts(40, task, seed=SEED)) for task in V2_TASKS]
    return [("single", world_prompts(90, "single", seed=SEED, every_word=True)),
            ("pair", world_prompts(60, "pair", seed=SEED)), ("count", world_prompts(60, "count", seed=SEED)),
            ("novel", world_prompts(30, "single", seed=SEED + 7, held_out=True))]


def least_sure(candidates: list[dict], keep: int, seen: list[np.ndarray]) -> list[dict]:
    """The `keep` candidates with the poorest worst fit, skipping near-duplicates of any image seen before."""
    fresh = []
    for c in sorted(candidates, key=lambda c: min(c["fits"], default=1.0)):
        pixels = np.asarray(c["image"], dtype=np.float32)
        if all(np.abs(pixels - other).mean() >= 6 for other in seen):
            fresh.append(c)
        seen.append(pixels)
    return fresh[:keep]


def contact_sheet(images: list[Image.Image], first: int, side: int = 256, columns: int = 4) -> Image.Image:
    """Images upscaled (NEAREST) with the 3x3 grid drawn faintly, numbered, and the palette underneath."""
    rows = (len(images) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * (side + 10) + 10, rows * (side + 30) + 60), (90, 90, 90))
    draw = ImageDraw.Draw(sheet)
    for j, image in enumerate(images):
        big = image.resize((side, side), Image.NEAREST)
        grid = ImageDraw.Draw(big)
        for line in (round(side / 3), round(2 * side / 3)):
            grid.line([(line, 0), (line, side)], fill=(70, 70, 70))
            grid.line([(0, line), (side, line)], fill=(70, 70, 70))
        x, y = 10 + (j % columns) * (side + 10), 10 + (j // columns) * (side + 30)
        draw.text((x, y), f"#{first + j}", fill=(255, 255, 255))
        sheet.paste(big, (x, y + 15))
    for i, (name, color) in enumerate(COLORS.items()):
        draw.rectangle([10 + i * 140, sheet.height - 40, 40 + i * 140, sheet.height - 10], fill=color)
        draw.text((45 + i * 140, sheet.height - 30), name, fill=(255, 255, 255))
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for the candidates, labels.jsonl and the sheets")
    out = pathlib.Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    chosen, seen = [], []
    for model in [*V1, *V2]:
        generator = load(model)
        by_task = []
        for task, prompts in prompts_of(model):
            images = generator.generate(prompts, seed=SEED)
            by_task.append([{"file": f"{model}-{task}-{i:03d}.png", "model": model, "task": task, "prompt": p,
                             "seed": SEED, "index": i, "image": im, "fits": [d.match for d in detect(im)]}
                            for i, (p, im) in enumerate(zip(prompts, images))])
        groups = by_task if model in V2 else [[c for task in by_task for c in task]]
        for group in groups:
            chosen += least_sure(group, V2.get(model) or V1[model], seen)
    with open(out / "labels.jsonl", "w", encoding="utf-8") as handle:
        for c in chosen:
            c["image"].save(out / c["file"])
            handle.write(json.dumps({k: v for k, v in c.items() if k not in ("image", "fits")}
                                    | {"unreadable": False, "objects": [], "count": None}) + "\n")
    for start in range(0, len(chosen), 12):
        contact_sheet([c["image"] for c in chosen[start:start + 12]], start).save(out / f"sheet-{start // 12:02d}.png")
    print(f"wrote {len(chosen)} candidates, labels.jsonl to fill in and the contact sheets to {out}")


if __name__ == "__main__":
    main()
