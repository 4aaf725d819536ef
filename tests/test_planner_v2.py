"""The rules planner on world version 2: every new kind read from its caption and from free text, planned into
a complete layout that satisfies the caption (free choices from the image's own stream), and what the world
cannot hold refused in one line."""
from __future__ import annotations

import pytest

from models.text.planner import RulePlanner
from models.text.planner_llm import ChatPlanner
from models.text.planner_scenes import caption_of, layout_of
from world import V1_KINDS, V2_KINDS, parse_caption, sample_scene, scene_rng
from world.layout import violations

PLANNER = RulePlanner()

# kind -> (the canonical caption, free-text variants of it)
CASES = {
    "count-high": ("four cyan crosses", ["4 cyan crosses", "draw four teal plus signs", "4 turquoise pluses please"]),
    "count-five": ("five blue squares", ["5 navy boxes", "five little cobalt cubes at the top"]),
    "multi": ("a red circle, a blue square and a green cross",
              ["three objects: a red ball, a navy box and a green plus", "red ball, blue box and green plus",
               "a red circle, a blue square and a green cross"]),
    "multi-four": ("a red circle, a blue square, a green triangle and an orange cross",
                   ["four shapes: a crimson disc, a navy cube, a lime pyramid and an amber plus",
                    "a red ball, a blue box, a green wedge plus an orange cross"]),
    "mixed": ("two red circles and a blue square",
              ["two red circles plus a blue square", "2 crimson balls with a navy box",
               "a blue square and two red circles"]),
    "between": ("a yellow triangle between a red circle and a blue square",
                ["put a yellow pyramid between a red ball and a blue box",
                 "between a red ball and a blue box, a yellow pyramid",
                 "a red ball and a blue box with a yellow pyramid between them",
                 "a golden wedge in the middle of a red disc and a navy cube"]),
    "sizes": ("a large red circle and a small blue square",
              ["a big red circle and a tiny blue square", "a huge crimson ball with a little navy box",
               "a large red circle and a blue square"]),
    "sizes-small-first": ("a small orange cross and a large purple triangle",
                          ["a tiny amber plus and a giant violet pyramid"]),
}


@pytest.mark.parametrize("case", CASES)
def test_canonical_captions_and_free_text_plan_to_the_canonical_caption(case):
    caption, variants = CASES[case]
    assert parse_caption(caption) is not None and caption_of(parse_caption(caption)) == caption
    for text in [caption, *variants]:
        plan = PLANNER.plan(text)
        assert plan.caption == caption, (text, plan.reason)


@pytest.mark.parametrize("case", CASES)
def test_planned_layouts_are_complete_satisfy_the_caption_and_vary_with_the_seed(case):
    caption, variants = CASES[case]
    plan = PLANNER.plan(variants[0])
    data = plan.as_dict(seed=0)
    assert all(o["size"] and o["cell"] and len(o["box"]) == 4 for o in data["layout"]["objects"])
    assert data["constraints"] == layout_of(caption) and data["constraints"]["kind"] == parse_caption(caption)["kind"]
    layouts = [plan.complete_layout(seed=seed, index=0) for seed in (0, 1)]
    assert all(violations(layout, caption) == [] for layout in layouts)
    assert layouts[0] != layouts[1]  # the free choices come from each image's own stream
    assert plan.complete_layout(seed=1, index=0) == layouts[1]


@pytest.mark.parametrize("kind", V1_KINDS + V2_KINDS)
def test_every_world_caption_plans_to_itself(kind):
    for index in range(40):
        caption = sample_scene(scene_rng(21, index), kind=kind).caption
        assert PLANNER.plan(caption).caption == caption
        assert caption_of(parse_caption(caption)) == caption


@pytest.mark.parametrize("text, reason", [
    ("six red circles", "at most five"),
    ("9 blue squares", "at most five"),
    ("a red circle, a blue square, a green cross, a yellow circle and a purple square", "three or four"),
    ("five red circles and a blue square", "at most five"),
    ("a large red circle and a large blue square", "two large objects cannot both fit without overlapping"),
    ("a red circle, a red circle and a blue square", "named twice"),
    ("two red circles and a red circle", "three red circles"),
    ("two red circles and two blue squares", "one group"),
    ("four red circles and a blue square", "two or three"),
    ("three red circles, a blue square and a green cross", "one other object"),
    ("one red circles", "two to five"),
    ("some red circles and a blue square", "how many"),
    ("a red circle and a blue square", "relation"),
    ("a yellow triangle between a red circle and a red circle", "three different"),
    ("a yellow triangle between a red circle", "three objects"),
    ("a yellow triangle between two red circles", "single objects"),
    ("a yellow triangle above a red circle and a blue square", "places two objects"),
    ("four objects: a red ball, a navy box and a green plus", "says 4 objects but names 3"),
])
def test_what_the_world_cannot_hold_is_refused_in_one_line(text, reason):
    plan = PLANNER.plan(text)
    assert not plan.understood and plan.layout is None and plan.complete_layout() is None
    assert reason in plan.reason and "\n" not in plan.reason


def test_captions_use_english_articles_and_what_was_read_loosely_is_noted():
    for text in ("a tangerine ball", "put a green plus under an orange triangle", "an amber box, a red ball and a "
                 "blue plus", "two red balls and an orange cube", "a tangerine pyramid between a red ball and a blue box"):
        caption = PLANNER.plan(text).caption
        assert caption and "an orange" in caption and "a orange" not in caption, (text, caption)
    plan = PLANNER.plan("a big red ball, a blue box and a green plus at the top")
    assert plan.caption == "a red circle, a blue square and a green cross"
    assert any("large" in n for n in plan.notes) and any("position" in n for n in plan.notes)
    plan = PLANNER.plan("a big red circle and a blue square")
    assert plan.caption == "a large red circle and a small blue square" and "as small" in plan.notes[0]


def test_a_models_caption_is_written_as_the_world_writes_it(monkeypatch):
    planner = ChatPlanner("http://127.0.0.1:9/v1", timeout=1)
    monkeypatch.setattr(planner, "answer", lambda text: "A orange circle, a red square and a blue cross.")
    plan = planner.plan("three things")
    assert plan.caption == "an orange circle, a red square and a blue cross" and plan.planner == planner.name
