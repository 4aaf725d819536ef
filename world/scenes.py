"""Random scenes of the world with their captions, and the training dataset.

Version 1's kinds (single, pair, count of two or three) are drawn by the code that drew them before, so a v1
stream is bitwise what it was; version 2's kinds (count-high, multi, mixed, between, sizes) draw what the
caption names, then world/placement.py places it.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from world.captions import (between_caption, count_caption, mixed_caption, multi_caption, pair_caption,
                            single_caption, sizes_caption)
from world.placement import place
from world.shapes import (COLORS, DROP_POSITION, DROP_SIZE, HELD_OUT, POSITIONS, RELATIONS, SCENE_KINDS,
                          SCENE_KINDS_V2, SHAPES, SIZES, Scene, WorldObject, cell_center, jitter, render, to_tensor)


# ---------------------------------------------------------------- sampling
def color_shape_pairs(held_out: bool = False) -> list[tuple[str, str]]:
    """All held-in (or only the held-out) color-shape pairs, in a fixed order."""
    return [(c, s) for c in COLORS for s in SHAPES if ((c, s) in HELD_OUT) == held_out]


def make_object(rng: np.random.Generator, color: str, shape: str, size: str, cell: tuple[int, int]) -> WorldObject:
    nx, ny = cell_center(size, cell)
    j = jitter(size)
    cx, cy = nx + rng.uniform(-j, j), ny + rng.uniform(-j, j)
    return WorldObject(shape=shape, color=color, size=size, cell=cell, center=(float(cx), float(cy)))


def _pick(rng: np.random.Generator, items: Sequence):
    return items[int(rng.integers(len(items)))]


def sample_scene(rng: np.random.Generator, kind: str | None = None, drop_words: bool = True,
                 held_out: bool = False, version: int = 2) -> Scene:
    """Draw one scene of `kind` (None: from the training mixture of world `version`); held_out=False never
    uses the held-out color-shape pairs. Version-2 kinds drop no word: every object they name is drawn."""
    pairs = color_shape_pairs(held_out=held_out)
    cells = list(POSITIONS)
    if kind is None:
        mixture = SCENE_KINDS if version == 1 else SCENE_KINDS_V2
        kind = str(rng.choice(list(mixture), p=list(mixture.values())))
    if kind in V2_SAMPLERS:
        return V2_SAMPLERS[kind](rng, pairs)
    if kind == "single":
        color, shape = _pick(rng, pairs)
        obj = make_object(rng, color, shape, _pick(rng, list(SIZES)), _pick(rng, cells))
        keep_size = not (drop_words and rng.random() < DROP_SIZE)
        keep_pos = not (drop_words and rng.random() < DROP_POSITION)
        return Scene("single", (obj,), single_caption(obj, keep_size, keep_pos))
    if kind == "pair":
        relation = _pick(rng, RELATIONS)
        a, b = _pick(rng, pairs), _pick(rng, pairs)
        # cells: same row for left/right, same column for above/below
        line = int(rng.integers(3))
        i, k = rng.choice(3, size=2, replace=False)
        lo, hi = (int(min(i, k)), int(max(i, k)))
        if relation in ("to the left of", "to the right of"):
            left, right = (lo, line), (hi, line)
            cell_a, cell_b = (left, right) if relation == "to the left of" else (right, left)
        else:
            top, bottom = (line, lo), (line, hi)
            cell_a, cell_b = (top, bottom) if relation == "above" else (bottom, top)
        first = make_object(rng, a[0], a[1], "small", cell_a)
        second = make_object(rng, b[0], b[1], "small", cell_b)
        return Scene("pair", (first, second), pair_caption(first, relation, second), relation)
    if kind == "count":
        color, shape = _pick(rng, pairs)
        count = int(rng.integers(2, 4))
        chosen = rng.choice(len(cells), size=count, replace=False)
        objs = tuple(make_object(rng, color, shape, "small", cells[int(c)]) for c in sorted(chosen))
        return Scene("count", objs, count_caption(objs[0], count))
    raise ValueError(f"unknown scene kind {kind!r}")


def _distinct(rng: np.random.Generator, pairs: list[tuple[str, str]], count: int) -> list[tuple[str, str]]:
    return [pairs[int(i)] for i in rng.choice(len(pairs), size=count, replace=False)]


def _objects(rng: np.random.Generator, spec: dict) -> list[WorldObject]:
    return [make_object(rng, color, shape, size, cell) for color, shape, size, cell in place(spec, rng)]


def _count_high(rng, pairs) -> Scene:
    color, shape = _pick(rng, pairs)
    objs = _objects(rng, {"kind": "count", "color": color, "shape": shape, "count": int(rng.integers(4, 6))})
    return Scene("count-high", tuple(objs), count_caption(objs[0], len(objs)))


def _multi(rng, pairs) -> Scene:
    objs = _objects(rng, {"kind": "multi", "objects": _distinct(rng, pairs, int(rng.integers(3, 5)))})
    return Scene("multi", tuple(objs), multi_caption(objs))


def _mixed(rng, pairs) -> Scene:
    (color, shape), other = _distinct(rng, pairs, 2)
    objs = _objects(rng, {"kind": "mixed", "color": color, "shape": shape, "count": int(rng.integers(2, 4)),
                          "other": other})
    return Scene("mixed", tuple(objs), mixed_caption(objs[0], len(objs) - 1, objs[-1]))


def _between(rng, pairs) -> Scene:
    middle, *ends = _distinct(rng, pairs, 3)
    objs = _objects(rng, {"kind": "between", "middle": middle, "ends": ends})
    return Scene("between", tuple(objs), between_caption(*objs))


def _sizes(rng, pairs) -> Scene:
    first, second = _distinct(rng, pairs, 2)
    sizes = ("large", "small") if rng.random() < 0.5 else ("small", "large")
    objs = _objects(rng, {"kind": "sizes", "objects": [(sizes[0], *first), (sizes[1], *second)]})
    return Scene("sizes", tuple(objs), sizes_caption(*objs))


V2_SAMPLERS = {"count-high": _count_high, "multi": _multi, "mixed": _mixed, "between": _between, "sizes": _sizes}


def scene_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of scene `index` under `seed`: independent of any other index."""
    return np.random.default_rng([seed, index])


class ShapesDataset(torch.utils.data.Dataset):
    """(image [3,32,32] in [-1,1], caption, objects as dicts); item i is a pure function of (seed, i)."""

    def __init__(self, length: int = 1_000_000, seed: int = 0, drop_words: bool = True, kind: str | None = None,
                 version: int = 2):
        self.length, self.seed, self.drop_words, self.kind, self.version = length, seed, drop_words, kind, version

    def __len__(self) -> int:
        return self.length

    def scene(self, index: int) -> Scene:
        return sample_scene(scene_rng(self.seed, index), kind=self.kind, drop_words=self.drop_words,
                            version=self.version)

    def __getitem__(self, index: int):
        scene = self.scene(index)
        return to_tensor(render(scene.objects)), scene.caption, [o.as_dict() for o in scene.objects]


def collate(batch):
    """Stack images; keep captions and object lists as Python lists."""
    images, captions, objects = zip(*batch)
    return torch.stack(images), list(captions), list(objects)


