"""The CUDA paths in one run, for whenever a GPU is at hand (never needed by tests or CI).

1. Tiny hub pipelines (StableDiffusion, DiT, DDPM; models/tiny_hub.py) through the registry:
   fp32 on CPU against fp16 on CUDA, images/s and the ratio, and how far the fp16 image is from the
   fp32 one for the same seed (the starting noise is drawn on the CPU, so they should agree closely).
2. Every trained built-in model on CUDA (fp32, and fp16 autocast) against CPU: images/s, agreement,
   and single-object accuracy on CUDA (100 prompts, guidance 1 and 3, 50 DDIM steps).

    python scripts/cuda_check.py [--images 8] [--steps 20] [--accuracy-prompts 100] [--models ddpm,ldm,dit,gan]
"""
from __future__ import annotations

import argparse
import contextlib
import pathlib
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from models import hub, registry, tiny_hub  # noqa: E402

PROMPTS = ["a golden retriever", "a tabby cat", "a goldfish"]


def timed(generator, n: int, steps: int, autocast: bool = False) -> tuple[float, list]:
    """images/s over n images (after one warm-up image), and the images."""
    context = torch.autocast("cuda", dtype=torch.float16) if autocast else contextlib.nullcontext()
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(n)]
    with context:
        generator.generate(prompts[:1], seed=99, steps=steps)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        images = generator.generate(prompts, seed=0, steps=steps)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
    return n / (time.perf_counter() - start), images


def difference(a: list, b: list) -> float:
    """Mean absolute pixel difference (0-255) between two image lists."""
    return float(np.mean([np.abs(np.asarray(x, np.float32) - np.asarray(y, np.float32)).mean() for x, y in zip(a, b)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--accuracy-prompts", type=int, default=100)
    parser.add_argument("--models", default="ddpm,ldm,dit,gan", help="built-in models to time and score (if trained)")
    parser.add_argument("--device", default="cuda", help="cuda; 'cpu' dry-runs every path here (ratios meaningless)")
    args = parser.parse_args()
    device = args.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("error: no CUDA device; this script compares CPU with CUDA (--device cpu dry-runs it)")
    name = torch.cuda.get_device_name(0) if device.startswith("cuda") else "CPU only (dry run)"
    print(f"torch {torch.__version__}, {name}, {torch.get_num_threads()} CPU threads")

    print(f"\n1. tiny hub pipelines, {args.images} images x {args.steps} steps")
    print(f"{'pipeline':<10}{'CPU fp32 img/s':>16}{'CUDA fp16 img/s':>17}{'ratio':>8}{'|fp16-fp32| /255':>18}"
          f"{'|cuda32-cpu32| /255':>21}  dtype")
    with tempfile.TemporaryDirectory() as root:
        for kind, folder in tiny_hub.save_all(pathlib.Path(root)).items():
            cpu = hub.load(f"hub:{folder}", device="cpu")
            gpu = hub.load(f"hub:{folder}", device=device)
            dtype = next(c for c in gpu.pipeline.components.values() if isinstance(c, torch.nn.Module)).dtype
            cpu_rate, cpu_images = timed(cpu, args.images, args.steps)
            gpu_rate, gpu_images = timed(gpu, args.images, args.steps)
            # the same pipeline in fp32 on the GPU separates what the device changes from what fp16 does
            gpu32 = hub.HubGenerator(f"hub:{folder}", hub.load_pipeline(str(folder), device).to(torch.float32), device)
            _, gpu32_images = timed(gpu32, args.images, args.steps)
            print(f"{kind:<10}{cpu_rate:>16.2f}{gpu_rate:>17.2f}{gpu_rate / cpu_rate:>8.1f}"
                  f"{difference(cpu_images, gpu_images):>18.2f}{difference(cpu_images, gpu32_images):>21.2f}  {dtype}")

    from world.accuracy import single_object_accuracy
    from models.registry import BUILTIN, is_available

    for name in [n for n in args.models.split(",") if n in BUILTIN and is_available(n)]:
        print(f"\n2. built-in {name}, 4 images x 50 steps, guidance 3 (GANs: one forward pass)")
        cpu = registry.load(name, device="cpu")
        gpu = registry.load(name, device=device)
        steps = cpu.info.default_steps
        cpu_rate, cpu_images = timed(cpu, 4, steps)
        gpu_rate, gpu_images = timed(gpu, 4, steps)
        half_rate, half_images = timed(gpu, 4, steps, autocast=device.startswith("cuda"))
        print(f"CPU fp32 {cpu_rate:.2f} img/s | CUDA fp32 {gpu_rate:.2f} img/s ({gpu_rate / cpu_rate:.1f}x), "
              f"|cuda-cpu| {difference(cpu_images, gpu_images):.2f}/255 | CUDA fp16 autocast {half_rate:.2f} img/s "
              f"({half_rate / cpu_rate:.1f}x), |fp16-cpu| {difference(cpu_images, half_images):.2f}/255")
        scales = (1.0, 3.0) if gpu.info.guidance_applies else (0.0,)
        sampler = "ddim" if gpu.info.samplers else None
        for guidance in scales:
            start = time.perf_counter()
            result = single_object_accuracy(gpu, n_prompts=args.accuracy_prompts, guidance=guidance,
                                            steps=steps, sampler=sampler)
            print(f"{name} single-object accuracy on CUDA, guidance {guidance:g}: {result} "
                  f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
