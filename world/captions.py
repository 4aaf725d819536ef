"""World captions: writing them from objects, and parsing a canonical caption back into what it asks."""
from __future__ import annotations

import re

from world.shapes import COLORS, NUMBERS, PLURALS, POSITIONS, RELATIONS, SHAPES, WorldObject


def single_caption(obj: WorldObject, with_size: bool = True, with_position: bool = True) -> str:
    words = ["a"] + ([obj.size] if with_size else []) + [obj.color, obj.shape]
    if with_position:
        words.append(POSITIONS[obj.cell])
    return " ".join(words)


def pair_caption(first: WorldObject, relation: str, second: WorldObject) -> str:
    return f"a {first.color} {first.shape} {relation} a {second.color} {second.shape}"


def count_caption(obj: WorldObject, count: int) -> str:
    return f"{NUMBERS[count]} {obj.color} {PLURALS[obj.shape]}"


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
