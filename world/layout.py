"""Layouts: where every object of a caption goes, complete and checked with the world's own geometry.

A caption leaves choices free ("a red circle": any size, any cell; "two red circles": which cells).
`complete` fills them from a seeded stream, respecting what the caption states (sizes, cells, the
relation of a pair, the number of a count), so a layout-aware generator gets one object per grounding
token and images still vary with the seed. `violations` checks a layout against a caption.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from collections import Counter

from world.captions import parse_caption, wanted_objects
from world.placement import line_middle, place
from world.shapes import COLORS, POSITIONS, SIZE, SIZES, cell_center, cells_apart

MAX_OBJECTS = 5  # the world's largest scene: a count of five
RELATION_MARGIN = 3  # pixels between centres for "left of" / "above" to hold (as the judge reads it)


@dataclasses.dataclass(frozen=True)
class LayoutObject:
    color: str
    shape: str
    size: str  # "small" | "large"
    cell: tuple[int, int]  # (gx, gy)

    def center(self) -> tuple[float, float]:
        return cell_center(self.size, self.cell)

    def box(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the object's extent, as fractions of the canvas."""
        (cx, cy), r = self.center(), SIZES[self.size] / 2
        return ((cx - r) / SIZE, (cy - r) / SIZE, (cx + r) / SIZE, (cy + r) / SIZE)

    def as_dict(self) -> dict:
        return {"color": self.color, "shape": self.shape, "size": self.size, "cell": list(self.cell),
                "box": [round(v, 4) for v in self.box()]}


@dataclasses.dataclass(frozen=True)
class Layout:
    kind: str  # the caption's kind: single, pair, count, multi, mixed, between, sizes
    objects: tuple[LayoutObject, ...]
    relation: str | None = None  # pairs: how objects[0] stands to objects[1]

    def as_dict(self) -> dict:
        return {"kind": self.kind, "relation": self.relation, "objects": [o.as_dict() for o in self.objects]}

    @classmethod
    def from_dict(cls, data: dict) -> "Layout":
        objects = tuple(LayoutObject(o["color"], o["shape"], o["size"], tuple(o["cell"])) for o in data["objects"])
        return cls(data["kind"], objects, data.get("relation"))


def from_objects(objects: Sequence[dict], kind: str = "scene") -> Layout:
    """The exact layout of a rendered scene (ShapesDataset's object dicts)."""
    return Layout(kind, tuple(LayoutObject(o["color"], o["shape"], o["size"], tuple(o["cell"])) for o in objects))


def _pick(rng: np.random.Generator, items: Sequence):
    return items[int(rng.integers(len(items)))]


def complete(spec: dict, rng: np.random.Generator) -> Layout:
    """A parsed caption (world.parse_caption) -> a complete layout; free choices drawn from `rng`."""
    cells = list(POSITIONS)
    if spec["kind"] == "single":
        size = spec["size"] or _pick(rng, list(SIZES))
        cell = spec["cell"] or _pick(rng, cells)
        return Layout("single", (LayoutObject(spec["color"], spec["shape"], size, tuple(cell)),))
    if spec["kind"] == "pair":
        # same row for left/right, same column for above/below; objects of a pair are small
        line = int(rng.integers(3))
        lo, hi = sorted(int(v) for v in rng.choice(3, size=2, replace=False))
        horizontal = spec["relation"] in ("to the left of", "to the right of")
        near, far = ((lo, line), (hi, line)) if horizontal else ((line, lo), (line, hi))
        first_cell, second_cell = (near, far) if spec["relation"] in ("to the left of", "above") else (far, near)
        first = LayoutObject(*spec["first"], "small", first_cell)
        second = LayoutObject(*spec["second"], "small", second_cell)
        return Layout("pair", (first, second), spec["relation"])
    # counts and the kinds of version 2, placed as the world places them
    return Layout(spec["kind"], tuple(LayoutObject(*placed) for placed in place(spec, rng)))


def plan_layout(caption: str, rng: np.random.Generator) -> Layout:
    spec = parse_caption(caption)
    if spec is None:
        raise ValueError(f"not a world caption: {caption!r}")
    return complete(spec, rng)


