"""Timing primitives of `python -m evaluation perf`: medians of warm calls, the matmul peak, progress lines."""
from __future__ import annotations

import dataclasses
import statistics
import sys
import time
from typing import Callable, Sequence

import torch

from models.contract import default_batch_size


def progress(message: str) -> None:
    """One line per measurement on stderr, so stdout stays the table (or the JSON object)."""
    print(f"perf: {message}", file=sys.stderr, flush=True)


def synchronize(device: str) -> None:
    if str(device).startswith("cuda"):
        torch.cuda.synchronize(device)


def interleaved_medians(calls: Sequence[Callable[[], object]], repeats: int, device: str = "cpu",
                        warmups: int = 1) -> list[float]:
    """Median wall time of each call, the calls taking turns (A B, B A, A B, ...): on a shared machine a busy
    spell then slows both sides of a comparison instead of one."""
    for call in calls:
        for _ in range(warmups):
            call()
    synchronize(device)
    times: list[list[float]] = [[] for _ in calls]
    for turn in range(max(1, repeats)):
        order = range(len(calls)) if turn % 2 == 0 else reversed(range(len(calls)))
        for index in order:
            started = time.perf_counter()
            calls[index]()
            synchronize(device)
            times[index].append(time.perf_counter() - started)
    return [statistics.median(t) for t in times]


def matmul_peak_gflops(device: str = "cpu", size: int = 2048, repeats: int = 5) -> float:
    """The fp32 matmul rate this device reaches now: the best of `repeats` [size, size] @ [size, size] products."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(device)  # [n,n]
    b = torch.randn(size, size, generator=generator).to(device)  # [n,n]
    torch.matmul(a, b)  # warm-up: thread pool, BLAS workspace
    synchronize(device)
    best = float("inf")
    for _ in range(max(1, repeats)):
        started = time.perf_counter()
        torch.matmul(a, b)
        synchronize(device)
        best = min(best, time.perf_counter() - started)
    return 2 * size ** 3 / best / 1e9  # a multiply-add is 2 FLOPs, as FlopCounterMode counts them


@dataclasses.dataclass
class Throughput:
    """One timed generate_requests call: `images` images, `batch_size` at a time."""
    images: int
    batch_size: int
    steps: int
    guidance: float
    sampler: str | None
    seconds: float

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Settings of one timed generate_requests call; None: the generator's default."""
    steps: int | None = None
    guidance: float | None = None
    sampler: str | None = None
    batch_size: int | None = None


def time_requests(generator, requests: Sequence, configs: Sequence[RunConfig], repeats: int,
                  device: str = "cpu") -> list[Throughput]:
    """Median seconds of generator.generate_requests over `requests` under each config, the configs interleaved;
    each is warmed up on one batch of its own shape (oneDNN and cuDNN pick kernels per shape)."""
    info = generator.info
    resolved = [dataclasses.replace(c, batch_size=c.batch_size or default_batch_size(device)) for c in configs]

    def call(config: RunConfig, subset: Sequence = requests):
        return lambda: generator.generate_requests(list(subset), steps=config.steps, guidance_scale=config.guidance,
                                                   sampler=config.sampler, batch_size=config.batch_size)

    for config in resolved:
        call(config, requests[:config.batch_size])()
    seconds = interleaved_medians([call(config) for config in resolved], repeats, device, warmups=0)
    return [Throughput(images=len(requests), batch_size=config.batch_size,
                       steps=info.default_steps if config.steps is None else config.steps,
                       guidance=info.default_guidance if config.guidance is None else config.guidance,
                       sampler=config.sampler or info.default_sampler, seconds=median)
            for config, median in zip(resolved, seconds)]


@dataclasses.dataclass(frozen=True)
class PerfSettings:
    """What `python -m evaluation perf` measures and how long it may take (tests pass tiny sizes)."""
    device: str = "cpu"
    prompts: int = 16  # images per throughput measurement
    steps: int = 50  # DDIM steps of the batching measurement
    guidance: float = 3.0
    batch_size: int = 16  # the batched side; the other side is batch_size=1
    repeats: int = 3  # timed calls per measurement, median reported
    hub_images: int = 8  # stock diffusers pipeline vs HubGenerator
    hub_steps: int = 20
    hub_repeats: int = 5  # stock vs ours calls are short: more turns, a steadier median
    fid_dim: int = 2048  # feature dimension of the Frechet distance timings
    matmul_size: int = 2048  # the fp32 peak's square matmul


QUICK = PerfSettings(steps=10, hub_steps=10)  # fewer steps, the same repeats: medians need them
