"""Name -> generator. Built-in families load from models/checkpoints/NAME; hub pipelines by short name
(models.hub.HUB_MODELS) or as hub:<repo-id-or-folder>."""
from __future__ import annotations

import functools
import hashlib
import json
from typing import Callable

from models import hub
from models.checkpoints import CHECKPOINT_ROOT, MANIFEST, WEIGHT_SUFFIXES, CheckpointError, read_manifest


def _ddpm(device: str):
    from models.diffusion import pixel as ddpm
    return ddpm.load(CHECKPOINT_ROOT / "ddpm", device=device)


def _latent(name: str):
    def loader(device: str):
        from models.diffusion import latent
        return latent.load(CHECKPOINT_ROOT / name, device=device)
    return loader


def _gan(device: str):
    from models.gan import family as gan
    return gan.load(CHECKPOINT_ROOT / "gan", device=device)


def _gan_layout(device: str):
    from models.gan import planned
    return planned.load_planned(CHECKPOINT_ROOT / "gan-layout", device=device)


def _ar(device: str):
    from models.ar import family as ar
    return ar.load(CHECKPOINT_ROOT / "ar", device=device)


def _hybrid(device: str):
    from models.hybrid import compose
    return compose(load("ar", device), load("dit", device), device=device)


# a family made of other built-ins' weights (no checkpoint of its own): name -> the built-ins it loads
COMPOSED = {"ar+dit": ("ar", "dit")}

# name -> (loader, one-line description)
BUILTIN: dict[str, tuple[Callable, str]] = {
    "ddpm": (_ddpm, "pixel-space DDPM (U-Net, cross-attention, classifier-free guidance)"),
    "ldm": (_latent("ldm"), "latent diffusion (VAE + U-Net with cross-attention)"),
    "dit": (_latent("dit"), "Diffusion Transformer on VAE latents (AdaLN-Zero + cross-attention)"),
    "dit-layout": (_latent("dit-layout"), "the DiT reading the planner's layout as grounding tokens (LLM/rules -> "
                                          "layout tokens -> DiT)"),
    "flow": (_latent("flow"), "the DiT trained with rectified flow (SD3/Flux's objective), sampled by flow-matching "
                              "Euler"),
    "dit-t5": (_latent("dit-t5"), "the DiT reading a frozen T5 text encoder (Imagen's choice) instead of CLIP's"),
    "gan": (_gan, "text-conditioned GAN (StyleGAN2-style or DCGAN, projection discriminator)"),
    "gan-layout": (_gan_layout, "the GAN reading the planner's caption, the layout's free choices (size, cell) "
                                "drawn per image and written in"),
    "ar": (_ar, "autoregressive: a decoder-only transformer over FSQ image codes, prefixed by the caption's tokens"),
    "ar+dit": (_hybrid, "ar drafts the image, dit finishes it (the draft noised part-way and denoised, SDEdit)"),
}


class UnknownModel(KeyError):
    def __str__(self) -> str:
        return (f"unknown model {self.args[0]!r}; known: {', '.join(names())}, "
                f"or hub:<repo-id-or-folder> for any diffusers pipeline")


def names() -> list[str]:
    return list(BUILTIN) + list(hub.HUB_MODELS)


def is_available(name: str) -> bool:
    """True when the generator's weights are on disk (it may still fail to load if corrupt)."""
    if hub.is_hub_name(name):
        return hub.is_on_disk(name)
    if name in COMPOSED:
        return all(is_available(part) for part in COMPOSED[name])
    return name in BUILTIN and (CHECKPOINT_ROOT / name / MANIFEST).is_file()


def available() -> list[str]:
    """Every named generator whose weights are on disk: built-ins first, then cached hub checkpoints."""
    return [n for n in names() if is_available(n)]


@functools.lru_cache(maxsize=8)
def load(name: str, device: str = "cpu"):
    """The generator called `name`; raises UnknownModel or CheckpointError with a one-line message."""
    if hub.is_hub_name(name):
        return hub.load(name, device=device)
    if name not in BUILTIN:
        raise UnknownModel(name)
    if not is_available(name):
        missing = next(part for part in COMPOSED.get(name, (name,)) if not is_available(part))
        made_of = f" ({name} is made of {' and '.join(COMPOSED[name])})" if name in COMPOSED else ""
        raise CheckpointError(f"{missing} has no checkpoint in {CHECKPOINT_ROOT / missing}: "
                              f"run `python -m models train --model {missing}`{made_of}")
    return BUILTIN[name][0](device)


def world_version(name: str) -> str:
    """The Shapes world version a built-in was trained on ('1', '2'; a composed family's parts joined by '+', as
    'v1+2'), read from the manifest without loading weights; '?' when the manifest does not say."""
    if name in COMPOSED:
        return "+".join(sorted({world_version(part) for part in COMPOSED[name]}))
    return str(read_manifest(CHECKPOINT_ROOT / name, verify=False).get("world_version", "?"))


def checkpoint_fingerprint(name: str) -> str | None:
    """A short digest of a built-in checkpoint's weight hashes (from its manifest, nothing loaded);
    None for hub models and missing checkpoints, a CheckpointError for an unreadable manifest. It changes
    when the model is retrained."""
    if name in COMPOSED:  # changes when any part is retrained
        parts = [checkpoint_fingerprint(part) for part in COMPOSED[name]]
        return None if None in parts else hashlib.sha256("+".join(parts).encode()).hexdigest()[:16]
    path = CHECKPOINT_ROOT / name / MANIFEST
    if name not in BUILTIN or not path.is_file():
        return None
    hashes = read_manifest(path.parent, verify=False).get("sha256", {})
    # the weights alone: hashing a config too (as manifests now do) must not orphan earlier run folders
    hashes = {file: digest for file, digest in hashes.items() if str(file).endswith(WEIGHT_SUFFIXES)}
    return hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()[:16]
