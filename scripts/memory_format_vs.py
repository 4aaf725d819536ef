"""Channels-last vs contiguous memory for the U-Net denoisers on this machine: the same images timed in turns in
one process, with the largest pixel difference between the two. The figure behind the pixel ddpm going
channels-last on CPU too (models/diffusion/pixel.py); on CUDA every convolutional network does.

    python scripts/memory_format_vs.py [--models ddpm,ldm] [--rounds 5] [--steps 20] [--images 32]
"""
from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from diffusers import UNet2DConditionModel  # noqa: E402

from models import registry  # noqa: E402
from models.checkpoints import CHECKPOINT_ROOT  # noqa: E402
from models.diffusion.unet import unet_denoiser  # noqa: E402
from world.accuracy import world_prompts  # noqa: E402

FORMATS = {"contiguous": torch.contiguous_format, "channels-last": torch.channels_last}


def denoisers(name: str) -> dict:
    """The model's U-Net loaded twice, once in each memory format, as the generator's denoiser."""
    folder = CHECKPOINT_ROOT / name / "unet"
    return {label: unet_denoiser(UNet2DConditionModel.from_pretrained(folder).eval().requires_grad_(False)
                                 .to(memory_format=memory_format))
            for label, memory_format in FORMATS.items()}


def timed(generator, prompts: list[str], steps: int) -> tuple[float, list[np.ndarray]]:
    start = time.perf_counter()
    images = generator.generate(prompts, seed=0, steps=steps, guidance_scale=3.0, batch_size=16)
    return len(prompts) / (time.perf_counter() - start), [np.asarray(image, dtype=np.int16) for image in images]


def compare(name: str, rounds: int, steps: int, images: int) -> None:
    generator = registry.load(name)
    prompts = world_prompts(images, "single")
    by_format = denoisers(name)
    for label in FORMATS:  # warm-up: each format's first call builds its oneDNN kernels
        generator.denoise = by_format[label]
        timed(generator, prompts, 1)
    ratios, largest_difference = [], 0
    for index in range(rounds):
        order = list(FORMATS) if index % 2 == 0 else list(reversed(FORMATS))  # alternate who goes first
        speed, pixels = {}, {}
        for label in order:
            generator.denoise = by_format[label]
            speed[label], pixels[label] = timed(generator, prompts, steps)
        ratios.append(speed["channels-last"] / speed["contiguous"])
        largest_difference = max(largest_difference, max(int(np.abs(a - b).max()) for a, b in
                                                         zip(pixels["contiguous"], pixels["channels-last"])))
        print(f"{name} round {index + 1}: contiguous {speed['contiguous']:.2f} img/s, channels-last "
              f"{speed['channels-last']:.2f} img/s, x{ratios[-1]:.3f}", flush=True)
    print(f"{name}: channels-last / contiguous median x{statistics.median(ratios):.3f} over {rounds} rounds "
          f"({images} images, {steps} DDIM steps, guidance 3, batch 16, {torch.get_num_threads()} threads); "
          f"largest pixel difference {largest_difference}/255")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="ddpm,ldm", help="comma-separated U-Net models (default ddpm,ldm)")
    parser.add_argument("--rounds", type=int, default=5, help="timed pairs per model (default 5)")
    parser.add_argument("--steps", type=int, default=20, help="DDIM steps per image (default 20)")
    parser.add_argument("--images", type=int, default=32, help="images per timing (default 32)")
    args = parser.parse_args()
    for name in args.models.split(","):
        compare(name, args.rounds, args.steps, args.images)


if __name__ == "__main__":
    main()
