"""The prompt planner: free text -> a canonical Shapes-world caption and its layout, or a clear "outside".

The built-in generators know only the world's caption grammar (docs/ARCHITECTURE.md); people type anything. As in the
LLM + denoiser pattern (DALL-E 3's prompt rewriting), a planner sits in front of the text encoder.
`RulePlanner` is the offline default: synonyms and near colors, plurals, numbers as words or digits,
free word order, relations in either direction and single-typo tolerance. The LLM backends
(models/planner_llm.py) are validated against the grammar and fall back to these rules.
"""
from __future__ import annotations

import dataclasses
import re

from models.contract import MAX_PROMPT_CHARS
from world import COLORS, NUMBERS, PLURALS, POSITIONS, SHAPES, parse_caption
from world.layout import Layout, plan_layout
from world.seeds import layout_rng

# ---------------------------------------------------------------- vocabulary
COLOR_WORDS = {
    "red": "red", "crimson": "red", "scarlet": "red", "ruby": "red", "cherry": "red", "vermilion": "red",
    "green": "green", "emerald": "green", "lime": "green", "jade": "green", "olive": "green",
    "blue": "blue", "navy": "blue", "azure": "blue", "cobalt": "blue", "sapphire": "blue", "indigo": "blue",
    "yellow": "yellow", "gold": "yellow", "golden": "yellow", "lemon": "yellow", "mustard": "yellow",
    "purple": "purple", "violet": "purple", "lilac": "purple", "lavender": "purple", "plum": "purple",
    "magenta": "purple", "mauve": "purple",
    "orange": "orange", "amber": "orange", "tangerine": "orange", "apricot": "orange",
    "cyan": "cyan", "turquoise": "cyan", "teal": "cyan", "aqua": "cyan", "aquamarine": "cyan",
}
SHAPE_WORDS = {  # word -> (shape, plural?)
    **{w: ("circle", False) for w in ("circle", "ball", "disc", "disk", "dot", "sphere", "orb", "round")},
    **{w: ("circle", True) for w in ("circles", "balls", "discs", "disks", "dots", "spheres", "orbs")},
    **{w: ("square", False) for w in ("square", "box", "block", "cube", "tile")},
    **{w: ("square", True) for w in ("squares", "boxes", "blocks", "cubes", "tiles")},
    **{w: ("triangle", False) for w in ("triangle", "pyramid", "wedge")},
    **{w: ("triangle", True) for w in ("triangles", "pyramids", "wedges")},
    **{w: ("cross", False) for w in ("cross", "plus")},
    **{w: ("cross", True) for w in ("crosses", "pluses", "plusses")},
}
SIZE_WORDS = {**{w: "small" for w in ("small", "little", "tiny", "mini", "wee", "smaller", "smallish")},
              **{w: "large" for w in ("large", "big", "huge", "giant", "bigger", "larger", "enormous", "massive")}}
NUMBER_WORDS = {"one": 1, "1": 1, "single": 1, "two": 2, "2": 2, "pair": 2, "couple": 2,
                "three": 3, "3": 3, "trio": 3, "four": 4, "4": 4, "five": 5, "5": 5, "six": 6, "6": 6,
                "seven": 7, "eight": 8, "nine": 9, "ten": 10, "several": 0, "many": 0, "some": 0, "few": 0}
# words that may sit between "left"/"right" and "of": "on the left side of", "to the left hand side of"
SIDE_WORDS = {"side", "hand"}
VERTICAL = {"top": 0, "upper": 0, "up": 0, "high": 0, "bottom": 2, "lower": 2, "down": 2, "low": 2}
HORIZONTAL = {"left": 0, "leftmost": 0, "right": 2, "rightmost": 2}
CENTER_WORDS = {"center", "middle", "centered", "central", "centre", "centred"}
RELATION_WORDS = {"above": "above", "over": "above", "atop": "above", "below": "below", "under": "below",
                  "underneath": "below", "beneath": "below"}
FILLER = set("""a an the please draw make put place show me render generate paint create give sketch i want would
like need could you can of with in at on to is are be there picture image photo drawing just it its that this
which and placed located sitting positioned side area part region very really canvas frame screen scene shape
shapes object objects thing things colored coloured color colour exactly another then them they by near edge
go goes let us we see get have has so quite rather somewhere where should sits lies rests set corner""".split())
# words people use that the world has no place for: named so the answer can say so
OUTSIDE_COLORS = {"white", "black", "gray", "grey", "brown", "pink", "beige", "silver", "tan", "maroon"}
OUTSIDE_SHAPES = {"hexagon", "pentagon", "star", "heart", "rectangle", "oval", "ellipse", "diamond", "line",
                  "arrow", "ring", "octagon", "crescent", "spiral", "hexagons", "stars", "hearts", "rectangles"}
