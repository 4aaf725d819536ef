"""A "perfect" generator: the world's own renderer, drawn from other seeds than a run's references.

    python -m evaluation run --models scripts.perfect_generator:generate --prompts shapes-quick --n 2 --out /tmp/perfect

Every distance between its images and the run's references should read zero within its interval: the two
sets are independent draws of the same distribution given each prompt. Image i of generate(prompts, seed)
draws what its caption leaves open from default_rng([seed, i, 11]); a run's reference of (caption, seed)
draws from default_rng([seed, 7]), so the two never share a stream.
"""
from __future__ import annotations

import numpy as np

from world import render
from world.references import scene_objects

STREAM = 11  # apart from the references' stream 7 and the layouts' 7 at (seed, index, 7)


def generate(prompts: list[str], seed: int) -> list:
    """One rendered scene per world caption (prompt i from stream (seed, i, 11))."""
    return [render(scene_objects(prompt, np.random.default_rng([int(seed), i, STREAM]))) for i, prompt in enumerate(prompts)]
