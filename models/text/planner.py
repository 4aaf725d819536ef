"""The prompt planner: free text -> a canonical Shapes-world caption and its layout, or a clear "outside".

The built-in generators know only the world's caption grammar (docs/ARCHITECTURE.md); people type anything. As in the
LLM + denoiser pattern (DALL-E 3's prompt rewriting), a planner sits in front of the text encoder.
`RulePlanner` is the offline default: synonyms and near colors, plurals, numbers as words or digits,
free word order, relations in either direction and single-typo tolerance (its words: planner_words.py), and
every kind of world version 2: counts to five, lists of three or four, a count and one other object,
'between', one large and one small (planner_scenes.py). The LLM backends (models/text/planner_llm.py) are
validated against the grammar and fall back to these rules.
"""
from __future__ import annotations

import dataclasses

from models.contract import MAX_PROMPT_CHARS
from models.text.planner_scenes import (Outside, ReadObject, between_spec, canonical, caption_of, layout_of,
                                        several_spec)
from models.text.planner_words import (CENTER_WORDS, COLOR_WORDS, CONTENT, HORIZONTAL, KNOWN, NUMBER_WORDS,
                                       OUTSIDE_COLORS, OUTSIDE_SHAPES, RELATION_WORDS, SHAPE_WORDS, SIDE_WORDS,
                                       SIZE_WORDS, TOTAL_NOUNS, VERTICAL, WORLD_COLORS, WORLD_SHAPES, correct_typo,
                                       words_of)
from world import NUMBERS, wanted_objects
from world.layout import MAX_OBJECTS, Layout, plan_layout
from world.seeds import layout_rng

__all__ = ["MAX_PLAN_CHARS", "NoPlanner", "Plan", "RulePlanner", "layout_of", "outside", "refusal", "understood"]

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


def outside(text: str, reason: str, planner: str = "rules", notes: list[str] | None = None) -> Plan:
    return Plan(text=text, caption=None, layout=None, reason=reason, planner=planner, notes=notes or [])


def understood(text: str, caption: str, planner: str = "rules", notes: list[str] | None = None) -> Plan:
    """The plan of a world caption, written in the world's own words ("a orange circle" -> "an orange circle")."""
    written = canonical(caption)
    if written is None:  # every backend's answer passes the world's own parser before use
        raise ValueError(f"not a world caption: {caption!r}")
    return Plan(text=text, caption=written, layout=layout_of(written), planner=planner, notes=notes or [])


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
        except Outside as why:
            return outside(text, str(why), notes=notes)
        return understood(text, caption, notes=notes)

    def _caption(self, words: list[str], notes: list[str]) -> str:
        unknown = [w for w in words if w not in KNOWN]
        bad_colors = [w for w in words if w in OUTSIDE_COLORS]
        bad_shapes = [w for w in words if w in OUTSIDE_SHAPES]
        if bad_colors:
            raise Outside(f"'{bad_colors[0]}' is not one of its colors ({WORLD_COLORS})")
        if bad_shapes:
            raise Outside(f"'{bad_shapes[0]}' is not one of its shapes ({WORLD_SHAPES})")
        if unknown:
            listed = ", ".join(f"'{w}'" for w in dict.fromkeys(unknown[:3]))
            raise Outside(f"did not understand {listed}; it has only {WORLD_SHAPES} in {WORLD_COLORS}")
        if "next" in words or "beside" in words:
            raise Outside("'next to' does not say which side: use left of, right of, above or below")

        read = _Reader().read(words)
        if not read.objects:
            raise Outside(f"no shape named: the world draws {WORLD_SHAPES}")
        for obj in read.objects:
            if obj.color is None:
                raise Outside(f"no color for the {obj.shape}: name one of {WORLD_COLORS}")
        spec = self._spec(read, notes)
        named = sum(wanted_objects(spec).values())
        if read.total is not None and read.total != named:
            raise Outside(f"the text says {read.total} objects but names {named}")
        return caption_of(spec)

    def _spec(self, read: "_Reader", notes: list[str]) -> dict:
        objects, relations = read.objects, read.relations
        if read.between is not None:
            if relations:
                raise Outside(f"'between' and '{relations[0][1]}' cannot both place the objects")
            return between_spec(objects, read.between, read.placed, notes)
        if relations and len(objects) > 2:
            raise Outside(f"'{relations[0][1]}' places two objects; list three or four without it, or use 'between'")
        if len(objects) == 2 and relations:
            return self._pair(objects, relations, read.placed, notes)
        if len(objects) > 1:
            return several_spec(objects, read.placed, notes)
        if relations:
            raise Outside(f"'{relations[0][1]}' needs a second object")
        obj = objects[0]
        if obj.count == 1 and obj.plural:
            raise Outside(f"a count is two to five alike; for one say 'a {obj.color} {obj.shape}'")
        if obj.count == 1:
            return self._single(obj, read)
        if obj.count not in NUMBERS:
            raise Outside("how many? the world draws two to five alike" if obj.count == 0 else
                          f"the world draws at most {NUMBERS[MAX_OBJECTS]} alike, not {obj.count}")
        if obj.size == "large":
            notes.append("ignored 'large': objects counted are always small")
        if read.placed:
            notes.append("ignored the position: objects counted are placed at random")
        return {"kind": "count", "color": obj.color, "shape": obj.shape, "count": obj.count}

    def _single(self, obj: ReadObject, read: "_Reader") -> dict:
        spec = {"kind": "single", "color": obj.color, "shape": obj.shape, "size": obj.size, "cell": None}
        if not read.placed:
            return spec
        if read.corner and (read.vertical is None or read.horizontal is None):
            raise Outside("which corner? say top left, top right, bottom left or bottom right")
        cell = (1 if read.horizontal is None else read.horizontal, 1 if read.vertical is None else read.vertical)
        return {**spec, "cell": cell}

    def _pair(self, objects: list[ReadObject], relations, placed: bool, notes: list[str]) -> dict:
        if len({r for _, r in relations}) > 1:
            raise Outside("more than one relation between the two objects")
        if any(o.number not in (None, 1) or o.plural for o in objects):
            raise Outside("a pair is two single objects; counts cannot be combined with a relation")
        if any(o.size == "large" for o in objects):
            notes.append("ignored 'large': objects in a pair are always small")
        if placed:
            notes.append("ignored the position: the relation places a pair")
        at, relation = relations[0]
        a, b = objects
        # "A rel B" reads left to right; "rel B, A" and "A with B rel it" put the reference first
        first, second = (a, b) if a.index < at < b.index else (b, a)
        return {"kind": "pair", "first": first.named, "relation": relation, "second": second.named}


