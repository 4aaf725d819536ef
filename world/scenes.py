"""Random scenes of the world (single, pair, count) with their captions, and the training dataset."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from world.captions import count_caption, pair_caption, single_caption
from world.shapes import (COLORS, DROP_POSITION, DROP_SIZE, HELD_OUT, POSITIONS, RELATIONS, SCENE_KINDS,
                          SHAPES, SIZES, Scene, WorldObject, cell_center, jitter, render, to_tensor)


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
                 held_out: bool = False) -> Scene:
    """Draw one scene; held_out=False never uses the held-out color-shape pairs."""
    pairs = color_shape_pairs(held_out=held_out)
    cells = list(POSITIONS)
    if kind is None:
        kind = str(rng.choice(list(SCENE_KINDS), p=list(SCENE_KINDS.values())))
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


def scene_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of scene `index` under `seed`: independent of any other index."""
    return np.random.default_rng([seed, index])


class ShapesDataset(torch.utils.data.Dataset):
    """(image [3,32,32] in [-1,1], caption, objects as dicts); item i is a pure function of (seed, i)."""

    def __init__(self, length: int = 1_000_000, seed: int = 0, drop_words: bool = True, kind: str | None = None):
        self.length, self.seed, self.drop_words, self.kind = length, seed, drop_words, kind

    def __len__(self) -> int:
        return self.length

    def scene(self, index: int) -> Scene:
        return sample_scene(scene_rng(self.seed, index), kind=self.kind, drop_words=self.drop_words)

    def __getitem__(self, index: int):
        scene = self.scene(index)
        return to_tensor(render(scene.objects)), scene.caption, [o.as_dict() for o in scene.objects]


def collate(batch):
    """Stack images; keep captions and object lists as Python lists."""
    images, captions, objects = zip(*batch)
    return torch.stack(images), list(captions), list(objects)


