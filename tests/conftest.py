"""Tiny real components, built once per session: a 2-level U-Net and an untrained tiny text encoder; a tiny
evaluator CLIP per module; a headless chromium page."""
from __future__ import annotations

import os
import pathlib
import tempfile

import pytest
import torch

from models.diffusion.unet import UNET_CONFIGS, build_unet, unet_denoiser
from models.diffusion.schedule import NoiseSchedule
from models.diffusion.generator import DiffusionGenerator, diffusion_info
from models.text.encoder import TextEncoder, TextEncoderConfig

# the demo writes votes and its own evaluation runs under $GENBENCH_DATA: tests keep them out of the home folder
os.environ.setdefault("GENBENCH_DATA", tempfile.mkdtemp(prefix="genbench-test-data-"))

CHROMIUM = pathlib.Path("/usr/bin/chromium")
BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

TINY_TEXT = TextEncoderConfig(embed_dim=16, context_length=24, text_width=16, text_heads=2, text_layers=1,
                              vision_width=16, vision_layers=1, vision_head_width=8)


@pytest.fixture(scope="session")
def tiny_text_encoder() -> TextEncoder:
    torch.manual_seed(0)
    return TextEncoder(TINY_TEXT).eval().requires_grad_(False)


@pytest.fixture(scope="session")
def tiny_generator(tiny_text_encoder) -> DiffusionGenerator:
    torch.manual_seed(0)
    unet = build_unet(UNET_CONFIGS["tiny"], cross_attention_dim=TINY_TEXT.text_width).eval()
    info = diffusion_info("tiny", "ddpm", 0, default_steps=4)
    return DiffusionGenerator(info, unet_denoiser(unet), tiny_text_encoder, NoiseSchedule(), sample_shape=(3, 32, 32))


@pytest.fixture(scope="session")
def tiny_layout_generator(tiny_text_encoder):
    """A tiny DiT reading layouts, warm-started from a perturbed caption-only DiT with its gates opened."""
    import dataclasses

    from models.diffusion.dit import DIT_CONFIGS
    from models.diffusion.dit import DiT
    from models.diffusion.layout_generator import LayoutDiffusionGenerator

    torch.manual_seed(0)
    base = DiT(DIT_CONFIGS["tiny"])
    grounded = DiT(dataclasses.replace(DIT_CONFIGS["tiny"], grounding=True)).eval()
    with torch.no_grad():
        for p in base.parameters():
            p.add_(0.05 * torch.randn_like(p))
        grounded.load_state_dict(base.state_dict(), strict=False)
        for block in grounded.blocks:
            block.fuser.gate.fill_(0.5)
    info = diffusion_info("tiny-layout", "dit-layout", 0, default_steps=3)
    return LayoutDiffusionGenerator(info, grounded, tiny_text_encoder, NoiseSchedule(), sample_shape=(4, 8, 8),
                                    decode=lambda z: torch.nn.functional.interpolate(z[:, :3], size=32))


@pytest.fixture(scope="module")
def evaluator_clip(tmp_path_factory, tiny_text_encoder):
    """The tiny text encoder saved and named as the evaluation's CLIP for this module (fast, meaningless values)."""
    from evaluation.metrics import features

    folder = tmp_path_factory.mktemp("clip")
    tiny_text_encoder.save_pretrained(folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(features.EVALUATOR_CLIP_ENV, str(folder))
        yield folder


@pytest.fixture
def page():
    """A page of Debian's headless chromium, driven by playwright. No silent skip: a missing browser fails
    (.ci/run installs it); only GENBENCH_NO_BROWSER=1 makes it a skip."""
    if not CHROMIUM.exists():
        message = "needs Debian's chromium: apt-get install chromium"
        if os.environ.get("GENBENCH_NO_BROWSER") == "1":
            pytest.skip(f"{message} (skipped: GENBENCH_NO_BROWSER=1)")
        pytest.fail(f"{message} (or set GENBENCH_NO_BROWSER=1 to skip these tests)", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_FLAGS)
        try:
            yield browser.new_page(viewport={"width": 1300, "height": 900})
        finally:
            browser.close()
