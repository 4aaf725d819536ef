"""World captions: writing them from objects, and parsing a canonical caption back into what it asks.

The world writes English articles ("an orange circle"); every parser also accepts "a orange circle", which
version 1 wrote, so earlier prompt files keep their meaning.
"""
from __future__ import annotations

import re
from collections import Counter

from world.shapes import COLORS, NUMBERS, PLURALS, POSITIONS, RELATIONS, SHAPES, WorldObject, article


def _named(obj: WorldObject, with_size: bool = False) -> str:
    """ "a red circle", "an orange square", "a large blue cross"."""
    words = ([obj.size] if with_size else []) + [obj.color, obj.shape]
    return f"{article(words[0])} {' '.join(words)}"


def single_caption(obj: WorldObject, with_size: bool = True, with_position: bool = True) -> str:
    text = _named(obj, with_size)
    return f"{text} {POSITIONS[obj.cell]}" if with_position else text


def pair_caption(first: WorldObject, relation: str, second: WorldObject) -> str:
    return f"{_named(first)} {relation} {_named(second)}"


def count_caption(obj: WorldObject, count: int) -> str:
    return f"{NUMBERS[count]} {obj.color} {PLURALS[obj.shape]}"


def multi_caption(objects: list[WorldObject]) -> str:
    """Three or four objects: "a red circle, a blue square and a green triangle"."""
    names = [_named(o) for o in objects]
    return f"{', '.join(names[:-1])} and {names[-1]}"


def mixed_caption(obj: WorldObject, count: int, other: WorldObject) -> str:
    """A count plus one other object: "two red circles and a blue square"."""
    return f"{count_caption(obj, count)} and {_named(other)}"


def between_caption(middle: WorldObject, end: WorldObject, other_end: WorldObject) -> str:
    return f"{_named(middle)} between {_named(end)} and {_named(other_end)}"


def sizes_caption(first: WorldObject, second: WorldObject) -> str:
    """One large and one small object, in either order: "a large red circle and a small blue square"."""
    return f"{_named(first, with_size=True)} and {_named(second, with_size=True)}"


# ---------------------------------------------------------------- parsing
_COLOR = "|".join(COLORS)
_SHAPE = "|".join(SHAPES)
_PLURAL = "|".join(PLURALS.values())
_POSITION = "|".join(POSITIONS.values())
_RELATION = "|".join(RELATIONS)
_NUMBER = "|".join(NUMBERS.values())
_A = "an?"  # the article; "a orange" (version 1's spelling) is read as "an orange"
_SINGLE = re.compile(rf"{_A}(?: (?P<size>small|large))? (?P<color>{_COLOR}) (?P<shape>{_SHAPE})"
                     rf"(?: (?P<position>{_POSITION}))?")
_OBJECT = re.compile(rf"{_A} (?P<color>{_COLOR}) (?P<shape>{_SHAPE})")
_SIZED = re.compile(rf"{_A} (?P<size>small|large) (?P<color>{_COLOR}) (?P<shape>{_SHAPE})")
_PAIR = re.compile(rf"(?P<first>{_A} \w+ \w+) (?P<relation>{_RELATION}) (?P<second>{_A} \w+ \w+)")
_BETWEEN = re.compile(rf"(?P<middle>{_A} \w+ \w+) between (?P<end>{_A} \w+ \w+) and (?P<other>{_A} \w+ \w+)")
_COUNT = re.compile(rf"(?P<number>{_NUMBER}) (?P<color>{_COLOR}) (?P<plural>{_PLURAL})")
_CELL_OF_PHRASE = {phrase: cell for cell, phrase in POSITIONS.items()}
_SHAPE_OF_PLURAL = {plural: shape for shape, plural in PLURALS.items()}
_COUNT_OF_WORD = {word: n for n, word in NUMBERS.items()}


def _object(text: str) -> tuple[str, str] | None:
    m = _OBJECT.fullmatch(text)
    return (m["color"], m["shape"]) if m else None


def _all_different(objects: list) -> bool:
    return None not in objects and len(set(objects)) == len(objects)


