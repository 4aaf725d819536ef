"""The Shapes world's objects and canvas: every number of the data contract, geometry, rendering.

Every number here is part of the data contract (docs/ARCHITECTURE.md, "The Shapes world"); changing one
is a new WORLD_VERSION, not a tweak.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

WORLD_VERSION = "2"  # version 1: single, pair, count of two or three; 2 adds the scenes people type
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
NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five"}
HELD_OUT = frozenset({("purple", "triangle"), ("orange", "circle"), ("cyan", "square"), ("yellow", "cross")})
SCENE_KINDS = {"single": 0.5, "pair": 0.3, "count": 0.2}  # version 1's training mixture
# version 2's training mixture: v1's kinds keep most of the stream so v1 skills hold; counts of four or five
# ("count-high") are drawn as a kind of their own
SCENE_KINDS_V2 = {"single": 0.30, "pair": 0.18, "count": 0.10, "count-high": 0.08, "multi": 0.10, "mixed": 0.08,
                  "between": 0.08, "sizes": 0.08}
V1_KINDS = ("single", "pair", "count")
V2_KINDS = ("count-high", "multi", "mixed", "between", "sizes")
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
    kind: str  # a scene kind of SCENE_KINDS_V2 ("count-high": a count of four or five)
    objects: tuple[WorldObject, ...]
    caption: str
    relation: str | None = None  # pair scenes: objects[0] {relation} objects[1]


def article(word: str) -> str:
    """English's article before `word`: "an orange", "a red"."""
    return "an" if word[:1] in "aeiou" else "a"


# ---------------------------------------------------------------- geometry
def cell_center(size: str, cell: tuple[int, int]) -> tuple[float, float]:
    """Nominal (un-jittered) centre of a cell for an object of this size."""
    gx, gy = cell
    if size == "small":
        return 6 + 10 * gx, 6 + 10 * gy
    return 8 + 8 * gx, 8 + 8 * gy


def jitter(size: str) -> float:
    return 0.5 if size == "small" else 1.0


def cells_apart(size_a: str, cell_a: tuple[int, int], size_b: str, cell_b: tuple[int, int]) -> bool:
    """Can objects of these sizes in these cells never overlap, whatever their jitter (with a pixel to spare)?
    Small objects in distinct cells always can; a large object and a small one only in far cells."""
    (ax, ay), (bx, by) = cell_center(size_a, cell_a), cell_center(size_b, cell_b)
    reach = (SIZES[size_a] + SIZES[size_b]) / 2 + jitter(size_a) + jitter(size_b) + 1
    return cell_a != cell_b and (abs(ax - bx) >= reach or abs(ay - by) >= reach or
                                 size_a == size_b == "small")


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


def to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL RGB -> float tensor [3, 32, 32] in [-1, 1]."""
    array = np.asarray(image, dtype=np.float32) / 127.5 - 1.0  # [32, 32, 3]
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def to_image(tensor: torch.Tensor) -> Image.Image:
    """Float tensor [3, H, W] in [-1, 1] -> PIL RGB (rounded, clipped)."""
    array = ((tensor.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return Image.fromarray(array.permute(1, 2, 0).cpu().numpy())

