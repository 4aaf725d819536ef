"""gan-layout: the planner completes the caption per image, the GAN draws the completed caption; its recipe
warm-starts from an exported GAN on captions that give every word."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from models.checkpoints import CheckpointError
from models.contract import GenerationError, ImageRequest
from models.gan import family as gan
from models.gan.planned import PlannedGANGenerator, load_planned
from models.gan.training import training_component
from models.training import TrainConfig, train
from world.captions import parse_caption
from world.layout import Layout, violations


def tiny_config(arch: str = "dcgan") -> gan.GANConfig:
    return dataclasses.replace(gan.preset(arch, "non-saturating"), width=16)


@pytest.fixture()
def planned(tiny_text_encoder) -> PlannedGANGenerator:
    torch.manual_seed(0)
    config = tiny_config()
    network, _ = gan.build(config, tiny_text_encoder.config.embed_dim)
    return PlannedGANGenerator(gan.gan_info("tiny-layout", config, 0), network.eval(), config, tiny_text_encoder)


def test_an_open_caption_is_completed_per_image_and_keeps_what_the_text_gives(planned):
    captions = [planned.completed("a red circle", seed=4, index=i)[0] for i in range(24)]
    specs = [parse_caption(c) for c in captions]
    assert all(s["kind"] == "single" and (s["color"], s["shape"]) == ("red", "circle") for s in specs)
    assert all(s["size"] and s["cell"] for s in specs)  # every word given
    assert len({(s["size"], s["cell"]) for s in specs}) >= 8  # images vary in size and cell
    assert captions == [planned.completed("a red circle", seed=4, index=i)[0] for i in range(24)]  # reproducible
    assert captions != [planned.completed("a red circle", seed=5, index=i)[0] for i in range(24)]
    large = [parse_caption(planned.completed("a large red circle", 4, i)[0]) for i in range(8)]
    assert {s["size"] for s in large} == {"large"} and len({s["cell"] for s in large}) > 1
    full = "a small blue square in the top left"
    assert {planned.completed(full, 4, i)[0] for i in range(8)} == {full}
    caption, layout = planned.completed("draw a crimson ball up in the left corner", 4, 0)  # free text: planned
    assert caption.endswith("red circle in the top left") and not violations(Layout.from_dict(json.loads(layout)),
                                                                            caption)


def test_pairs_counts_and_layout_none_go_in_as_the_planner_wrote_them(planned):
    for text in ("a red circle to the left of a blue square", "two green crosses", "five cyan crosses",
                 "a red circle, a blue square and a green cross", "two red circles and an orange square",
                 "a yellow triangle between a red circle and a blue square",
                 "a small orange cross and a large blue square"):  # the kinds of world v2 too
        assert planned.completed(text, 0, 3) == (text, "")
    assert planned.completed("put a yellow pyramid between a red ball and a blue box", 0, 3) == (
        "a yellow triangle between a red circle and a blue square", "")
    assert planned.completed("a red circle", 0, 3, layout="none") == ("a red circle", "")
    with pytest.raises(GenerationError, match="layout source"):
        planned.completed("a red circle", 0, 0, layout="grid")
    with pytest.raises(GenerationError, match="outside the Shapes world"):
        planned.generate(["a purple elephant"], seed=0)


def test_each_image_is_the_gans_image_of_its_completed_caption(planned):
    prompts = ["a red circle", "a large green cross", "two blue squares"]
    images = planned.generate(prompts, seed=7, batch_size=2)
    captions = [im.info["caption"] for im in images]
    plain = gan.GANGenerator(planned.info, planned.network, planned.config, planned.text_encoder)
    for index, (caption, image) in enumerate(zip(captions, images)):  # image i keeps its own z stream
        alone = plain.generate_requests([ImageRequest(caption, 7, index)])[0]
        assert np.array_equal(np.asarray(alone), np.asarray(image))
    assert images[0].info["layout"] and not images[2].info["layout"]
    again = planned.generate(prompts, seed=7, batch_size=3)
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(images, again))


def exported_gan(folder, text_encoder_folder, arch="dcgan"):
    component = training_component(tiny_config(arch), name="tiny", text_encoder_path=text_encoder_folder)
    component.evaluate = component.sample_grid = component.watch = None
    train(component, TrainConfig(steps=1, batch_size=4, warmup_steps=1, ema_decay=None, checkpoint_every=1,
                                 sample_every=10**9), folder, command="test")
    return folder


@pytest.fixture()
def text_encoder_folder(tmp_path, tiny_text_encoder):
    tiny_text_encoder.save_pretrained(tmp_path / "text-encoder")
    return tmp_path / "text-encoder"


def test_the_recipe_starts_from_the_shipped_gan_through_the_loops_warm_start(tmp_path, text_encoder_folder):
    from models.checkpoints import CHECKPOINT_ROOT
    from models.trainables import TRAINABLES
    from models.training import warm_start

    assert TRAINABLES["gan-layout"].init_from == CHECKPOINT_ROOT / "gan"  # `train --model gan-layout` alone
    source = exported_gan(tmp_path / "gan", text_encoder_folder)
    component = training_component(tiny_config(), name="tiny-layout", text_encoder_path=text_encoder_folder,
                                   planned=True)
    record = warm_start(component, source)
    exported = gan.load(source).network.state_dict()
    assert all(torch.equal(exported[k], v) for k, v in component.network.state_dict().items())
    assert record["new_parameters"] == [] and record["prior_commands"] == ["test"]
    other = training_component(tiny_config("stylegan2"), text_encoder_path=text_encoder_folder)
    with pytest.raises(CheckpointError, match="cannot warm-start"):  # another architecture's G
        warm_start(other, source)


@pytest.mark.parametrize("drop_words", [True, False])
def test_the_loop_gives_every_word_when_told_to(tmp_path, text_encoder_folder, drop_words):
    component = training_component(tiny_config(), name="tiny", text_encoder_path=text_encoder_folder)
    component.evaluate = component.sample_grid = component.watch = None
    seen, loss = [], component.loss
    component.loss = lambda images, captions, step: seen.extend(captions) or loss(images, captions, step)
    train(component, TrainConfig(steps=2, batch_size=32, warmup_steps=1, ema_decay=None, checkpoint_every=10,
                                 sample_every=10**9, drop_words=drop_words), tmp_path / "run", command="test")
    singles = [parse_caption(c) for c in seen if parse_caption(c)["kind"] == "single"]
    every_word = [bool(s["size"] and s["cell"]) for s in singles]
    assert len(singles) > 10 and all(every_word) == (not drop_words)


def test_load_planned_reads_an_exported_gan_and_says_what_it_is(tmp_path, text_encoder_folder):
    generator = load_planned(exported_gan(tmp_path / "gan", text_encoder_folder))
    assert generator.layout_aware and "planner" in generator.info.description
    assert generator.generate(["a red circle"], seed=0)[0].info["caption"].startswith("a ")
