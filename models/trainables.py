"""What `python -m models train --model NAME` can train: name -> recipe (options, config, default folder).

Each trainable's `defaults` are the options of what ships as NAME (models/checkpoints/NAME/generator.json,
its "command" and "components"), so `train --model NAME` with no other flag trains that recipe; its step
count and learning rate are the first run's (a shipped model that was trained on with --init-from records
those runs in its manifest). tests/test_cli.py checks this against every shipped manifest.
"""
from __future__ import annotations

import dataclasses
import pathlib
from typing import Callable

from models.checkpoints import CHECKPOINT_ROOT
from models.training import Component, TrainConfig


@dataclasses.dataclass(frozen=True)
class Trainable:
    config: Callable[..., TrainConfig]  # (**options) -> the run's TrainConfig; cheap, builds no network
    component: Callable[..., Component]  # (**options) -> the component (builds networks, loads frozen parts)
    out: pathlib.Path  # the default --out
    defaults: dict = dataclasses.field(default_factory=dict)  # family options: the shipped recipe's
    init_from: pathlib.Path | None = None  # the default --init-from: a recipe that starts from another shipped model

    def options(self, **given) -> dict:
        """The defaults with the options given (None: not given) on top; ValueError for an unknown one."""
        unknown = sorted(k for k, v in given.items() if v is not None and k not in self.defaults)
        if unknown:
            raise ValueError(f"option {unknown[0]!r} does not apply to this model")
        return {**self.defaults, **{k: v for k, v in given.items() if v is not None}}


# ---------------------------------------------------------------- text encoders
def _text_encoder_config() -> TrainConfig:
    return TrainConfig(steps=1200, batch_size=128, lr=1e-3, warmup_steps=100, weight_decay=0.1,
                       ema_decay=None, checkpoint_every=200, sample_every=10**9, data_seed=1)


def _text_encoder() -> Component:
    from models.text.encoder import training_component
    return training_component("tiny")


def _text_t5_config() -> TrainConfig:
    # span corruption on the world v2 caption stream; the loop's images are drawn and unused
    return TrainConfig(steps=3000, batch_size=128, lr=1e-3, warmup_steps=200, cooldown_steps=1000, weight_decay=0.01,
                       ema_decay=None, checkpoint_every=250, sample_every=10**9, data_seed=11)


def _text_t5() -> Component:
    from models.text.span_corruption import training_component
    return training_component("small", data_seed=_text_t5_config().data_seed)


def _clip_evaluator_config() -> TrainConfig:
    # the evaluation suite's CLIP (CLIP score, world FID features): a wider, deeper configuration, its own
    # initial weights and its own data stream, so no generator is graded by the encoder it was trained with
    return TrainConfig(steps=1500, batch_size=128, lr=1e-3, warmup_steps=100, weight_decay=0.1,
                       ema_decay=None, checkpoint_every=200, sample_every=10**9, data_seed=21)


def _clip_evaluator() -> Component:
    from models.text.encoder import training_component
    return training_component("evaluator", init_seed=1)


# ---------------------------------------------------------------- pixel diffusion
def _ddpm_config(preset: str) -> TrainConfig:
    from models.diffusion.unet import UNET_CONFIGS
    if preset not in UNET_CONFIGS:
        raise ValueError(f"unknown --preset {preset!r} for ddpm; choose {', '.join(UNET_CONFIGS)}")
    return TrainConfig(steps=6000, batch_size=32, lr=1e-3, warmup_steps=200, ema_decay=0.999,
                       caption_dropout=0.1, checkpoint_every=100, sample_every=500, data_seed=2)


def _ddpm(preset: str) -> Component:
    from models.diffusion.pixel import training_component
    _ddpm_config(preset)  # the unknown-preset message
    return training_component(preset)


# ---------------------------------------------------------------- latent diffusion
def _vae_config() -> TrainConfig:
    return TrainConfig(steps=1500, batch_size=32, lr=5e-4, warmup_steps=100, ema_decay=0.999,
                       checkpoint_every=200, sample_every=10**9, data_seed=3)


def _vae() -> Component:
    from models.diffusion.vae import training_component
    return training_component("small")


