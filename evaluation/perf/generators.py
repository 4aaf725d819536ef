"""`python -m evaluation perf`, built-in models: one image at a time vs batched, model-FLOPs utilisation of each
diffusion backbone, and images/s at each family's defaults."""
from __future__ import annotations

import dataclasses

from evaluation.perf.timing import PerfSettings, RunConfig, Throughput, progress, time_requests
from models.contract import default_batch_size, requests_for
from world.accuracy import world_prompts


@dataclasses.dataclass
class BatchingRow:
    """(a) the same images one at a time and `batch_size` at a time."""
    model: str
    family: str
    images: int
    steps: int
    guidance: float
    batch_size: int
    one_at_a_time_images_per_s: float
    batched_images_per_s: float
    speedup: float  # batched / one at a time


@dataclasses.dataclass
class MfuRow:
    """(b) model FLOPs per second (denoiser only, guidance's two halves counted) over the measured matmul peak."""
    model: str
    flops_per_evaluation: float
    batch1_gflops: float
    batched_gflops: float
    batch1_mfu: float
    batched_mfu: float


@dataclasses.dataclass
class DefaultsRow:
    """(e) images/s at the family's own defaults (steps, guidance, sampler, batch size)."""
    model: str
    family: str
    steps: int
    guidance: float
    sampler: str | None
    batch_size: int
    images_per_s: float


def prompts_for(count: int) -> list[str]:
    """World captions every built-in model knows (the layout model's planner reads them too)."""
    return world_prompts(count, "single")


def measure_batching(name: str, generator, settings: PerfSettings) -> tuple[Throughput, Throughput]:
    """(one at a time, batched) over the same requests and settings, timed in turns."""
    requests = requests_for(prompts_for(settings.prompts), seed=0)
    sampler = "ddim" if "ddim" in generator.info.samplers else None
    progress(f"{name}: {len(requests)} images, batch 1 vs batch {settings.batch_size}, {settings.steps} steps")
    configs = [RunConfig(settings.steps, settings.guidance, sampler, size) for size in (1, settings.batch_size)]
    single, batched = time_requests(generator, requests, configs, settings.repeats, settings.device)
    return single, batched


def batching_row(name: str, generator, single: Throughput, batched: Throughput) -> BatchingRow:
    return BatchingRow(model=name, family=generator.info.family, images=single.images, steps=single.steps,
                       guidance=single.guidance, batch_size=batched.batch_size,
                       one_at_a_time_images_per_s=single.images_per_s, batched_images_per_s=batched.images_per_s,
                       speedup=batched.images_per_s / single.images_per_s)


def model_gflops(flops_per_evaluation: float, run: Throughput) -> float:
    """Denoiser GFLOP/s of a timed run: classifier-free guidance evaluates both halves unless s is 0 or 1."""
    halves = 1 if run.guidance in (0, 1) else 2
    return flops_per_evaluation * halves * run.steps * run.images / run.seconds / 1e9


def mfu_row(name: str, generator, single: Throughput, batched: Throughput, peak_gflops: float) -> MfuRow | None:
    """None for generators without a diffusion backbone (the GAN, hub pipelines)."""
    if not hasattr(generator, "flops_per_evaluation"):
        return None
    flops = generator.flops_per_evaluation()
    first, second = model_gflops(flops, single), model_gflops(flops, batched)
    return MfuRow(model=name, flops_per_evaluation=flops, batch1_gflops=first, batched_gflops=second,
                  batch1_mfu=first / peak_gflops, batched_mfu=second / peak_gflops)


def measure_defaults(name: str, generator, settings: PerfSettings, batched: Throughput) -> DefaultsRow:
    """Images/s with nothing but the prompts given; reuses the batched run when its settings are the defaults."""
    info = generator.info
    defaults = (info.default_steps, info.default_guidance, info.default_sampler, default_batch_size(settings.device))
    if (batched.steps, batched.guidance, batched.sampler, batched.batch_size) == defaults:
        run = batched  # the same call: measuring it twice would only add noise
    else:
        requests = requests_for(prompts_for(settings.prompts), seed=0)
        progress(f"{name}: {len(requests)} images at its defaults ({info.default_steps} steps)")
        run = time_requests(generator, requests, [RunConfig()], settings.repeats, settings.device)[0]
    return DefaultsRow(model=name, family=info.family, steps=run.steps, guidance=run.guidance, sampler=run.sampler,
                       batch_size=run.batch_size, images_per_s=run.images_per_s)
