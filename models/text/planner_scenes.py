"""The rules planner's scenes of several objects (world version 2) and the captions it writes.

What the words were read into (objects with color, shape, size and number; a relation; 'between') becomes a
parsed caption of the world's grammar (world.captions.parse_caption's dicts), or a one-line reason why the
world cannot hold it. `caption_of` writes any parsed caption back in the world's own words, English articles
included ("an orange circle").
"""
from __future__ import annotations

import dataclasses

from world import NUMBERS, PLURALS, POSITIONS, article, parse_caption
from world.layout import MAX_OBJECTS

LIST_SIZES = (3, 4)  # a list of different objects (multi)
MIXED_COUNTS = (2, 3)  # alike objects beside one other (mixed)
EXAMPLE_MIXED = "two red circles and a blue square"


class Outside(Exception):
    """Raised inside the rules with the one-line reason."""


@dataclasses.dataclass
class ReadObject:
    index: int  # word position of its shape word
    shape: str
    plural: bool
    color: str | None = None
    size: str | None = None
    number: int | None = None

    @property
    def count(self) -> int:
        """How many of it the words ask for: 0 when they do not say ("some red circles", "red circles")."""
        return self.number if self.number is not None else (0 if self.plural else 1)

    @property
    def named(self) -> tuple[str, str]:
        return self.color, self.shape


# ---------------------------------------------------------------- writing captions
def named(color: str, shape: str, size: str | None = None) -> str:
    """ "a red circle", "an orange square", "a large blue cross"."""
    words = ([size] if size else []) + [color, shape]
    return f"{article(words[0])} {' '.join(words)}"


def caption_of(spec: dict) -> str:
    """A parsed caption (any kind) -> the world's canonical caption of it."""
    kind = spec["kind"]
    if kind == "single":
        text = named(spec["color"], spec["shape"], spec["size"])
        return f"{text} {POSITIONS[tuple(spec['cell'])]}" if spec["cell"] else text
    if kind == "pair":
        return f"{named(*spec['first'])} {spec['relation']} {named(*spec['second'])}"
    if kind in ("count", "mixed"):
        counted = f"{NUMBERS[spec['count']]} {spec['color']} {PLURALS[spec['shape']]}"
        return f"{counted} and {named(*spec['other'])}" if kind == "mixed" else counted
    if kind == "between":
        return f"{named(*spec['middle'])} between {named(*spec['ends'][0])} and {named(*spec['ends'][1])}"
    if kind == "sizes":
        return " and ".join(named(color, shape, size) for size, color, shape in spec["objects"])
    names = [named(*o) for o in spec["objects"]]  # multi
    return f"{', '.join(names[:-1])} and {names[-1]}"


def canonical(caption: str) -> str | None:
    """A world caption in the world's own spelling ("a orange circle" -> "an orange circle"); None if it is not one."""
    spec = parse_caption(caption)
    return caption_of(spec) if spec else None


def layout_of(caption: str) -> dict | None:
    """A world caption -> what it fixes: {"kind", "objects": [{color, shape, size, cell}], "relation", "count"};
    a cell (or a single's size) it leaves free is None. Objects are listed as the caption names them, a count's
    alike objects once ("count" says how many)."""
    spec = parse_caption(caption)
    if spec is None:
        return None
    kind = spec["kind"]

    def objects(named_objects, size="small"):
        return [{"color": c, "shape": s, "size": size, "cell": None} for c, s in named_objects]

    layout = {"kind": kind, "relation": None, "count": None}
    if kind == "single":
        return {**layout, "objects": [{"color": spec["color"], "shape": spec["shape"], "size": spec["size"],
                                       "cell": list(spec["cell"]) if spec["cell"] else None}]}
    if kind == "pair":  # pair objects are small, placed by the relation
        return {**layout, "objects": objects([spec["first"], spec["second"]]), "relation": spec["relation"]}
    if kind in ("count", "mixed"):
        others = [spec["other"]] if kind == "mixed" else []
        return {**layout, "objects": objects([(spec["color"], spec["shape"]), *others]), "count": spec["count"]}
    if kind == "between":  # the middle first, in the middle of a row or column with the ends beside it
        return {**layout, "objects": objects([spec["middle"], *spec["ends"]]), "relation": "between"}
    if kind == "sizes":
        return {**layout, "objects": [{"color": c, "shape": s, "size": size, "cell": None}
                                      for size, c, s in spec["objects"]]}
    return {**layout, "objects": objects(spec["objects"])}  # multi


