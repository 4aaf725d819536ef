"""Hugging Face Space entry point: the GenBench demo on every built-in model that ships.

On ZeroGPU hardware (the `spaces` package is present) every generation runs inside @spaces.GPU on
CUDA; anywhere else it runs on the CPU.
"""
try:
    import spaces
except ImportError:  # not on a Space, or a CPU Space without the package
    spaces = None

import torch

from demo.app import build

zero_gpu = spaces is not None and torch.cuda.is_available()
demo = build(device="cuda" if zero_gpu else "cpu", gpu=spaces.GPU if zero_gpu else None)

if __name__ == "__main__":
    demo.launch()
