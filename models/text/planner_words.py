"""The rules planner's words: synonyms and near colors, shapes, sizes, numbers, positions and relations, the
words it skips, the words the world has no place for, and single-typo correction."""
from __future__ import annotations

import re

from world import COLORS, SHAPES

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
                "seven": 7, "7": 7, "eight": 8, "8": 8, "nine": 9, "9": 9, "ten": 10, "10": 10,
                "several": 0, "many": 0, "some": 0, "few": 0}
# "three objects: a red ball, ...": a number before one of these says how many objects the text names in all
TOTAL_NOUNS = {"objects", "things", "shapes", "items"}
# words that may sit between "left"/"right" and "of": "on the left side of", "to the left hand side of"
SIDE_WORDS = {"side", "hand"}
VERTICAL = {"top": 0, "upper": 0, "up": 0, "high": 0, "bottom": 2, "lower": 2, "down": 2, "low": 2}
HORIZONTAL = {"left": 0, "leftmost": 0, "right": 2, "rightmost": 2}
CENTER_WORDS = {"center", "middle", "centered", "central", "centre", "centred"}
RELATION_WORDS = {"above": "above", "over": "above", "atop": "above", "below": "below", "under": "below",
                  "underneath": "below", "beneath": "below"}
BETWEEN_WORDS = {"between", "betwixt"}
FILLER = set("""a an the please draw make put place show me render generate paint create give sketch i want would
like need could you can of with in at on to is are be there picture image photo drawing just it its that this
which and placed located sitting positioned side area part region very really canvas frame screen scene shape
shapes object objects thing things items colored coloured color colour exactly another then them they by near edge
go goes let us we see get have has so quite rather somewhere where should sits lies rests set corner also along
as well both together followed""".split())
# words people use that the world has no place for: named so the answer can say so
OUTSIDE_COLORS = {"white", "black", "gray", "grey", "brown", "pink", "beige", "silver", "tan", "maroon"}
OUTSIDE_SHAPES = {"hexagon", "pentagon", "star", "heart", "rectangle", "oval", "ellipse", "diamond", "line",
                  "arrow", "ring", "octagon", "crescent", "spiral", "hexagons", "stars", "hearts", "rectangles"}
CONTENT = {**{w: "color" for w in COLOR_WORDS}, **{w: "shape" for w in SHAPE_WORDS},
           **{w: "size" for w in SIZE_WORDS}, **{w: "number" for w in NUMBER_WORDS},
           **{w: "vertical" for w in VERTICAL}, **{w: "horizontal" for w in HORIZONTAL},
           **{w: "center" for w in CENTER_WORDS}, **{w: "relation" for w in RELATION_WORDS},
           **{w: "between" for w in BETWEEN_WORDS}}
KNOWN = set(CONTENT) | FILLER | OUTSIDE_COLORS | OUTSIDE_SHAPES | SIDE_WORDS | {"next", "beside", "than", "higher"}
WORLD_COLORS = ", ".join(COLORS)
WORLD_SHAPES = ", ".join(SHAPES)


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
