"""Speed on a GPU without changing a CPU result: autocast precision, channels-last convolutions, torch.compile.

Attention already runs through PyTorch's fused scaled_dot_product_attention: diffusers' default attention
processor for the U-Nets, and nn.MultiheadAttention called with need_weights=False in the DiT.
"""
from __future__ import annotations

import contextlib

import torch

PRECISIONS = ("auto", "fp32", "fp16", "bf16")  # auto: bf16 autocast on a CUDA card that has it, else fp16; fp32 on CPU


def autocast(device: str, precision: str = "auto"):
    """The autocast context a generation runs in; nothing (fp32) on CPU or when fp32 is asked for."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if not str(device).startswith("cuda") or precision == "fp32":
        return contextlib.nullcontext()
    if precision == "auto":
        precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return torch.autocast("cuda", dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def for_device(network: torch.nn.Module, device: str, channels_last_on_cpu: bool = False) -> torch.nn.Module:
    """Move a network to its device. Convolutional networks go channels-last on CUDA (tensor-core friendly) and,
    where the caller measured oneDNN faster that way (`python scripts/memory_format_vs.py`), on CPU too."""
    network = network.to(device)
    has_convolutions = any(isinstance(m, torch.nn.Conv2d) for m in network.modules())
    on_cuda = str(device).startswith("cuda")
    if has_convolutions and (on_cuda or channels_last_on_cpu):
        network = network.to(memory_format=torch.channels_last)
    return network


def compile_generator(generator, backend: str = "inductor"):
    """torch.compile the network a generator calls every step (a diffusion denoiser, a GAN generator).
    Opt-in: the first batch of each shape pays the compilation (tens of seconds)."""
    if hasattr(generator, "denoise"):
        generator.denoise = torch.compile(generator.denoise, backend=backend, dynamic=False)
    elif hasattr(generator, "network"):
        generator.network = torch.compile(generator.network, backend=backend, dynamic=False)
    else:
        raise ValueError(f"{generator.info.name}: nothing to compile (a hub pipeline compiles its own parts)")
    return generator
