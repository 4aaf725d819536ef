"""The judge against hand labels: generated images where its shape fit was poorest (gan, gan-layout, ar; v2 scenes
of dit-layout and dit), each labelled by looking at it (tests/data/judge_audit/labels.jsonl)."""
from __future__ import annotations

import pytest

from evaluation.metrics import judge_by_eye
from world import WorldObject, render
from world.accuracy import UNSURE_FIT, judge
from world.hand_labels import alternatives, label_verdict


@pytest.fixture(scope="module")
def checked():
    return judge_by_eye.check()


def test_the_audit_set_is_large_and_covers_the_weak_families_and_v2_scenes(checked):
    labels = judge_by_eye.read_labels()
    assert len(labels) >= 150 and {c.model for c in checked} == {"gan", "gan-layout", "ar", "dit-layout", "dit"}
    assert {"multi", "between", "sizes", "count-high"} <= {c.task for c in checked}
    assert all(label["unreadable"] or label["objects"] for label in labels)  # every image looked at


def test_the_judge_is_98_percent_right_on_the_labelled_set_and_unsure_on_at_most_5_percent(checked):
    tally = judge_by_eye.tally(checked)
    assert tally.scored >= 120
    assert tally.right_of_answered >= 0.98, judge_by_eye.summary(checked)
    assert tally.unsure_share <= 0.05, judge_by_eye.summary(checked)


def test_unsure_is_never_right_and_says_why(checked):
    unsure = [c for c in checked if c.unsure]
    assert unsure and all(not c.judged and c.reason.startswith("unsure: shape fit ") for c in unsure)
    assert all(f"< {UNSURE_FIT}" in c.reason for c in unsure)


def test_a_clean_rendering_is_never_unsure():
    image = render([WorldObject("square", "green", "small", (2, 1), (26.0, 16.0))])
    verdict = judge("a green square", image)
    assert verdict["full"] and "unsure" not in verdict


@pytest.mark.parametrize("objects, caption, expected", [
    (["green square small 1 2"], "a green square", True),
    (["red|orange cross small 1 1"], "a red cross", None),  # the eye could not choose, and the choice decides
    (["red|orange cross small 1 1"], "a blue cross", False),  # either reading is wrong
    (["blue cross small 1 0", "~blue ? small 2 2"], "a blue cross", None),  # a faint object that may be there
    (["blue cross small 1 0", "blue cross small 1|2 1"], "two blue crosses", True),
])
def test_a_label_settles_the_verdict_only_when_every_reading_agrees(objects, caption, expected):
    parsed = []
    for text in objects:
        color, shape, size, row, col = text.lstrip("~").split()
        parsed.append({"color": color, "shape": shape, "size": size, "row": row, "col": col,
                       **({"maybe": True} if text.startswith("~") else {})})
    assert label_verdict(caption, {"objects": parsed}) is expected
    assert label_verdict(caption, {"objects": parsed, "unreadable": True}) is None
    with pytest.raises(ValueError, match="pink"):
        alternatives("color", "red|pink")
