"""The projection discriminator's head (Miyato & Koyama): logit = linear(h) + <embed(c), h>."""
from __future__ import annotations

import math

import torch
from torch import nn


class Projection(nn.Module):
    """Projection-discriminator head: features h [B,C] and condition c [B,E] -> logits [B]."""

    def __init__(self, features: int, cond_dim: int):
        super().__init__()
        self.out = nn.Linear(features, 1)  # the unconditional term
        self.embed = nn.Linear(cond_dim, features, bias=False)  # c -> a direction in feature space

    def forward(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.out(h).squeeze(1) + (self.embed(c) * h).sum(dim=1) / math.sqrt(h.shape[1])


# ---------------------------------------------------------------- DCGAN
