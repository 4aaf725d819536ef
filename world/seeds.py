"""The project's one seed scheme, stated once. Every image GenBench makes draws its noise from here.

1. A request: image i of `generate(prompts, seed=s)` draws all its noise from a torch.Generator seeded
   s * 1,000,003 + i (`image_generator`), never from which other prompts share its batch.
2. A run (`python -m evaluation run --seed S`): image (prompt j, sample k) is image 0 of a request with
   seed S + 1000 j + k (`run_seed`), under every model and setting, so a grid column shares its noise and
   `python -m models sample --seed S + 1000 j + k` remakes any image of a run.
3. An accuracy check (`python -m evaluation accuracy`, the training watches): prompts go in chunks; the
   chunk that starts at prompt j0 is one request with seed S + j0 (`chunk_seed`).
4. World scenes: scene i of a stream seeded s comes from numpy's default_rng([s, i]) (`world.scene_rng`).
5. Layouts: the planner's free choices for image i of a request seeded s come from default_rng([s, i, 7])
   (`layout_rng`), so images vary with i and a layout is remade from (seed, i) alone.
"""
from __future__ import annotations

import numpy as np
import torch

MULTIPLIER = 1_000_003  # odd and large: (seed, index) pairs do not collide for realistic ranges
PROMPT_STRIDE = 1000  # samples per prompt a run can hold before two prompts' seeds meet


def image_seed(seed: int, index: int) -> int:
    return (int(seed) * MULTIPLIER + int(index)) % (2**63)


def image_generator(seed: int, index: int, device: str | torch.device = "cpu") -> torch.Generator:
    """The random stream of image `index` of a request seeded `seed`, independent of batch layout."""
    return torch.Generator(device=device).manual_seed(image_seed(seed, index))


def run_seed(seed: int, prompt_index: int, sample: int) -> int:
    """The request seed of image (prompt j, sample k) in a run seeded `seed`."""
    return int(seed) + PROMPT_STRIDE * int(prompt_index) + int(sample)


def chunk_seed(seed: int, start: int) -> int:
    """The request seed of the chunk of an accuracy check that starts at prompt `start`."""
    return int(seed) + int(start)


LAYOUT_STREAM = 7  # keeps layout choices apart from scene streams that share (seed, index)


def layout_rng(seed: int, index: int) -> np.random.Generator:
    """5. Layouts: the free choices (size, cell) of image `index` of a request seeded `seed`."""
    return np.random.default_rng([int(seed), int(index), LAYOUT_STREAM])
