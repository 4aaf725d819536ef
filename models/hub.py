"""Hub checkpoints (diffusers pipelines) behind the generator contract.

Any diffusers repo id or local `save_pretrained` folder loads with `hub:<id-or-path>`; five well-known
checkpoints also have short names (HUB_MODELS). The pipeline's own code does the sampling; this module
only adds what the contract needs: per-image seeds, swappable schedulers, validation, progress, and a
one-line error when weights are not on disk and the hub cannot be reached.

Guidance means what it means for the built-in models: 0 is unconditional (a text pipeline reads the empty prompt,
DiT the null class), 1 is conditional (no classifier-free guidance), above 1 is classifier-free guidance as the
pipeline computes it. diffusers turns guidance off at any scale up to 1 (the prompt is still read) and cannot
interpolate between the two halves, so a scale strictly between 0 and 1 is refused with one line.
"""
from __future__ import annotations

import contextlib
import inspect
import os
import pathlib
import re
import threading
from typing import Sequence

import torch
from PIL import Image

from models.checkpoints import CheckpointError
from models.contract import (HUB_SAMPLERS, GenerationError, GeneratorBase, GeneratorInfo, ImageRequest, StepCallback,
                             batches, image_generator)
from models.devices import resolve_device

# short name -> (repo id, one-line description)
HUB_MODELS: dict[str, tuple[str, str]] = {
    "sd-2.1": ("stabilityai/stable-diffusion-2-1", "Stable Diffusion 2.1 (latent U-Net, OpenCLIP-H text encoder)"),
    "dit-xl-2": ("facebook/DiT-XL-2-256", "DiT-XL/2 at 256 px, ImageNet class-conditional"),
    "ddpm-cifar10": ("google/ddpm-cifar10-32", "the original DDPM on CIFAR-10, unconditional"),
    "ldm-text2im": ("CompVis/ldm-text2im-large-256", "latent diffusion text-to-image (LDMBert), 256 px"),
    "pixart-alpha": ("PixArt-alpha/PixArt-XL-2-512x512", "PixArt-alpha (DiT with T5 text encoder), 512 px"),
}
PREFIX = "hub:"
SAMPLERS = HUB_SAMPLERS  # "default": the scheduler the checkpoint ships with
# guidance each pipeline's authors use; anything else gets 7.5 (the seed's example)
DEFAULT_GUIDANCE = {"DiTPipeline": 4.0, "LDMTextToImagePipeline": 6.0, "PixArtAlphaPipeline": 4.5}


def is_hub_name(name: str) -> bool:
    return name.startswith(PREFIX) or name in HUB_MODELS


def source_of(name: str) -> str:
    """The repo id or folder that `name` (a short name or hub:<id-or-path>) loads from."""
    return HUB_MODELS[name][0] if name in HUB_MODELS else name[len(PREFIX):]


def cache_dir() -> pathlib.Path:
    """Where hub weights are looked for: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub."""
    if os.environ.get("HF_HUB_CACHE"):
        return pathlib.Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
    return pathlib.Path(home) / "hub"


def is_on_disk(name: str) -> bool:
    """True when `name`'s pipeline is a local folder or sits in the hub cache (no network needed)."""
    from huggingface_hub import try_to_load_from_cache

    source = source_of(name)
    if pathlib.Path(source).is_dir():
        return (pathlib.Path(source) / "model_index.json").is_file()
    try:
        return isinstance(try_to_load_from_cache(source, "model_index.json", cache_dir=str(cache_dir())), str)
    except ValueError:  # not a valid repo id
        return False


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    line = f"{type(error).__name__}: {text[0] if text else ''}"
    return line if len(line) <= 120 else line[:119] + "…"


@contextlib.contextmanager
def _quiet_diffusers():
    """diffusers logs its own connection warnings; the one-line error below says it all."""
    from diffusers.utils import logging as diffusers_logging

    level = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()
    try:
        yield
    finally:
        diffusers_logging.set_verbosity(level)


