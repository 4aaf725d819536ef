"""What `python -m models train --model NAME` can train: name -> (component, config, default folder)."""
from __future__ import annotations

from models.checkpoints import CHECKPOINT_ROOT
from models.training import TrainConfig


def _text_encoder():
    from models.text.encoder import training_component
    config = TrainConfig(steps=1200, batch_size=128, lr=1e-3, warmup_steps=100, weight_decay=0.1,
                         ema_decay=None, checkpoint_every=200, sample_every=10**9, data_seed=1)
    return training_component("tiny"), config, CHECKPOINT_ROOT / "text-encoder"


def _ddpm(preset: str = "small"):
    from models.diffusion.unet import PRESETS
    from models.diffusion.pixel import training_component
    if preset not in PRESETS:
        raise ValueError(f"unknown --preset {preset!r} for ddpm; choose {', '.join(PRESETS)}")
    config = TrainConfig(steps=6000, batch_size=32, lr=1e-3, warmup_steps=200, ema_decay=0.999,
                         caption_dropout=0.1, checkpoint_every=100, sample_every=500, data_seed=2)
    return training_component(preset), config, CHECKPOINT_ROOT / "ddpm"


TRAINABLES = {"text-encoder": _text_encoder, "ddpm": _ddpm}


def _vae():
    from models.diffusion.vae import DEFAULT_PATH, training_component
    config = TrainConfig(steps=1500, batch_size=32, lr=5e-4, warmup_steps=100, ema_decay=0.999,
                         checkpoint_every=200, sample_every=10**9, data_seed=3)
    return training_component("small"), config, DEFAULT_PATH


def _latent_config() -> TrainConfig:
    # one recipe for both latent backbones, so that only the denoiser differs (the DiT paper's comparison)
    # the last 1,500 steps cool the learning rate down to 10 % (what took the DDPM from 70 % to 89 %)
    return TrainConfig(steps=6000, batch_size=32, lr=5e-4, warmup_steps=300, cooldown_steps=1500, ema_decay=0.999,
                       caption_dropout=0.1, checkpoint_every=250, sample_every=1000, data_seed=4)


def _ldm():
    from models.diffusion.latent import training_component
    return training_component("unet"), _latent_config(), CHECKPOINT_ROOT / "ldm"


def _dit():
    from models.diffusion.latent import training_component
    return training_component("dit"), _latent_config(), CHECKPOINT_ROOT / "dit"


TRAINABLES.update({"vae": _vae, "ldm": _ldm, "dit": _dit})


def _gan(arch: str = "stylegan2", loss: str = "non-saturating", text_losses: bool = True):
    from models.gan.training import training_component
    stylegan = arch == "stylegan2"
    # the GAN papers' optimisers: Adam(0.5, 0.999) at 2e-4 for DCGAN, Adam(0, 0.99) at 2e-3 for StyleGAN2
    # (equalised learning rate); no EMA for DCGAN, whose batch-norm statistics belong to the raw weights
    config = TrainConfig(steps=3000, batch_size=32, lr=2e-3 if stylegan else 2e-4, warmup_steps=1,
                         betas=(0.0, 0.99) if stylegan else (0.5, 0.999), grad_clip=1e9,
                         ema_decay=0.999 if stylegan else None, checkpoint_every=250, sample_every=500, data_seed=5)
    return training_component(arch, loss, text_losses=text_losses), config, CHECKPOINT_ROOT / "gan"


TRAINABLES["gan"] = _gan


def _clip_evaluator():
    from models.text.encoder import training_component
    # the evaluation suite's CLIP (CLIP score, world FID features): a wider, deeper configuration, its own
    # initial weights and its own data stream, so no generator is graded by the encoder it was trained with
    config = TrainConfig(steps=1500, batch_size=128, lr=1e-3, warmup_steps=100, weight_decay=0.1,
                         ema_decay=None, checkpoint_every=200, sample_every=10**9, data_seed=21)
    return training_component("evaluator", init_seed=1), config, CHECKPOINT_ROOT / "clip-evaluator"


TRAINABLES["clip-evaluator"] = _clip_evaluator