def _latent_config(preset: str) -> TrainConfig:
    from models.diffusion.latent import LATENT_PRESETS
    if preset not in LATENT_PRESETS:
        raise ValueError(f"unknown --preset {preset!r} for a latent model; choose {', '.join(LATENT_PRESETS)}")
    # one recipe for both latent backbones, so that only the denoiser differs (the DiT paper's comparison)
    # the last 1,500 steps cool the learning rate down to 10 % (what took the DDPM from 70 % to 89 %)
    return TrainConfig(steps=6000, batch_size=32, lr=5e-4, warmup_steps=300, cooldown_steps=1500, ema_decay=0.999,
                       caption_dropout=0.1, checkpoint_every=250, sample_every=1000, data_seed=4)


def _latent(kind: str) -> Callable[..., Component]:
    def component(preset: str) -> Component:
        from models.diffusion.latent import training_component
        _latent_config(preset)  # the unknown-preset message
        return training_component(kind, preset)
    return component


# `dit`'s budget: 14,000 steps of 32 images (its manifest: 11,000 on world v1, then 3,000 on v2), here all on
# the current world's stream from the same data seed; the last 3,000 cool down as its runs did
DIT_BUDGET_STEPS, DIT_BUDGET_COOLDOWN = 14_000, 3_000


def _one_axis_config(preset: str) -> TrainConfig:
    """flow and dit-t5: `dit`'s recipe and budget from scratch, so that one part differs (objective, encoder)."""
    return dataclasses.replace(_latent_config(preset), steps=DIT_BUDGET_STEPS, cooldown_steps=DIT_BUDGET_COOLDOWN)


def _flow(preset: str) -> Component:
    from models.diffusion.latent import training_component
    _latent_config(preset)  # the unknown-preset message
    return training_component("dit", preset, name="flow", flow=True)


def _dit_t5(preset: str) -> Component:
    from models.diffusion.latent import training_component
    from models.text.t5 import DEFAULT_PATH
    _latent_config(preset)
    return training_component("dit", preset, name="dit-t5", text_encoder_path=DEFAULT_PATH)


def _dit_layout_config() -> TrainConfig:
    # warm-started from the shipped `dit` (gates closed: step 0 is `dit`) at `dit`'s first-run rate, so the new
    # grounding parts learn fast, on a data stream `dit` never saw
    # (5,000 steps reached pairs 78 %, counts 94 % at guidance 3; pairs still swapped or shifted colors)
    return TrainConfig(steps=10000, batch_size=32, lr=5e-4, warmup_steps=200, cooldown_steps=3000, ema_decay=0.999,
                       caption_dropout=0.1, checkpoint_every=250, sample_every=1000, data_seed=6)


def _dit_layout() -> Component:
    from models.diffusion.layout_training import training_component
    return training_component()


# ---------------------------------------------------------------- GAN
def _gan_config(preset: str) -> TrainConfig:
    from models.gan.family import recipe
    stylegan = recipe(preset).arch == "stylegan2"  # an unknown --preset is a ValueError here
    # the GAN papers' optimisers: Adam(0.5, 0.999) at 2e-4 for DCGAN, Adam(0, 0.99) at 2e-3 for StyleGAN2
    # (equalised learning rate); no EMA for DCGAN, whose batch-norm statistics belong to the raw weights
    return TrainConfig(steps=3000, batch_size=32, lr=2e-3 if stylegan else 2e-4, warmup_steps=1,
                       betas=(0.0, 0.99) if stylegan else (0.5, 0.999), grad_clip=1e9,
                       ema_decay=0.999 if stylegan else None, checkpoint_every=250, sample_every=500, data_seed=5)


def _gan(preset: str) -> Component:
    from models.gan.family import recipe
    from models.gan.training import training_component
    return training_component(recipe(preset))


def gan_layout_recipe(preset: str):
    """gan-layout's GANConfig: the GAN recipe, its fresh D learning alone for the first 500 steps."""
    from models.gan.family import recipe
    return dataclasses.replace(recipe(preset), d_warmup_steps=500)