def load_pipeline(source: str, device: str = "cpu"):
    """diffusers' from_pretrained: the disk first, then the hub; failures become one CheckpointError line."""
    from diffusers import DiffusionPipeline

    dtype = torch.float16 if str(device).startswith("cuda") else torch.float32
    local = pathlib.Path(source)
    if local.exists():
        if not (local / "model_index.json").is_file():
            raise CheckpointError(f"{source} is not a diffusers pipeline folder (no model_index.json)")
        try:
            return DiffusionPipeline.from_pretrained(local, dtype=dtype).to(device)
        except Exception as error:  # corrupt or incomplete folder: say which, not a stack trace
            raise CheckpointError(f"could not load the pipeline in {source}: {_one_line(error)}") from error
    cache = cache_dir()
    try:
        with _quiet_diffusers():
            return DiffusionPipeline.from_pretrained(source, dtype=dtype, cache_dir=cache,
                                                     local_files_only=True).to(device)
    except Exception as error:
        not_cached = error
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    how = (f"download it on a connected machine (`hf download {source}`) into {cache}, point HF_HUB_CACHE at a "
           f"folder that has it, or pass a save_pretrained folder as --model hub:PATH")
    if offline:
        raise CheckpointError(f"{source}: weights are not in {cache} and HF_HUB_OFFLINE is set; {how}") from not_cached
    try:
        with _quiet_diffusers():
            return DiffusionPipeline.from_pretrained(source, dtype=dtype, cache_dir=cache).to(device)
    except Exception as error:
        raise CheckpointError(f"{source}: weights are not in {cache} and the hub could not be reached "
                              f"({_one_line(error)}); {how}") from error


def _conditioning(pipeline) -> str:
    parameters = inspect.signature(pipeline.__call__).parameters
    if "prompt" in parameters:
        return "text"
    if "class_labels" in parameters:
        return "class"
    return "none"


def _resolution(pipeline) -> int:
    config = pipeline.unet.config if hasattr(pipeline, "unet") else pipeline.transformer.config
    size = config.sample_size if isinstance(config.sample_size, int) else config.sample_size[0]
    vae = getattr(pipeline, "vae", None)  # latent pipelines: each VAE level halves the side
    return size * 2 ** (len(vae.config.block_out_channels) - 1) if vae is not None else size


def _with_scheduler(pipeline, sampler: str):
    """The pipeline with its scheduler swapped for `sampler` (the shipped one is kept for "default")."""
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

    if sampler == "default":
        pipeline.scheduler = pipeline.genbench_default_scheduler
    elif sampler == "ddim":
        pipeline.scheduler = DDIMScheduler.from_config(pipeline.genbench_default_scheduler.config)
    else:  # second-order multistep DPM-Solver++, the usual choice for 20-25 steps
        pipeline.scheduler = DPMSolverMultistepScheduler.from_config(
            pipeline.genbench_default_scheduler.config, algorithm_type="dpmsolver++", solver_order=2)
    return pipeline


