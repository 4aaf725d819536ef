"""Corruptions of rendered scenes that the judge is checked against, at the strengths it must withstand.

A generator's image is never the renderer's: it is grainy, soft, tinted, compressed by whoever saved it, or
a pixel off. `STRENGTHS` names each corruption at the strength the judge (world/detector.py) is held to, 95 %
right or better (tests/test_judge_robustness.py; `python -m evaluation judge-audit` prints the figures, and how
right the judge stays as each corruption grows past them):

- noise: Gaussian, standard deviation 25 of 255 per channel (a model's leftover grain is weaker);
- blur: Gaussian, sigma 0.7 px (an 8 px object's corners visibly round; at sigma 1.0 small squares read as
  circles, 82 % right, which is why the strength stops here);
- tint: 40 of 255 added to one or all channels, or every pixel darkened to 80 %;
- jpeg: quality 75, PIL's default (at 50, 94 %);
- shift: the whole canvas moved by up to 2 px (cells are 8-10 px apart, so the truth is unchanged).
"""
from __future__ import annotations

import io
from typing import Callable

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage

from world import COLORS


def _clipped(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8))


def noise(image: Image.Image, sigma: float, rng: np.random.Generator) -> Image.Image:
    pixels = np.asarray(image.convert("RGB"), dtype=np.float64)  # [H, W, 3]
    return _clipped(pixels + rng.normal(0.0, sigma, pixels.shape))


def blur(image: Image.Image, sigma: float) -> Image.Image:
    return image.convert("RGB").filter(ImageFilter.GaussianBlur(sigma))


def tint(image: Image.Image, offset: tuple[float, float, float], gain: float = 1.0) -> Image.Image:
    """Every pixel times `gain`, plus `offset` (R, G, B): a color cast over the whole canvas, background too."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.float64)  # [H, W, 3]
    return _clipped(pixels * gain + np.asarray(offset, dtype=np.float64))


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    with Image.open(io.BytesIO(buffer.getvalue())) as decoded:
        return decoded.convert("RGB")


def rescale(image: Image.Image, side: int) -> Image.Image:
    """Shrunk to side x side and scaled back to its size, as a generator working at a lower resolution draws."""
    size = image.size
    return image.convert("RGB").resize((side, side), Image.BICUBIC).resize(size, Image.BICUBIC)


def shift(image: Image.Image, dx: int, dy: int) -> Image.Image:
    """The canvas moved by (dx, dy) pixels, black coming in at the edges."""
    pixels = np.asarray(image.convert("RGB"))  # [H, W, 3]
    height, width = pixels.shape[:2]
    moved = np.zeros_like(pixels)
    moved[max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \
        pixels[max(-dy, 0):height + min(-dy, 0), max(-dx, 0):width + min(-dx, 0)]
    return Image.fromarray(moved)


# name -> (image, rng) -> corrupted image, at the strength the judge is held to
STRENGTHS: dict[str, Callable[[Image.Image, np.random.Generator], Image.Image]] = {
    "noise sigma 25": lambda image, rng: noise(image, 25.0, rng),
    "blur sigma 0.7 px": lambda image, rng: blur(image, 0.7),
    "tint +40 gray": lambda image, rng: tint(image, (40, 40, 40)),
    "tint +40 red": lambda image, rng: tint(image, (40, 0, 0)),
    "tint +40 green": lambda image, rng: tint(image, (0, 40, 0)),
    "tint +40 blue": lambda image, rng: tint(image, (0, 0, 40)),
    "darkened to 80 %": lambda image, rng: tint(image, (0, 0, 0), gain=0.8),
    "jpeg quality 75": lambda image, rng: jpeg(image, 75),
    "shift 2 px right, 1 down": lambda image, rng: shift(image, 2, 1),
    "shift 1 px left, 2 up": lambda image, rng: shift(image, -1, -2),
}


def blank(color: tuple[int, int, int] = (0, 0, 0)) -> Image.Image:
    return Image.new("RGB", (32, 32), color)


def noise_image(rng: np.random.Generator, smooth: float = 0.0) -> Image.Image:
    """Uniform noise over the whole range, blurred by `smooth` px and stretched back to full contrast: grain
    (smooth 0) or blobs the size of objects (smooth 1-2)."""
    pixels = rng.uniform(0, 255, (32, 32, 3))
    if smooth:
        pixels = ndimage.gaussian_filter(pixels, (smooth, smooth, 0))
        low, high = pixels.min(), pixels.max()
        pixels = (pixels - low) / max(high - low, 1e-9) * 255
    return _clipped(pixels)


def other_color(caption: str, rng: np.random.Generator) -> str:
    """The caption with every color moved the same number of places round the palette: each named color
    becomes another, different colors stay different (so a caption of three or four objects stays one), and no
    scene of the world shows both the caption's objects and the moved ones."""
    names, shift = list(COLORS), int(rng.integers(1, len(COLORS)))
    moved = {c: names[(i + shift) % len(names)] for i, c in enumerate(names)}
    return " ".join(moved.get(w, w) for w in caption.split())
