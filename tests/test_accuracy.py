"""The judge behind compositional accuracy: right on ground truth, wrong on a mismatched caption."""
from world.accuracy import judge, single_prompts
import numpy as np

from world import HELD_OUT, WorldObject, make_object, parse_caption, render, sample_scene, scene_rng


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


class ReplayGenerator:
    """Draws exactly what each caption it receives says (the world's renderer): a perfect generator."""

    def __init__(self):
        from models.contract import GeneratorInfo
        self.info = GeneratorInfo("replay", "test", "text", 32, 0, 1, 0.0, False)
        self.received: list[str] = []

    def generate(self, prompts, seed, steps=None, guidance_scale=None, sampler=None, on_step=None):
        self.received += list(prompts)
        images = []
        for prompt in prompts:
            spec = parse_caption(prompt)
            if spec is None or spec["kind"] != "single":  # free text it cannot read: an empty canvas
                images.append(render([]))
                continue
            obj = make_object(np.random.default_rng(0), spec["color"], spec["shape"], spec["size"] or "large",
                              spec["cell"] or (1, 1))
            images.append(render([obj]))
        return images


def test_planner_turns_free_text_into_captions_a_perfect_generator_draws():
    from models.text.planner import RulePlanner
    from world.accuracy import PLACEHOLDER, score

    typed = ["draw a crimson ball up in the left corner", "a big yellow triangle, centred", "a photo of a dog"]
    meant = ["a red circle in the top left", "a large yellow triangle in the center", "a blue square"]
    raw = score(ReplayGenerator(), typed, guidance=0, steps=1, targets=meant)
    generator = ReplayGenerator()
    planned = score(generator, typed, guidance=0, steps=1, targets=meant, planner=RulePlanner())
    assert raw["full"] == 0.0  # as typed, nothing parses
    assert planned["full"] == round(2 / 3, 4) and planned["planned"] == round(2 / 3, 4)  # the dog counts as wrong
    # the refused text is replaced by a placeholder caption (a generator that plans for itself would refuse it),
    # which keeps the other images' noise where it was; its image is judged as blank
    assert generator.received[:2] == meant[:2] and generator.received[2] == PLACEHOLDER != meant[2]
