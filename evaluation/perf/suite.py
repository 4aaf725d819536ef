"""`python -m evaluation perf`: every speed number of the project measured side by side in one process.

(a) images/s one at a time vs batched, per built-in model; (b) each diffusion backbone's model-FLOPs
utilisation against the fp32 matmul peak measured in the same run; (c) our sampling loop vs a stock
diffusers pipeline on the same weights; (d) the Frechet distance: ours vs scipy's sqrtm vs torchmetrics;
(e) images/s at each family's defaults; (f) the demo's compare latency, through `python -m demo
--time-compare` in a subprocess (evaluation never imports the demo); (g) autoregressive models: images/s and
tokens/s with the KV cache and without it.
"""
from __future__ import annotations

import dataclasses
import pathlib
import re
import subprocess
import sys

import torch

from evaluation.perf.ar import ArRow, measure_ar
from evaluation.perf.fid_routes import FidRow, compare_fid
from evaluation.perf.hub import HubRow, compare_hub
from evaluation.perf.generators import (BatchingRow, DefaultsRow, MfuRow, batching_row, measure_batching,
                                    measure_defaults, mfu_row)
from evaluation.perf.timing import QUICK, PerfSettings, matmul_peak_gflops, progress
from models.registry import BUILTIN

BUILTIN_MODELS = tuple(BUILTIN)  # every built-in family, in the registry's order
REPO = pathlib.Path(__file__).resolve().parents[2]
DEMO_COMMAND = "python -m demo --time-compare"
SECTIONS = ("models", "hub", "fid", "demo")  # models: (a), (b), (e), (g); hub: (c); fid: (d); demo: (f)
DEFAULT_SECTIONS = ("models", "hub", "fid")  # the demo launches a second app: only when asked


@dataclasses.dataclass
class DemoLatency:
    """(f) seconds per demo compare call, or why it was not measured."""
    seconds: list[float]
    note: str


@dataclasses.dataclass
class PerfReport:
    device: str
    threads: int
    torch: str
    settings: PerfSettings
    matmul_peak_gflops: float
    batching: list[BatchingRow]
    mfu: list[MfuRow]
    hub: list[HubRow]
    fid: list[FidRow]
    defaults: list[DefaultsRow]
    demo: DemoLatency
    ar: list[ArRow] = dataclasses.field(default_factory=list)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def load_builtins(names: list[str], device: str) -> dict:
    """name -> loaded generator (models.registry.load: UnknownModel / CheckpointError on a bad name)."""
    from models.registry import load

    generators = {}
    for name in names:
        progress(f"loading {name}")
        generators[name] = load(name, device=device)
    return generators


def measure_models(generators: dict, settings: PerfSettings) -> tuple[list, list, list, float]:
    """(a), (b), (e) and the matmul peak: measured before and after the models, the best kept,
    so a busy moment on a shared machine does not lower it."""
    peaks = [matmul_peak(settings)]
    batching, timed, defaults = [], [], []
    for name, generator in generators.items():
        single, batched = measure_batching(name, generator, settings)
        batching.append(batching_row(name, generator, single, batched))
        timed.append((name, generator, single, batched))
        defaults.append(measure_defaults(name, generator, settings, batched))
    peaks.append(matmul_peak(settings))
    mfu = [mfu_row(*run, max(peaks)) for run in timed]
    return batching, [row for row in mfu if row is not None], defaults, max(peaks)


def matmul_peak(settings: PerfSettings) -> float:
    progress(f"fp32 matmul peak, {settings.matmul_size}x{settings.matmul_size}")
    return matmul_peak_gflops(settings.device, settings.matmul_size)


def demo_latency(run: bool, device: str, repeats: int, timeout_s: float = 900) -> DemoLatency:
    """`python -m demo --time-compare` in a subprocess when `run`, else a line saying how to measure it."""
    if not run:
        return DemoLatency([], f"not measured: run {DEMO_COMMAND} (or perf --sections ...,demo)")
    progress(f"demo compare latency: {DEMO_COMMAND} --repeats {repeats}")
    command = [sys.executable, "-m", "demo", "--time-compare", "--repeats", str(repeats), "--device", device]
    try:
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return DemoLatency([], f"{DEMO_COMMAND} did not finish in {timeout_s:g} s")
    found = re.search(r"\[([0-9., ]*)\] s per call", done.stdout)
    if done.returncode != 0 or found is None:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return DemoLatency([], f"{DEMO_COMMAND} failed (exit {done.returncode}): {tail}")
    line = next(text for text in done.stdout.splitlines() if "s per call" in text)  # gradio prints its own lines
    return DemoLatency([float(v) for v in found.group(1).split(",") if v.strip()], line.strip())


def run_suite(generators: dict, settings: PerfSettings = PerfSettings(),
              sections: tuple[str, ...] = DEFAULT_SECTIONS) -> PerfReport:
    """Everything measured in this process; `generators` (name -> generator) and `settings` are parameters so
    tests can pass tiny models and sizes."""
    if "models" in sections:
        batching, mfu, defaults, peak = measure_models(generators, settings)
    else:
        batching, mfu, defaults, peak = [], [], [], matmul_peak(settings)
    return PerfReport(device=settings.device, threads=torch.get_num_threads(), torch=torch.__version__,
                      settings=settings, matmul_peak_gflops=peak, batching=batching, mfu=mfu,
                      hub=compare_hub(settings) if "hub" in sections else [],
                      fid=compare_fid(settings.fid_dim, settings.repeats) if "fid" in sections else [],
                      defaults=defaults, demo=demo_latency("demo" in sections, settings.device, settings.repeats),
                      ar=measure_ar(generators, settings) if "models" in sections else [])


def settings_for(device: str, quick: bool, repeats: int | None = None) -> PerfSettings:
    base = QUICK if quick else PerfSettings()
    return dataclasses.replace(base, device=device, repeats=repeats or base.repeats)
