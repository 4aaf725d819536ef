"""`gan-layout`: the GAN fed the planner's caption with the layout's free choices written into it.

A caption-only GAN learns to ignore z for what a caption leaves open, so two samples of "a red circle" land at
one size and in one cell. Here the planner turns the text into a world caption and, for a single object, the
size and cell the caption leaves open are drawn from (seed, image index) (world.seeds.layout_rng, as for
`dit-layout`) and written into the caption: the GAN always reads a caption that gives every word, which it
draws well, and samples vary as the world's images do. Pairs and counts have no words for cells, so they go in
as planned. Each image records the caption it was drawn from (image.info["caption"]) and, for a single
object, the completed layout ("layout", JSON).
"""
from __future__ import annotations

import dataclasses
import json
import pathlib

from PIL import Image

from models.checkpoints import CHECKPOINT_ROOT
from models.contract import GenerationError, ImageRequest, StepCallback
from models.gan.family import GANGenerator, load
from models.text.planners import make_planner
from world.captions import parse_caption, single_caption
from world.layout import complete
from world.seeds import layout_rng
from world.shapes import WorldObject

LAYOUT_SOURCES = ("planner", "none")  # "none": the planner's caption as it is (the caption-only GAN's input)
DESCRIPTION = ("the GAN reading the planner's caption with the layout's free choices (size, cell of a single object) "
               "drawn per image and written in; one forward pass, truncation psi as for gan")


class PlannedGANGenerator(GANGenerator):
    layout_aware = True  # generate(..., layout="planner" | "none")

    def __init__(self, *args, planner: str = "rules", **kwargs):
        super().__init__(*args, **kwargs)
        self.planner = make_planner(planner)

    def completed(self, prompt: str, seed: int, index: int, layout: str = "planner") -> tuple[str, str]:
        """(the caption the GAN reads for image `index`, the layout JSON it was completed from or "")."""
        if layout not in LAYOUT_SOURCES:
            raise GenerationError(f"unknown layout source {layout!r}; choose {' or '.join(LAYOUT_SOURCES)}")
        plan = self.planner.plan(prompt)
        if not plan.understood:
            raise GenerationError(f"outside the Shapes world: {plan.reason}")
        spec = parse_caption(plan.caption)
        if layout == "none" or spec is None or spec["kind"] != "single":
            return plan.caption, ""
        planned = complete(spec, layout_rng(seed, index))
        obj = planned.objects[0]
        return (single_caption(WorldObject(obj.shape, obj.color, obj.size, obj.cell, obj.center())),
                json.dumps(planned.as_dict()))

    def make_images(self, requests: list[ImageRequest], steps: int, guidance: float, sampler: str | None,
                    on_step: StepCallback | None, batch_size: int, truncation: float = 1.0,
                    layout: str = "planner") -> list[Image.Image]:
        used = [self.completed(r.prompt, r.seed, r.index, layout) for r in requests]  # fail before any work
        images = super().make_images([dataclasses.replace(r, prompt=caption) for r, (caption, _) in
                                      zip(requests, used)], steps, guidance, sampler, on_step, batch_size, truncation)
        for image, (caption, planned) in zip(images, used):
            image.info.update({"caption": caption, "layout": planned})
        return images


def load_planned(folder: pathlib.Path = CHECKPOINT_ROOT / "gan-layout", device: str = "cpu",
                 planner: str = "rules") -> PlannedGANGenerator:
    plain = load(folder, device)
    info = dataclasses.replace(plain.info, description=DESCRIPTION)
    return PlannedGANGenerator(info, plain.network, plain.config, plain.text_encoder, device, planner=planner)