def _gan_layout_config(preset: str) -> TrainConfig:
    # the shipped gan trained on with captions that always give size and position (all the planner ever hands
    # gan-layout), on a data stream the gan never saw, at a quarter of its rate; D starts fresh, so it learns alone
    # first. (2,500 steps at 1e-4: single objects 99 %, but counts fell from 39 % to 23 %; this keeps them, 53 %)
    return dataclasses.replace(_gan_config(preset), steps=1500, lr=5e-5, drop_words=False, data_seed=9)


def _gan_layout(preset: str) -> Component:
    from models.gan.training import training_component
    return training_component(gan_layout_recipe(preset), name="gan-layout", planned=True)


# ---------------------------------------------------------------- autoregressive
def _vq_config() -> TrainConfig:
    # fine-tunes the shipped vae's encoder and decoder around the FSQ quantizer (22.0 dB before the first step)
    return TrainConfig(steps=600, batch_size=32, lr=3e-4, warmup_steps=50, cooldown_steps=200, ema_decay=0.999,
                       checkpoint_every=100, sample_every=200, data_seed=7)


def _vq() -> Component:
    from models.ar.training import tokenizer_component
    return tokenizer_component("small")


def _ar_config() -> TrainConfig:
    # next-code cross-entropy; 10 % of captions dropped to "" for classifier-free guidance on the logits
    return TrainConfig(steps=3000, batch_size=32, lr=1e-3, warmup_steps=200, cooldown_steps=1000, ema_decay=0.999,
                       caption_dropout=0.1, checkpoint_every=100, sample_every=500, data_seed=8)


def _ar() -> Component:
    from models.ar.training import ar_component
    return ar_component("small")


TRAINABLES: dict[str, Trainable] = {
    "text-encoder": Trainable(_text_encoder_config, _text_encoder, CHECKPOINT_ROOT / "text-encoder"),
    # the shipped ddpm is small-v, warm-started from small-pooled, itself from small (see its manifest)
    "ddpm": Trainable(_ddpm_config, _ddpm, CHECKPOINT_ROOT / "ddpm", {"preset": "small-v"}),
    "vae": Trainable(_vae_config, _vae, CHECKPOINT_ROOT / "vae"),
    "ldm": Trainable(_latent_config, _latent("unet"), CHECKPOINT_ROOT / "ldm", {"preset": "small-v"}),
    "dit": Trainable(_latent_config, _latent("dit"), CHECKPOINT_ROOT / "dit", {"preset": "small-v"}),
    "dit-layout": Trainable(_dit_layout_config, _dit_layout, CHECKPOINT_ROOT / "dit-layout"),
    # one axis of the modern DiT recipe each: the objective (rectified flow) and the text encoder (frozen T5)
    "flow": Trainable(_one_axis_config, _flow, CHECKPOINT_ROOT / "flow", {"preset": "small"}),
    "text-t5": Trainable(_text_t5_config, _text_t5, CHECKPOINT_ROOT / "text-t5"),
    "dit-t5": Trainable(_one_axis_config, _dit_t5, CHECKPOINT_ROOT / "dit-t5", {"preset": "small-v"}),
    # the shipped gan: preset dcgan (non-saturating loss, text losses on); the other GAN recipes
    # (minimax, WGAN, WGAN-GP, StyleGAN2) are named presets (models.gan.family.RECIPES)
    "gan": Trainable(_gan_config, _gan, CHECKPOINT_ROOT / "gan", {"preset": "dcgan"}),
    # the same DCGAN fed captions the planner completed (models/gan/planned.py)
    "gan-layout": Trainable(_gan_layout_config, _gan_layout, CHECKPOINT_ROOT / "gan-layout", {"preset": "dcgan"},
                            init_from=CHECKPOINT_ROOT / "gan"),
    "clip-evaluator": Trainable(_clip_evaluator_config, _clip_evaluator, CHECKPOINT_ROOT / "clip-evaluator"),
    # the autoregressive family: the FSQ tokenizer first, then the transformer over its codes
    "vq": Trainable(_vq_config, _vq, CHECKPOINT_ROOT / "vq"),
    "ar": Trainable(_ar_config, _ar, CHECKPOINT_ROOT / "ar"),
}
