"""The GAN family behind the generator contract: training component, collapse watch, loading.

`python -m models train --model gan --preset NAME` (RECIPES: dcgan, stylegan2, dcgan-wgan-gp, ...).
Guidance does not apply to a GAN; its fidelity/diversity knob is truncation psi (towards the mean w of
the prompt for StyleGAN2, towards the mean z = 0 for DCGAN), passed as `truncation=` to generate().
"""
from __future__ import annotations

import dataclasses
import pathlib

import torch
from PIL import Image

from models.checkpoints import (CHECKPOINT_ROOT, COMPONENT_WEIGHTS, CheckpointError, load_config_and_weights,
                                load_weights_into, read_manifest, resolve_pin)
from models.contract import (GeneratorBase, GeneratorInfo, ImageRequest, StepCallback, batches, check_truncation,
                             image_generator)
from models.gan.losses import DEFAULT_LOSS, LOSSES
from models.gan.dcgan import DCGANDiscriminator, DCGANGenerator
from models.gan.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator
from models.text.encoder import WEIGHTS as TEXT_ENCODER_WEIGHTS
from models.text.encoder import TextEncoder
from world import to_image

ARCHS = ("dcgan", "stylegan2")
WEIGHTS = f"generator/{COMPONENT_WEIGHTS}"
# experiments removed with their code (MSGAN's mode-seeking term, PacGAN's packing): the shipped configs still
# carry their fields, at these values, which mean "off"
RETIRED = {"mode_seeking_weight": 0.0, "mode_seeking_on": "pixels", "pack": 1}


@dataclasses.dataclass
class GANConfig:
    """Everything a GAN recipe sets, from the command line's --preset to the manifest: one object end to end."""
    arch: str = "stylegan2"
    loss: str = DEFAULT_LOSS
    z_dim: int = 64
    n_critic: int = 1  # D steps per G step (5 for the WGANs, as in their papers)
    r1_gamma: float = 0.0  # R1 on real images, applied lazily every r1_every steps (StyleGAN2: on)
    r1_every: int = 16
    pl_weight: float = 0.0  # path-length regularisation, lazily every pl_every steps (StyleGAN2: on)
    pl_every: int = 4
    style_mixing: float = 0.0  # chance a batch mixes two w's at a random layer (StyleGAN2: 0.9)
    width: int = 64  # DCGAN base channels
    # text losses (GAN-INT-CLS's matching-aware D, XMC-GAN's image-text contrastive term for G); without them
    # D wins on realism alone and G learns to ignore the caption (23 % color+shape, 300 prompts, 3,000 steps)
    mismatch: bool = True  # D also scores real images under another image's caption as fake
    contrastive_weight: float = 1.0  # G: InfoNCE between the world CLIP's embedding of G(z, c) and the captions
    # a run warm-started from an exported G starts with a fresh D (only G is exported): for this many steps only
    # D learns, so that G does not first follow a random discriminator away from what it had learned
    d_warmup_steps: int = 0

    @classmethod
    def from_dict(cls, saved: dict) -> "GANConfig":
        """A saved config (config.json, a manifest's); the retired experiments' fields must be off."""
        for key, off in RETIRED.items():
            if saved.get(key, off) != off:
                raise CheckpointError(f"this GAN was trained with {key}={saved[key]!r}, an experiment no longer "
                                      f"in the code (see docs/experiments/)")
        return cls(**{key: value for key, value in saved.items() if key not in RETIRED})


def preset(arch: str, loss: str, text_losses: bool = True) -> GANConfig:
    """The config of one architecture x loss (the papers' critic steps and regularisers)."""
    if arch not in ARCHS:
        raise ValueError(f"unknown GAN architecture {arch!r}; choose {', '.join(ARCHS)}")
    if loss not in LOSSES:
        raise ValueError(f"unknown GAN loss {loss!r}; choose {', '.join(LOSSES)}")
    if not text_losses:
        return dataclasses.replace(preset(arch, loss), mismatch=False, contrastive_weight=0.0)
    critic_steps = 5 if loss.startswith("wgan") else 1
    if arch == "stylegan2":
        # R1 is for the cross-entropy games; a WGAN critic gets its own constraint (clipping or GP)
        return GANConfig(arch, loss, n_critic=critic_steps, r1_gamma=0.0 if loss.startswith("wgan") else 0.5,
                         pl_weight=2.0, style_mixing=0.9)
    return GANConfig(arch, loss, n_critic=critic_steps)


# the named recipes `train --model gan --preset NAME` offers: ARCH (non-saturating loss) or ARCH-LOSS, text losses
# on; "dcgan" ships; "dcgan-no-text-losses" is the adversarial game alone (the ablation behind the text losses)
RECIPES: dict[str, GANConfig] = {
    **{(arch if loss == DEFAULT_LOSS else f"{arch}-{loss}"): preset(arch, loss) for arch in ARCHS for loss in LOSSES},
    "dcgan-no-text-losses": preset("dcgan", DEFAULT_LOSS, text_losses=False),
}


