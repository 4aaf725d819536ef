"""The seed's third pattern: an autoregressive model drafts the image, a diffusion model finishes it.

`ar` samples its 64 codes after the caption (what goes where, how many), the FSQ tokenizer decodes the
draft, the finisher's VAE encodes it (the posterior mean), and the latent DiT denoises it, conditioned on the
same caption, over the last `handoff` share of its schedule (SDEdit, Meng et al. 2022): the draft is noised
to the level where those steps begin. handoff 0 returns the draft as the VAE sees it; 1 ignores the draft
(plain `dit`). The AR draft runs at the drafter's own default guidance; `guidance`, `steps` and `sampler`
are the finisher's, and only round(handoff * steps) of the steps run.

Randomness: an image's stream (seed, index) gives the draft its uniforms first, the finisher its noise after.
"""
from __future__ import annotations

import dataclasses
import math

import torch
from PIL import Image

from models.contract import (GenerationError, GeneratorBase, GeneratorInfo, ImageRequest, StepCallback, batches,
                             image_generator)
from models.diffusion.guidance import sample
from world import to_image, to_tensor

# the share of the finisher's schedule re-run: 0.8 had the best mean over six tasks on 40 tuning prompts each
# (docs/results.md, the hand-off sweep), carried by counts (70 % vs 60 % for ar) and counts to five (52 % vs 0)
DEFAULT_HANDOFF = 0.8


@dataclasses.dataclass
class HybridParts:
    drafter: object  # an ARGenerator (models/ar/family.py)
    finisher: object  # a latent DiffusionGenerator with an encoder (models/diffusion/latent.py)
    draft_draws: int  # uniforms the drafter takes from an image's stream (ar: one per code)


class HybridGenerator(GeneratorBase):
    def __init__(self, info: GeneratorInfo, parts: HybridParts, handoff: float = DEFAULT_HANDOFF,
                 device: str = "cpu"):
        self.info, self.parts, self.handoff, self.device = info, parts, check_handoff(handoff), device

    @torch.no_grad()
    def make_images(self, requests: list[ImageRequest], steps: int, guidance: float, sampler: str | None,
                    on_step: StepCallback | None, batch_size: int, handoff: float | None = None) -> list[Image.Image]:
        handoff = self.handoff if handoff is None else check_handoff(handoff)
        drafter, finisher = self.parts.drafter, self.parts.finisher
        empty_states, empty_pooled = finisher.unconditional()
        images: list[Image.Image] = []
        for chunk in batches(requests, batch_size):
            drafts = drafter.make_images(chunk, 1, drafter.info.default_guidance, None, None, len(chunk))
            start = finisher.encode(torch.stack([to_tensor(d) for d in drafts]).to(self.device))  # [b,4,8,8]
            states, pooled = finisher.text_encoder([r.prompt for r in chunk])  # [b,L,D], [b,E]
            x = sample(finisher.denoise, states, pooled, empty_states, empty_pooled, finisher.sample_shape,
                       [self.finisher_stream(r) for r in chunk], finisher.schedule, steps, guidance, sampler,
                       self._preview(on_step, images, chunk, len(requests), finisher), start=start, strength=handoff)
            images += [to_image(row) for row in finisher.decode(x)]
        return images

    def finisher_stream(self, request: ImageRequest) -> torch.Generator:
        """The image's stream after the draft's uniforms (one per code)."""
        stream = image_generator(request.seed, request.index)
        torch.rand(self.parts.draft_draws, generator=stream)
        return stream

    @staticmethod
    def _preview(on_step: StepCallback | None, images: list, chunk: list, total: int, finisher):
        if on_step is None:
            return None

        def preview(step: int, steps: int, x: torch.Tensor) -> None:
            on_step(len(images) * steps + step * len(chunk), total * steps,
                    images + [to_image(row) for row in finisher.decode(x)])
        return preview


def check_handoff(handoff) -> float:
    if isinstance(handoff, bool) or not isinstance(handoff, (int, float)) or not math.isfinite(handoff) \
            or not 0 <= handoff <= 1:
        raise GenerationError(f"handoff must be a number from 0 (the draft as is) to 1 (the draft ignored), "
                              f"got {handoff!r}")
    return float(handoff)


def compose(drafter, finisher, name: str = "ar+dit", handoff: float = DEFAULT_HANDOFF,
            device: str = "cpu") -> HybridGenerator:
    """The hybrid of two loaded generators; its settings are the finisher's, its parameters both."""
    base = finisher.info
    info = dataclasses.replace(
        base, name=name, family="hybrid", parameters=drafter.info.parameters + base.parameters,
        description=f"{drafter.info.name} drafts the image code by code, {base.name} finishes it: the draft "
                    f"encoded, noised and denoised over the last {handoff:.0%} of the schedule (SDEdit)")
    return HybridGenerator(info, HybridParts(drafter, finisher, drafter.transformer.config.tokens), handoff, device)
