"""`python -m evaluation perf`: how fast each generator makes one image at its default settings, and how
long the demo's compare call takes with all of them, measured in one run on this machine."""
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


def time_demo_compare(names: list[str], repeats: int = 3) -> list[float]:
    """Seconds per `compare` call at the demo's default settings, through gradio_client against a launched app."""
    from gradio_client import Client

    from demo.app import build

    app = build(names)
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
    try:
        client = Client(app.local_url, verbose=False)
        seconds = []
        for seed in range(repeats):
            started = time.perf_counter()
            client.predict(PROMPT, seed, False, 50, 3.0, "ddim", True, api_name="/compare")
            seconds.append(round(time.perf_counter() - started, 2))
        return seconds
    finally:
        app.close()
