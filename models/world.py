"""The built-in Shapes world (see WORLD.md): renderer, scenes, captions, dataset.

Every number here is part of the data contract; changing one is a new
WORLD_VERSION, not a tweak.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

WORLD_VERSION = "1"
SIZE = 32  # final canvas, pixels
SUPERSAMPLE = 4  # drawn at 128x128, then LANCZOS-downsampled

COLORS = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (240, 210, 40),
    "purple": (150, 60, 200),
    "orange": (245, 140, 30),
    "cyan": (40, 200, 210),
}
SHAPES = ("circle", "square", "triangle", "cross")
PLURALS = {"circle": "circles", "square": "squares", "triangle": "triangles", "cross": "crosses"}
SIZES = {"small": 8, "large": 15}  # pixels across
# (gx, gy) -> phrase; gx is the column (left to right), gy the row (top to bottom)
POSITIONS = {
    (0, 0): "in the top left", (1, 0): "at the top", (2, 0): "in the top right",
    (0, 1): "on the left", (1, 1): "in the center", (2, 1): "on the right",
    (0, 2): "in the bottom left", (1, 2): "at the bottom", (2, 2): "in the bottom right",
}
RELATIONS = ("to the left of", "to the right of", "above", "below")
NUMBERS = {2: "two", 3: "three"}
HELD_OUT = frozenset({("purple", "triangle"), ("orange", "circle"), ("cyan", "square"), ("yellow", "cross")})
SCENE_KINDS = {"single": 0.5, "pair": 0.3, "count": 0.2}
DROP_SIZE, DROP_POSITION = 0.5, 0.5  # chance that a training caption omits the word


@dataclasses.dataclass(frozen=True)
class WorldObject:
    shape: str
    color: str
    size: str  # "small" | "large"
    cell: tuple[int, int]  # (gx, gy)
    center: tuple[float, float]  # exact (cx, cy) in 32x32 pixel coordinates

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Scene:
    kind: str  # "single" | "pair" | "count"
    objects: tuple[WorldObject, ...]
    caption: str
    relation: str | None = None  # pair scenes: objects[0] {relation} objects[1]


# ---------------------------------------------------------------- geometry
def cell_center(size: str, cell: tuple[int, int]) -> tuple[float, float]:
    """Nominal (un-jittered) centre of a cell for an object of this size."""
    gx, gy = cell
    if size == "small":
        return 6 + 10 * gx, 6 + 10 * gy
    return 8 + 8 * gx, 8 + 8 * gy


def jitter(size: str) -> float:
    return 0.5 if size == "small" else 1.0


def shape_polygons(shape: str, cx: float, cy: float, diameter: float) -> list[list[tuple[float, float]]]:
    """Polygons (in continuous pixel coordinates) that make up a non-circle shape."""
    r = diameter / 2
    if shape == "square":
        h = 0.85 * r
        return [[(cx - h, cy - h), (cx + h, cy - h), (cx + h, cy + h), (cx - h, cy + h)]]
    if shape == "triangle":  # apex up
        return [[(cx, cy - r), (cx + r, cy + 0.8 * r), (cx - r, cy + 0.8 * r)]]
    if shape == "cross":  # two bars, half-length r, half-width 0.35 r
        w = 0.35 * r
        return [
            [(cx - r, cy - w), (cx + r, cy - w), (cx + r, cy + w), (cx - r, cy + w)],
            [(cx - w, cy - r), (cx + w, cy - r), (cx + w, cy + r), (cx - w, cy + r)],
        ]
    raise ValueError(f"unknown shape {shape!r}")


def geometric_centroid(obj: WorldObject) -> tuple[float, float]:
    """Area centroid of the shape as specified (the triangle's sits below its centre)."""
    cx, cy = obj.center
    if obj.shape == "triangle":
        (ax, ay), (bx, by), (qx, qy) = shape_polygons("triangle", cx, cy, SIZES[obj.size])[0]
        return (ax + bx + qx) / 3, (ay + by + qy) / 3
    return cx, cy


# ---------------------------------------------------------------- rendering
def render(objects: Sequence[WorldObject]) -> Image.Image:
    """Draw objects at 4x on black, downsample to 32x32 with LANCZOS."""
    big = SIZE * SUPERSAMPLE
    canvas = Image.new("RGB", (big, big), (0, 0, 0))
    draw = ImageDraw.Draw(canvas)

    # continuous coordinate x (pixel i spans [i, i+1)) -> PIL's pixel-centre coordinate
    def to_canvas(x: float) -> float:
        return x * SUPERSAMPLE - 0.5

    for obj in objects:
        fill = COLORS[obj.color]
        cx, cy = obj.center
        diameter = SIZES[obj.size]
        if obj.shape == "circle":
            r = diameter / 2
            box = [to_canvas(cx - r) + 0.5, to_canvas(cy - r) + 0.5, to_canvas(cx + r) - 0.5, to_canvas(cy + r) - 0.5]
            draw.ellipse(box, fill=fill)
        else:
            for poly in shape_polygons(obj.shape, cx, cy, diameter):
                draw.polygon([(to_canvas(x), to_canvas(y)) for x, y in poly], fill=fill)
    return canvas.resize((SIZE, SIZE), Image.LANCZOS)


# ---------------------------------------------------------------- captions
def single_caption(obj: WorldObject, with_size: bool = True, with_position: bool = True) -> str:
    words = ["a"] + ([obj.size] if with_size else []) + [obj.color, obj.shape]
    if with_position:
        words.append(POSITIONS[obj.cell])
    return " ".join(words)


def pair_caption(first: WorldObject, relation: str, second: WorldObject) -> str:
    return f"a {first.color} {first.shape} {relation} a {second.color} {second.shape}"


def count_caption(obj: WorldObject, count: int) -> str:
    return f"{NUMBERS[count]} {obj.color} {PLURALS[obj.shape]}"


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


def to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL RGB -> float tensor [3, 32, 32] in [-1, 1]."""
    array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0  # [32, 32, 3]
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def to_image(tensor: torch.Tensor) -> Image.Image:
    """Float tensor [3, H, W] in [-1, 1] -> PIL RGB (rounded, clipped)."""
    array = ((tensor.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return Image.fromarray(array.permute(1, 2, 0).cpu().numpy())


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


# ---------------------------------------------------------------- parsing
_COLOR = "|".join(COLORS)
_SHAPE = "|".join(SHAPES)
_PLURAL = "|".join(PLURALS.values())
_POSITION = "|".join(POSITIONS.values())
_RELATION = "|".join(RELATIONS)
_SINGLE = re.compile(rf"a(?: (?P<size>small|large))? (?P<color>{_COLOR}) (?P<shape>{_SHAPE})(?: (?P<position>{_POSITION}))?")
_PAIR = re.compile(rf"a (?P<color1>{_COLOR}) (?P<shape1>{_SHAPE}) (?P<relation>{_RELATION}) "
                   rf"a (?P<color2>{_COLOR}) (?P<shape2>{_SHAPE})")
_COUNT = re.compile(rf"(?P<number>two|three) (?P<color>{_COLOR}) (?P<plural>{_PLURAL})")
_CELL_OF_PHRASE = {phrase: cell for cell, phrase in POSITIONS.items()}
_SHAPE_OF_PLURAL = {plural: shape for shape, plural in PLURALS.items()}


def parse_caption(caption: str) -> dict | None:
    """A canonical world caption -> what it asks for; None when it is not in the grammar.

    single: {"kind", "color", "shape", "size" | None, "cell" | None}
    pair:   {"kind", "first": (color, shape), "relation", "second": (color, shape)}
    count:  {"kind", "color", "shape", "count"}
    """
    text = " ".join(caption.strip().lower().split())
    if m := _SINGLE.fullmatch(text):
        return {"kind": "single", "color": m["color"], "shape": m["shape"], "size": m["size"],
                "cell": _CELL_OF_PHRASE[m["position"]] if m["position"] else None}
    if m := _PAIR.fullmatch(text):
        return {"kind": "pair", "first": (m["color1"], m["shape1"]), "relation": m["relation"],
                "second": (m["color2"], m["shape2"])}
    if m := _COUNT.fullmatch(text):
        return {"kind": "count", "color": m["color"], "shape": _SHAPE_OF_PLURAL[m["plural"]],
                "count": 2 if m["number"] == "two" else 3}
    return None
