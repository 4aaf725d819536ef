"""The image tokenizer of the autoregressive family: an autoencoder with finite scalar quantization (FSQ).

32x32x3 images <-> an 8x8 grid of codes. The encoder and decoder are the latent families' diffusers
AutoencoderKL (models/diffusion/vae.py), warm-started from the shipped `vae`; between them each of the
4 latent channels is bounded and rounded to one of `levels[c]` values (Mentzer et al. 2023, "Finite Scalar
Quantization: VQ-VAE Made Simple"):

    bounded_c = tanh(z_c / input_scale + shift_c) * half_c - offset_c     half_c = (L_c - 1)(1 - eps) / 2
    q_c       = round(bounded_c)  (straight-through: the gradient skips the rounding)
    code      = sum_c (q_c + L_c // 2) * prod_{c' < c} L_c'                  one of prod_c L_c codes

with offset 0.5 and shift atanh(0.5 / half) for even L (so the L values are -L/2 .. L/2 - 1). There is no
codebook to learn, no commitment loss and no dead codes; the loss is the reconstruction MSE alone.
"""
from __future__ import annotations

import dataclasses
import math
import pathlib

import torch
from diffusers import AutoencoderKL

from models.checkpoints import (CHECKPOINT_ROOT, COMPONENT_WEIGHTS, load_config_and_weights, load_weights_into,
                                read_manifest, save_config_and_weights)
from models.diffusion.vae import VAE_CONFIGS
from models.diffusion.vae import build_vae

DEFAULT_PATH = CHECKPOINT_ROOT / "vq"
WEIGHTS = f"tokenizer/{COMPONENT_WEIGHTS}"


@dataclasses.dataclass
class TokenizerConfig:
    vae_preset: str = "small"  # the AutoencoderKL architecture (models/diffusion/vae.py VAE_CONFIGS)
    levels: tuple[int, ...] = (8, 5, 5, 5)  # values per latent channel: 8*5*5*5 = 1000 codes (the FSQ paper's ~1k)
    input_scale: float = 2.0  # latents are divided by this before tanh: |z| < 2 stays near the linear part
    grid: int = 8  # codes per side: 32x32 -> 8x8

    def __post_init__(self):
        self.levels = tuple(self.levels)  # config.json holds a list


TOKENIZER_CONFIGS = {
    "tiny": TokenizerConfig(vae_preset="tiny", levels=(4, 4, 4, 4)),  # tests: 256 codes, a 16-channel VAE
    "small": TokenizerConfig(),  # the shipped `vq`
}


class FSQ(torch.nn.Module):
    """Finite scalar quantization of [B, C, h, w] latents, C = len(levels)."""

    def __init__(self, levels: tuple[int, ...], input_scale: float = 1.0, eps: float = 1e-3):
        super().__init__()
        levels_t = torch.tensor(levels, dtype=torch.float64)
        half = (levels_t - 1) * (1 - eps) / 2
        offset = torch.where(levels_t % 2 == 0, 0.5, 0.0)
        basis = torch.cumprod(torch.tensor([1, *levels[:-1]], dtype=torch.float64), 0)
        for name, value in (("levels", levels_t), ("half_range", half), ("offset", offset),
                            ("shift", torch.atanh(offset / half)), ("basis", basis)):
            self.register_buffer(name, value.float().view(1, -1, 1, 1), persistent=False)
        self.input_scale = input_scale
        self.codebook_size = math.prod(levels)

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """z [B,C,h,w] -> q [B,C,h,w], integers in [-L//2, (L-1)//2] per channel, straight-through gradient."""
        bounded = torch.tanh(z / self.input_scale + self.shift) * self.half_range - self.offset  # [B,C,h,w]
        return bounded + (torch.round(bounded) - bounded).detach()

    def to_codes(self, q: torch.Tensor) -> torch.Tensor:
        """q [B,C,h,w] -> codes [B,h*w] (row-major), each in [0, codebook_size)."""
        digits = torch.round(q).add(torch.div(self.levels, 2, rounding_mode="floor"))  # [B,C,h,w], 0..L-1
        return (digits * self.basis).sum(1).flatten(1).long()  # [B,h*w]

    def from_codes(self, codes: torch.Tensor, grid: int) -> torch.Tensor:
        """codes [B,h*w] -> q [B,C,h,w] (the inverse of to_codes)."""
        codes = codes.view(-1, 1, grid, grid).float()  # [B,1,h,w]
        digits = torch.remainder(torch.div(codes, self.basis, rounding_mode="floor"), self.levels)  # [B,C,h,w]
        return digits - torch.div(self.levels, 2, rounding_mode="floor")

    def dequantize(self, q: torch.Tensor) -> torch.Tensor:
        """q -> the decoder's input, on the latent scale: bounded / half * input_scale ~= z where tanh is linear."""
        return (q + self.offset) / self.half_range * self.input_scale