# ---------------------------------------------------------------- several objects
def _ignore_large_and_position(objects: list[ReadObject], placed: bool, what: str, notes: list[str]) -> None:
    if any(o.size == "large" for o in objects):
        notes.append(f"ignored 'large': objects {what} are always small")
    if placed:
        notes.append(f"ignored the position: objects {what} are placed at random")


def between_spec(objects: list[ReadObject], at: int, placed: bool, notes: list[str]) -> dict:
    """'a Y between an X and a Z', 'between an X and a Z, a Y', 'an X and a Z with a Y between them'."""
    if any(o.count != 1 for o in objects):
        raise Outside("'between' places three different single objects, not counts")
    if len(objects) != 3:
        raise Outside(f"'between' needs three objects, not {len(objects)}: e.g. a yellow triangle between a red "
                      f"circle and a blue square")
    after = [o for o in objects if o.index > at]
    if len(after) == 1:
        raise Outside("which two is it between? name them after 'between', or say 'between them'")
    ends = after[:2] if after else objects[:2]
    middle = next(o for o in objects if o not in ends)
    if len({o.named for o in objects}) < 3:
        raise Outside("'between' needs three different objects (in color or shape)")
    _ignore_large_and_position(objects, placed, "in a line of three", notes)
    return {"kind": "between", "middle": middle.named, "ends": [o.named for o in ends]}


def several_spec(objects: list[ReadObject], placed: bool, notes: list[str]) -> dict:
    """Two or more objects without a relation: a list (multi), a count and one other (mixed), or one large and
    one small (sizes)."""
    if any(o.count == 0 for o in objects):
        unsaid = next(o for o in objects if o.count == 0)
        raise Outside(f"how many {unsaid.color} {PLURALS[unsaid.shape]}? the world draws two to five alike")
    if any(o.count == 1 and o.plural for o in objects):
        raise Outside("a count is two to five alike; for one object say 'a', not 'one' with a plural")
    total = sum(o.count for o in objects)
    if total > MAX_OBJECTS:
        raise Outside(f"{total} objects asked; the world holds at most {NUMBERS[MAX_OBJECTS]}")
    counted = [o for o in objects if o.count > 1]
    if counted:
        return _mixed(objects, counted, placed, notes)
    if len(objects) == 2:
        return _sizes(objects, placed, notes)
    if len(objects) not in LIST_SIZES:
        raise Outside(f"a list names three or four different objects, not {len(objects)}")
    repeated = next((o for i, o in enumerate(objects) if o.named in [p.named for p in objects[:i]]), None)
    if repeated:
        raise Outside(f"the {repeated.color} {repeated.shape} is named twice: a list names different objects; "
                      f"for alike ones say e.g. '{EXAMPLE_MIXED}'")
    _ignore_large_and_position(objects, placed, "in a list", notes)
    return {"kind": "multi", "objects": [o.named for o in objects]}


def _mixed(objects: list[ReadObject], counted: list[ReadObject], placed: bool, notes: list[str]) -> dict:
    if len(counted) > 1:
        raise Outside(f"only one group of alike objects goes with another object: e.g. '{EXAMPLE_MIXED}'")
    if len(objects) > 2:
        raise Outside(f"a count goes with one other object, not {len(objects) - 1}: e.g. '{EXAMPLE_MIXED}'")
    group = counted[0]
    other = next(o for o in objects if o is not group)
    if group.count not in MIXED_COUNTS:
        raise Outside(f"a count beside another object is two or three alike, not {group.count}")
    if other.named == group.named:
        raise Outside(f"the {other.color} {other.shape} is one of those counted: say "
                      f"'{NUMBERS[group.count + 1]} {other.color} {PLURALS[other.shape]}'")
    _ignore_large_and_position(objects, placed, "counted", notes)
    return {"kind": "mixed", "color": group.color, "shape": group.shape, "count": group.count, "other": other.named}


def _sizes(objects: list[ReadObject], placed: bool, notes: list[str]) -> dict:
    """Two objects without a relation hold only as one large and one small ('a big X and a tiny Y')."""
    sizes = [o.size for o in objects]
    if sizes == ["large", "large"]:
        raise Outside("two large objects cannot both fit without overlapping: make one of them small")
    if "large" not in sizes:
        raise Outside("two objects need a relation (left of, right of, above or below) or sizes: one large, "
                      "one small")
    if objects[0].named == objects[1].named:
        raise Outside("a large and a small object must differ in color or shape")
    if None in sizes:
        lone = objects[sizes.index(None)]
        notes.append(f"read the {lone.color} {lone.shape} as small: a large object goes with a small one")
    if placed:
        notes.append("ignored the position: a large and a small object are placed at random")
    return {"kind": "sizes", "objects": [(o.size or "small", o.color, o.shape) for o in objects]}
