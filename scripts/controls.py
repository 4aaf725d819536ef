"""Trained but unshipped models as `--models` entries: the controls a comparison needs.

`dit_scratch` is dit's recipe trained from scratch on the world v2 stream for the 14,000 steps flow and dit-t5
had, so it differs from flow only in the objective and from dit-t5 only in the text encoder (the shipped dit
saw mostly world v1 data: its v1 weights, then 3,000 v2 steps).

    python -m models train --model dit --steps 14000 --cooldown 3000 --out runs/dit-scratch
    GENBENCH_DIT_SCRATCH=runs/dit-scratch python -m evaluation run \\
        --models dit,flow,dit-t5,scripts.controls:dit_scratch --prompts shapes-full ...

Each attribute is a factory the run calls once; the folder comes from $GENBENCH_DIT_SCRATCH.
"""
from __future__ import annotations

import os
import pathlib


def dit_scratch(device: str = "cpu"):
    from models.diffusion import latent

    folder = pathlib.Path(os.environ.get("GENBENCH_DIT_SCRATCH", "runs/dit-scratch"))
    if not (folder / "generator.json").is_file():
        raise FileNotFoundError(f"no trained dit in {folder}: train it (see scripts/controls.py) and set "
                                f"GENBENCH_DIT_SCRATCH to its folder")
    return latent.load(folder, device=device)
