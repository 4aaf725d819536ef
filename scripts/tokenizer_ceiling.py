"""The tokenizer's ceiling: the world's own rendering of each prompt, passed through `ar`'s FSQ tokenizer (encode to
codes, decode) — what a perfect autoregressive transformer over these codes would draw. Judged like any model,
its accuracy bounds `ar`'s (and the AR draft of `ar+dit`'s) from above.

    python -m evaluation run --models ar,scripts.tokenizer_ceiling:generate --prompts shapes-full --n 1 --out RUN
"""
from __future__ import annotations

import functools

import numpy as np
import torch

from models.ar.tokenizer import FSQTokenizer
from world import render, to_image, to_tensor
from world.references import scene_objects

STREAM = 13  # image i of a request seeded s draws what its caption leaves open from default_rng([s, i, STREAM])


@functools.lru_cache(maxsize=1)
def _tokenizer() -> FSQTokenizer:
    return FSQTokenizer.from_pretrained()


@torch.no_grad()
def generate(prompts: list[str], seed: int) -> list:
    """World prompts only (each is its own target): rendered, then encoded and decoded by the shipped tokenizer."""
    rendered = [render(scene_objects(p, np.random.default_rng([seed, i, STREAM]))) for i, p in enumerate(prompts)]
    tokenizer = _tokenizer()
    codes = tokenizer.encode(torch.stack([to_tensor(image) for image in rendered]))  # [B,64]
    return [to_image(row) for row in tokenizer.decode(codes)]
