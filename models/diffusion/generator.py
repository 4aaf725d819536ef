"""A text-conditioned diffusion model behind the generator contract.

One class serves every diffusion family: the pixel DDPM uses the identity as
its decoder; latent families pass the VAE decoder and the latent shape.
"""
from __future__ import annotations

from typing import Callable

import torch
from PIL import Image

from models.contract import (DIFFUSION_SAMPLERS, FLOW_SAMPLERS, GenerationError, GeneratorBase, GeneratorInfo, ImageRequest,
                             StepCallback, batches, image_generator)
from models.diffusion.schedule import Denoiser, NoiseSchedule
from models.diffusion.guidance import sample
from models.text.encoder import TextEncoder
from world import to_image

# Images are computed `batch_size` rows at a time (each row with its unconditional twin), every row
# drawing its noise from its own stream. CPU kernels give bitwise-identical rows only for identical batch
# shapes *and* contents, so an image is bitwise reproducible for a fixed batch size and split, and equal to
# within float rounding across batch sizes (tests/test_batching.py measures both).


class DiffusionGenerator(GeneratorBase):
    def __init__(self, info: GeneratorInfo, denoise: Denoiser, text_encoder: TextEncoder, schedule: NoiseSchedule,
                 sample_shape: tuple[int, int, int], decode: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 device: str = "cpu", encode: Callable[[torch.Tensor], torch.Tensor] | None = None):
        self.info = info
        self.denoise = denoise
        self.text_encoder = text_encoder
        self.schedule = schedule
        self.sample_shape = sample_shape  # (C, H, W) of what the denoiser sees
        self.decode = decode or (lambda x: x)  # [B,C,h,w] -> images [B,3,H,W] in [-1,1]
        self.encode = encode or (lambda x: x)  # images [B,3,H,W] in [-1,1] -> [B,C,h,w] (a finisher's input)
        self.device = device

    @torch.no_grad()
    def flops_per_evaluation(self) -> float:
        """FLOPs of one denoiser call on one image (text encoding excluded, guidance doubles it)."""
        from torch.utils.flop_counter import FlopCounterMode
        states, pooled = self.unconditional()
        x = torch.zeros(1, *self.sample_shape, device=self.device)
        with FlopCounterMode(display=False) as counter:
            self.denoise(x, torch.tensor([500], device=self.device), states, pooled)
        return float(counter.get_total_flops())

    @torch.no_grad()
    def make_images(self, requests: list[ImageRequest], steps: int, guidance: float, sampler: str | None,
                    on_step: StepCallback | None, batch_size: int, **options) -> list[Image.Image]:
        """`options`: what a family's conditioning takes beyond the prompt (a layout-aware model: layout=)."""
        conditions = [self.condition(r.prompt, r.seed, r.index, **options) for r in requests]  # fail before work
        empty_states, empty_pooled = self.unconditional()
        images: list[Image.Image] = []
        for chunk in batches(list(zip(requests, conditions)), batch_size):

            def preview(step: int, total: int, x: torch.Tensor) -> None:
                # progress runs over the whole request: every image's steps, in order
                on_step(len(images) * total + step * len(chunk), len(requests) * total,
                        images + [to_image(row) for row in self.decode(x)])

            states = torch.cat([states for _, (states, _, _) in chunk])  # [b,L,D]
            pooled = torch.cat([pooled for _, (_, pooled, _) in chunk])  # [b,E]
            x = sample(self.denoise, states, pooled, empty_states, empty_pooled, self.sample_shape,
                       [image_generator(r.seed, r.index) for r, _ in chunk], self.schedule, steps, guidance, sampler,
                       preview if on_step is not None else None)  # [b,C,h,w]
            for row, (_, (_, _, used)) in zip(self.decode(x), chunk):
                image = to_image(row)
                image.info.update(used)  # what conditioned it beyond the prompt (a layout-aware family: its layout)
                images.append(image)
        return images

    def condition(self, prompt: str, seed: int, index: int, **options) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """What image `index` is conditioned on: token states [1,L,D], the pooled vector [1,E], and what
        to record about it in image.info (nothing, for a caption-only model, which takes no options)."""
        if options:
            raise GenerationError(f"{self.info.name} reads the caption alone; it takes no {', '.join(options)}")
        states, pooled = self.text_encoder([prompt])
        return states, pooled, {}

    def unconditional(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The input guidance pushes away from: the empty caption."""
        return self.text_encoder([""])


def diffusion_info(name: str, family: str, parameters: int, resolution: int = 32, description: str = "",
                   default_steps: int = 50, default_guidance: float = 3.0, flow: bool = False) -> GeneratorInfo:
    """flow: a rectified-flow model, sampled by the flow-matching schedulers (Euler by default)."""
    return GeneratorInfo(name=name, family=family, conditioning="text", resolution=resolution,
                         parameters=parameters, default_steps=default_steps, default_guidance=default_guidance,
                         guidance_applies=True, samplers=FLOW_SAMPLERS if flow else DIFFUSION_SAMPLERS,
                         default_sampler="euler" if flow else "ddim", description=description)


def save_time_metrics(generator, prompts: int = 64, steps: int = 25) -> dict:
    """What a diffusion family's manifest records at save time: single-object accuracy, color + shape and all
    asked, at guidance 1 and 3, and all asked at guidance 3 on captions that give size, color, shape and
    position at once (training drops size and position words, so the mixed set asks less)."""
    from world.accuracy import score, single_object_accuracy, world_prompts
    metrics, tag = {}, f"{generator.info.default_sampler}{steps}_{prompts}prompts"  # each family's own sampler
    for g in (1.0, 3.0):
        result = single_object_accuracy(generator, n_prompts=prompts, guidance=g, steps=steps)
        metrics[f"single_accuracy_g{g:g}_{tag}"] = result["color_shape"]
        metrics[f"single_all_asked_g{g:g}_{tag}"] = result["full"]
    every_word = score(generator, world_prompts(prompts, "single", every_word=True), guidance=3.0, steps=steps)
    metrics[f"single_every_word_all_asked_g3_{tag}"] = every_word["full"]
    return metrics


def watch_line(generator) -> str:
    """The training log's accuracy line (48 single-object prompts, 25 steps of the model's own sampler, guidance 3)."""
    from world.accuracy import score, single_prompts
    result = score(generator, single_prompts(48, seed=555), guidance=3.0, steps=25)
    return " | ".join(f"{k} {result[k]:.2f}" for k in ("color_shape", "size", "position", "full") if k in result)
