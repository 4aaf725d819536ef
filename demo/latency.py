"""`python -m demo --time-compare`: seconds per `compare` call at the demo's default settings, measured
through gradio_client against the app launched on this machine, as a script user would see them."""
from __future__ import annotations

import time

from demo.app import build

PROMPT = "a large red circle in the center"


def time_compare(names: list[str] | None = None, repeats: int = 3, device: str = "cpu") -> list[float]:
    """Seconds for each of `repeats` compare calls (seeds 0, 1, ...) over `names` (default: every generator on disk)."""
    from gradio_client import Client

    app = build(names, device=device)
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
