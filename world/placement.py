"""Where the objects of a version-2 scene go: cells for every object a caption names, drawn from a stream.

One function serves the scene sampler (training data), the references (FID's real images) and the layouts
a planner hands to a layout-aware generator, so the three place objects alike. Counts of any number are
placed here too; singles and pairs keep version 1's code, so v1 streams stay bitwise what they were.
"""
from __future__ import annotations

import numpy as np

from world.shapes import POSITIONS, cells_apart

CELLS = list(POSITIONS)  # the nine (gx, gy), row by row

Placed = tuple[str, str, str, tuple[int, int]]  # (color, shape, size, cell)


def distinct_cells(rng: np.random.Generator, count: int) -> list[tuple[int, int]]:
    """`count` different cells, in reading order."""
    return [CELLS[int(c)] for c in sorted(rng.choice(len(CELLS), size=count, replace=False))]


def line_of_three(rng: np.random.Generator) -> list[tuple[int, int]]:
    """[middle, one end, the other end] of a full row or column, the ends either way round."""
    line, ends = int(rng.integers(3)), [0, 2] if rng.random() < 0.5 else [2, 0]
    if rng.random() < 0.5:  # a row
        return [(1, line), (ends[0], line), (ends[1], line)]
    return [(line, 1), (line, ends[0]), (line, ends[1])]


def line_middle(objects) -> tuple[str, str] | None:
    """The (color, shape) in the middle cell of three objects (anything with .cell, .color, .shape) that fill
    one row or one column; None when they do not."""
    cells = [o.cell for o in objects]
    for axis in (0, 1):  # 0: a row (one gy, gx 0..2); 1: a column
        if len(cells) == 3 and len({c[1 - axis] for c in cells}) == 1 and sorted(c[axis] for c in cells) == [0, 1, 2]:
            return next((o.color, o.shape) for o in objects if o.cell[axis] == 1)
    return None


def large_and_small_cells(rng: np.random.Generator) -> tuple[tuple[int, int], tuple[int, int]]:
    """(large cell, small cell) where the two can never overlap; the centre cell leaves no room for a small
    object beside a large one, so a large object goes to one of the eight others."""
    room = {cell: [c for c in CELLS if cells_apart("large", cell, "small", c)] for cell in CELLS}
    large = [cell for cell in CELLS if room[cell]]
    big = large[int(rng.integers(len(large)))]
    return big, room[big][int(rng.integers(len(room[big])))]


def place(spec: dict, rng: np.random.Generator) -> list[Placed]:
    """A parsed caption of kind count, multi, mixed, between or sizes -> every object with its size and cell,
    in the order the caption names them (a count's or mixed's repeated objects first)."""
    kind = spec["kind"]
    if kind == "count":
        return [(spec["color"], spec["shape"], "small", cell) for cell in distinct_cells(rng, spec["count"])]
    if kind == "multi":
        cells = [CELLS[int(c)] for c in rng.choice(len(CELLS), size=len(spec["objects"]), replace=False)]
        return [(color, shape, "small", cell) for (color, shape), cell in zip(spec["objects"], cells)]
    if kind == "mixed":
        cells = [CELLS[int(c)] for c in rng.choice(len(CELLS), size=spec["count"] + 1, replace=False)]
        named = [(spec["color"], spec["shape"])] * spec["count"] + [spec["other"]]
        return [(color, shape, "small", cell) for (color, shape), cell in zip(named, cells)]
    if kind == "between":
        named = [spec["middle"], *spec["ends"]]
        return [(color, shape, "small", cell) for (color, shape), cell in zip(named, line_of_three(rng))]
    if kind == "sizes":
        large_cell, small_cell = large_and_small_cells(rng)
        return [(color, shape, size, large_cell if size == "large" else small_cell)
                for size, color, shape in spec["objects"]]
    raise ValueError(f"no placement for a {kind!r} caption")
