"""GAN architectures, conditioned on the text encoder's pooled vector.

DCGAN (Radford et al.): transposed convolutions, batch norm, no pooling. StyleGAN2-style (Karras et
al.), written compactly after stylegan2-ada-pytorch's networks: a mapping network z, c -> w, modulated
convolutions with weight demodulation, per-pixel noise inputs, skip toRGB outputs, and a discriminator
with minibatch standard deviation. Conditioning: the generator concatenates an embedding of the pooled
text vector with z (DCGAN) or feeds it to the mapping network (StyleGAN2); every discriminator is a
projection discriminator (Miyato & Koyama): logit = linear(h) + <embed(c), h>.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from models.gan.projection import Projection


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class EqualLinear(nn.Module):
    """Linear layer with equalised learning rate: weights N(0,1)/lr_mult, scaled at run time."""

    def __init__(self, cin: int, cout: int, bias_init: float = 0.0, lr_mult: float = 1.0, activate: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin) / lr_mult)
        self.bias = nn.Parameter(torch.full((cout,), float(bias_init)))
        self.gain, self.lr_mult, self.activate = lr_mult / math.sqrt(cin), lr_mult, activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.gain, self.bias * self.lr_mult)
        return F.leaky_relu(x, 0.2) * math.sqrt(2) if self.activate else x


class MappingNetwork(nn.Module):
    """(z, c) -> w: both normalised, concatenated, through an MLP with a 100x lower learning rate."""

    def __init__(self, z_dim: int, cond_dim: int, w_dim: int, layers: int = 4, w_avg_beta: float = 0.995):
        super().__init__()
        self.embed = EqualLinear(cond_dim, w_dim)
        dims = [z_dim + w_dim] + [w_dim] * layers
        self.mlp = nn.Sequential(*[EqualLinear(a, b, lr_mult=0.01, activate=True) for a, b in zip(dims, dims[1:])])
        self.register_buffer("w_avg", torch.zeros(w_dim))  # tracked during training, for truncation
        self.w_avg_beta = w_avg_beta

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        w = self.mlp(torch.cat([normalize_2nd_moment(z), normalize_2nd_moment(self.embed(c))], dim=1))  # [B,w]
        if self.training:
            self.w_avg.copy_(w.detach().mean(0).lerp(self.w_avg, self.w_avg_beta))
        return w


class ModulatedConv2d(nn.Module):
    """Convolution whose weights are scaled per sample by a style s = A(w), then demodulated so that
    unit-variance input gives unit-variance output (StyleGAN2, eq. 1-3)."""

    def __init__(self, cin: int, cout: int, kernel: int, w_dim: int, demodulate: bool = True, up: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))
        self.affine = EqualLinear(w_dim, cin, bias_init=1.0)  # w -> per-input-channel style
        self.demodulate, self.up, self.padding = demodulate, up, kernel // 2
        self.gain = 1 / math.sqrt(cin * kernel * kernel)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)  # [B, cin]
        weight = self.weight * self.gain  # [cout, cin, k, k]
        # scaling the input by s equals scaling the weights per sample (StyleGAN2's non-fused form,
        # one ordinary convolution for the whole batch)
        x = x * styles[:, :, None, None]
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = F.conv2d(x, weight, padding=self.padding)  # [B, cout, H, W]
        if self.demodulate:  # sigma_j = sqrt(sum_{i,k} (s_i w_ijk)^2): divide it out per sample and channel
            sigma = (weight[None].square() * styles[:, None, :, None, None].square()).sum(dim=(2, 3, 4))  # [B, cout]
            x = x * (sigma + 1e-8).rsqrt()[:, :, None, None]
        return x


class SynthesisLayer(nn.Module):
    """Modulated 3x3 convolution + per-pixel noise (learned strength) + bias + leaky ReLU."""

    def __init__(self, cin: int, cout: int, w_dim: int, up: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(cin, cout, 3, w_dim, up=up)
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(cout))

    def forward(self, x: torch.Tensor, w: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x = self.conv(x, w)
        noise = torch.randn((x.shape[0], 1, *x.shape[2:]), generator=generator).to(x.device)  # [B,1,H,W]
        x = x + noise * self.noise_strength + self.bias[None, :, None, None]
        return F.leaky_relu(x, 0.2) * math.sqrt(2)


class ToRGB(nn.Module):
    def __init__(self, cin: int, w_dim: int):
        super().__init__()
        self.conv = ModulatedConv2d(cin, 3, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(3))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias[None, :, None, None]


class StyleGAN2Generator(nn.Module):
    """Constant 4x4 input; per resolution 8, 16, 32: an upsampling layer, a layer and a skip toRGB."""

    def __init__(self, z_dim: int = 64, cond_dim: int = 64, w_dim: int = 128,
                 channels: tuple[int, ...] = (128, 128, 64, 32)):  # at 4, 8, 16, 32 px
        super().__init__()
        self.z_dim, self.w_dim = z_dim, w_dim
        self.mapping = MappingNetwork(z_dim, cond_dim, w_dim)
        self.const = nn.Parameter(torch.randn(channels[0], 4, 4))
        self.layers = nn.ModuleList([SynthesisLayer(channels[0], channels[0], w_dim)])
        self.to_rgb = nn.ModuleList([ToRGB(channels[0], w_dim)])
        for cin, cout in zip(channels, channels[1:]):
            self.layers.extend([SynthesisLayer(cin, cout, w_dim, up=True), SynthesisLayer(cout, cout, w_dim)])
            self.to_rgb.append(ToRGB(cout, w_dim))
        self.num_ws = len(self.layers) + 1  # one w per layer, the last toRGB shares the last layer's

    def synthesis(self, ws: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """ws [B, num_ws, w] -> images [B,3,32,32]."""
        x = self.const[None].expand(ws.shape[0], -1, -1, -1)
        x = self.layers[0](x, ws[:, 0], generator)
        image = self.to_rgb[0](x, ws[:, 1])
        for block in range(1, len(self.to_rgb)):
            first, second = self.layers[2 * block - 1], self.layers[2 * block]
            x = first(x, ws[:, 2 * block - 1], generator)
            x = second(x, ws[:, 2 * block], generator)
            image = F.interpolate(image, scale_factor=2, mode="bilinear", align_corners=False) \
                + self.to_rgb[block](x, ws[:, 2 * block + 1])
        return image

    def ws(self, z: torch.Tensor, c: torch.Tensor, truncation: float = 1.0, w_center: torch.Tensor | None = None,
           mix_z: torch.Tensor | None = None, mix_at: int | None = None) -> torch.Tensor:
        """[B, num_ws, w]: w broadcast to every layer, pulled towards w_center by truncation, and after
        layer mix_at replaced by the w of mix_z (style mixing)."""
        w = self.mapping(z, c)
        if truncation != 1.0:
            center = self.mapping.w_avg if w_center is None else w_center
            w = center + truncation * (w - center)
        ws = w[:, None].repeat(1, self.num_ws, 1)
        if mix_z is not None and mix_at is not None:
            ws[:, mix_at:] = self.mapping(mix_z, c)[:, None]
        return ws

    def forward(self, z: torch.Tensor, c: torch.Tensor, truncation: float = 1.0,
                generator: torch.Generator | None = None, **_) -> torch.Tensor:
        return self.synthesis(self.ws(z, c, truncation), generator)


class MinibatchStd(nn.Module):
    """Appends the standard deviation across groups of samples as one feature map, so D can see diversity."""

    def __init__(self, group: int = 4):
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        group = min(self.group, batch)
        while batch % group:
            group -= 1
        y = x.view(group, -1, channels, height, width)  # [G, B/G, C, H, W]
        y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # [B/G]
        y = y.view(-1, 1, 1, 1).repeat(group, 1, height, width)  # [B, 1, H, W]
        return torch.cat([x, y], dim=1)


class StyleGAN2Discriminator(nn.Module):
    """fromRGB, residual downsampling blocks 32 -> 4, minibatch std, conv, linear, projection head."""

    def __init__(self, cond_dim: int = 64, channels: tuple[int, ...] = (32, 64, 128, 128)):  # at 32, 16, 8, 4 px
        super().__init__()
        self.from_rgb = nn.Sequential(nn.Conv2d(3, channels[0], 1), nn.LeakyReLU(0.2))
        self.blocks = nn.ModuleList()
        for cin, cout in zip(channels, channels[1:]):
            self.blocks.append(nn.ModuleDict({
                "main": nn.Sequential(nn.Conv2d(cin, cin, 3, padding=1), nn.LeakyReLU(0.2),
                                      nn.Conv2d(cin, cout, 3, padding=1), nn.LeakyReLU(0.2), nn.AvgPool2d(2)),
                "skip": nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(cin, cout, 1, bias=False))}))
        top = channels[-1]
        self.epilogue = nn.Sequential(MinibatchStd(), nn.Conv2d(top + 1, top, 3, padding=1), nn.LeakyReLU(0.2),
                                      nn.Flatten(), nn.Linear(top * 16, top), nn.LeakyReLU(0.2))
        self.head = Projection(top, cond_dim)

    def forward(self, images: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        x = self.from_rgb(images)
        for block in self.blocks:
            x = (block["main"](x) + block["skip"](x)) / math.sqrt(2)
        return self.head(self.epilogue(x), c)
