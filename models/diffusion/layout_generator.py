"""A layout-aware diffusion model behind the contract: it runs the planner itself.

Plain text in, as for every generator: the planner turns it into the caption the model knows and the
constraints of a layout; the layout's free choices come from (seed, image index) (world/seeds.py), so
images vary and stay reproducible. The caption goes to the text encoder, the layout to the grounding
tokens (models/diffusion/grounding.py). Each image carries what it used in image.info ("caption",
"layout" as JSON), which the run store records.
"""
from __future__ import annotations

import json

import torch

from models.contract import GenerationError
from models.diffusion.generator import DiffusionGenerator
from models.diffusion.grounding import layout_rows
from models.text.planners import make_planner
from world.layout import MAX_OBJECTS, plan_layout
from world.seeds import layout_rng

LAYOUT_SOURCES = ("planner", "none")  # "none": the caption alone, every grounding slot empty (the ablation)


class LayoutDiffusionGenerator(DiffusionGenerator):
    layout_aware = True  # generate(..., layout="planner" | "none")

    def __init__(self, *args, planner: str = "rules", **kwargs):
        super().__init__(*args, **kwargs)
        self.planner = make_planner(planner)

    def condition(self, prompt: str, seed: int, index: int, layout: str = "planner"
                  ) -> tuple[torch.Tensor, torch.Tensor, dict]:
        if layout not in LAYOUT_SOURCES:
            raise GenerationError(f"unknown layout source {layout!r}; choose {' or '.join(LAYOUT_SOURCES)}")
        plan = self.planner.plan(prompt)
        if not plan.understood:
            raise GenerationError(f"outside the Shapes world: {plan.reason}")
        planned = plan_layout(plan.caption, layout_rng(seed, index)) if layout == "planner" else None
        states, pooled = self.text_encoder([plan.caption])  # [1,L,W], [1,E]
        rows = layout_rows([planned], states.shape[-1]).to(states.device)  # [1,K,W]
        used = {"caption": plan.caption, "layout": json.dumps(planned.as_dict()) if planned else ""}
        return torch.cat([states, rows], dim=1), pooled, used

    def unconditional(self) -> tuple[torch.Tensor, torch.Tensor]:
        states, pooled = self.text_encoder([""])
        empty = torch.zeros(1, MAX_OBJECTS, states.shape[-1], device=states.device)  # no object in any slot
        return torch.cat([states, empty], dim=1), pooled
