"""A text-conditioned diffusion model behind the generator contract.

One class serves every diffusion family: the pixel DDPM uses the identity as
its decoder; latent families pass the VAE decoder and the latent shape.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from PIL import Image

from models.contract import GeneratorInfo, StepCallback, check_request, image_generator
from models.diffusion import SAMPLERS, Denoiser, NoiseSchedule, sample
from models.text_encoder import TextEncoder
from models.world import to_image

# Rows are computed in chunks of this many images, always padded to full size, so that
# image i sits at the same slot of an identically shaped batch whatever the request's size:
# CPU kernels give bitwise-identical rows only for identical batch shapes.
CHUNK = 4


class DiffusionGenerator:
    def __init__(self, info: GeneratorInfo, denoise: Denoiser, text_encoder: TextEncoder, schedule: NoiseSchedule,
                 sample_shape: tuple[int, int, int], decode: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 device: str = "cpu"):
        self.info = info
        self.denoise = denoise
        self.text_encoder = text_encoder
        self.schedule = schedule
        self.sample_shape = sample_shape  # (C, H, W) of what the denoiser sees
        self.decode = decode or (lambda x: x)  # [B,C,h,w] -> images [B,3,H,W] in [-1,1]
        self.device = device

    @torch.no_grad()
    def flops_per_evaluation(self) -> float:
        """FLOPs of one denoiser call on one image (text encoding excluded, guidance doubles it)."""
        from torch.utils.flop_counter import FlopCounterMode
        states, pooled = self.text_encoder([""])
        x = torch.zeros(1, *self.sample_shape, device=self.device)
        with FlopCounterMode(display=False) as counter:
            self.denoise(x, torch.tensor([500], device=self.device), states, pooled)
        return float(counter.get_total_flops())

    @torch.no_grad()
    def generate(self, prompts: Sequence[str], seed: int, steps: int | None = None,
                 guidance_scale: float | None = None, sampler: str | None = None,
                 on_step: StepCallback | None = None) -> list[Image.Image]:
        steps, guidance, sampler = check_request(self.info, prompts, seed, steps, guidance_scale, sampler)
        prompts = list(prompts)
        empty_states, empty_pooled = self.text_encoder([""])  # the unconditional input
        images: list[Image.Image] = []
        for start in range(0, len(prompts), CHUNK):
            # pad with the last prompt and the next image indices: a padded chunk is exactly the
            # chunk a larger request of the same prompt would compute
            indices = range(start, start + CHUNK)
            chunk = [prompts[min(i, len(prompts) - 1)] for i in indices]
            generators = [image_generator(seed, i) for i in indices]
            states, pooled = self.text_encoder(chunk)  # [M,L,D], [M,E]
            keep = min(CHUNK, len(prompts) - start)

            def preview(index: int, total: int, x: torch.Tensor) -> None:
                if on_step is not None:
                    on_step(index, total, images + [to_image(im) for im in self.decode(x[:keep])])

            x = sample(self.denoise, states, pooled, empty_states, empty_pooled, self.sample_shape, generators,
                       self.schedule, steps, guidance, sampler, preview if on_step is not None else None)
            images += [to_image(im) for im in self.decode(x[:keep])]
        return images


def diffusion_info(name: str, family: str, parameters: int, resolution: int = 32, description: str = "",
                   default_steps: int = 50, default_guidance: float = 3.0) -> GeneratorInfo:
    return GeneratorInfo(name=name, family=family, conditioning="text", resolution=resolution,
                         parameters=parameters, default_steps=default_steps, default_guidance=default_guidance,
                         guidance_applies=True, samplers=tuple(SAMPLERS), default_sampler="ddim",
                         description=description)