def relation_holds(a: LayoutObject, b: LayoutObject, relation: str) -> bool:
    (ax, ay), (bx, by) = a.center(), b.center()
    m = RELATION_MARGIN
    return {"to the left of": ax < bx - m, "to the right of": ax > bx + m,
            "above": ay < by - m, "below": ay > by + m}[relation]


def violations(layout: Layout, caption: str) -> list[str]:
    """What in `layout` contradicts `caption` (empty: it satisfies it), by the world's geometry."""
    spec = parse_caption(caption)
    if spec is None:
        return [f"not a world caption: {caption!r}"]
    found = []
    objs = layout.objects
    if len(objs) > MAX_OBJECTS:
        found.append(f"{len(objs)} objects; the world holds at most {MAX_OBJECTS}")
    if len({o.cell for o in objs}) < len(objs):
        found.append("two objects share a cell")
    elif any(not cells_apart(a.size, a.cell, b.size, b.cell) for i, a in enumerate(objs) for b in objs[i + 1:]):
        found.append("two objects overlap")
    for o in objs:
        if o.color not in COLORS or o.size not in SIZES or o.cell not in POSITIONS:
            found.append(f"not a world object: {o}")
    if spec["kind"] == "single":
        o = objs[0] if len(objs) == 1 else None
        if o is None or (o.color, o.shape) != (spec["color"], spec["shape"]):
            found.append("not exactly the one object asked for")
        elif (spec["size"] and o.size != spec["size"]) or (spec["cell"] and o.cell != spec["cell"]):
            found.append("size or cell differs from the caption")
    elif spec["kind"] == "pair":
        if [(o.color, o.shape) for o in objs] != [spec["first"], spec["second"]]:
            found.append("the pair's objects differ from the caption")
        elif not relation_holds(objs[0], objs[1], spec["relation"]):
            found.append(f"the first object is not {spec['relation']} the second")
    elif spec["kind"] == "count":
        if len(objs) != spec["count"] or any((o.color, o.shape) != (spec["color"], spec["shape"]) for o in objs):
            found.append(f"not {spec['count']} {spec['color']} {spec['shape']}s")
    else:
        found += _scene_violations(spec, objs)
    return found


def _scene_violations(spec: dict, objs: tuple[LayoutObject, ...]) -> list[str]:
    """The version-2 kinds: exactly the objects named; a line of three with the named one in the middle; sizes."""
    if Counter((o.color, o.shape) for o in objs) != wanted_objects(spec):
        return ["the objects differ from the caption"]
    if spec["kind"] == "between" and line_middle(objs) != spec["middle"]:
        return [f"the {' '.join(spec['middle'])} is not between the other two"]
    if spec["kind"] == "sizes":
        sizes = {(c, s): size for size, c, s in spec["objects"]}
        if any(o.size != sizes[(o.color, o.shape)] for o in objs):
            return ["a size differs from the caption"]
    elif any(o.size != "small" for o in objs):
        return ["only small objects fit this caption"]
    return []


def draw_layout(layout: Layout, scale: int = 8) -> Image.Image:
    """The layout as labelled boxes on the canvas (the demo shows it beside the images)."""
    side = SIZE * scale
    canvas = Image.new("RGB", (side, side), (20, 20, 20))
    draw = ImageDraw.Draw(canvas)
    for k in range(1, 3):  # the 3x3 grid of cells, faintly
        draw.line([(k * side / 3, 0), (k * side / 3, side)], fill=(55, 55, 55))
        draw.line([(0, k * side / 3), (side, k * side / 3)], fill=(55, 55, 55))
    for index, obj in enumerate(layout.objects):
        x0, y0, x1, y1 = (v * side for v in obj.box())
        draw.rectangle([x0, y0, x1, y1], outline=COLORS[obj.color], width=max(1, scale // 3))
        draw.text((x0 + 2, y0 + 1), f"{index + 1} {obj.shape}", fill=COLORS[obj.color])
    return canvas
