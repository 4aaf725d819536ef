"""`python -m evaluation perf`: how fast each generator makes one image at its default settings, measured in
one run on this machine. The demo's compare latency is `python -m demo --time-compare` (demo/latency.py)."""
from __future__ import annotations

import statistics
import time

PROMPT = "a large red circle in the center"


def time_generators(names: list[str], device: str = "cpu", repeats: int = 3) -> list[dict]:
    from models.registry import load

    results = []
    for name in names:
        started = time.perf_counter()
        generator = load(name, device=device)
        loaded = time.perf_counter() - started
        generator.generate([PROMPT], seed=0)  # warm-up: first-call allocations, lazy imports
        times = []
        for seed in range(repeats):
            started = time.perf_counter()
            generator.generate([PROMPT], seed=seed)
            times.append(time.perf_counter() - started)
        info = generator.info
        results.append({"model": name, "family": info.family, "steps": info.default_steps if info.samplers else 1,
                        "load_s": round(loaded, 2), "seconds_per_image": round(statistics.median(times), 4),
                        "images_per_s": round(1 / statistics.median(times), 2)})
    return results
