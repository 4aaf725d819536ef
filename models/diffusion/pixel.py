"""Pixel-space DDPM: a diffusers UNet2DConditionModel on 32x32 images, cross-attending to text tokens."""
from __future__ import annotations

import dataclasses
import pathlib

import torch
from diffusers import UNet2DConditionModel

from models.acceleration import for_device
from models.checkpoints import CHECKPOINT_ROOT, CheckpointError, pin, read_manifest, resolve_pin
from models.contract import parameter_count
from models.diffusion.schedule import NoiseSchedule, diffusion_loss, objective
from models.diffusion.unet import UNET_CONFIGS, UNetConfig, build_unet, unet_denoiser
from models.diffusion.generator import DiffusionGenerator, diffusion_info, save_time_metrics, watch_line
from models.text.encoder import DEFAULT_PATH as TEXT_ENCODER_PATH
from models.text.encoder import WEIGHTS as TEXT_ENCODER_WEIGHTS
from models.text.encoder import TextEncoder


def schedule_of(config: UNetConfig) -> NoiseSchedule:
    if config.v_prediction:
        return NoiseSchedule(config.schedule, spacing="trailing", prediction="v_prediction", zero_terminal_snr=True)
    return NoiseSchedule(config.schedule)


# ---------------------------------------------------------------- loading
def load(folder: pathlib.Path = CHECKPOINT_ROOT / "ddpm", text_encoder: TextEncoder | None = None,
         device: str = "cpu") -> DiffusionGenerator:
    folder = pathlib.Path(folder)
    manifest = read_manifest(folder)
    encoder_folder = resolve_pin(folder, manifest["components"]["text_encoder"], TEXT_ENCODER_WEIGHTS)
    text_encoder = text_encoder or TextEncoder.from_pretrained(encoder_folder)
    try:
        unet = UNet2DConditionModel.from_pretrained(folder / "unet").eval().requires_grad_(False)
    except Exception as error:
        raise CheckpointError(f"cannot load {folder / 'unet'}: {str(error).splitlines()[0]}") from None
    schedule = NoiseSchedule(**manifest["schedule"])
    info = diffusion_info(manifest["name"], "ddpm", parameter_count(unet) + text_encoder.parameter_count(),
                          description="pixel-space DDPM: U-Net with cross-attention to text tokens"
                                      + (" and the pooled text vector" if unet.config.class_embed_type else "")
                                      + f", {schedule.name} schedule"
                                      + (", v-prediction with zero terminal SNR" if schedule.zero_terminal_snr else "")
                                      + ", classifier-free guidance")
    # channels-last on CPU too: oneDNN's convolutions at 32x32 run faster that way (scripts/memory_format_vs.py)
    unet = for_device(unet, device, channels_last_on_cpu=True)
    return DiffusionGenerator(info, unet_denoiser(unet), text_encoder.to(device), schedule, sample_shape=(3, 32, 32),
                              device=device)


# ---------------------------------------------------------------- training
def training_component(preset: str = "small", text_encoder_path: pathlib.Path = TEXT_ENCODER_PATH,
                       name: str = "ddpm", init_seed: int = 0):
    from models.training import Component

    config = UNET_CONFIGS[preset]
    schedule = schedule_of(config)
    encoder = TextEncoder.from_pretrained(text_encoder_path)
    torch.manual_seed(init_seed)  # the initial weights are part of the recipe
    unet = build_unet(config, cross_attention_dim=encoder.config.text_width, pooled_dim=encoder.config.embed_dim)
    denoise = unet_denoiser(unet)

    def loss(images: torch.Tensor, captions: list[str], step: int) -> torch.Tensor:
        with torch.no_grad():
            states, pooled = encoder(captions)  # frozen
        generator = torch.Generator().manual_seed(10_000_019 + step)  # noise and t are a function of the step
        return diffusion_loss(denoise, images, states, pooled, schedule, generator, config.min_snr_gamma)

    def generator_for(network: UNet2DConditionModel) -> DiffusionGenerator:
        info = diffusion_info(name, "ddpm", parameter_count(network) + encoder.parameter_count())
        return DiffusionGenerator(info, unet_denoiser(network), encoder, schedule, sample_shape=(3, 32, 32))

    def sample_grid(network: UNet2DConditionModel, step: int):
        from models.sample_grid import grid_of
        return grid_of(generator_for(network), steps=25, guidance=3.0)

    def watch(network: UNet2DConditionModel, step: int) -> str:
        return watch_line(generator_for(network))

    def export(network: UNet2DConditionModel, folder: pathlib.Path) -> dict:
        network.save_pretrained(folder / "unet")
        schedule.scheduler("ddpm").save_pretrained(folder / "scheduler")
        return {
            "unet": {"class": "diffusers.UNet2DConditionModel", "preset": preset,
                     "config": dataclasses.asdict(config), "parameters": parameter_count(network)},
            "text_encoder": pin(folder, pathlib.Path(text_encoder_path), TEXT_ENCODER_WEIGHTS),
        }

    def evaluate(folder: pathlib.Path) -> dict:
        return save_time_metrics(load(folder))

    return Component(name=name, family="ddpm", network=unet, loss=loss, export=export, evaluate=evaluate,
                     sample_grid=sample_grid, watch=watch, weights="unet/diffusion_pytorch_model.safetensors",
                     extra_manifest={"schedule": dataclasses.asdict(schedule),
                                     "objective": objective(schedule, config.min_snr_gamma)})
