"""The generator contract every family implements (docs/ARCHITECTURE.md, "The generator contract")."""
from __future__ import annotations

import dataclasses
import math
from typing import Callable, Protocol, Sequence

from PIL import Image

from world.seeds import image_generator  # noqa: F401  (the contract's per-image stream: see world/seeds.py)

# the request limits: every entry point (CLIs, the demo's sliders, the API) reads these, check_request enforces them
MAX_PROMPT_CHARS = 500
MAX_STEPS = 1000
MAX_GUIDANCE = 50.0
MAX_BATCH_SIZE = 1024
MAX_SEED = 2**31 - 1  # a request's seed is an integer from 0 to MAX_SEED (a run's per-image seeds S + 1000 j + k too)
MAX_TRUNCATION = 2.0  # a GAN's truncation psi is a number from 0 to MAX_TRUNCATION (1: none)
# the samplers a model may offer: the built-in diffusion families' (models/diffusion/schedule.py and flow.py map
# each to its diffusers scheduler) and a hub pipeline's ("default": the scheduler the checkpoint ships with)
DIFFUSION_SAMPLERS = ("ddpm", "ddim", "dpm++")
FLOW_SAMPLERS = ("euler", "heun")  # a rectified-flow model's (models/diffusion/flow.py): first and second order
HUB_SAMPLERS = ("default", "ddim", "dpm++")

# on_step(steps_done, steps_total, previews) lets a UI stream intermediate results: counts run over
# the whole request, previews are the finished images plus the current one's state
StepCallback = Callable[[int, int, list[Image.Image]], None]


class GenerationError(ValueError):
    """Bad input to generate(): the message is one line, fit to show a user."""


@dataclasses.dataclass(frozen=True)
class ImageRequest:
    """One image to make: its prompt, and its noise stream world.seeds.image_generator(seed, index)."""
    prompt: str
    seed: int
    index: int = 0


def requests_for(prompts: Sequence[str], seed: int) -> list[ImageRequest]:
    """generate(prompts, seed): image i draws from stream (seed, i)."""
    return [ImageRequest(prompt, seed, index) for index, prompt in enumerate(prompts)]


def default_batch_size(device: str = "cpu") -> int:
    """Images computed together when the caller does not say. On a 2-core CPU the diffusion backbones ran
    at 58-104 % of the matmul peak at batch 16 against 14-64 % at batch 1; batch 32 gained ldm and dit
    10-14 % and ddpm nothing, batch 64 less (measured here); a GPU wants more rows (untested: no GPU was lent)."""
    return 64 if str(device).startswith("cuda") else 16


def batches(requests: Sequence, batch_size: int) -> list[list]:
    """Consecutive chunks of `batch_size` (the last may be shorter): a fixed split, so a fixed batch size
    gives bitwise-identical images run after run."""
    return [list(requests[start:start + batch_size]) for start in range(0, len(requests), batch_size)]


@dataclasses.dataclass
class GeneratorInfo:
    name: str
    family: str  # "ddpm" | "ldm" | "dit" | "gan" | "ar" | "hub"
    conditioning: str  # "text" | "class" | "none", as the model uses the prompt
    resolution: int
    parameters: int  # every network weight used to make an image, text encoder included
    default_steps: int
    default_guidance: float
    guidance_applies: bool
    samplers: tuple[str, ...] = ()
    default_sampler: str | None = None
    description: str = ""
    steps_apply: bool = True  # False: `steps` is accepted and ignored (an autoregressive model makes every code)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


class Generator(Protocol):
    info: GeneratorInfo

    def generate(self, prompts: Sequence[str], seed: int, steps: int | None = None,
                 guidance_scale: float | None = None, sampler: str | None = None,
                 on_step: StepCallback | None = None, batch_size: int | None = None) -> list[Image.Image]:
        """generate_requests(requests_for(prompts, seed), ...)."""
        ...

    def generate_requests(self, requests: Sequence[ImageRequest], steps: int | None = None,
                          guidance_scale: float | None = None, sampler: str | None = None,
                          on_step: StepCallback | None = None, batch_size: int | None = None) -> list[Image.Image]:
        """Images computed `batch_size` at a time, each row drawing all its noise from its own stream.
        Image i depends only on (request i, settings, batch size, the other requests of its batch): bitwise
        for a fixed batch size and split; across batch sizes equal to within float rounding (<= 1/255)."""
        ...


def parameter_count(*modules) -> int:
    """Every weight of the given networks: GeneratorInfo.parameters."""
    return sum(p.numel() for m in modules for p in m.parameters())


