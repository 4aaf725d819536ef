"""Tiny real components, built once per session: a 2-level U-Net and an untrained tiny text encoder."""
from __future__ import annotations

import pytest
import torch

from models.diffusion.unet import PRESETS, build_unet, unet_denoiser
from models.diffusion.schedule import NoiseSchedule
from models.diffusion.generator import DiffusionGenerator, diffusion_info
from models.text.encoder import TextEncoder, TextEncoderConfig

TINY_TEXT = TextEncoderConfig(embed_dim=16, context_length=24, text_width=16, text_heads=2, text_layers=1,
                              vision_width=16, vision_layers=1, vision_head_width=8)


@pytest.fixture(scope="session")
def tiny_text_encoder() -> TextEncoder:
    torch.manual_seed(0)
    return TextEncoder(TINY_TEXT).eval().requires_grad_(False)


@pytest.fixture(scope="session")
def tiny_generator(tiny_text_encoder) -> DiffusionGenerator:
    torch.manual_seed(0)
    unet = build_unet(PRESETS["tiny"], cross_attention_dim=TINY_TEXT.text_width).eval()
    info = diffusion_info("tiny", "ddpm", 0, default_steps=4)
    return DiffusionGenerator(info, unet_denoiser(unet), tiny_text_encoder, NoiseSchedule(), sample_shape=(3, 32, 32))