CONTENT = {**{w: "color" for w in COLOR_WORDS}, **{w: "shape" for w in SHAPE_WORDS},
           **{w: "size" for w in SIZE_WORDS}, **{w: "number" for w in NUMBER_WORDS},
           **{w: "vertical" for w in VERTICAL}, **{w: "horizontal" for w in HORIZONTAL},
           **{w: "center" for w in CENTER_WORDS}, **{w: "relation" for w in RELATION_WORDS}}
KNOWN = set(CONTENT) | FILLER | OUTSIDE_COLORS | OUTSIDE_SHAPES | SIDE_WORDS | {"next", "beside", "than", "higher"}
WORLD_COLORS = ", ".join(COLORS)
WORLD_SHAPES = ", ".join(SHAPES)
MAX_PLAN_CHARS = MAX_PROMPT_CHARS  # one limit for planners and generators (models/contract.py)


@dataclasses.dataclass
class Plan:
    text: str  # what the person typed
    caption: str | None  # the canonical world caption; None when the text is outside the world
    layout: dict | None  # what the text fixes: objects with color, shape, size, cell (None: free), relation or count
    reason: str = ""  # one line: why the text is outside the world (empty when understood)
    planner: str = "rules"
    notes: list[str] = dataclasses.field(default_factory=list)  # what was read loosely, ignored or fell back

    @property
    def understood(self) -> bool:
        return self.caption is not None

    def complete_layout(self, seed: int = 0, index: int = 0) -> Layout | None:
        """The layout of image `index` of a request seeded `seed`: every object with its size and cell,
        the free choices drawn from that image's own stream (world/seeds.py)."""
        return plan_layout(self.caption, layout_rng(seed, index)) if self.understood else None

    def as_dict(self, seed: int = 0, index: int = 0) -> dict:
        """JSON-ready: 'constraints' is what the text fixes, 'layout' the complete layout for (seed, index)."""
        complete = self.complete_layout(seed, index)
        data = {**dataclasses.asdict(self), "understood": self.understood}
        data["constraints"] = data.pop("layout")
        data["layout"] = complete.as_dict() if complete else None
        return data


def layout_of(caption: str) -> dict | None:
    """A canonical caption -> {"kind", "objects": [{color, shape, size, cell}], "relation", "count"}."""
    parsed = parse_caption(caption)
    if parsed is None:
        return None
    if parsed["kind"] == "single":
        objects = [{"color": parsed["color"], "shape": parsed["shape"], "size": parsed["size"],
                    "cell": list(parsed["cell"]) if parsed["cell"] else None}]
        return {"kind": "single", "objects": objects, "relation": None, "count": None}
    if parsed["kind"] == "pair":  # pair objects are small, placed by the relation
        objects = [{"color": c, "shape": s, "size": "small", "cell": None} for c, s in (parsed["first"], parsed["second"])]
        return {"kind": "pair", "objects": objects, "relation": parsed["relation"], "count": None}
    objects = [{"color": parsed["color"], "shape": parsed["shape"], "size": "small", "cell": None}]
    return {"kind": "count", "objects": objects, "relation": None, "count": parsed["count"]}


def outside(text: str, reason: str, planner: str = "rules", notes: list[str] | None = None) -> Plan:
    return Plan(text=text, caption=None, layout=None, reason=reason, planner=planner, notes=notes or [])


def understood(text: str, caption: str, planner: str = "rules", notes: list[str] | None = None) -> Plan:
    layout = layout_of(caption)
    if layout is None:  # every backend's answer passes the world's own parser before use
        raise ValueError(f"not a world caption: {caption!r}")
    return Plan(text=text, caption=caption, layout=layout, planner=planner, notes=notes or [])


def refusal(text) -> Plan | None:
    """The plan for text no planner reads (not a string, empty, too long), else None. Runs before any
    parsing or copying, so a huge prompt costs nothing; the plan keeps only its head."""
    if text is None:  # an empty text box
        text = ""
    if not isinstance(text, str):
        return outside("", f"the prompt must be text, not {type(text).__name__}")
    if len(text) > MAX_PLAN_CHARS:
        return outside(text[:MAX_PLAN_CHARS] + "...",
                       f"the prompt is {len(text)} characters long; the limit is {MAX_PLAN_CHARS}: shorten it")
    if not text or not text.strip():
        return outside(text, "the prompt is empty: describe shapes, e.g. 'a big red ball in the middle'")
    return None


