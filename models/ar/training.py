"""The autoregressive family's two trainable components for the one training loop (models/training.py):

- `vq`: the FSQ tokenizer, warm-started from the shipped `vae`, trained on the reconstruction MSE;
- `ar`: the transformer, next-code cross-entropy on the frozen tokenizer's codes of world images under their
  captions (10 % of them dropped to "" by the loop: the unconditional half of guidance).
"""
from __future__ import annotations

import dataclasses
import pathlib

import torch
import torch.nn.functional as F

from models.ar.family import WEIGHTS, ARGenerator, SamplingConfig, ar_info, load
from models.ar.tokenizer import DEFAULT_PATH as TOKENIZER_PATH
from models.ar.tokenizer import TOKENIZER_CONFIGS
from models.ar.tokenizer import WEIGHTS as TOKENIZER_WEIGHTS
from models.ar.tokenizer import FSQTokenizer, codebook_usage, psnr, warm_start_from_vae
from models.ar.transformer import TRANSFORMER_CONFIGS, ARTransformer
from models.checkpoints import pin, save_config_and_weights
from models.contract import parameter_count
from models.diffusion.vae import DEFAULT_PATH as VAE_PATH
from models.diffusion.vae import held_out_images
from models.text.encoder import DEFAULT_PATH as TEXT_ENCODER_PATH
from models.text.encoder import WEIGHTS as TEXT_ENCODER_WEIGHTS
from models.text.encoder import TextEncoder

VAE_WEIGHTS = "vae/diffusion_pytorch_model.safetensors"
WATCH_PROMPTS = 48
EVAL_GUIDANCE = (1.0, 3.0, 5.0)


# ---------------------------------------------------------------- the tokenizer
def tokenizer_component(preset: str = "small", vae_path: pathlib.Path | None = VAE_PATH, init_seed: int = 0):
    """`vq`: the tokenizer (warm-started from the VAE at vae_path when given)."""
    from models.training import Component

    torch.manual_seed(init_seed)  # the initial weights are part of the recipe
    tokenizer = FSQTokenizer(TOKENIZER_CONFIGS[preset])
    if vae_path is not None:
        warm_start_from_vae(tokenizer, vae_path)

    def loss(images: torch.Tensor, captions: list[str], step: int) -> torch.Tensor:
        return F.mse_loss(tokenizer(images), images)  # through the straight-through quantizer

    def export(network: FSQTokenizer, folder: pathlib.Path) -> dict:
        network.save_pretrained(folder)
        return {"tokenizer": {"class": "FSQTokenizer (diffusers AutoencoderKL + FSQ)", "preset": preset,
                              "config": dataclasses.asdict(network.config), "codebook_size": network.codebook_size,
                              "code_grid": [network.config.grid] * 2, "parameters": parameter_count(network)},
                **({"warm_start_vae": pin(folder, vae_path, VAE_WEIGHTS)} if vae_path is not None else {})}

    def evaluate(folder: pathlib.Path) -> dict:
        loaded = FSQTokenizer.from_pretrained(folder)
        return {"reconstruction_psnr_db_held_out_256": round(psnr(loaded, held_out_images(256)), 2),
                "codebook_usage_held_out_1024": round(codebook_usage(loaded, held_out_images(1024)), 4)}

    def watch(network: FSQTokenizer, step: int) -> str:
        return f"PSNR {psnr(network, held_out_images(64)):.2f} dB on 64 held-out images"

    return Component(name="vq", family="tokenizer", network=tokenizer, loss=loss, export=export, evaluate=evaluate,
                     watch=watch, weights=TOKENIZER_WEIGHTS)


# ---------------------------------------------------------------- the transformer
def build_transformer(preset: str, tokenizer: FSQTokenizer, encoder: TextEncoder) -> ARTransformer:
    """The preset, sized to the tokenizer's codebook and grid and to the text encoder's outputs."""
    config = dataclasses.replace(TRANSFORMER_CONFIGS[preset], vocab=tokenizer.codebook_size, tokens=tokenizer.tokens,
                                 text_len=encoder.config.context_length, text_width=encoder.config.text_width,
                                 pooled_dim=encoder.config.embed_dim)
    return ARTransformer(config)


def evaluate_accuracy(folder: pathlib.Path) -> dict:
    """Single-object accuracy of the exported model at guidance 1, 3 and 5 (64 prompts each)."""
    from world.accuracy import single_object_accuracy

    generator, metrics = load(folder), {}
    for g in EVAL_GUIDANCE:
        result = single_object_accuracy(generator, n_prompts=64, guidance=g, steps=1, sampler=None)
        metrics[f"single_color_shape_g{g:g}_64prompts"] = result["color_shape"]
        metrics[f"single_all_asked_g{g:g}_64prompts"] = result["full"]
    return metrics


def ar_component(preset: str = "small", tokenizer_path: pathlib.Path = TOKENIZER_PATH,
                 text_encoder_path: pathlib.Path = TEXT_ENCODER_PATH, name: str = "ar", init_seed: int = 0):
    """`ar`: the transformer over the frozen tokenizer's codes, prefixed by the frozen text encoder's tokens."""
    from models.training import Component

    encoder = TextEncoder.from_pretrained(text_encoder_path)
    tokenizer = FSQTokenizer.from_pretrained(tokenizer_path)
    torch.manual_seed(init_seed)  # the initial weights are part of the recipe
    transformer = build_transformer(preset, tokenizer, encoder)

    def loss(images: torch.Tensor, captions: list[str], step: int) -> torch.Tensor:
        with torch.no_grad():  # frozen parts
            codes = tokenizer.encode(images)  # [B,64]
            states, pooled = encoder(captions)  # [B,L,D], [B,E]
        logits = transformer(states, pooled, codes)  # [B,64,V]
        return F.cross_entropy(logits.flatten(0, 1), codes.flatten())

    def generator_for(network: ARTransformer) -> ARGenerator:
        info = ar_info(name, 0, SamplingConfig(), network.config, tokenizer.codebook_size)
        return ARGenerator(info, network, tokenizer, encoder)

    def sample_grid(network: ARTransformer, step: int):
        from models.sample_grid import grid_of
        return grid_of(generator_for(network), steps=1, guidance=3.0)

    def watch(network: ARTransformer, step: int) -> str:
        from world.accuracy import score, single_prompts
        result = score(generator_for(network), single_prompts(WATCH_PROMPTS, seed=555), guidance=3.0, steps=1,
                       sampler=None)
        return " | ".join(f"{k} {result[k]:.2f}" for k in ("color_shape", "size", "position", "full") if k in result)

    def export(network: ARTransformer, folder: pathlib.Path) -> dict:
        save_config_and_weights(folder / "transformer", network.config, network.state_dict())
        return {"transformer": {"class": "ARTransformer", "preset": preset,
                                "config": dataclasses.asdict(network.config),
                                "parameters": parameter_count(network)},
                "text_encoder": pin(folder, pathlib.Path(text_encoder_path), TEXT_ENCODER_WEIGHTS),
                "tokenizer": pin(folder, pathlib.Path(tokenizer_path), TOKENIZER_WEIGHTS)}

    return Component(name=name, family="ar", network=transformer, loss=loss, export=export,
                     evaluate=evaluate_accuracy, sample_grid=sample_grid, watch=watch, weights=WEIGHTS,
                     extra_manifest={"sampling": dataclasses.asdict(SamplingConfig()),
                                     "conditioning": "prefix: the text encoder's token states (projected), then a "
                                                     "start token from the pooled text vector; causal attention"})
