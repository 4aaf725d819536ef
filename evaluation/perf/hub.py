"""`python -m evaluation perf`, hub section: a stock diffusers pipeline called once with one generator per image,
against our HubGenerator.generate_requests on the same weights and scheduler (models/tiny_hub.py's pipelines)."""
from __future__ import annotations

import dataclasses
import pathlib
import tempfile

import torch

from evaluation.perf.timing import PerfSettings, interleaved_medians, progress
from models import hub, tiny_hub
from models.contract import ImageRequest

# a prompt each pipeline can read: text for Stable Diffusion, an ImageNet class the tiny DiT knows, any for DDPM
PROMPTS = {"sd": "a large red circle in the center", "dit": "golden retriever", "ddpm": "unconditional"}


@dataclasses.dataclass
class HubRow:
    """(c) seconds for the same images: stock pipeline call vs ours; speedup > 1 means ours is faster."""
    pipeline: str
    scheduler: str
    images: int
    steps: int
    stock_seconds: float
    ours_seconds: float
    speedup: float  # stock seconds / our seconds


def stock_call(pipeline, kind: str, prompt: str, images: int, steps: int, guidance: float):
    """The stock pipeline as its docs call it: one call, a list of generators seeded 0..images-1 (output PIL)."""
    generators = [torch.Generator().manual_seed(i) for i in range(images)]
    if kind == "sd":
        return pipeline(prompt=[prompt] * images, num_inference_steps=steps, guidance_scale=guidance,
                        generator=generators).images
    if kind == "dit":
        label = pipeline.get_label_ids([prompt])[0]
        return pipeline(class_labels=[label] * images, num_inference_steps=steps, guidance_scale=guidance,
                        generator=generators).images
    return pipeline(batch_size=images, num_inference_steps=steps, generator=generators).images


def compare_pipeline(kind: str, folder: pathlib.Path, settings: PerfSettings) -> HubRow:
    """Two loads of one folder, so our scheduler bookkeeping never touches the stock pipeline."""
    stock = hub.load_pipeline(str(folder), settings.device)
    stock.set_progress_bar_config(disable=True)
    ours = hub.HubGenerator(f"hub:{folder}", hub.load_pipeline(str(folder), settings.device), settings.device)
    guidance, images, steps = ours.info.default_guidance, settings.hub_images, settings.hub_steps
    requests = [ImageRequest(PROMPTS[kind], seed=0, index=i) for i in range(images)]
    progress(f"hub {kind}: {images} images, {steps} steps, stock pipeline vs HubGenerator")
    stock_s, ours_s = interleaved_medians(
        [lambda: stock_call(stock, kind, PROMPTS[kind], images, steps, guidance),
         lambda: ours.generate_requests(requests, steps=steps, guidance_scale=guidance, sampler="default",
                                        batch_size=images)], settings.hub_repeats, settings.device)
    return HubRow(pipeline=f"tiny-{kind} ({type(stock).__name__})", scheduler=type(stock.scheduler).__name__,
                  images=images, steps=steps, stock_seconds=stock_s, ours_seconds=ours_s, speedup=stock_s / ours_s)


def compare_hub(settings: PerfSettings, root: pathlib.Path | None = None) -> list[HubRow]:
    """Every tiny pipeline built into `root` (a temporary folder by default) and compared."""
    with tempfile.TemporaryDirectory(prefix="genbench-perf-") as scratch:
        progress("building the tiny diffusers pipelines")
        folders = tiny_hub.save_all(pathlib.Path(root or scratch))
        return [compare_pipeline(kind, folder, settings) for kind, folder in folders.items()]