class FSQTokenizer(torch.nn.Module):
    """images [B,3,32,32] in [-1,1] <-> codes [B,64]; `vae` is an AutoencoderKL whose posterior mean is quantized."""

    def __init__(self, config: TokenizerConfig):
        super().__init__()
        self.config = config
        vae_config = VAE_CONFIGS[config.vae_preset]
        if vae_config.latent_channels != len(config.levels):
            raise ValueError(f"FSQ needs one level per latent channel: {vae_config.latent_channels} channels, "
                             f"{len(config.levels)} levels")
        self.vae = build_vae(vae_config)
        self.fsq = FSQ(config.levels, config.input_scale)

    @property
    def codebook_size(self) -> int:
        return self.fsq.codebook_size

    @property
    def tokens(self) -> int:
        return self.config.grid ** 2

    def quantized(self, images: torch.Tensor) -> torch.Tensor:
        """images [B,3,32,32] -> q [B,C,8,8] (straight-through, for training)."""
        moments = self.vae.quant_conv(self.vae.encoder(images))  # [B,2C,8,8]: mean, log-variance
        return self.fsq.quantize(moments[:, :len(self.config.levels)])  # the mean, quantized

    def decode_quantized(self, q: torch.Tensor) -> torch.Tensor:
        """q [B,C,8,8] -> images [B,3,32,32] in [-1,1] (unclipped)."""
        return self.vae.decoder(self.vae.post_quant_conv(self.fsq.dequantize(q)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """The reconstruction through the quantizer: images [B,3,32,32] -> [B,3,32,32]."""
        return self.decode_quantized(self.quantized(images))

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """images [B,3,32,32] -> codes [B,64]."""
        return self.fsq.to_codes(self.quantized(images))

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [B,64] -> images [B,3,32,32] in [-1,1] (unclipped)."""
        return self.decode_quantized(self.fsq.from_codes(codes, self.config.grid))

    # ------------------------------------------------------------ persistence
    def save_pretrained(self, folder: pathlib.Path) -> None:
        save_config_and_weights(pathlib.Path(folder) / "tokenizer", self.config, self.state_dict())

    @classmethod
    def from_pretrained(cls, folder: pathlib.Path = DEFAULT_PATH) -> "FSQTokenizer":
        """A checkpoint folder with generator.json (digests verified), tokenizer/config.json and the weights."""
        folder = pathlib.Path(folder)
        read_manifest(folder)
        config, state = load_config_and_weights(folder / "tokenizer", TokenizerConfig)
        return load_weights_into(cls(config), state, folder / "tokenizer").eval().requires_grad_(False)


def warm_start_from_vae(tokenizer: FSQTokenizer, vae_folder: pathlib.Path) -> None:
    """Copy a trained AutoencoderKL's weights (the shipped `vae`) into the tokenizer's encoder and decoder."""
    vae = AutoencoderKL.from_pretrained(pathlib.Path(vae_folder) / "vae")
    tokenizer.vae.load_state_dict(vae.state_dict())


@torch.no_grad()
def psnr(tokenizer: FSQTokenizer, images: torch.Tensor) -> float:
    """Reconstruction PSNR in dB (peak 1 on [0,1] pixels) through the codes, averaged over images."""
    recon = tokenizer.decode(tokenizer.encode(images)).clamp(-1, 1)  # [N,3,32,32]
    mse = ((recon - images) / 2).pow(2).mean(dim=(1, 2, 3))  # per image, on the [0,1] scale
    return float((10 * torch.log10(1 / mse.clamp(min=1e-10))).mean())


@torch.no_grad()
def codebook_usage(tokenizer: FSQTokenizer, images: torch.Tensor) -> float:
    """Share of the codebook used at least once on these images."""
    return float(tokenizer.encode(images).unique().numel() / tokenizer.codebook_size)
