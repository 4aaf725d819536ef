"""Generators the user brings: any object that follows the contract, any diffusers pipeline, or a plain callable.

From the command line they are `--models package.module:attribute` (imported from the working directory
or the Python path), beside built-in names and `hub:` folders; from Python they are the objects themselves
(evaluation.run(models=["ddpm", my_generate])). Whatever they return is checked image by image, so a model
that returns the wrong count, a non-image or a non-RGB image stops the run with one line saying which.
"""
from __future__ import annotations

import importlib
import inspect
import re
import sys
from typing import Callable, Sequence

from PIL import Image

from models.contract import GenerationError, GeneratorBase, GeneratorInfo, ImageRequest, StepCallback

SPEC = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")
CALLABLE_NOTE = ("a plain callable generate(prompts, seed) -> list of PIL images; info inferred: one pass (no steps, "
                 "no guidance), resolution and parameter count unknown (0)")


class CustomModelError(ValueError):
    """A user model that cannot be imported or used; the message is one line."""


def is_custom_spec(name: str) -> bool:
    """package.module:attribute (hub:... is a hub pipeline, not a module)."""
    return isinstance(name, str) and not name.startswith("hub:") and SPEC.fullmatch(name) is not None


def load_generator(name: str, device: str = "cpu"):
    """A built-in or hub name through the registry, or package.module:attribute imported and adapted."""
    if is_custom_spec(name):
        return import_spec(name, device)
    from models.registry import load
    return load(name, device=device)


def import_spec(spec: str, device: str = "cpu"):
    """The generator named by package.module:attribute (an object, or a factory called once)."""
    module_name, _, attribute = spec.partition(":")
    if "" not in sys.path and "." not in sys.path:  # `python -m` puts the working directory first; scripts may not
        sys.path.insert(0, "")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        raise CustomModelError(f"--models {spec}: cannot import {module_name} ({error}); run from the folder that "
                               f"holds it or put it on PYTHONPATH") from None
    except (Exception, SystemExit) as error:  # it raised, or called sys.exit, while importing: one line, not exit 0
        raise CustomModelError(f"--models {spec}: importing {module_name} failed: {type(error).__name__}: "
                               f"{_first_line(error)}") from None
    target = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise CustomModelError(f"--models {spec}: {module_name} has no attribute {attribute!r}")
        target = getattr(target, part)
    return adapt(target, spec, device)


def adapt(target, name: str, device: str = "cpu", factory_allowed: bool = True):
    """A contract generator for `target`; every image it returns is checked."""
    if _follows_contract(target):
        return CheckedGenerator(target, name)
    if _is_pipeline(target):
        from models.hub import HubGenerator
        return CheckedGenerator(HubGenerator(name, target, device), name)
    if factory_allowed and _is_factory(target):
        try:
            made = target(device=device) if _accepts(target, "device") else target()
        except (Exception, SystemExit) as error:
            raise CustomModelError(f"{name}: the factory raised {type(error).__name__}: {_first_line(error)}") from None
        return adapt(made, name, device, factory_allowed=False)
    if callable(target):
        return CallableGenerator(target, name)
    raise CustomModelError(f"{name}: a {type(target).__name__} is not a generator; give an object with info and "
                           f"generate(), a diffusers pipeline, or a callable generate(prompts, seed) -> PIL images")


def name_for(target) -> str:
    """The name a Python object takes in a run: its info.name, its pipeline class, or its function name."""
    info = getattr(target, "info", None)
    if isinstance(getattr(info, "name", None), str):
        return info.name
    if _is_pipeline(target):
        return type(target).__name__
    return getattr(target, "__name__", type(target).__name__)


def _follows_contract(target) -> bool:
    return isinstance(getattr(target, "info", None), GeneratorInfo) and callable(getattr(target, "generate", None))


def _is_pipeline(target) -> bool:
    if not type(target).__module__.startswith("diffusers"):
        return False
    from diffusers import DiffusionPipeline
    return isinstance(target, DiffusionPipeline)


def _is_factory(target) -> bool:
    """A class, or a function callable with no argument (or only device=): it makes the generator."""
    if inspect.isclass(target):
        return True
    try:
        parameters = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return False
    return callable(target) and all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                                    for p in parameters)


