"""The world's text encoder: a tiny open_clip CLIP with the bundled BPE tokenizer.

Per-token states (after the final LayerNorm) feed cross-attention; the pooled,
projected vector feeds AdaLN and GAN conditioning. The empty caption "" is the
unconditional input for classifier-free guidance.
"""
from __future__ import annotations

import dataclasses
import pathlib

import open_clip
import torch
from open_clip.model import CLIPTextCfg, CLIPVisionCfg

from models.checkpoints import (CHECKPOINT_ROOT, CheckpointError, load_config_and_weights, load_weights_into,
                                read_manifest, save_config_and_weights)

DEFAULT_PATH = CHECKPOINT_ROOT / "text-encoder"
WEIGHTS = "model.safetensors"


@dataclasses.dataclass
class TextEncoderConfig:
    embed_dim: int = 64  # pooled (joint image-text) embedding size
    context_length: int = 24  # tokens, <start> and <end> included; world captions need <= 14
    text_width: int = 64  # per-token state size, the cross-attention dim
    text_heads: int = 4
    text_layers: int = 3
    vision_width: int = 64  # the image tower exists only for contrastive training
    vision_layers: int = 2
    vision_head_width: int = 32
    vision_patch: int = 4  # 32x32 image -> 8x8 patches
    image_size: int = 32


ENCODER_CONFIGS = {
    "tiny": TextEncoderConfig(),  # the shipped generators' encoder
    # the evaluator's CLIP: another configuration (and seed) so generators are not graded by their own encoder
    "evaluator": TextEncoderConfig(embed_dim=96, text_width=96, text_heads=4, text_layers=4,
                                   vision_width=96, vision_layers=3, vision_head_width=32),
}


def build_clip(config: TextEncoderConfig) -> open_clip.CLIP:
    vision = CLIPVisionCfg(layers=config.vision_layers, width=config.vision_width, head_width=config.vision_head_width,
                           patch_size=config.vision_patch, image_size=config.image_size)
    text = CLIPTextCfg(context_length=config.context_length, width=config.text_width, heads=config.text_heads,
                       layers=config.text_layers)
    return open_clip.CLIP(embed_dim=config.embed_dim, vision_cfg=vision, text_cfg=text)


class TextEncoder(torch.nn.Module):
    """Tokenize captions and return (token states [B, L, text_width], pooled [B, embed_dim])."""

    def __init__(self, config: TextEncoderConfig):
        super().__init__()
        self.config = config
        self.clip = build_clip(config)
        self.tokenizer = open_clip.tokenizer.SimpleTokenizer(context_length=config.context_length)

    @property
    def device(self) -> torch.device:
        return self.clip.token_embedding.weight.device

    def tokenize(self, captions: list[str]) -> torch.Tensor:
        return self.tokenizer(list(captions), context_length=self.config.context_length).to(self.device)

    def forward(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        clip = self.clip
        ids = self.tokenize(captions)  # [B, L]
        x = clip.token_embedding(ids) + clip.positional_embedding  # [B, L, W]
        x = clip.transformer(x, attn_mask=clip.attn_mask)  # causal
        states = clip.ln_final(x)  # [B, L, W]
        pooled = states[torch.arange(len(ids)), ids.argmax(dim=-1)]  # the <end> token, [B, W]
        pooled = pooled @ clip.text_projection  # [B, embed_dim]
        return states, pooled

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """images [B, 3, 32, 32] in [-1, 1] -> [B, embed_dim] (unnormalised)."""
        return self.clip.encode_image(images)

    def parameter_count(self, text_only: bool = True) -> int:
        if not text_only:
            return sum(p.numel() for p in self.parameters())
        skip = {id(p) for p in self.clip.visual.parameters()}
        return sum(p.numel() for p in self.parameters() if id(p) not in skip)

    # ------------------------------------------------------------ persistence
    def save_pretrained(self, folder: pathlib.Path) -> None:
        save_config_and_weights(folder, self.config, self.clip.state_dict())

    @classmethod
    def from_pretrained(cls, folder: pathlib.Path = DEFAULT_PATH, verify: bool = True) -> "TextEncoder":
        folder = pathlib.Path(folder)
        if not (folder / "config.json").is_file() or not (folder / WEIGHTS).is_file():
            raise CheckpointError(f"no text encoder in {folder}: run `python -m models train --model text-encoder`")
        if verify and (folder / "generator.json").is_file():
            read_manifest(folder)
        config, weights = load_config_and_weights(folder, TextEncoderConfig)
        encoder = cls(config)
        load_weights_into(encoder.clip, weights, folder)
        return encoder.eval().requires_grad_(False)


# ---------------------------------------------------------------- training
def zero_shot_accuracy(encoder: TextEncoder, n_images: int = 280, seed: int = 12345) -> float:
    """Share of rendered single-object images whose best-matching 'a {color} {shape}' is right."""
    from world import color_shape_pairs, render, sample_scene, scene_rng, to_tensor

    pairs = color_shape_pairs()
    with torch.no_grad():
        _, text = encoder([f"a {c} {s}" for c, s in pairs])
        scenes = [sample_scene(scene_rng(seed, i), kind="single", drop_words=False) for i in range(n_images)]
        images = torch.stack([to_tensor(render(s.objects)) for s in scenes])
        image = encoder.encode_image(images)
        best = (torch.nn.functional.normalize(image, dim=-1) @ torch.nn.functional.normalize(text, dim=-1).T).argmax(1)
    truth = [pairs.index((s.objects[0].color, s.objects[0].shape)) for s in scenes]
    return float((best == torch.tensor(truth)).float().mean())


def training_component(preset: str = "tiny", init_seed: int = 0):
    """The text encoder as a trainable component: contrastive (open_clip.ClipLoss) on world images and captions."""
    from models.training import Component

    torch.manual_seed(init_seed)  # the initial weights are part of the recipe
    encoder = TextEncoder(ENCODER_CONFIGS[preset])
    clip_loss = open_clip.ClipLoss()

    def loss(images: torch.Tensor, captions: list[str], step: int) -> torch.Tensor:
        image = torch.nn.functional.normalize(encoder.encode_image(images), dim=-1)  # [B, D]
        _, pooled = encoder(captions)
        text = torch.nn.functional.normalize(pooled, dim=-1)  # [B, D]
        return clip_loss(image, text, encoder.clip.logit_scale.exp().clamp(max=100))

    def export(network: torch.nn.Module, folder: pathlib.Path) -> dict:
        network.save_pretrained(folder)
        return {"clip": {"class": "open_clip.CLIP", "preset": preset, "weights": WEIGHTS,
                         "text_parameters": network.parameter_count(), "tokenizer": "open_clip SimpleTokenizer (bundled BPE)"}}

    def evaluate(folder: pathlib.Path) -> dict:
        loaded = TextEncoder.from_pretrained(folder, verify=False)
        return {"zero_shot_color_shape_accuracy": round(zero_shot_accuracy(loaded), 4)}

    name = "text-encoder" if preset == "tiny" else f"clip-{preset}"
    return Component(name=name, family="text-encoder", network=encoder, loss=loss, export=export, evaluate=evaluate)
