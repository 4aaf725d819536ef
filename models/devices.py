"""Where networks run: one answer to "auto", shared by every command and the demo."""
from __future__ import annotations

import torch

DEVICE_HELP = "auto (cuda when present, else cpu) | cpu | cuda[:N]"


def resolve_device(spec: str | None = "auto") -> str:
    """'auto' (or None) -> 'cuda' when a GPU is visible, else 'cpu'; 'cpu' and 'cuda[:N]' pass through.
    Anything else is a ValueError with a one-line message."""
    spec = (spec or "auto").strip()
    if spec == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if spec == "cpu" or spec == "cuda" or (spec.startswith("cuda:") and spec[5:].isdigit()):
        return spec
    raise ValueError(f"unknown device {spec!r}: use {DEVICE_HELP}")