# ---------------------------------------------------------------- words
def words_of(text: str) -> list[str]:
    text = re.sub(r"plus[\s-]+signs", "pluses", text.lower())
    text = re.sub(r"plus[\s-]+sign", "plus", text)
    return re.findall(r"[a-z]+|\d+", text)


def _one_edit_apart(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance exactly 1 (one substitution, insertion, deletion or swap of neighbours)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def correct_typo(word: str) -> str | None:
    """The one content word a single typo away from `word` (words of 4+ letters), else None."""
    if len(word) < 4 or word in KNOWN or word.isdigit():
        return None
    candidates = {w for w in CONTENT if len(w) >= 3 and _one_edit_apart(word, w)}
    if len(candidates) > 1:  # "yelow": yellow or below? typos rarely hit the first letter
        candidates = {w for w in candidates if w[0] == word[0]}
    return candidates.pop() if len(candidates) == 1 else None


@dataclasses.dataclass
class _Object:
    index: int  # word position of its shape word
    shape: str
    plural: bool
    color: str | None = None
    size: str | None = None
    number: int | None = None


# ---------------------------------------------------------------- the rules
class RulePlanner:
    name = "rules"

    def plan(self, text: str) -> Plan:
        refused = refusal(text)
        if refused is not None:
            return refused
        notes: list[str] = []
        words = []
        for word in words_of(text):
            fixed = correct_typo(word) if word not in KNOWN else None
            if fixed:
                notes.append(f"read '{word}' as '{fixed}'")
            words.append(fixed or word)
        try:
            caption = self._caption(words, notes)
        except _Outside as why:
            return outside(text, str(why), notes=notes)
        return understood(text, caption, notes=notes)

    def _caption(self, words: list[str], notes: list[str]) -> str:
        unknown = [w for w in words if w not in KNOWN]
        bad_colors = [w for w in words if w in OUTSIDE_COLORS]
        bad_shapes = [w for w in words if w in OUTSIDE_SHAPES]
        if bad_colors:
            raise _Outside(f"'{bad_colors[0]}' is not one of its colors ({WORLD_COLORS})")
        if bad_shapes:
            raise _Outside(f"'{bad_shapes[0]}' is not one of its shapes ({WORLD_SHAPES})")
        if unknown:
            listed = ", ".join(f"'{w}'" for w in dict.fromkeys(unknown[:3]))
            raise _Outside(f"did not understand {listed}; it has only {WORLD_SHAPES} in {WORLD_COLORS}")
        if "next" in words or "beside" in words:
            raise _Outside("'next to' does not say which side: use left of, right of, above or below")

        objects, relations, vertical, horizontal, center, corner = self._read(words)
        if not objects:
            raise _Outside(f"no shape named: the world draws {WORLD_SHAPES}")
        if len(objects) > 2:
            raise _Outside("at most two different objects: one, a pair with a relation, or two or three alike")
        for obj in objects:
            if obj.color is None:
                raise _Outside(f"no color for the {obj.shape}: name one of {WORLD_COLORS}")
        if len(objects) == 2:
            return self._pair(objects, relations, vertical, horizontal, center, notes)
        if relations:
            raise _Outside(f"'{relations[0][1]}' needs a second object")
        obj = objects[0]
        number = obj.number if obj.number is not None else (0 if obj.plural else 1)
        if number == 1:
            return self._single(obj, vertical, horizontal, center, corner)
        if number not in NUMBERS:
            raise _Outside("how many? the world draws two or three alike" if number == 0 else
                           f"the world draws at most three alike, not {number}")
        if obj.size == "large":
            notes.append("ignored 'large': objects counted are always small")
        if vertical is not None or horizontal is not None or center:
            notes.append("ignored the position: objects counted are placed at random")
        return f"{NUMBERS[number]} {obj.color} {PLURALS[obj.shape]}"

    def _read(self, words: list[str]):
        return _Reader().read(words)

    def _single(self, obj: _Object, vertical, horizontal, center: bool, corner: bool) -> str:
        words = ["a"] + ([obj.size] if obj.size else []) + [obj.color, obj.shape]
        if vertical is None and horizontal is None and not center:
            return " ".join(words)
        if corner and (vertical is None or horizontal is None):
            raise _Outside("which corner? say top left, top right, bottom left or bottom right")
        cell = (1 if horizontal is None else horizontal, 1 if vertical is None else vertical)
        return " ".join(words + [POSITIONS[cell]])

    def _pair(self, objects: list[_Object], relations, vertical, horizontal, center, notes: list[str]) -> str:
        if not relations:
            raise _Outside("two objects need a relation: left of, right of, above or below")
        if len({r for _, r in relations}) > 1:
            raise _Outside("more than one relation between the two objects")
        if any(o.number not in (None, 1) or o.plural for o in objects):
            raise _Outside("a pair is two single objects; counts cannot be combined with a relation")
        if any(o.size == "large" for o in objects):
            notes.append("ignored 'large': objects in a pair are always small")
        if vertical is not None or horizontal is not None or center:
            notes.append("ignored the position: the relation places a pair")
        at, relation = relations[0]
        a, b = objects
        # "A rel B" reads left to right; "rel B, A" and "A with B rel it" put the reference first
        first, second = (a, b) if a.index < at < b.index else (b, a)
        return f"a {first.color} {first.shape} {relation} a {second.color} {second.shape}"


class _Reader:
    """One pass over the words: attributes attach to the next shape word; leftovers to the object before them."""

    def __init__(self):
        self.objects: list[_Object] = []
        self.pending: dict[str, object] = {}
        self.relations: list[tuple[int, str]] = []  # (word index, relation)
        self.vertical = self.horizontal = None
        self.center = self.corner = False

    def attach(self, key: str, value) -> None:
        if key in self.pending and self.pending[key] != value:
            raise _Outside(f"two {key}s for one object: '{self.pending[key]}' and '{value}'")
        self.pending[key] = value

    def flush_to_previous(self) -> None:
        if not self.pending:
            return
        if not self.objects:
            raise _Outside(f"no shape named: the world draws {WORLD_SHAPES}")
        for key, value in self.pending.items():
            if getattr(self.objects[-1], key) not in (None, value):
                raise _Outside(f"two {key}s for the {self.objects[-1].shape}")
            setattr(self.objects[-1], key, value)
        self.pending.clear()

    def set_axis(self, attribute: str, value: int) -> None:
        current = getattr(self, attribute)
        if current is not None and current != value:
            raise _Outside(f"two {attribute} positions asked for at once")
        setattr(self, attribute, value)

    @staticmethod
    def relation_at(word: str, following: str) -> str | None:
        """The relation a word starts ("left of", "on top of", "higher than", "under"), if any."""
        if word in HORIZONTAL and following == "of":
            return "to the left of" if HORIZONTAL[word] == 0 else "to the right of"
        if word == "top" and following == "of":  # "on top of"
            return "above"
        if word in ("higher", "lower") and following == "than":
            return "above" if word == "higher" else "below"
        return RELATION_WORDS.get(word) if CONTENT.get(word) == "relation" else None

    def read(self, words: list[str]):
        for i, word in enumerate(words):
            rest = [w for w in words[i + 1:] if w not in SIDE_WORDS]
            following = rest[0] if rest else ""
            if word == "right" and following in ("in", "at") and i + 1 < len(words) and words[i + 1] in ("in", "at"):
                continue  # "right in the center", "right at the top": an intensifier, not a side
            relation = self.relation_at(word, following)
            if relation is not None:
                self.flush_to_previous()
                self.relations.append((i, relation))
            else:
                self.word(i, word)
        self.flush_to_previous()
        return self.objects, self.relations, self.vertical, self.horizontal, self.center, self.corner

    def word(self, i: int, word: str) -> None:
        kind = CONTENT.get(word)
        if kind == "color":
            self.attach("color", COLOR_WORDS[word])
        elif kind == "size":
            self.attach("size", SIZE_WORDS[word])
        elif kind == "number":
            self.attach("number", NUMBER_WORDS[word])
        elif kind == "shape":
            shape, plural = SHAPE_WORDS[word]
            self.objects.append(_Object(i, shape, plural, **self.pending))  # type: ignore[arg-type]
            self.pending.clear()
        elif kind == "vertical":
            self.set_axis("vertical", VERTICAL[word])
        elif kind == "horizontal":
            self.set_axis("horizontal", HORIZONTAL[word])
        elif kind == "center":
            self.center = True
        elif word == "corner":
            self.corner = True


class _Outside(Exception):
    """Raised inside the rules with the one-line reason."""


class NoPlanner:
    """--planner none: the text goes to the generators as typed."""
    name = "none"

    def plan(self, text: str) -> Plan:
        if isinstance(text, str) and len(text) > MAX_PLAN_CHARS:  # refused before the world's parser reads it
            refused = refusal(text)
            refused.planner = "none"
            return refused
        return Plan(text=text, caption=text, layout=layout_of(text), planner="none")
