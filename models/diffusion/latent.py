"""Latent diffusion with a swappable backbone: `ldm` (U-Net) and `dit` (Diffusion Transformer).

Both share the VAE, the text encoder, the noise schedule, the objective and the
training recipe; only the denoiser differs, as in the DiT paper's comparison.
Two more axes swap one part of `dit` each: the objective (`flow`, rectified flow as in
SD3 and Flux) and the text encoder (`dit-t5`, a frozen T5 encoder as in Imagen).
"""
from __future__ import annotations

import dataclasses
import pathlib

import torch

from models.acceleration import for_device
from models.checkpoints import (CheckpointError, load_config_and_weights, load_weights_into, pin, read_manifest,
                                resolve_pin, save_config_and_weights)
from models.diffusion.unet import UNetConfig, build_unet, unet_denoiser
from models.contract import parameter_count
from models.diffusion.schedule import NoiseSchedule, diffusion_loss, objective
from models.diffusion.generator import DiffusionGenerator, diffusion_info, save_time_metrics, watch_line
from models.diffusion.dit import DIT_CONFIGS
from models.diffusion.dit import DiT, DiTConfig
from models.diffusion.flow import FlowSchedule, flow_loss, read_schedule
from models.diffusion.flow import objective as flow_objective
from models.text.encoder import DEFAULT_PATH as TEXT_ENCODER_PATH
from models.text.encoder import WEIGHTS as TEXT_ENCODER_WEIGHTS
from models.text.t5 import load_text_encoder
from models.diffusion.vae import DEFAULT_PATH as VAE_PATH
from models.diffusion.vae import decode, encode
from models.diffusion.vae import load as load_vae

LATENT_SHAPE = (4, 8, 8)
LATENT_UNET_CONFIGS = {
    "tiny": UNetConfig(block_out_channels=(16, 32), attention=(True, True), norm_groups=8),  # tests
    "small": UNetConfig(block_out_channels=(64, 128), attention=(True, True), norm_groups=32),  # the first `ldm`
    # the pixel DDPM's proven recipe on the same U-Net: the pooled text vector in the timestep embedding and
    # v-prediction on a zero-terminal-SNR schedule (unweighted), which is what made its positions follow the caption
    "small-v": UNetConfig(block_out_channels=(64, 128), attention=(True, True), norm_groups=32,
                          pooled_conditioning=True, v_prediction=True, min_snr_gamma=None),
}
LATENT_PRESETS = ("tiny", "small", "tiny-v", "small-v")  # a "-v" preset is its backbone on the v recipe


def backbone_preset(preset: str) -> str:
    """The DiT's architecture preset behind a latent preset (the DiT takes the pooled vector in every recipe)."""
    return preset.removesuffix("-v")


def schedule_of(preset: str) -> NoiseSchedule:
    """The recipe a latent preset names: epsilon on the cosine schedule, or (a "-v" preset) v-prediction with a
    zero terminal SNR, sampled with trailing timesteps."""
    if preset.endswith("-v"):
        return NoiseSchedule("cosine", spacing="trailing", prediction="v_prediction", zero_terminal_snr=True)
    return NoiseSchedule("cosine")


def unet_config(preset: str) -> UNetConfig:
    if preset == "tiny-v":
        return dataclasses.replace(LATENT_UNET_CONFIGS["tiny"], pooled_conditioning=True, v_prediction=True, min_snr_gamma=None)
    return LATENT_UNET_CONFIGS[preset]
DESCRIPTIONS = {
    "unet": "latent diffusion: U-Net with cross-attention on 8x8x4 VAE latents, classifier-free guidance",
    "dit": "Diffusion Transformer: AdaLN-Zero blocks with cross-attention on 8x8x4 VAE latents",
    "dit-layout": "Diffusion Transformer reading the planner's layout as grounding tokens (gated self-attention) "
                  "beside cross-attention to the caption, on 8x8x4 VAE latents",
    "flow": "the DiT trained with rectified flow (velocity target, logit-normal t) and sampled with the "
            "flow-matching Euler scheduler, on 8x8x4 VAE latents",
    "dit-t5": "the DiT cross-attending to a frozen T5 encoder's states (span-corruption pre-trained on the "
              "world's captions), on 8x8x4 VAE latents",
}


def build_backbone(kind: str, preset: str, text_width: int, pooled_width: int) -> torch.nn.Module:
    if preset not in LATENT_PRESETS:
        raise ValueError(f"unknown --preset {preset!r} for a latent model; choose {', '.join(LATENT_PRESETS)}")
    if kind == "unet":
        return build_unet(unet_config(preset), cross_attention_dim=text_width, channels=4, sample_size=8,
                          pooled_dim=pooled_width)
    config = dataclasses.replace(DIT_CONFIGS[backbone_preset(preset)], text_width=text_width, pooled_width=pooled_width)
    return DiT(config)


def denoiser_of(kind: str, network: torch.nn.Module):
    return unet_denoiser(network) if kind == "unet" else network


def save_dit(network: DiT, folder: pathlib.Path) -> None:
    save_config_and_weights(folder, network.config, network.state_dict())


def load_dit(folder: pathlib.Path) -> DiT:
    config, weights = load_config_and_weights(folder, DiTConfig)
    return load_weights_into(DiT(config), weights, folder).eval().requires_grad_(False)


