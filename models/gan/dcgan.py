"""DCGAN (Radford et al.): transposed convolutions, batch norm, no pooling; the pooled text vector is
embedded and concatenated with z, and the discriminator is a projection discriminator."""
from __future__ import annotations

import torch
from torch import nn

from models.gan.projection import Projection


class DCGANGenerator(nn.Module):
    def __init__(self, z_dim: int = 64, cond_dim: int = 64, width: int = 64):
        super().__init__()
        self.z_dim = z_dim
        self.embed = nn.Linear(cond_dim, z_dim)  # text vector -> as many numbers as z
        self.project = nn.Linear(2 * z_dim, 4 * 4 * width * 4)

        def up(cin: int, cout: int) -> nn.Sequential:  # [B,cin,H,W] -> [B,cout,2H,2W]
            return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True))

        self.width = width
        self.body = nn.Sequential(nn.BatchNorm2d(width * 4), nn.ReLU(True),
                                  up(width * 4, width * 2), up(width * 2, width), up(width, width // 2),
                                  nn.Conv2d(width // 2, 3, 3, padding=1), nn.Tanh())

    def forward(self, z: torch.Tensor, c: torch.Tensor, **_) -> torch.Tensor:
        x = self.project(torch.cat([z, self.embed(c)], dim=1))  # [B, 4*4*4w]
        return self.body(x.view(-1, self.width * 4, 4, 4))  # [B,3,32,32] in [-1,1]


class DCGANDiscriminator(nn.Module):
    """Strided convolutions and LeakyReLU; batch norm except on the first layer (none at all for WGAN-GP,
    whose penalty is per sample)."""

    def __init__(self, cond_dim: int = 64, width: int = 64, batch_norm: bool = True):
        super().__init__()

        def down(cin: int, cout: int, norm: bool) -> list[nn.Module]:  # [B,cin,H,W] -> [B,cout,H/2,W/2]
            return [nn.Conv2d(cin, cout, 4, 2, 1, bias=not norm)] + ([nn.BatchNorm2d(cout)] if norm else []) \
                + [nn.LeakyReLU(0.2, True)]

        self.body = nn.Sequential(*down(3, width, False), *down(width, width * 2, batch_norm),
                                  *down(width * 2, width * 4, batch_norm), nn.Flatten())  # [B, 4w*4*4]
        self.head = Projection(width * 4 * 16, cond_dim)

    def forward(self, images: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(images), c)


# ---------------------------------------------------------------- StyleGAN2-style