class _Reader:
    """One pass over the words: attributes attach to the next shape word; leftovers to the object before them."""

    def __init__(self):
        self.objects: list[ReadObject] = []
        self.pending: dict[str, object] = {}
        self.relations: list[tuple[int, str]] = []  # (word index, relation)
        self.between: int | None = None  # word index of "between"
        self.total: int | None = None  # "three objects: ..." says how many in all
        self.vertical = self.horizontal = None
        self.center = self.corner = False

    @property
    def placed(self) -> bool:
        """Whether the words give a position on the canvas."""
        return self.vertical is not None or self.horizontal is not None or self.center

    def attach(self, key: str, value) -> None:
        if key in self.pending and self.pending[key] != value:
            raise Outside(f"two {key}s for one object: '{self.pending[key]}' and '{value}'")
        self.pending[key] = value

    def flush_to_previous(self) -> None:
        if not self.pending:
            return
        if not self.objects:
            raise Outside(f"no shape named: the world draws {WORLD_SHAPES}")
        for key, value in self.pending.items():
            if getattr(self.objects[-1], key) not in (None, value):
                raise Outside(f"two {key}s for the {self.objects[-1].shape}")
            setattr(self.objects[-1], key, value)
        self.pending.clear()

    def set_axis(self, attribute: str, value: int) -> None:
        current = getattr(self, attribute)
        if current is not None and current != value:
            raise Outside(f"two {attribute} positions asked for at once")
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

    @staticmethod
    def starts_between(word: str, rest: list[str]) -> bool:
        """ "between", or "in the middle of" followed by objects (not "in the middle of the picture")."""
        if CONTENT.get(word) == "between":
            return True
        return word in CENTER_WORDS and rest[:1] == ["of"] and any(CONTENT.get(w) == "shape" for w in rest[1:])

    @staticmethod
    def joins(words: list[str], i: int) -> bool:
        """ "plus" joining two objects ("two red circles plus a blue square"), not naming a cross."""
        before = [CONTENT[w] for w in words[:i] if w in CONTENT]
        after = words[i + 1] if i + 1 < len(words) else ""
        return (words[i] == "plus" and bool(before) and before[-1] == "shape"
                and (after in ("a", "an") or CONTENT.get(after) in ("color", "size", "number")))

    def read(self, words: list[str]) -> "_Reader":
        for i, word in enumerate(words):
            rest = [w for w in words[i + 1:] if w not in SIDE_WORDS]
            following = rest[0] if rest else ""
            if word == "right" and following in ("in", "at") and i + 1 < len(words) and words[i + 1] in ("in", "at"):
                continue  # "right in the center", "right at the top": an intensifier, not a side
            if CONTENT.get(word) == "number" and following in TOTAL_NOUNS:
                self.total = NUMBER_WORDS[word]  # "three objects: ..."
            elif self.joins(words, i):
                self.flush_to_previous()
            elif self.starts_between(word, rest):
                if self.between is not None:
                    raise Outside("'between' said twice: one object goes between two others")
                self.flush_to_previous()
                self.between = i
            elif (relation := self.relation_at(word, following)) is not None:
                self.flush_to_previous()
                self.relations.append((i, relation))
            else:
                self.word(i, word)
        self.flush_to_previous()
        return self

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
            self.objects.append(ReadObject(i, shape, plural, **self.pending))  # type: ignore[arg-type]
            self.pending.clear()
        elif kind == "vertical":
            self.set_axis("vertical", VERTICAL[word])
        elif kind == "horizontal":
            self.set_axis("horizontal", HORIZONTAL[word])
        elif kind == "center":
            self.center = True
        elif word == "corner":
            self.corner = True


class NoPlanner:
    """--planner none: the text goes to the generators as typed."""
    name = "none"

    def plan(self, text: str) -> Plan:
        if isinstance(text, str) and len(text) > MAX_PLAN_CHARS:  # refused before the world's parser reads it
            refused = refusal(text)
            refused.planner = "none"
            return refused
        return Plan(text=text, caption=text, layout=layout_of(text), planner="none")