class HubGenerator(GeneratorBase):
    """One diffusers pipeline called with batches of prompts, one generator per image (the contract's streams)."""

    def __init__(self, name: str, pipeline, device: str = "cpu") -> None:
        self.pipeline = pipeline
        self.device = device
        self.lock = threading.Lock()
        pipeline.genbench_default_scheduler = pipeline.scheduler
        pipeline.set_progress_bar_config(disable=True)
        self.conditioning = _conditioning(pipeline)
        kind = type(pipeline).__name__
        parameters = sum(p.numel() for component in pipeline.components.values()
                         if isinstance(component, torch.nn.Module) for p in component.parameters())
        description = {
            "text": f"{kind} from {source_of(name)}",
            "class": f"{kind} from {source_of(name)}: class-conditional, the prompt must name an ImageNet class "
                     f"(e.g. 'golden retriever'), which is looked up by name",
            "none": f"{kind} from {source_of(name)}: unconditional, the prompt is ignored",
        }[self.conditioning]
        self.info = GeneratorInfo(
            name=name, family="hub", conditioning=self.conditioning, resolution=_resolution(pipeline),
            parameters=parameters, default_steps=50,
            default_guidance=DEFAULT_GUIDANCE.get(kind, 7.5) if self.conditioning != "none" else 0.0,
            guidance_applies=self.conditioning != "none", samplers=SAMPLERS, default_sampler="default",
            description=description)

    def class_label(self, prompt: str) -> int:
        """The ImageNet class a prompt names: the longest class name found in it as whole words."""
        text = " " + re.sub(r"[^a-z0-9]+", " ", prompt.lower()) + " "
        found = [(len(label), index) for label, index in self.pipeline.labels.items()
                 if f" {re.sub(r'[^a-z0-9]+', ' ', label.lower()).strip()} " in text]
        if not found:
            raise GenerationError(f"{self.info.name} is class-conditional and no ImageNet class name was found in "
                                  f"{prompt[:60]!r}; name one, e.g. 'golden retriever' or 'tabby cat'")
        return max(found)[1]

    def _call(self, prompts: list[str], generators: list[torch.Generator], steps: int, guidance: float):
        """One pipeline call for a batch: a prompt list with one generator per image. Guidance 0 reads no condition
        (the empty prompt, DiT's null class) and runs the pipeline at 1, where diffusers does no guidance."""
        unconditional, scale = guidance == 0, max(guidance, 1.0)
        if self.conditioning == "text":
            return self.pipeline(prompt=[""] * len(prompts) if unconditional else prompts, num_inference_steps=steps,
                                 guidance_scale=scale, generator=generators, output_type="pil").images
        if self.conditioning == "class":
            labels = [self.null_class()] * len(prompts) if unconditional else [self.class_label(p) for p in prompts]
            return self.pipeline(class_labels=labels, num_inference_steps=steps, guidance_scale=scale,
                                 generator=generators, output_type="pil").images
        return self.pipeline(batch_size=len(prompts), num_inference_steps=steps, generator=generators,
                             output_type="pil").images

    def null_class(self) -> int:
        """The label a class-conditional DiT was trained to read as "no class" (what its guidance pushes from)."""
        return int(self.pipeline.transformer.config.num_embeds_ada_norm)

    def check_guidance(self, guidance: float) -> None:
        if self.conditioning != "none" and 0 < guidance < 1:
            raise GenerationError(f"{self.info.name}: a hub pipeline takes guidance 0 (unconditional), 1 (conditional) "
                                  f"or above 1 (classifier-free guidance); diffusers cannot blend the two between 0 "
                                  f"and 1, got {guidance:g}")

    @torch.no_grad()
    def make_images(self, requests: list[ImageRequest], steps: int, guidance: float, sampler: str | None,
                    on_step: StepCallback | None, batch_size: int) -> list[Image.Image]:
        self.check_guidance(guidance)
        if self.conditioning == "class" and guidance != 0:
            for request in requests:  # fail before any work is done
                self.class_label(request.prompt)
        # a pipeline and its scheduler keep per-call state: two calls at once on one pipeline corrupt each other
        with self.lock:
            return self._generate_locked(requests, steps, guidance, sampler, on_step, batch_size)

    def _generate_locked(self, requests: Sequence[ImageRequest], steps: int, guidance: float, sampler: str,
                         on_step: StepCallback | None, batch_size: int) -> list[Image.Image]:
        pipeline = _with_scheduler(self.pipeline, sampler)
        images: list[Image.Image] = []
        chunk_rows = 0
        done = 0
        step = pipeline.scheduler.step
        total = steps * len(requests)

        def counted_step(*args, **kwargs):  # every pipeline calls scheduler.step once per denoising step
            nonlocal done
            result = step(*args, **kwargs)
            done += chunk_rows
            if on_step is not None:
                on_step(min(len(images) * steps + done, total), total, list(images))
            return result

        pipeline.scheduler.step = counted_step
        try:
            for chunk in batches(requests, batch_size):
                chunk_rows, done = len(chunk), 0
                # CPU noise: the same seed gives the same starting noise on every device
                images += self._call([r.prompt for r in chunk], [image_generator(r.seed, r.index) for r in chunk],
                                     steps, guidance)
        finally:
            del pipeline.scheduler.step
        return images


def load(name: str, device: str = "cpu") -> HubGenerator:
    return HubGenerator(name, load_pipeline(source_of(name), device), device)


def default_device() -> str:
    """'cuda' when a GPU is visible, else 'cpu': models.devices.resolve_device's answer to 'auto'."""
    return resolve_device("auto")


def generate_image(prompt: str, guidance_scale: float = 7.5, num_inference_steps: int = 50, seed: int = 42,
                   model: str = "stabilityai/stable-diffusion-2-1", device: str | None = None) -> Image.Image:
    """The seed's example as one call: a seeded torch.Generator, fp16 on CUDA when present, else fp32 on CPU.

    Gives the same image as the seed's snippet (`torch.Generator(device).manual_seed(seed)`), not the
    per-image seeding of the generator contract.
    """
    device = device or default_device()
    pipeline = _cached_pipeline(model, device)
    generator = torch.Generator(device).manual_seed(seed)
    return pipeline(prompt, guidance_scale=guidance_scale, num_inference_steps=num_inference_steps,
                    generator=generator).images[0]


_PIPELINES: dict[tuple[str, str], object] = {}


def _cached_pipeline(model: str, device: str):
    if (model, device) not in _PIPELINES:
        _PIPELINES[(model, device)] = load_pipeline(source_of(model) if is_hub_name(model) else model, device)
    return _PIPELINES[(model, device)]