def load(folder: pathlib.Path, device: str = "cpu") -> DiffusionGenerator:
    from diffusers import UNet2DConditionModel

    folder = pathlib.Path(folder)
    manifest = read_manifest(folder)
    kind = manifest["backbone"]
    text_encoder = load_text_encoder(resolve_pin(folder, manifest["components"]["text_encoder"],
                                                 TEXT_ENCODER_WEIGHTS))
    vae_folder = resolve_pin(folder, manifest["components"]["vae"], "vae/diffusion_pytorch_model.safetensors")
    vae = load_vae(vae_folder).to(device)
    if kind == "unet":
        try:
            network = UNet2DConditionModel.from_pretrained(folder / "unet").eval().requires_grad_(False)
        except Exception as error:
            raise CheckpointError(f"cannot load {folder / 'unet'}: {str(error).splitlines()[0]}") from None
    else:
        network = load_dit(folder / "dit")
    grounded = kind == "dit" and network.config.grounding
    schedule = read_schedule(manifest["schedule"])
    described = "dit-layout" if grounded else manifest["family"] if manifest["family"] in DESCRIPTIONS else kind
    info = diffusion_info(manifest["name"], manifest["family"],
                          parameter_count(network, vae) + text_encoder.parameter_count(),
                          description=DESCRIPTIONS[described], flow=isinstance(schedule, FlowSchedule))
    if grounded:
        from models.diffusion.layout_generator import LayoutDiffusionGenerator
        family = LayoutDiffusionGenerator
    else:
        family = DiffusionGenerator
    return family(info, denoiser_of(kind, for_device(network, device)), text_encoder.to(device),
                  schedule, sample_shape=LATENT_SHAPE,
                  decode=lambda z: decode(vae, z), device=device,
                  encode=lambda x: vae.encode(x).latent_dist.mode() * vae.config.scaling_factor)  # the posterior mean


def evaluate_saved(folder: pathlib.Path) -> dict:
    return save_time_metrics(load(folder))


def training_component(kind: str, preset: str = "small", name: str | None = None,
                       text_encoder_path: pathlib.Path = TEXT_ENCODER_PATH, vae_path: pathlib.Path = VAE_PATH,
                       init_seed: int = 0, flow: bool = False):
    """flow: train with rectified flow instead of the preset's noise schedule (a "-v" preset is refused)."""
    from models.training import Component

    name = name or ("ldm" if kind == "unet" else "dit")
    if flow and preset.endswith("-v"):
        raise ValueError(f"--preset {preset} names a v-prediction recipe; a flow model takes the backbone "
                         f"alone: {backbone_preset(preset)}")
    schedule = FlowSchedule() if flow else schedule_of(preset)
    min_snr_gamma = None if flow or schedule.zero_terminal_snr else 5.0  # the v recipe is unweighted, as the DDPM's
    encoder = load_text_encoder(text_encoder_path)
    vae = load_vae(vae_path)
    torch.manual_seed(init_seed)  # the initial weights are part of the recipe
    network = build_backbone(kind, preset, encoder.config.text_width, encoder.config.embed_dim)
    denoise = denoiser_of(kind, network)

    def loss(images: torch.Tensor, captions: list[str], step: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(10_000_019 + step)  # noise and t are a function of the step
        with torch.no_grad():  # both frozen
            states, pooled = encoder(captions)
            latents = encode(vae, images, generator)  # [B,4,8,8], unit variance
        if flow:
            return flow_loss(denoise, latents, states, pooled, schedule, generator)
        return diffusion_loss(denoise, latents, states, pooled, schedule, generator, min_snr_gamma)

    def generator_for(net: torch.nn.Module) -> DiffusionGenerator:
        return DiffusionGenerator(diffusion_info(name, name, 0, flow=flow), denoiser_of(kind, net), encoder, schedule,
                                  LATENT_SHAPE, decode=lambda z: decode(vae, z))

    def sample_grid(net: torch.nn.Module, step: int):
        from models.sample_grid import grid_of
        return grid_of(generator_for(net), steps=25, guidance=3.0)  # the family's default sampler

    def watch(net: torch.nn.Module, step: int) -> str:
        return watch_line(generator_for(net))

    def export(net: torch.nn.Module, folder: pathlib.Path) -> dict:
        if kind == "unet":
            net.save_pretrained(folder / "unet")
        else:
            save_dit(net, folder / "dit")
        config = unet_config(preset) if kind == "unet" else net.config
        return {
            kind: {"preset": preset, "config": dataclasses.asdict(config), "parameters": parameter_count(net)},
            "text_encoder": pin(folder, pathlib.Path(text_encoder_path), TEXT_ENCODER_WEIGHTS),
            "vae": pin(folder, pathlib.Path(vae_path), "vae/diffusion_pytorch_model.safetensors"),
        }

    return Component(name=name, family=name, network=network, loss=loss, export=export, evaluate=evaluate_saved,
                     sample_grid=sample_grid, watch=watch,
                     weights="unet/diffusion_pytorch_model.safetensors" if kind == "unet" else "dit/model.safetensors",
                     extra_manifest={"backbone": kind, "schedule": dataclasses.asdict(schedule),
                                     "objective": (flow_objective(schedule) if flow else objective(schedule, min_snr_gamma))
                                                  + " on VAE latents"})