def recipe(name: str) -> GANConfig:
    if name not in RECIPES:
        raise ValueError(f"unknown --preset {name!r} for a GAN; choose {', '.join(RECIPES)}")
    return dataclasses.replace(RECIPES[name])


def build(config: GANConfig, cond_dim: int) -> tuple[torch.nn.Module, torch.nn.Module]:
    if config.arch == "dcgan":
        return (DCGANGenerator(config.z_dim, cond_dim, config.width),
                DCGANDiscriminator(cond_dim, config.width, batch_norm=config.loss != "wgan-gp"))
    return StyleGAN2Generator(config.z_dim, cond_dim), StyleGAN2Discriminator(cond_dim)


# ---------------------------------------------------------------- generation
class GANGenerator(GeneratorBase):
    """One generator forward per batch; each image draws z from its own stream image_generator(seed, i)."""

    def __init__(self, info: GeneratorInfo, network: torch.nn.Module, config: GANConfig, text_encoder: TextEncoder,
                 device: str = "cpu"):
        self.info, self.network, self.config, self.text_encoder, self.device = info, network, config, text_encoder, device

    @torch.no_grad()
    def flops_per_evaluation(self) -> float:
        """FLOPs of the one generator pass that makes one image (text encoding excluded)."""
        from torch.utils.flop_counter import FlopCounterMode
        z = torch.zeros(1, self.config.z_dim, device=self.device)
        _, pooled = self.text_encoder([""])
        with FlopCounterMode(display=False) as counter:
            if self.config.arch == "stylegan2":
                self.network.synthesis(self.network.ws(z, pooled), torch.Generator().manual_seed(0))
            else:
                self.network(z, pooled)
        return float(counter.get_total_flops())

    @torch.no_grad()
    def center_of(self, pooled: torch.Tensor, samples: int = 256) -> torch.Tensor | None:
        """The mean w of one prompt (what StyleGAN2 truncation pulls towards); None for DCGAN (mean z = 0)."""
        if self.config.arch != "stylegan2":
            return None
        z = torch.randn((samples, self.config.z_dim), generator=torch.Generator().manual_seed(0)).to(self.device)
        return self.network.mapping(z, pooled.expand(samples, -1)).mean(0)

    @torch.no_grad()
    def make_images(self, requests: list[ImageRequest], steps: int, guidance: float, sampler: str | None,
                    on_step: StepCallback | None, batch_size: int, truncation: float = 1.0) -> list[Image.Image]:
        """One forward pass per batch (guidance and steps do not apply); `truncation`: psi, 1 for none."""
        check_truncation(truncation)
        images: list[Image.Image] = []
        for chunk in batches(requests, batch_size):
            streams = [image_generator(r.seed, r.index) for r in chunk]
            z = torch.cat([torch.randn((1, self.config.z_dim), generator=g) for g in streams]).to(self.device)  # [b,z]
            _, pooled = self.text_encoder([r.prompt for r in chunk])  # [b,E]
            if self.config.arch == "stylegan2":  # per-layer noise comes from one generator: one row at a time
                x = torch.cat([self._stylegan2_row(z[i:i + 1], pooled[i:i + 1], truncation, g)
                               for i, g in enumerate(streams)])
            else:
                x = self.network(z * truncation, pooled)  # DCGAN: towards the mean z = 0; [b,3,H,W]
            images += [to_image(row) for row in x]
            if on_step is not None:
                on_step(len(images), len(requests), list(images))
        return images

    def _stylegan2_row(self, z: torch.Tensor, pooled: torch.Tensor, truncation: float,
                       generator: torch.Generator) -> torch.Tensor:
        ws = self.network.ws(z, pooled, truncation, w_center=self.center_of(pooled))
        return self.network.synthesis(ws, generator)  # [1,3,H,W]


def gan_info(name: str, config: GANConfig, parameters: int) -> GeneratorInfo:
    return GeneratorInfo(
        name=name, family="gan", conditioning="text", resolution=32, parameters=parameters, default_steps=1,
        default_guidance=0.0, guidance_applies=False,
        description=f"{config.arch} GAN, {config.loss} loss, conditioned on the pooled text vector (projection "
                    f"discriminator); one forward pass, guidance does not apply: truncation psi is the "
                    f"fidelity/diversity knob")


def load(folder: pathlib.Path = CHECKPOINT_ROOT / "gan", device: str = "cpu") -> GANGenerator:
    folder = pathlib.Path(folder)
    manifest = read_manifest(folder)
    encoder = TextEncoder.from_pretrained(resolve_pin(folder, manifest["components"]["text_encoder"],
                                                      TEXT_ENCODER_WEIGHTS))
    config, state = load_config_and_weights(folder / "generator", GANConfig)  # its digest checked by read_manifest
    network = load_weights_into(build(config, encoder.config.embed_dim)[0], state, folder / "generator")
    network.eval().requires_grad_(False).to(device)
    parameters = sum(p.numel() for p in network.parameters()) + encoder.parameter_count()
    return GANGenerator(gan_info(manifest["name"], config, parameters), network, config, encoder.to(device), device)
