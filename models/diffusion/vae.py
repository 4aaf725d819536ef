"""The shared VAE of the latent families: diffusers AutoencoderKL, 32x32x3 images <-> 8x8x4 latents.

Latents are multiplied by `scaling_factor` (stored in the VAE config, measured on
world images so scaled latents have unit variance) before diffusion, and divided
by it before decoding.
"""
from __future__ import annotations

import dataclasses
import pathlib

import torch
from diffusers import AutoencoderKL

from models.checkpoints import CHECKPOINT_ROOT, CheckpointError, read_manifest

DEFAULT_PATH = CHECKPOINT_ROOT / "vae"


@dataclasses.dataclass
class VAEConfig:
    block_out_channels: tuple[int, ...] = (32, 64, 64)  # 32x32 -> 16x16 -> 8x8
    latent_channels: int = 4
    layers_per_block: int = 1
    norm_groups: int = 16
    kl_weight: float = 5e-4  # weight of KL(q(z|x) || N(0, I)) against the per-pixel MSE


VAE_CONFIGS = {
    "tiny": VAEConfig(block_out_channels=(8, 16, 16), norm_groups=4, layers_per_block=1),  # tests
    "small": VAEConfig(),  # the shipped `vae`
}


def build_vae(config: VAEConfig) -> AutoencoderKL:
    levels = len(config.block_out_channels)
    return AutoencoderKL(in_channels=3, out_channels=3, latent_channels=config.latent_channels,
                         down_block_types=("DownEncoderBlock2D",) * levels,
                         up_block_types=("UpDecoderBlock2D",) * levels,
                         block_out_channels=config.block_out_channels, layers_per_block=config.layers_per_block,
                         norm_num_groups=config.norm_groups, sample_size=32, scaling_factor=1.0)


def encode(vae: AutoencoderKL, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """images [B,3,32,32] in [-1,1] -> scaled latents [B,4,8,8] (a sample of q(z|x), times scaling_factor)."""
    posterior = vae.encode(images).latent_dist
    return posterior.sample(generator) * vae.config.scaling_factor


def decode(vae: AutoencoderKL, latents: torch.Tensor) -> torch.Tensor:
    """scaled latents [B,4,8,8] -> images [B,3,32,32] in [-1,1] (unclipped)."""
    return vae.decode(latents / vae.config.scaling_factor).sample


@torch.no_grad()
def measure_scaling_factor(vae: AutoencoderKL, images: torch.Tensor) -> float:
    """1 / std of unscaled latent samples on these images, so that scaled latents have unit variance."""
    latents = vae.encode(images).latent_dist.sample(torch.Generator().manual_seed(0))  # [N,4,8,8]
    return float(1.0 / latents.std())


@torch.no_grad()
def psnr(vae: AutoencoderKL, images: torch.Tensor) -> float:
    """Reconstruction PSNR in dB (peak 1 on [0,1] pixels) of the posterior mean."""
    recon = vae.decode(vae.encode(images).latent_dist.mode()).sample.clamp(-1, 1)
    mse = ((recon - images) / 2).pow(2).mean(dim=(1, 2, 3))  # per image, on [0,1] scale
    return float((10 * torch.log10(1 / mse.clamp(min=1e-10))).mean())


def load(folder: pathlib.Path = DEFAULT_PATH) -> AutoencoderKL:
    folder = pathlib.Path(folder)
    read_manifest(folder)
    try:
        return AutoencoderKL.from_pretrained(folder / "vae").eval().requires_grad_(False)
    except Exception as error:
        raise CheckpointError(f"cannot load {folder / 'vae'}: {str(error).splitlines()[0]}") from None


def held_out_images(n: int = 256, seed: int = 4242, version: int = 2) -> torch.Tensor:
    """World images from a stream that training never draws (for PSNR and the scaling factor); version 1: the
    scenes the world-v1 checkpoints were measured on."""
    from world import ShapesDataset
    dataset = ShapesDataset(seed=seed, version=version)
    return torch.stack([dataset[i][0] for i in range(n)])  # [n,3,32,32]


def training_component(preset: str = "small", init_seed: int = 0):
    from models.training import Component

    config = VAE_CONFIGS[preset]
    torch.manual_seed(init_seed)  # the initial weights are part of the recipe
    vae = build_vae(config)

    def loss(images: torch.Tensor, captions: list[str], step: int) -> torch.Tensor:
        posterior = vae.encode(images).latent_dist
        z = posterior.sample(torch.Generator().manual_seed(20_000_003 + step))  # [B,4,8,8]
        recon = vae.decode(z).sample  # [B,3,32,32]
        kl = posterior.kl().mean() / images[0].numel()  # per pixel, like the MSE
        return torch.nn.functional.mse_loss(recon, images) + config.kl_weight * kl

    def export(network: AutoencoderKL, folder: pathlib.Path) -> dict:
        scaling = measure_scaling_factor(network, held_out_images(512))
        network.register_to_config(scaling_factor=scaling)
        network.save_pretrained(folder / "vae")
        return {"vae": {"class": "diffusers.AutoencoderKL", "preset": preset, "config": dataclasses.asdict(config),
                        "latent_shape": [config.latent_channels, 8, 8], "scaling_factor": scaling,
                        "parameters": sum(p.numel() for p in network.parameters())}}

    def evaluate(folder: pathlib.Path) -> dict:
        return {"reconstruction_psnr_db_held_out_256": round(psnr(load(folder), held_out_images(256)), 2)}

    return Component(name="vae", family="vae", network=vae, loss=loss, export=export, evaluate=evaluate,
                     weights="vae/diffusion_pytorch_model.safetensors")