def parse_caption(caption: str) -> dict | None:
    """A canonical world caption -> what it asks for; None when it is not in the grammar.

    single:  {"kind", "color", "shape", "size" | None, "cell" | None}
    pair:    {"kind", "first": (color, shape), "relation", "second": (color, shape)}
    count:   {"kind", "color", "shape", "count"}  (2 to 5)
    multi:   {"kind", "objects": [(color, shape), ...]}  (3 or 4, all different)
    mixed:   {"kind", "color", "shape", "count", "other": (color, shape)}
    between: {"kind", "middle": (color, shape), "ends": [(color, shape), (color, shape)]}
    sizes:   {"kind", "objects": [(size, color, shape), (size, color, shape)]}  (one large, one small)
    """
    text = " ".join(caption.strip().lower().split())
    if m := _SINGLE.fullmatch(text):
        return {"kind": "single", "color": m["color"], "shape": m["shape"], "size": m["size"],
                "cell": _CELL_OF_PHRASE[m["position"]] if m["position"] else None}
    if m := _COUNT.fullmatch(text):
        return {"kind": "count", "color": m["color"], "shape": _SHAPE_OF_PLURAL[m["plural"]],
                "count": _COUNT_OF_WORD[m["number"]]}
    if (m := _PAIR.fullmatch(text)) and _object(m["first"]) and _object(m["second"]):
        return {"kind": "pair", "first": _object(m["first"]), "relation": m["relation"],
                "second": _object(m["second"])}
    if m := _BETWEEN.fullmatch(text):
        named = [_object(m["middle"]), _object(m["end"]), _object(m["other"])]
        return {"kind": "between", "middle": named[0], "ends": named[1:]} if _all_different(named) else None
    return _parse_list(text)


def _parse_list(text: str) -> dict | None:
    """The kinds that list objects: "A, B and C" (multi), "two Xs and a Y" (mixed), "a large X and a small Y"."""
    head, sep, last = text.rpartition(" and ")
    if not sep:
        return None
    parts = head.split(", ") + [last]
    if len(parts) == 2 and (count := _COUNT.fullmatch(parts[0])) and (other := _object(parts[1])):
        spec = {"kind": "mixed", "color": count["color"], "shape": _SHAPE_OF_PLURAL[count["plural"]],
                "count": _COUNT_OF_WORD[count["number"]], "other": other}
        return spec if spec["count"] <= 3 and other != (spec["color"], spec["shape"]) else None
    sized = [_SIZED.fullmatch(p) for p in parts]
    if len(parts) == 2 and all(sized):
        objects = [(s["size"], s["color"], s["shape"]) for s in sized]
        different = objects[0][1:] != objects[1][1:]
        return {"kind": "sizes", "objects": objects} if different and {o[0] for o in objects} == {"small", "large"} \
            else None
    named = [_object(p) for p in parts]
    if 3 <= len(parts) <= 4 and _all_different(named):
        return {"kind": "multi", "objects": named}
    return None


def caption_task(caption: str) -> str | None:
    """The evaluation task a world caption belongs to (None: not a world caption); held-out pairs are not
    told apart here (the `novel` task is a prompt set's choice)."""
    spec = parse_caption(caption)
    if spec is None:
        return None
    if spec["kind"] == "count" and spec["count"] >= 4:
        return "count-high"
    return spec["kind"]


def wanted_objects(spec: dict) -> Counter:
    """(color, shape) -> how many of it the caption asks for, whatever its kind."""
    kind = spec["kind"]
    if kind == "single":
        return Counter([(spec["color"], spec["shape"])])
    if kind == "pair":
        return Counter([spec["first"], spec["second"]])
    if kind == "count":
        return Counter({(spec["color"], spec["shape"]): spec["count"]})
    if kind == "mixed":
        return Counter({(spec["color"], spec["shape"]): spec["count"], spec["other"]: 1})
    if kind == "between":
        return Counter([spec["middle"], *spec["ends"]])
    if kind == "sizes":
        return Counter(o[1:] for o in spec["objects"])
    return Counter(spec["objects"])  # multi
