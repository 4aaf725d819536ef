"""Diffusion Transformer (Peebles & Xie) on 8x8x4 latents, conditioned on timestep and text.

Patchify the latent (patch 2 -> 16 tokens), add fixed 2-D sin-cos positional
embeddings, run N DiT blocks whose LayerNorms are modulated by AdaLN-Zero
(shift, scale and gate regressed from timestep + pooled text embedding) and
which also cross-attend to the text tokens, then a final AdaLN layer, a linear
map and unpatchify back to predicted noise. Modulation outputs and the final
projection start at zero, so a fresh block is the identity and an untrained
model predicts zero.
"""
from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn

from models.diffusion.attention import Attention
from models.diffusion.grounding import GatedSelfAttention, GroundingTokens
from world.layout import MAX_OBJECTS


@dataclasses.dataclass
class DiTConfig:
    input_size: int = 8  # latent height and width
    in_channels: int = 4  # latent channels
    patch_size: int = 2  # 8x8 latent -> 4x4 = 16 tokens
    hidden: int = 192  # token width
    depth: int = 6  # DiT blocks
    heads: int = 6
    mlp_ratio: float = 4.0
    text_width: int = 64  # per-token text states (cross-attention keys and values)
    pooled_width: int = 64  # pooled text vector (joins the timestep in AdaLN)
    grounding: bool = False  # read a layout as grounding tokens (models/diffusion/grounding.py)


DIT_CONFIGS = {
    "tiny": DiTConfig(hidden=32, depth=2, heads=2, text_width=16, pooled_width=16),  # tests
    "small": DiTConfig(hidden=160, heads=5),  # the shipped `dit`
}