def _accepts(target, keyword: str) -> bool:
    try:
        return keyword in inspect.signature(target).parameters
    except (TypeError, ValueError):
        return False


def _first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [""])[0]


def guarded(name: str, call: Callable, *args, **kwargs):
    """A user model's call; whatever it raises (but a GenerationError) becomes one line naming the model."""
    try:
        return call(*args, **kwargs)
    except GenerationError:
        raise
    except (Exception, SystemExit) as error:
        raise GenerationError(f"{name} raised {type(error).__name__}: {_first_line(error)[:200]}") from error


def checked_images(images, expected: int, name: str) -> list[Image.Image]:
    """`images` when it is a list of `expected` RGB PIL images; else a one-line GenerationError."""
    if not isinstance(images, (list, tuple)):
        raise GenerationError(f"{name} returned a {type(images).__name__}, not a list of PIL images")
    if len(images) != expected:
        raise GenerationError(f"{name} returned {len(images)} images for {expected} prompts")
    for position, image in enumerate(images):
        if not isinstance(image, Image.Image):
            raise GenerationError(f"{name} returned a {type(image).__name__} at position {position}, not a PIL image")
        if image.mode != "RGB":
            raise GenerationError(f"{name} returned a mode {image.mode!r} image at position {position}; return RGB "
                                  f"images (image.convert('RGB'))")
    return list(images)


def same_seed_runs(requests: Sequence[ImageRequest]) -> list[list[ImageRequest]]:
    """Consecutive requests of one seed with consecutive indices: each run is one generate(prompts, seed) call."""
    runs: list[list[ImageRequest]] = []
    for request in requests:
        last = runs[-1][-1] if runs else None
        if last is not None and last.seed == request.seed and last.index + 1 == request.index:
            runs[-1].append(request)
        else:
            runs.append([request])
    return runs


def call_by_seed(generate: Callable, requests: Sequence[ImageRequest], name: str, on_step: StepCallback | None,
                 **options) -> list[Image.Image]:
    """Each request's image from generate(prompts, seed, **options): image i of a call is stream (seed, i), so a
    run starting at index s is called with s copies of its first prompt in front, and those are dropped."""
    images: list[Image.Image] = []
    for run in same_seed_runs(requests):
        offset = run[0].index
        prompts = [run[0].prompt] * offset + [r.prompt for r in run]
        made = checked_images(guarded(name, generate, prompts, run[0].seed, **options), len(prompts), name)
        images += made[offset:]
        if on_step is not None:
            on_step(len(images), len(requests), list(images))
    return images


class CallableGenerator(GeneratorBase):
    """A plain generate(prompts, seed) behind the contract; steps, guidance and sampler do not apply."""

    def __init__(self, function: Callable, name: str):
        self.function = function
        self.info = GeneratorInfo(name=name, family="custom", conditioning="text", resolution=0, parameters=0,
                                  default_steps=1, default_guidance=0.0, guidance_applies=False,
                                  description=CALLABLE_NOTE)

    def make_images(self, requests: list[ImageRequest], steps: int, guidance: float, sampler: str | None,
                    on_step: StepCallback | None, batch_size: int) -> list[Image.Image]:
        return call_by_seed(self.function, requests, self.info.name, on_step)


class CheckedGenerator(GeneratorBase):
    """A contract object whose images are checked; objects with only generate() are called seed by seed."""

    def __init__(self, inner, name: str):
        self.inner, self.name = inner, name

    def __getattr__(self, attribute):  # info, layout_aware, anything else the object offers
        return getattr(self.inner, attribute)

    @property
    def device(self) -> str:  # the default batch size follows the wrapped model's device
        return getattr(self.inner, "device", "cpu")

    def make_images(self, requests: list[ImageRequest], steps: int, guidance: float, sampler: str | None,
                    on_step: StepCallback | None, batch_size: int, **extra) -> list[Image.Image]:
        options = dict(steps=steps, guidance_scale=guidance, sampler=sampler, **extra)
        if callable(getattr(self.inner, "generate_requests", None)):
            images = guarded(self.name, self.inner.generate_requests, requests, on_step=on_step,
                             batch_size=batch_size, **options)
            return checked_images(images, len(requests), self.name)
        return call_by_seed(self.inner.generate, requests, self.name, on_step, **options)
