"""A run folder made by hand for the tests of paired comparisons, metrics and the report: each column is a function
(prompt item, seed) -> image with known judge verdicts, and the CLIP score of each row is given, so results are
known in advance. Written through the real RunStore; metrics and reports come from evaluation.runs.sweep.finish."""
from __future__ import annotations

import json
import pathlib

from PIL import Image

from evaluation.prompts import load_prompts
from evaluation.store import RunStore
from evaluation.runs.sweep import RunOptions, finish
from world import COLORS
from world.accuracy import judge
from world.references import reference_image

SETTING = "ddim-50steps-g3"


def right(item, seed: int) -> Image.Image:
    """What the prompt asks: its own rendered reference (another seed, so not the very reference image)."""
    return reference_image(item.target, seed + 1)


def wrong_color(item, seed: int) -> Image.Image:
    """The prompt's scene in another color: judged wrong on color."""
    first = item.target.split()[1] if item.target.split()[1] in COLORS else item.target.split()[2]
    other = "green" if first != "green" else "red"
    return reference_image(item.target.replace(first, other, 1), seed)


def blank(item, seed: int) -> Image.Image:
    return Image.new("RGB", (32, 32))


def make_run(root: pathlib.Path, columns: dict, prompts: str = "shapes-single-6", n: int = 2,
             clip=lambda model, j, k: 25.0, guidance: float = 3.0) -> dict[str, dict]:
    """columns: model -> image maker; clip(model, prompt_index, sample) -> CLIP score. Returns the rows."""
    store = RunStore(root)
    items = load_prompts(prompts)
    setting = f"ddim-50steps-g{guidance:g}"
    for model, make in columns.items():
        for j, item in enumerate(items):
            for k in range(n):
                seed = 1000 * j + k
                image = make(item, seed)
                verdict = judge(item.target, image) if item.target else None
                row = {"key": f"{model}|{setting}|{j:04d}|{k:02d}|{seed}", "model": model, "family": "ddpm",
                       "setting": setting, "sampler": "ddim", "steps": 50, "guidance": guidance, "prompt_index": j,
                       "sample": k, "seed": seed, "prompt": item.prompt, "category": item.category,
                       "target": item.target, "clip_score": clip(model, j, k),
                       "correct": None if verdict is None else bool(verdict["full"]),
                       "color_shape": None if verdict is None else bool(verdict["color_shape"]),
                       "latency_s": 0.01, "device": "cpu", "batch_size": 16, "planned_caption": None, "layout": None,
                       "reason": None if verdict is None else verdict["reason"],
                       "file": store.image_path(model, setting, j, k, seed).relative_to(root).as_posix()}
                store.add(image, row)
    (root / "run.json").write_text(json.dumps({"prompts": prompts, "models": list(columns), "n": n,
                                               "n_prompts": len(items), "clip": "world", "features": ["world"],
                                               "guidance": [guidance], "steps": [50], "samplers": ["ddim"]}))
    return store.rows()


def finish_run(root: pathlib.Path, rows: dict[str, dict], models: list[str]):
    """Metrics and both reports of a hand-made run, as `evaluation report` makes them."""
    options = RunOptions(models=models, prompts="shapes-single-6", out=str(root), guidance=[3.0], steps=[50])
    return finish(root, rows, options)