def patchify(x: torch.Tensor, p: int) -> torch.Tensor:
    """[B, C, H, W] -> [B, (H/p)(W/p), p*p*C], tokens in row-major order."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // p, p, w // p, p)  # [B,C,h,p,w,p]
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b, (h // p) * (w // p), p * p * c)


def unpatchify(tokens: torch.Tensor, p: int, c: int) -> torch.Tensor:
    """[B, T, p*p*C] -> [B, C, H, W], the inverse of patchify for a square grid."""
    b, t, _ = tokens.shape
    side = int(math.isqrt(t))
    x = tokens.reshape(b, side, side, p, p, c)  # [B,h,w,p,p,C]
    return x.permute(0, 5, 1, 3, 2, 4).reshape(b, c, side * p, side * p)


def sincos_2d(width: int, side: int) -> torch.Tensor:
    """Fixed 2-D sin-cos positional embedding, [side*side, width] (half for rows, half for columns)."""
    quarter = width // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)  # [W/4]
    ys, xs = torch.meshgrid(torch.arange(side, dtype=torch.float64), torch.arange(side, dtype=torch.float64),
                            indexing="ij")
    parts = []
    for grid in (ys.flatten(), xs.flatten()):
        angles = grid[:, None] * omega[None]  # [T, W/4]
        parts += [angles.sin(), angles.cos()]
    return torch.cat(parts, dim=1).float()  # [T, W]


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale[:, None]) + shift[:, None]  # x [B,T,D], shift/scale [B,D]


class TimestepEmbedder(nn.Module):
    """Scalar diffusion timestep -> vector: sinusoidal frequencies, then a 2-layer MLP."""

    def __init__(self, hidden: int, frequencies: int = 256):
        super().__init__()
        self.frequencies = frequencies
        self.mlp = nn.Sequential(nn.Linear(frequencies, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.frequencies // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, device=t.device) / half)  # [F/2]
        angles = t.float()[:, None] * freqs[None]  # [B, F/2]
        return self.mlp(torch.cat([angles.cos(), angles.sin()], dim=-1))  # [B, D]


class DiTBlock(nn.Module):
    """Self-attention, cross-attention to text, MLP; each behind an AdaLN-Zero modulated LayerNorm."""

    def __init__(self, hidden: int, heads: int, mlp_ratio: float, text_width: int, grounding: bool = False):
        super().__init__()
        self.fuser = GatedSelfAttention(hidden, heads) if grounding else None  # reads the layout tokens
        self.norm1 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(hidden, heads)
        self.norm2 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.cross = Attention(hidden, heads, kdim=text_width)
        self.norm3 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(hidden, int(hidden * mlp_ratio)), nn.GELU(approximate="tanh"),
                                 nn.Linear(int(hidden * mlp_ratio), hidden))
        # (shift, scale, gate) for each of the three branches, regressed from the conditioning
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 9 * hidden))

    def forward(self, x: torch.Tensor, c: torch.Tensor, text: torch.Tensor,
                grounding: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        # x [B,T,D] tokens, c [B,D] conditioning, text [B,L,text_width], grounding ([B,K,D], empty [B,K])
        (shift_sa, scale_sa, gate_sa, shift_ca, scale_ca, gate_ca,
         shift_mlp, scale_mlp, gate_mlp) = self.adaLN_modulation(c).chunk(9, dim=-1)
        h = modulate(self.norm1(x), shift_sa, scale_sa)
        x = x + gate_sa[:, None] * self.attn(h, h, h, need_weights=False)[0]
        if self.fuser is not None:
            x = self.fuser(x, *grounding)
        h = modulate(self.norm2(x), shift_ca, scale_ca)
        x = x + gate_ca[:, None] * self.cross(h, text, text, need_weights=False)[0]
        h = modulate(self.norm3(x), shift_mlp, scale_mlp)
        return x + gate_mlp[:, None] * self.mlp(h)


class FinalLayer(nn.Module):
    """AdaLN (shift, scale) then a linear map from tokens to patches of predicted noise."""

    def __init__(self, hidden: int, patch_size: int, out_channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(hidden, patch_size * patch_size * out_channels)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 2 * hidden))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=-1)
        return self.linear(modulate(self.norm(x), shift, scale))  # [B,T,p*p*C]


class DiT(nn.Module):
    def __init__(self, config: DiTConfig):
        super().__init__()
        self.config = config
        p, d = config.patch_size, config.hidden
        self.x_embedder = nn.Linear(p * p * config.in_channels, d)  # a patch -> a token
        self.register_buffer("pos_embed", sincos_2d(d, config.input_size // p)[None], persistent=False)  # [1,T,D]
        self.t_embedder = TimestepEmbedder(d)
        self.y_embedder = nn.Linear(config.pooled_width, d)  # pooled text joins the timestep
        self.blocks = nn.ModuleList(DiTBlock(d, config.heads, config.mlp_ratio, config.text_width, config.grounding)
                                    for _ in range(config.depth))
        self.grounding = GroundingTokens(d) if config.grounding else None
        self.final_layer = FinalLayer(d, p, config.in_channels)
        self.initialize_weights()

    def initialize_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        nn.init.normal_(self.t_embedder.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[2].weight, std=0.02)
        # AdaLN-Zero: every modulation starts at zero (gates closed), and so does the output
        for block in self.blocks:
            nn.init.zeros_(block.adaLN_modulation[-1].weight)
            nn.init.zeros_(block.adaLN_modulation[-1].bias)
        nn.init.zeros_(self.final_layer.adaLN_modulation[-1].weight)
        nn.init.zeros_(self.final_layer.adaLN_modulation[-1].bias)
        nn.init.zeros_(self.final_layer.linear.weight)
        nn.init.zeros_(self.final_layer.linear.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, text: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        # x [B,C,H,W] noisy latent, t [B] timesteps, text [B,L,text_width], pooled [B,pooled_width];
        # a grounded DiT's text is followed by MAX_OBJECTS layout rows [B,K,text_width]
        grounding = None
        if self.grounding is not None:
            text, rows = text[:, :-MAX_OBJECTS], text[:, -MAX_OBJECTS:]
            grounding = self.grounding(rows)  # ([B,K,D], [B,K])
        tokens = self.x_embedder(patchify(x, self.config.patch_size)) + self.pos_embed  # [B,T,D]
        c = self.t_embedder(t) + self.y_embedder(pooled)  # [B,D]
        for block in self.blocks:
            tokens = block(tokens, c, text, grounding)
        out = self.final_layer(tokens, c)  # [B,T,p*p*C]
        return unpatchify(out, self.config.patch_size, self.config.in_channels)  # [B,C,H,W]
