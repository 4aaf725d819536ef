"""Training `dit-layout`: the shipped `dit` warm-started with grounding tokens, on world scenes' exact layouts.

Same VAE, text encoder, noise schedule and objective as `dit`. The new parts (grounding tokens, one gated
self-attention per block) start with their gates closed, so step 0 computes exactly what `dit` computes.
Captions are dropped by the loop, layouts here, independently (each 10 %): the model learns caption
alone, layout alone and both, and guidance pushes away from "neither".
"""
from __future__ import annotations

import dataclasses
import pathlib

import numpy as np
import torch
from safetensors.torch import load_file

from models.checkpoints import CHECKPOINT_ROOT, CheckpointError, pin, read_manifest
from models.contract import parameter_count
from models.diffusion.dit import DiT, DiTConfig
from models.diffusion.grounding import layout_rows
from models.diffusion.latent import LATENT_SHAPE, load, save_dit
from models.diffusion.schedule import NoiseSchedule, diffusion_loss, objective
from models.diffusion.vae import DEFAULT_PATH as VAE_PATH
from models.diffusion.vae import decode, encode
from models.diffusion.vae import load as load_vae
from models.text.encoder import DEFAULT_PATH as TEXT_ENCODER_PATH
from models.text.encoder import WEIGHTS as TEXT_ENCODER_WEIGHTS
from models.text.encoder import TextEncoder
from world.layout import from_objects

LAYOUT_DROPOUT = 0.1
LAYOUT_DROP_STREAM = (4, 2)  # numpy seed prefix of the layout-dropout draws; caption dropout uses (data seed, 1)
DIT_FOLDER = CHECKPOINT_ROOT / "dit"


def warm_started(dit_folder: pathlib.Path) -> DiT:
    """A grounded DiT holding `dit_folder`'s weights; only the grounding parts are new (gates closed)."""
    try:
        config = DiTConfig(**read_manifest(dit_folder)["components"]["dit"]["config"])
        network = DiT(dataclasses.replace(config, grounding=True))
        result = network.load_state_dict(load_file(dit_folder / "dit" / "model.safetensors"), strict=False)
    except (OSError, KeyError, RuntimeError) as error:
        raise CheckpointError(f"cannot warm-start from {dit_folder}: {str(error).splitlines()[0]}") from None
    new = {k for k in result.missing_keys if not (k.startswith("grounding.") or ".fuser." in k)}
    if new or result.unexpected_keys:
        raise CheckpointError(f"{dit_folder} is not a caption-only DiT: {sorted(new or result.unexpected_keys)[:3]}")
    return network


def dropped_layouts(objects: list[list[dict]], step: int, rate: float = LAYOUT_DROPOUT) -> list:
    drop = np.random.default_rng([*LAYOUT_DROP_STREAM, step]).random(len(objects)) < rate
    return [None if d else from_objects(o) for o, d in zip(objects, drop)]


def training_component(name: str = "dit-layout", dit_folder: pathlib.Path = DIT_FOLDER,
                       text_encoder_path: pathlib.Path = TEXT_ENCODER_PATH, vae_path: pathlib.Path = VAE_PATH):
    from models.training import Component

    # the schedule and objective of the DiT it starts from (the shipped dit-layout started from an epsilon dit;
    # the dit shipped since is on the v recipe, so retraining today gives a v-prediction dit-layout)
    schedule = NoiseSchedule(**read_manifest(pathlib.Path(dit_folder))["schedule"])
    min_snr_gamma = None if schedule.zero_terminal_snr else 5.0
    encoder = TextEncoder.from_pretrained(text_encoder_path)
    vae = load_vae(vae_path)
    network = warm_started(pathlib.Path(dit_folder))

    def loss(images: torch.Tensor, captions: list[str], step: int, objects: list[list[dict]]) -> torch.Tensor:
        generator = torch.Generator().manual_seed(10_000_019 + step)  # noise and t are a function of the step
        with torch.no_grad():  # both frozen
            states, pooled = encoder(captions)  # [B,L,W], [B,E]
            latents = encode(vae, images, generator)  # [B,4,8,8]
        rows = layout_rows(dropped_layouts(objects, step), states.shape[-1])  # [B,K,W]
        return diffusion_loss(network, latents, torch.cat([states, rows], dim=1), pooled, schedule, generator,
                              min_snr_gamma)

    def export(net: torch.nn.Module, folder: pathlib.Path) -> dict:
        save_dit(net, folder / "dit")
        return {"dit": {"preset": "small+grounding", "config": dataclasses.asdict(net.config),
                        "parameters": parameter_count(net), "warm_start": pin(folder, pathlib.Path(dit_folder),
                                                                              "dit/model.safetensors")},
                "text_encoder": pin(folder, pathlib.Path(text_encoder_path), TEXT_ENCODER_WEIGHTS),
                "vae": pin(folder, pathlib.Path(vae_path), "vae/diffusion_pytorch_model.safetensors")}

    def evaluate(folder: pathlib.Path) -> dict:
        from world.accuracy import score, world_prompts
        generator = load(folder)
        return {f"{task}_full_g3_ddim25_32prompts": score(generator, world_prompts(32, task), 3.0, 25)["full"]
                for task in ("single", "pair", "count", "count-high", "multi", "mixed", "between", "sizes")}

    def sample_grid(net: torch.nn.Module, step: int):
        from models.diffusion.latent import DESCRIPTIONS
        from models.diffusion.generator import diffusion_info
        from models.diffusion.layout_generator import LayoutDiffusionGenerator
        from models.sample_grid import grid_of
        generator = LayoutDiffusionGenerator(diffusion_info(name, name, 0, description=DESCRIPTIONS["dit-layout"]),
                                             net, encoder, schedule, LATENT_SHAPE, decode=lambda z: decode(vae, z))
        return grid_of(generator, steps=25, guidance=3.0)

    return Component(name=name, family=name, network=network, loss=loss, export=export, evaluate=evaluate,
                     sample_grid=sample_grid, weights="dit/model.safetensors", wants_objects=True,
                     extra_manifest={"backbone": "dit", "schedule": dataclasses.asdict(schedule),
                                     "objective": objective(schedule, min_snr_gamma) + " on VAE latents; layout "
                                                  f"dropout {LAYOUT_DROPOUT:g}"})
