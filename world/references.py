"""Real images for FID/KID: world prompts are rendered from the same caption (what the caption leaves
open, such as a dropped size or position, is drawn at random from the reference's own seed)."""
from __future__ import annotations

import numpy as np
from PIL import Image

from world import POSITIONS, SIZES, WorldObject, make_object, parse_caption, render
from world.placement import place


def scene_objects(caption: str, rng: np.random.Generator) -> tuple[WorldObject, ...]:
    """Objects of one scene that satisfies the world caption; ValueError when it is not a world caption."""
    spec = parse_caption(caption)
    if spec is None:
        raise ValueError(f"not a world caption: {caption!r}")
    cells = list(POSITIONS)
    if spec["kind"] == "single":
        size = spec["size"] or list(SIZES)[int(rng.integers(len(SIZES)))]
        cell = spec["cell"] or cells[int(rng.integers(len(cells)))]
        return (make_object(rng, spec["color"], spec["shape"], size, cell),)
    if spec["kind"] != "pair":  # count and the other kinds of version 2
        return tuple(make_object(rng, color, shape, size, cell) for color, shape, size, cell in place(spec, rng))
    # pair: same row for left/right, same column for above/below, as the world draws them
    line = int(rng.integers(3))
    low, high = sorted(int(i) for i in rng.choice(3, size=2, replace=False))
    horizontal = spec["relation"] in ("to the left of", "to the right of")
    near, far = ((low, line), (high, line)) if horizontal else ((line, low), (line, high))
    cell_a, cell_b = (near, far) if spec["relation"] in ("to the left of", "above") else (far, near)
    return (make_object(rng, *spec["first"], "small", cell_a), make_object(rng, *spec["second"], "small", cell_b))


def reference_image(caption: str, seed: int) -> Image.Image:
    """The rendered reference for (caption, seed); the same pair always gives the same image."""
    return render(scene_objects(caption, np.random.default_rng([seed, 7])))
