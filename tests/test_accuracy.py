"""The judge behind compositional accuracy: right on ground truth, wrong on a mismatched caption."""
from evaluation.accuracy import judge, single_prompts
from models.world import HELD_OUT, WorldObject, parse_caption, render, sample_scene, scene_rng


def test_rendered_scenes_are_judged_correct_for_their_own_captions():
    for i in range(150):
        scene = sample_scene(scene_rng(11, i))
        assert judge(scene.caption, render(scene.objects))["full"], scene.caption


def test_wrong_color_shape_size_position_relation_and_count_are_caught():
    red_circle = WorldObject("circle", "red", "large", (1, 1), (16.0, 16.0))
    image = render([red_circle])
    assert judge("a large red circle in the center", image)["full"]
    assert not judge("a blue circle", image)["color_shape"]
    assert not judge("a red square", image)["color_shape"]
    assert not judge("a small red circle", image)["full"]
    assert not judge("a red circle in the top left", image)["full"]
    left = WorldObject("square", "blue", "small", (0, 1), (6.0, 16.0))
    right = WorldObject("cross", "green", "small", (2, 1), (26.0, 16.0))
    pair = render([left, right])
    assert judge("a blue square to the left of a green cross", pair)["full"]
    assert not judge("a blue square to the right of a green cross", pair)["full"]
    assert not judge("two blue squares", render([left]))["full"]


def test_evaluation_prompts_are_held_in_single_object_captions():
    prompts = single_prompts(100)
    assert len(set(prompts)) > 50
    for prompt in prompts:
        spec = parse_caption(prompt)
        assert spec["kind"] == "single" and (spec["color"], spec["shape"]) not in HELD_OUT
    assert all((parse_caption(p)["color"], parse_caption(p)["shape"]) in HELD_OUT
               for p in single_prompts(20, held_out=True))
