"""What a person saw in an image, as the judge's rules read it: the independent check of the judge.

A hand label lists each object seen (color, shape, size, row and column of the 3x3 grid). Where the eye cannot
choose, a field holds the alternatives ("red|orange", "1|2") or "?" for any value, and an object the eye is not
sure is there at all is marked `maybe`. The label's verdict on a caption is the judge's rules (world/accuracy.py
`verdict`) applied to every reading the label allows: one answer when all readings agree, None when they do not
(the label cannot settle it, and the image is left out of the judge's accuracy) or the label says `unreadable`.
"""
from __future__ import annotations

import itertools
from typing import Iterator

from world.accuracy import verdict
from world.captions import parse_caption
from world.detector import Detection
from world.shapes import COLORS, SHAPES, SIZES, cell_center

CHOICES = {"color": tuple(COLORS), "shape": tuple(SHAPES), "size": tuple(SIZES), "row": ("0", "1", "2"),
           "col": ("0", "1", "2")}


def alternatives(field: str, value: str) -> tuple[str, ...]:
    """The values a label's field allows: "?" any, "a|b" either."""
    if value == "?":
        return CHOICES[field]
    options = tuple(value.split("|"))
    unknown = [v for v in options if v not in CHOICES[field]]
    if unknown:
        raise ValueError(f"hand label: {field} {value!r} is not one of {'|'.join(CHOICES[field])} or ?")
    return options


def object_readings(obj: dict) -> list[Detection | None]:
    """Every object a labelled object may be; None for 'not there' when it is marked maybe."""
    fields = [alternatives(f, str(obj[f])) for f in CHOICES]
    seen = [Detection(color, shape, size, (int(col), int(row)), cell_center(size, (int(col), int(row))), 0, 1.0)
            for color, shape, size, row, col in itertools.product(*fields)]
    return seen + [None] if obj.get("maybe") else seen


def readings(objects: list[dict]) -> Iterator[list[Detection]]:
    """Every scene the label allows, as the detector would have reported it."""
    for choice in itertools.product(*(object_readings(o) for o in objects)):
        yield [d for d in choice if d is not None]


def label_verdict(caption: str, label: dict) -> bool | None:
    """Is the labelled image right for the caption? None when the label is unreadable or its readings disagree."""
    if label.get("unreadable"):
        return None
    spec = parse_caption(caption)
    answers = set()
    for found in readings(label["objects"]):
        answers.add(bool(verdict(spec, found)["full"]))
        if len(answers) > 1:
            return None
    return answers.pop() if answers else None
