"""The noise floor of a run: the world's own renderer as a "perfect" generator, scored beside the models.

Each run on prompts with world targets also makes the row `world` (one setting, `one-pass`): every image is the
world's rendering of the prompt's target, drawn from other seeds than the run's references, so every metric of
that row is what a generator that draws exactly from the world's distribution gets on the same prompts and
sample count. A model whose figure differs from the floor's by less than the floor's own interval is not told
apart from a perfect generator (`within_floor`; the reports mark it). Image i of a request seeded s draws what
its caption leaves open from default_rng([s, i, 11]); the reference of (caption, s) draws from
default_rng([s, 7]) (world/references.py), so the two never share a stream.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from models.contract import GeneratorInfo, ImageRequest, requests_for
from world import render
from world.references import scene_objects

FLOOR_MODEL = "world"
STREAM = 11


class WorldRenderer:
    """A contract generator that renders each prompt's world target (prompt -> target from the prompt set)."""

    def __init__(self, targets: dict[str, str]):
        self.targets = targets
        self.info = GeneratorInfo(name=FLOOR_MODEL, family="world", conditioning="text", resolution=32, parameters=0,
                                  default_steps=1, default_guidance=0.0, guidance_applies=False,
                                  description="the world's own rendering with other seeds: the noise floor")

    def generate(self, prompts: Sequence[str], seed: int, **_) -> list:
        return self.generate_requests(requests_for(prompts, seed))

    def generate_requests(self, requests: Sequence[ImageRequest], **_) -> list:
        return [render(scene_objects(self.targets[r.prompt], np.random.default_rng([int(r.seed), int(r.index), STREAM])))
                for r in requests]


def floor_generator(prompts) -> WorldRenderer | None:
    """The perfect generator for a prompt set; None when no prompt has a world target."""
    targets = {item.prompt: item.target for item in prompts if item.target is not None}
    return WorldRenderer(targets) if targets and all(item.target is not None for item in prompts) else None


def floor_record(records: list[dict]) -> dict | None:
    return next((r for r in records if r.get("model") == FLOOR_MODEL), None)


def within(value: float | None, floor: tuple | list | None) -> bool:
    """Whether a figure lies inside the floor's interval ([value, low, high]) or within its standard error
    band ([value, se]: two se either way)."""
    if value is None or not floor or any(v is None for v in floor):
        return False
    if len(floor) == 3:
        return floor[1] <= value <= floor[2]
    return abs(value - floor[0]) <= 2 * floor[1]


def near_floor(record: dict, floor: dict | None) -> list[str]:
    """The flat names (as Results.table spells them) of the record's figures inside the floor's intervals."""
    if floor is None or record is floor:
        return []
    near = [f"kid_{k}" for k, v in record.get("kid", {}).items()
            if v and within(v[0], floor.get("kid_interval", {}).get(k))]
    near += [f"cmmd_{c}" for c, v in record.get("cmmd", {}).items() if within(v, floor.get("cmmd_interval", {}).get(c))]
    near += [f"fid_{k}" for k, v in record.get("fid", {}).items() if within(v, floor.get("fid_interval", {}).get(k))]
    near += [f"prdc_{k}_{m}" for k, found in record.get("prdc", {}).items() for m, v in (found or {}).items()
             if within(v, (floor.get("prdc_interval", {}).get(k) or {}).get(m))]
    near += ["clip_score"] if record.get("clip_score") and within(record["clip_score"][0], floor.get("clip_score")) else []
    return near + [f"accuracy_{c}" for c, v in record.get("accuracy", {}).items()
                   if v and within(v[0], floor.get("accuracy", {}).get(c))]
