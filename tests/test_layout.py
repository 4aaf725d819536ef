"""Layouts: the planner plans complete layouts that satisfy their captions; a DiT reads them as grounding
tokens, warm-starts exactly from a caption-only DiT, and a layout-aware generator runs the planner itself."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from evaluation import paraphrases
from models.contract import GenerationError
from models.diffusion.dit import DIT_CONFIGS, DiT
from models.diffusion.grounding import layout_rows
from models.diffusion.layout_training import dropped_layouts
from models.text.planner import RulePlanner
from world import sample_scene, scene_rng
from world.layout import MAX_OBJECTS, Layout, LayoutObject, draw_layout, plan_layout, violations
from world.seeds import layout_rng

PLANNER = RulePlanner()


def test_planned_layouts_satisfy_every_paraphrase():
    for text, caption in paraphrases.inside():
        plan = PLANNER.plan(text)
        assert plan.understood, text
        for index in range(4):
            layout = plan.complete_layout(seed=3, index=index)
            assert violations(layout, caption) == [], (text, layout)


@pytest.mark.parametrize("kind", ["single", "pair", "count"])
def test_layouts_of_generated_captions_satisfy_them_and_vary_with_the_image_index(kind):
    cells = set()
    for i in range(300):
        caption = sample_scene(scene_rng(11, i), kind=kind).caption
        layout = plan_layout(caption, layout_rng(0, i))
        assert violations(layout, caption) == []
        assert len(layout.objects) <= MAX_OBJECTS
        cells.add(tuple(o.cell for o in layout.objects))
        assert plan_layout(caption, layout_rng(0, i)) == layout  # a function of (seed, index)
    assert len(cells) > 8  # free choices really vary


def test_stated_attributes_are_kept_and_a_wrong_layout_is_caught():
    layout = plan_layout("a large red circle in the top left", layout_rng(5, 0))
    assert layout.objects == (LayoutObject("red", "circle", "large", (0, 0)),)
    pair = plan_layout("a green cross below a orange triangle", layout_rng(0, 0))
    first, second = pair.objects
    swapped = dataclasses.replace(pair, objects=(dataclasses.replace(first, cell=second.cell),
                                                 dataclasses.replace(second, cell=first.cell)))
    assert violations(pair, "a green cross below a orange triangle") == []
    assert violations(swapped, "a green cross below a orange triangle")
    crowded = Layout("count", tuple(LayoutObject("red", "circle", "small", (0, c)) for c in (0, 1)) * 2)
    assert any("share a cell" in v or "objects" in v for v in violations(crowded, "two red circles"))


@pytest.mark.parametrize("text", ["six red circles", "a red circle left of itself", "ten blue squares",
                                  "a red circle, a blue square, a green cross, a yellow circle and a purple square",
                                  "a large red circle and a large blue square"])
def test_layouts_the_world_cannot_hold_are_refused_in_one_line(text):
    plan = PLANNER.plan(text)
    assert not plan.understood and plan.reason and "\n" not in plan.reason
    assert plan.complete_layout() is None


def test_plan_json_carries_the_complete_layout():
    data = PLANNER.plan("put a green plus under an orange triangle").as_dict(seed=1)
    assert all(o["cell"] is not None for o in data["layout"]["objects"])
    assert data["constraints"]["objects"][0]["cell"] is None
    assert violations(Layout.from_dict(data["layout"]), data["caption"]) == []


def test_grounding_rows_encode_each_object_and_leave_empty_slots_zero():
    layout = plan_layout("two red circles", layout_rng(0, 0))
    rows = layout_rows([layout, None], width=16)
    assert rows.shape == (2, MAX_OBJECTS, 16)
    assert rows[0, :2, 7].tolist() == [1.0, 1.0] and rows[0, 2].abs().sum() == 0 and rows[1].abs().sum() == 0


def _perturbed_dit() -> DiT:
    torch.manual_seed(0)
    base = DiT(DIT_CONFIGS["tiny"])
    with torch.no_grad():  # a trained-looking DiT: no zero-initialised layer left at zero
        for p in base.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return base.eval()


def test_zero_initialised_grounding_leaves_a_warm_started_dit_unchanged():
    base = _perturbed_dit()
    grounded = DiT(dataclasses.replace(DIT_CONFIGS["tiny"], grounding=True)).eval()
    result = grounded.load_state_dict(base.state_dict(), strict=False)
    assert not result.unexpected_keys and all("fuser" in k or k.startswith("grounding.") for k in result.missing_keys)
    x, t = torch.randn(2, 4, 8, 8), torch.tensor([10, 900])
    text, pooled = torch.randn(2, 5, 16), torch.randn(2, 16)
    rows = layout_rows([plan_layout("three blue squares", layout_rng(0, 0)), None], 16)
    with torch.no_grad():
        assert torch.equal(base(x, t, text, pooled), grounded(x, t, torch.cat([text, rows], 1), pooled))
        for block in grounded.blocks:  # once the gates open, the layout changes the prediction
            block.fuser.gate.fill_(0.5)
        moved = grounded(x, t, torch.cat([text, rows], 1), pooled)
    assert not torch.allclose(base(x, t, text, pooled), moved)


def test_layout_dropout_on_and_off():
    objects = [[{"color": "red", "shape": "circle", "size": "small", "cell": (1, 1)}]] * 200
    assert all(layout is not None for layout in dropped_layouts(objects, step=3, rate=0.0))
    assert all(layout is None for layout in dropped_layouts(objects, step=3, rate=1.0))
    share = np.mean([layout is None for layout in dropped_layouts(objects, step=3, rate=0.1)])
    assert 0.03 < share < 0.2
    assert dropped_layouts(objects, 3) == dropped_layouts(objects, 3)  # a function of the step


@pytest.fixture(scope="module")
def layout_generator(tiny_layout_generator):
    return tiny_layout_generator


def test_layout_generator_plans_from_free_text_and_records_the_layout(layout_generator):
    images = layout_generator.generate(["draw two crimson balls", "two red circles"], seed=4)
    for image, index in zip(images, range(2)):
        layout = Layout.from_dict(json.loads(image.info["layout"]))
        assert image.info["caption"] == "two red circles"
        assert layout == plan_layout("two red circles", layout_rng(4, index))
    again = layout_generator.generate(["two red circles"], seed=4)[0]
    assert again.tobytes() == images[0].tobytes()  # image 0 depends on (seed, 0, what the prompt means)


def test_layout_none_is_the_caption_alone_and_changes_the_image(layout_generator):
    with_layout = layout_generator.generate(["a red circle in the top left"], seed=1)[0]
    without = layout_generator.generate(["a red circle in the top left"], seed=1, layout="none")[0]
    assert without.info["layout"] == "" and without.tobytes() != with_layout.tobytes()
    assert layout_generator.generate(["a red circle in the top left"], seed=1)[0].tobytes() == with_layout.tobytes()
    with pytest.raises(GenerationError, match="layout source"):
        layout_generator.generate(["a red circle"], seed=1, layout="boxes")


def test_a_caption_only_model_refuses_a_layout(tiny_generator):
    with pytest.raises(GenerationError, match="caption alone"):
        tiny_generator.generate(["a red circle"], seed=0, layout="none")


def test_layout_generator_refuses_what_the_world_cannot_hold(layout_generator):
    with pytest.raises(GenerationError, match="outside the Shapes world.*at most five"):
        layout_generator.generate(["six red circles"], seed=0)


def test_layout_drawing_marks_each_object():
    picture = draw_layout(plan_layout("a red circle to the left of a blue square", layout_rng(0, 0)))
    colors = {color for _, color in picture.getcolors(maxcolors=1 << 16)}
    assert (220, 40, 40) in colors and (40, 80, 220) in colors