def check_request(info: GeneratorInfo, prompts: Sequence[str], seed: int, steps: int | None,
                  guidance_scale: float | None, sampler: str | None) -> tuple[int, float, str | None]:
    """Validate one request; return (steps, guidance, sampler) with defaults filled in."""
    if isinstance(prompts, str) or len(prompts) == 0:
        raise GenerationError("prompts must be a non-empty list of strings")
    for prompt in prompts:
        if not isinstance(prompt, str) or not prompt.strip():
            raise GenerationError("prompt is empty: type a caption such as 'a large red circle in the center'")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise GenerationError(f"prompt is {len(prompt)} characters long; the limit is {MAX_PROMPT_CHARS}")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise GenerationError(f"seed must be an integer from 0 to {MAX_SEED}, got {seed!r}")
    steps = info.default_steps if steps is None else steps
    if not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise GenerationError(f"steps must be an integer from 1 to {MAX_STEPS}, got {steps!r}")
    guidance = info.default_guidance if guidance_scale is None else float(guidance_scale)
    if not math.isfinite(guidance) or guidance < 0 or guidance > MAX_GUIDANCE:
        raise GenerationError(f"guidance must be a finite number from 0 to {MAX_GUIDANCE:g}, got {guidance_scale!r}")
    sampler = sampler or info.default_sampler
    if info.samplers and sampler not in info.samplers:
        raise GenerationError(f"unknown sampler {sampler!r}; choose one of {', '.join(info.samplers)}")
    return steps, guidance, sampler


def check_requests(info: GeneratorInfo, requests: Sequence[ImageRequest], steps: int | None,
                   guidance_scale: float | None, sampler: str | None,
                   batch_size: int) -> tuple[int, float, str | None, int]:
    """check_request for images with their own seeds; returns (steps, guidance, sampler, batch size)."""
    if isinstance(requests, (str, ImageRequest)) or len(requests) == 0:
        raise GenerationError("requests must be a non-empty list of ImageRequest")
    for request in requests:
        if not isinstance(request.index, int) or request.index < 0:
            raise GenerationError(f"image index must be a non-negative integer, got {request.index!r}")
        checked = check_request(info, [request.prompt], request.seed, steps, guidance_scale, sampler)
    return (*checked, check_batch_size(batch_size))


def check_truncation(truncation) -> float:
    """A GAN's truncation psi: a finite number from 0 (every image the prompt's mean) to MAX_TRUNCATION."""
    if isinstance(truncation, bool) or not isinstance(truncation, (int, float)) or \
            not 0 <= truncation <= MAX_TRUNCATION:  # NaN fails the comparison too
        raise GenerationError(f"truncation psi must be a number from 0 to {MAX_TRUNCATION:g}, got {truncation!r}")
    return truncation


def check_batch_size(batch_size) -> int:
    """A batch size from a caller or a command line ("16")."""
    try:
        value = int(batch_size) if isinstance(batch_size, str) else batch_size
    except ValueError:
        value = None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_BATCH_SIZE:
        raise GenerationError(f"batch-size must be an integer from 1 to {MAX_BATCH_SIZE}, got {batch_size!r}")
    return value


class GeneratorBase:
    """The contract's shell, written once (the role diffusers' DiffusionPipeline plays): generate() builds the
    requests, generate_requests() fills in the defaults and validates them once, and a family writes only
    make_images(), which gets checked values. Options a family takes beyond the contract (a GAN's truncation,
    a layout-aware model's layout) are keyword arguments of make_images, validated there before any work."""
    info: GeneratorInfo
    device: str = "cpu"

    def generate(self, prompts: Sequence[str], seed: int, steps: int | None = None,
                 guidance_scale: float | None = None, sampler: str | None = None,
                 on_step: StepCallback | None = None, batch_size: int | None = None, **options) -> list[Image.Image]:
        """generate_requests(requests_for(prompts, seed), ...): image i draws from stream (seed, i)."""
        if isinstance(prompts, str) or len(prompts) == 0:
            raise GenerationError("prompts must be a non-empty list of strings")
        return self.generate_requests(requests_for(prompts, seed), steps, guidance_scale, sampler, on_step,
                                      batch_size, **options)

    def generate_requests(self, requests: Sequence[ImageRequest], steps: int | None = None,
                          guidance_scale: float | None = None, sampler: str | None = None,
                          on_step: StepCallback | None = None, batch_size: int | None = None,
                          **options) -> list[Image.Image]:
        batch_size = default_batch_size(self.device) if batch_size is None else batch_size
        steps, guidance, sampler, batch_size = check_requests(self.info, requests, steps, guidance_scale, sampler,
                                                              batch_size)
        return self.make_images(list(requests), steps, guidance, sampler, on_step, batch_size, **options)

    def make_images(self, requests: list[ImageRequest], steps: int, guidance: float, sampler: str | None,
                    on_step: StepCallback | None, batch_size: int, **options) -> list[Image.Image]:
        """The family's part: the images of checked requests, `batch_size` rows at a time (see batches())."""
        raise NotImplementedError
