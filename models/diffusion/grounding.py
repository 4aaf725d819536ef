"""Grounding tokens (GLIGEN, Li et al. 2023): a layout, one token per object, read by a DiT.

Each object of a layout becomes a row of numbers (which color, which shape, which size, its box, and
whether the slot holds an object), then a token: learned attribute embeddings plus a Fourier embedding
of the box, through an MLP. Every DiT block reads the tokens through a gated self-attention over
[visual tokens; grounding tokens] whose output enters the residual stream scaled by tanh(gamma) with
gamma = 0 at the start, so a DiT warm-started from a caption-only DiT computes exactly what it did.

The rows ride along the conditioning's token axis: a layout-aware denoiser receives the text states
[B, L, W] followed by MAX_OBJECTS layout rows [B, MAX_OBJECTS, W] (zero-padded to the text width W), so
guidance and the samplers pass layouts through untouched; a row of zeros is "no object" (the
unconditional input, and layout dropout).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from models.diffusion.attention import Attention
from world import COLORS, SHAPES, SIZES
from world.layout import MAX_OBJECTS, Layout

COLOR_INDEX = {c: i for i, c in enumerate(COLORS)}
SHAPE_INDEX = {s: i for i, s in enumerate(SHAPES)}
SIZE_INDEX = {s: i for i, s in enumerate(SIZES)}
# a row: color index, shape index, size index, box (x0, y0, x1, y1) in [0, 1], present (1) or empty (0)
ROW = 8


def layout_rows(layouts: Sequence[Layout | None], width: int) -> torch.Tensor:
    """Layouts (None: no layout) -> rows [B, MAX_OBJECTS, width], zero-padded."""
    rows = torch.zeros(len(layouts), MAX_OBJECTS, width)
    for b, layout in enumerate(layouts):
        for k, obj in enumerate(layout.objects if layout is not None else ()):
            rows[b, k, :ROW] = torch.tensor([COLOR_INDEX[obj.color], SHAPE_INDEX[obj.shape], SIZE_INDEX[obj.size],
                                             *obj.box(), 1.0])
    return rows


def fourier(boxes: torch.Tensor, frequencies: int = 8) -> torch.Tensor:
    """[..., 4] box coordinates in [0, 1] -> [..., 4 * 2 * frequencies] sines and cosines."""
    scales = (2.0 ** torch.arange(frequencies, device=boxes.device)) * math.pi  # [F]
    angles = boxes[..., None] * scales  # [..., 4, F]
    return torch.cat([angles.sin(), angles.cos()], dim=-1).flatten(-2)


class GroundingTokens(nn.Module):
    """Layout rows [B, K, >=ROW] -> tokens [B, K, D] and the mask of empty slots [B, K] (True = empty)."""

    def __init__(self, hidden: int, frequencies: int = 8):
        super().__init__()
        self.frequencies = frequencies
        self.color = nn.Embedding(len(COLORS), hidden)
        self.shape = nn.Embedding(len(SHAPES), hidden)
        self.size = nn.Embedding(len(SIZES), hidden)
        self.box = nn.Linear(4 * 2 * frequencies, hidden)
        self.mlp = nn.Sequential(nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    def forward(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        index = rows[..., :3].round().long()  # [B,K,3]
        boxes, present = rows[..., 3:7], rows[..., 7]  # [B,K,4], [B,K]
        h = (self.color(index[..., 0]) + self.shape(index[..., 1]) + self.size(index[..., 2])
             + self.box(fourier(boxes, self.frequencies)))  # [B,K,D]
        return self.mlp(h) * present[..., None], present < 0.5


class GatedSelfAttention(nn.Module):
    """x + tanh(gamma) * SelfAttention([x; g])[:T] (GLIGEN's gated self-attention); gamma starts at 0."""

    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.attn = Attention(hidden, heads)
        self.gate = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor, grounding: torch.Tensor, empty: torch.Tensor) -> torch.Tensor:
        # x [B,T,D] visual tokens, grounding [B,K,D], empty [B,K] (True: slot holds no object)
        tokens = self.norm(torch.cat([x, grounding], dim=1))  # [B,T+K,D]
        mask = torch.cat([empty.new_zeros(x.shape[:2]), empty], dim=1)  # [B,T+K]: image tokens always attend
        out = self.attn(tokens, tokens, tokens, key_padding_mask=mask, need_weights=False)[0][:, :x.shape[1]]
        return x + torch.tanh(self.gate) * out
