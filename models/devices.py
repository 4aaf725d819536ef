"""Where networks run: one answer to "auto", shared by every command and the demo."""
from __future__ import annotations

import re

import torch

DEVICE_HELP = "auto (cuda when present, else cpu) | cpu | cuda[:N]"


class DeviceError(ValueError):
    """A device that does not exist here; the message is one line saying what to use instead."""


def resolve_device(spec: str | None = "auto") -> str:
    """'auto' (or None) -> 'cuda' when a GPU is visible, else 'cpu'; 'cpu' and 'cuda[:N]' pass through
    when that GPU exists. Anything else is a DeviceError (a ValueError) with a one-line message."""
    given = str(spec or "auto").strip()
    spec = given.lower()
    if spec == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if spec == "cpu":
        return spec
    match = re.fullmatch(r"cuda(?::(\d{1,4}))?", spec, flags=re.ASCII)  # ASCII: "cuda:٣" is not an index
    if match is None:
        raise DeviceError(f"unknown device {given[:40]!r}: use {DEVICE_HELP}")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise DeviceError(f"device {given!r} asked for, but no CUDA GPU is visible here: use cpu or auto")
    index = int(match.group(1) or 0)
    if index >= count:
        raise DeviceError(f"device {given!r} does not exist: this machine has {count} GPU(s), "
                          f"cuda:0 to cuda:{count - 1}")
    return spec if match.group(1) is None else f"cuda:{index}"
