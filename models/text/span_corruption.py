"""T5's text-only pre-training objective, span corruption (Raffel et al. 2020), and its trainable component.

A caption's tokens:     a  red  circle  left  of  a  blue  square
input (spans masked):   a  <extra_id_0>  left  of  a  <extra_id_1>  square  </s>
target (the spans):     <extra_id_0>  red  circle  <extra_id_1>  blue  </s>

The decoder learns to fill each placeholder from the rest of the caption, so the encoder's states must
carry which word goes with which: the binding a caption-conditioned image model needs.
"""
from __future__ import annotations

import pathlib

import numpy as np
import torch

from models.text.t5 import EOS, SENTINELS, T5_CONFIGS, T5EncoderConfig, T5TextEncoder, pad, token_ids, \
    train_tokenizer

SENTINEL_0 = 3  # <extra_id_0>'s id (after <pad>, </s>, <unk>)
TOKENIZER_CAPTIONS = 20_000  # captions the byte-pair vocabulary is learned from


def noise_mask(length: int, density: float, mean_span: float, rng: np.random.Generator) -> np.ndarray:
    """Which of `length` tokens to mask: about density * length of them (at least one, never all), in spans
    whose lengths are 1 + Poisson(mean_span - 1)."""
    mask = np.zeros(length, dtype=bool)
    wanted = min(length - 1, max(1, round(length * density)))
    while mask.sum() < wanted:
        span = int(min(wanted - mask.sum(), 1 + rng.poisson(mean_span - 1)))
        start = int(rng.integers(0, length - span + 1))
        mask[start:start + span] = True
    return mask


def corrupt(ids: list[int], mask: np.ndarray) -> tuple[list[int], list[int]]:
    """(input ids, target ids) for one caption: each masked run becomes the next sentinel in the input and
    is spelled out after that sentinel in the target; both end with </s>."""
    inputs, targets, sentinel, previous = [], [], SENTINEL_0, False
    for token, masked in zip(ids, mask):
        if masked and not previous:
            if sentinel >= SENTINEL_0 + SENTINELS:  # more spans than placeholders: keep the token
                masked = False
            else:
                inputs.append(sentinel)
                targets.append(sentinel)
                sentinel += 1
        if masked:
            targets.append(token)
        else:
            inputs.append(token)
        previous = masked
    return inputs + [EOS], targets + [EOS]


def corrupt_batch(rows: list[list[int]], config: T5EncoderConfig, rng: np.random.Generator):
    """input ids [B, L], attention mask [B, L], labels [B, M] (-100 where padded)."""
    pairs = [corrupt(row, noise_mask(len(row), config.noise_density, config.mean_span, rng)) if len(row) > 1
             else (row + [EOS], row + [EOS]) for row in rows]
    inputs = pad([p[0] for p in pairs])
    labels = pad([p[1] for p in pairs], value=-100)
    return inputs, (inputs != 0).long(), labels


def tokenizer_captions(seed: int, n: int = TOKENIZER_CAPTIONS) -> list[str]:
    """The captions the vocabulary is learned from: the world's v2 stream (words dropped as in training)."""
    from world import sample_scene, scene_rng
    return [sample_scene(scene_rng(seed, i)).caption for i in range(n)]


def training_component(preset: str = "small", data_seed: int = 11, init_seed: int = 0):
    """text-t5 as a trainable component: span corruption on the loop's captions (its images are unused)."""
    from transformers import T5ForConditionalGeneration

    from models.training import Component

    config = T5_CONFIGS[preset]
    tokenizer = train_tokenizer(tokenizer_captions(data_seed + 1), config.vocab_size)
    torch.manual_seed(init_seed)  # the initial weights are part of the recipe
    model = T5ForConditionalGeneration(config.transformers_config(tokenizer.get_vocab_size()))

    def loss(images: torch.Tensor, captions: list[str], step: int) -> torch.Tensor:
        rng = np.random.default_rng([data_seed, 2, step])  # the masks are a function of the step
        inputs, attention, labels = corrupt_batch(token_ids(tokenizer, captions, config.context_length), config, rng)
        return model(input_ids=inputs, attention_mask=attention, labels=labels).loss

    def export(network: torch.nn.Module, folder: pathlib.Path) -> dict:
        encoder = T5TextEncoder.from_seq2seq(config, tokenizer, network)
        encoder.save_pretrained(folder)
        return {"t5": {"class": "transformers.T5EncoderModel", "preset": preset, "config": config.__dict__,
                       "parameters": encoder.parameter_count(), "vocabulary": tokenizer.get_vocab_size(),
                       "tokenizer": "byte-pair (tokenizers), learned from 20,000 world v2 captions"}}

    def evaluate(folder: pathlib.Path) -> dict:
        return {"span_token_accuracy": round(span_accuracy(model, tokenizer, config), 4)}

    return Component(name="text-t5", family="t5-encoder", network=model, loss=loss, export=export,
                     evaluate=evaluate, weights=None)


@torch.no_grad()
def span_accuracy(model, tokenizer, config: T5EncoderConfig, n: int = 512, seed: int = 777) -> float:
    """Teacher-forced share of masked tokens the model fills in right, on captions it never trained on."""
    was_training = model.training
    model.eval()
    rows = token_ids(tokenizer, tokenizer_captions(seed, n), config.context_length)
    inputs, attention, labels = corrupt_batch(rows, config, np.random.default_rng(seed))
    predicted = model(input_ids=inputs, attention_mask=attention, labels=labels).logits.argmax(-1)  # [B, M]
    scored = (labels != -100) & (labels != EOS) & ((labels < SENTINEL_0) | (labels >= SENTINEL_0 + SENTINELS))
    model.train(was_training)
    return float((predicted[scored] == labels[scored]).float().mean())
