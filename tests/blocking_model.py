"""A model for `evaluation run --models blocking_model:tiny_sd` (with tests/ on PYTHONPATH) that a test can SIGKILL
at a known point with no clock: the tiny hub pipeline in $GENBENCH_TEST_HUB, which, when $GENBENCH_TEST_BLOCK_AFTER
is K, never returns from a call made once it has made K images (until the process is killed). Unset: a plain run."""
from __future__ import annotations

import os
import threading

from evaluation.runs.custom_models import load_generator

HUB = "GENBENCH_TEST_HUB"
BLOCK_AFTER = "GENBENCH_TEST_BLOCK_AFTER"


def tiny_sd(device: str = "cpu"):
    generator = load_generator(f"hub:{os.environ[HUB]}", device)
    if os.environ.get(BLOCK_AFTER) is None:
        return generator
    limit, made, inner = int(os.environ[BLOCK_AFTER]), [0], generator.generate_requests

    def generate_requests(requests, *args, **kwargs):
        if made[0] >= limit:
            threading.Event().wait()  # forever: the rows of the first K images are written, the run cannot end
        images = inner(requests, *args, **kwargs)
        made[0] += len(images)
        return images

    generator.generate_requests = generate_requests
    return generator
