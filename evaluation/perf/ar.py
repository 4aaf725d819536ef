"""`python -m evaluation perf`, autoregressive models: images/s and codes (tokens)/s with the KV cache and without
it, on the same requests in the same process, the two calls taking turns. Both give the same codes (tests/test_ar.py);
without the cache every code re-runs the whole sequence so far."""
from __future__ import annotations

import dataclasses

from evaluation.perf.generators import prompts_for
from evaluation.perf.timing import PerfSettings, interleaved_medians, progress
from models.contract import requests_for


@dataclasses.dataclass
class ArRow:
    """(g) one AR model: the same images with and without the KV cache, `batch_size` at a time."""
    model: str
    images: int
    batch_size: int
    guidance: float
    tokens_per_image: int
    cached_images_per_s: float
    cached_tokens_per_s: float
    uncached_images_per_s: float
    uncached_tokens_per_s: float
    speedup: float  # with the cache / without


def is_autoregressive(generator) -> bool:
    return getattr(generator, "info", None) is not None and generator.info.family == "ar"


def measure_kv_cache(name: str, generator, settings: PerfSettings) -> ArRow:
    requests = requests_for(prompts_for(settings.prompts), seed=0)
    tokens = generator.transformer.config.tokens
    progress(f"{name}: {len(requests)} images, KV cache vs none, batch {settings.batch_size}, "
             f"guidance {settings.guidance:g}")

    def call(kv_cache: bool, subset=requests):
        return lambda: generator.generate_requests(list(subset), guidance_scale=settings.guidance,
                                                   batch_size=settings.batch_size, kv_cache=kv_cache)

    for kv_cache in (True, False):  # warm-up on one batch of each shape
        call(kv_cache, requests[:settings.batch_size])()
    cached, uncached = interleaved_medians([call(True), call(False)], settings.repeats, settings.device, warmups=0)
    n = len(requests)
    return ArRow(model=name, images=n, batch_size=settings.batch_size, guidance=settings.guidance,
                 tokens_per_image=tokens, cached_images_per_s=n / cached, cached_tokens_per_s=n * tokens / cached,
                 uncached_images_per_s=n / uncached, uncached_tokens_per_s=n * tokens / uncached,
                 speedup=uncached / cached)


def measure_ar(generators: dict, settings: PerfSettings) -> list[ArRow]:
    return [measure_kv_cache(name, g, settings) for name, g in generators.items() if is_autoregressive(g)]
