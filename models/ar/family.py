"""The autoregressive family behind the generator contract: codes sampled by the AR transformer, decoded by
the FSQ tokenizer. Guidance applies (CFG on the logits); steps do not (an image is always its 64 codes, one
transformer pass each) and neither do samplers: the sampling knobs are `temperature=`, `top_k=` and
`kv_cache=` (the same images either way, measured by `python -m evaluation perf`), keyword arguments of
generate()."""
from __future__ import annotations

import dataclasses
import pathlib
from typing import Sequence

import torch
from PIL import Image

from models.ar.sampling import MAX_TEMPERATURE, decode
from models.ar.tokenizer import WEIGHTS as TOKENIZER_WEIGHTS
from models.ar.tokenizer import FSQTokenizer
from models.ar.transformer import ARConfig, ARTransformer
from models.checkpoints import (CHECKPOINT_ROOT, COMPONENT_WEIGHTS, load_config_and_weights, load_weights_into,
                                read_manifest, resolve_pin)
from models.contract import (GenerationError, GeneratorBase, GeneratorInfo, ImageRequest, StepCallback, batches,
                             image_generator, parameter_count)
from models.text.encoder import WEIGHTS as TEXT_ENCODER_WEIGHTS
from models.text.encoder import TextEncoder
from world import to_image

WEIGHTS = f"transformer/{COMPONENT_WEIGHTS}"


@dataclasses.dataclass
class SamplingConfig:
    temperature: float = 0.8  # logits are divided by it before the softmax (0.8 beat 1.0 at guidance 1 and 3, 64 prompts)
    top_k: int = 0  # sample among the k most likely codes; 0: all of them
    guidance: float = 1.0  # the default guidance scale: the shipped ar is best at 1 (96 / 93 % vs 90 / 84 % at 3)


class ARGenerator(GeneratorBase):
    """Codes `batch_size` rows at a time (both guidance halves in one pass), each row from its own stream."""

    def __init__(self, info: GeneratorInfo, transformer: ARTransformer, tokenizer: FSQTokenizer,
                 text_encoder: TextEncoder, sampling: SamplingConfig = SamplingConfig(), device: str = "cpu"):
        self.info, self.transformer, self.tokenizer = info, transformer, tokenizer
        self.text_encoder, self.sampling, self.device = text_encoder, sampling, device

    @torch.no_grad()
    def make_images(self, requests: list[ImageRequest], steps: int, guidance: float, sampler: str | None,
                    on_step: StepCallback | None, batch_size: int, temperature: float | None = None,
                    top_k: int | None = None, kv_cache: bool = True) -> list[Image.Image]:
        """Steps and samplers do not apply; the sampling knobs are temperature, top_k and kv_cache."""
        temperature, top_k = self.check_sampling(temperature, top_k)
        images: list[Image.Image] = []
        for chunk in batches(requests, batch_size):
            codes = self.codes(chunk, guidance, temperature, top_k, kv_cache, self._preview(on_step, images, requests))
            images += [to_image(row) for row in self.tokenizer.decode(codes)]
        return images

    def check_sampling(self, temperature: float | None, top_k: int | None) -> tuple[float, int]:
        temperature = self.sampling.temperature if temperature is None else temperature
        top_k = self.sampling.top_k if top_k is None else top_k
        if not isinstance(temperature, (int, float)) or not 0 < temperature <= MAX_TEMPERATURE:
            raise GenerationError(f"temperature must be a number above 0 and at most {MAX_TEMPERATURE:g}, "
                                  f"got {temperature!r}")
        vocab = self.transformer.config.vocab
        if not isinstance(top_k, int) or isinstance(top_k, bool) or not 0 <= top_k <= vocab:
            raise GenerationError(f"top-k must be an integer from 0 (all codes) to {vocab}, got {top_k!r}")
        return float(temperature), top_k

    def codes(self, chunk: Sequence[ImageRequest], guidance: float, temperature: float, top_k: int,
              kv_cache: bool = True, on_code=None, trace: list | None = None) -> torch.Tensor:
        """The codes [b,64] of one batch of requests."""
        tokens = self.transformer.config.tokens
        uniforms = torch.stack([torch.rand(tokens, generator=image_generator(r.seed, r.index))
                                for r in chunk]).to(self.device)  # [b,T]: each image's whole randomness
        cond = self.text_encoder([r.prompt for r in chunk])  # ([b,L,D], [b,E])
        return decode(self.transformer, cond, self.text_encoder([""]), uniforms, guidance, temperature, top_k,
                      kv_cache, on_code, trace)

    def _preview(self, on_step: StepCallback | None, images: list, requests: Sequence):
        """on_step after each row of the code grid: finished images plus the current ones, rows not yet sampled
        drawn as background; progress counts codes over the whole request."""
        if on_step is None:
            return None
        grid, tokens = self.tokenizer.config.grid, self.transformer.config.tokens

        def on_code(i: int, codes: torch.Tensor) -> None:
            if (i + 1) % grid:
                return
            background = self.tokenizer.encode(torch.full((1, 3, 32, 32), -1.0, device=self.device))  # [1,64]
            partial = background.expand(codes.shape[0], -1).clone()
            partial[:, :i + 1] = codes
            on_step(len(images) * tokens + (i + 1) * codes.shape[0], len(requests) * tokens,
                    images + [to_image(row) for row in self.tokenizer.decode(partial)])
        return on_code


def ar_info(name: str, parameters: int, sampling: SamplingConfig, config: ARConfig, codebook: int) -> GeneratorInfo:
    return GeneratorInfo(
        name=name, family="ar", conditioning="text", resolution=32, parameters=parameters, default_steps=1,
        default_guidance=sampling.guidance, guidance_applies=True, steps_apply=False,
        description=f"autoregressive: a {config.depth}-block decoder-only transformer samples {config.tokens} FSQ "
                    f"codes (codebook {codebook}) after the caption's tokens, KV cache, classifier-free guidance on "
                    f"the logits, temperature {sampling.temperature:g}, top-k {sampling.top_k or 'off'}; steps do "
                    f"not apply (always {config.tokens} codes)")


def load(folder: pathlib.Path = CHECKPOINT_ROOT / "ar", device: str = "cpu") -> ARGenerator:
    folder = pathlib.Path(folder)
    manifest = read_manifest(folder)
    components = manifest["components"]
    encoder = TextEncoder.from_pretrained(resolve_pin(folder, components["text_encoder"], TEXT_ENCODER_WEIGHTS))
    tokenizer = FSQTokenizer.from_pretrained(resolve_pin(folder, components["tokenizer"], TOKENIZER_WEIGHTS))
    config, state = load_config_and_weights(folder / "transformer", ARConfig)
    transformer = load_weights_into(ARTransformer(config), state, folder / "transformer")
    sampling = SamplingConfig(**manifest.get("sampling", {}))
    transformer.eval().requires_grad_(False).to(device)
    parameters = parameter_count(transformer, tokenizer.vae.decoder, tokenizer.vae.post_quant_conv) \
        + encoder.parameter_count()
    return ARGenerator(ar_info(manifest["name"], parameters, sampling, config, tokenizer.codebook_size), transformer,
                       tokenizer.to(device), encoder.to(device), sampling, device)
