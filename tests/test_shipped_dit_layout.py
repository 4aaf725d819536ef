"""The shipped `dit-layout`: objects land in the cells of the layout it planned, and it answers pairs and counts
that the caption-only `dit` mostly gets wrong (measured at scale in the README: python -m evaluation run)."""
import json

import pytest

from models.registry import load
from world.accuracy import judge, world_prompts
from world.detector import detect


@pytest.fixture(scope="module")
def dit_layout():
    return load("dit-layout")


def test_objects_land_in_the_planned_cells(dit_layout):
    prompts = world_prompts(6, "count", seed=99)
    images = dit_layout.generate(prompts, seed=0, steps=20, guidance_scale=3.0)
    matched = 0
    for image in images:
        planned = sorted(tuple(o["cell"]) for o in json.loads(image.info["layout"])["objects"])
        matched += sorted(d.cell for d in detect(image)) == planned
    assert matched >= 5, f"{matched} of 6 images put their objects in the planned cells"


def test_pairs_and_counts_follow_the_caption(dit_layout):
    prompts = world_prompts(6, "pair", seed=98) + world_prompts(6, "count", seed=97)
    images = dit_layout.generate(prompts, seed=1, steps=20, guidance_scale=3.0)
    right = sum(judge(prompt, image)["full"] for prompt, image in zip(prompts, images))
    assert right >= 9, f"{right} of 12 pair and count prompts right"
