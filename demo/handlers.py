"""The demo's request handlers: plain functions of a DemoSession, callable and testable without a UI.

demo/app.py lays out the page and binds these to its events; each takes the session first, then the
event's inputs in the order the page sends them. Bad input is a gr.Error whose message the user sees.
The handlers that generate are generator functions: each image is made in a worker thread that stops at
its next step once the handler is closed, which is what Gradio does to a cancelled request.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import queue
import random
import threading
import time

import gradio as gr
from PIL import Image

from demo.verdicts import verdict, verdict_line, world_caption, world_tile
from models.checkpoints import CheckpointError
from models.contract import (DIFFUSION_SAMPLERS, FLOW_SAMPLERS, MAX_GUIDANCE, MAX_PROMPT_CHARS, MAX_SEED, MAX_STEPS,
                             GenerationError)
from models.registry import available, load
from models.text.planners import make_planner
from world.layout import Layout, draw_layout

# the built-in samplers (the contract's: the diffusion families' and a flow's); a model given one it lacks runs its
# own default (sampler_for), and hub pipelines offer their own
SAMPLERS = list(DIFFUSION_SAMPLERS) + list(FLOW_SAMPLERS)
DISPLAY = 256  # 32x32 images are shown enlarged, with nearest-neighbour pixels
MAX_SCALES = 8  # guidance scales in one sweep


@dataclasses.dataclass
class DemoSession:
    """What every handler works on: the loaded generators (name -> generator), the prompt planner, the device."""
    generators: dict
    planner: object  # has .plan(prompt) -> a plan with understood, caption, reason, notes, planner
    device: str = "cpu"
    plans: dict = dataclasses.field(default_factory=dict)  # (prompt, rewrite) -> the plan compare last used

    def remember(self, prompt: str, plan) -> None:
        """Keep the plan compare used, so that the judge reads the caption the models got (bounded: a cache)."""
        if len(self.plans) >= 256:
            self.plans.pop(next(iter(self.plans)))
        self.plans[(prompt, plan is not None)] = plan

    @property
    def guided(self) -> list[str]:
        """The generators guidance applies to: the choices of the Guidance sweep tab."""
        return [name for name, g in self.generators.items() if g.info.guidance_applies]


def open_session(model_names: list[str] | None = None, device: str = "cpu", planner: str = "rules") -> DemoSession:
    """Load `model_names` (default: every generator whose weights are on disk) and the planner; a one-line
    SystemExit for an unknown planner or model, missing weights, or nothing to serve."""
    try:
        rewriter = make_planner(planner)
    except (ValueError, OSError) as error:
        raise SystemExit(f"error: {str(error).splitlines()[0]}")
    names = model_names or available()
    if not names:
        raise SystemExit("error: no trained generators found; run `python -m models train --model ddpm`")
    try:
        generators = {name: load(name, device=device) for name in names}
    except (KeyError, CheckpointError) as error:
        raise SystemExit(f"error: {error}")
    return DemoSession(generators, rewriter, device)


def label(generator, seconds: float | None = None) -> str:
    info = generator.info
    text = f"{info.name} · {info.family} · {info.parameters / 1e6:.1f}M params"
    return text if seconds is None else f"{text} · {seconds:.2f} s"


def _span(low, high) -> str:
    return " to ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in (low, high))


def _number(value, what: str, low, high, whole: bool):
    """`value` as a number within [low, high] (a whole one when `whole`), or a gr.Error naming `what`."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not (number and low <= value <= high and (not whole or value == int(value))):
        kind = "a whole number" if whole else "a finite number"
        raise gr.Error(f"{what} must be {kind} from {_span(low, high)}, got {value!r:.40}.")
    return int(value) if whole else float(value)


def check_prompt(prompt) -> str:
    """The prompt, checked before anything reads it: text, within MAX_PROMPT_CHARS, not blank."""
    prompt = "" if prompt is None else prompt
    if not isinstance(prompt, str):
        raise gr.Error(f"The prompt must be text, got {type(prompt).__name__}.")
    if len(prompt) > MAX_PROMPT_CHARS:  # before strip() or the planner spend time on it
        raise gr.Error(f"The prompt is {len(prompt)} characters long; the limit is {MAX_PROMPT_CHARS}.")
    if not prompt.strip():
        raise gr.Error("Type a prompt first, e.g. 'a large red circle in the center'.")
    return prompt


def check_flag(value, what: str) -> bool:
    if not isinstance(value, bool):
        raise gr.Error(f"{what} must be true or false, got {value!r:.40}.")
    return value


def check_seed(seed) -> int:
    return _number(seed, "Seed", 0, MAX_SEED, whole=True)


def validate(prompt, steps, guidance) -> tuple[str, int, float]:
    """The request limits of models.contract, as messages for the demo's user: (prompt, steps, guidance)."""
    return (check_prompt(prompt), _number(steps, "Steps", 1, MAX_STEPS, whole=True),
            _number(guidance, "Guidance", 0.0, MAX_GUIDANCE, whole=False))


def for_display(image: Image.Image) -> Image.Image:
    """Small world images are enlarged with crisp pixels; hub images (256-768 px) are left as they are."""
    if image.width >= DISPLAY:
        return image
    return image.resize((DISPLAY, DISPLAY), Image.NEAREST)


# _STARTED: every generating handler yields once before it starts a worker. Gradio keeps a generator (to close it
# when its request is cancelled) only once its first step returns; a request cancelled during that first step
# leaves a generator nobody closes, which must not have started any work.


class Cancelled(Exception):
    """Raised inside a generation whose request went away: it stops the work at its next step."""


def stream(generator, text: str, seed: int, steps: int, guidance: float, sampler: str | None,
           every: float = 0.3, pulse: float = 0.5, previews: bool = True, **extra):
    """Yield previews of the image as it is denoised (at most one per `every` seconds), then the image; None
    when `pulse` seconds pass with nothing to show.

    The generator runs in a worker thread and reports through on_step; a GenerationError is re-raised here.
    Closing this (Gradio does when a request is cancelled) stops the worker at its next step.
    """
    events: queue.Queue = queue.Queue()
    stop = threading.Event()

    def on_step(done, total, images) -> None:
        if stop.is_set():
            raise Cancelled("the request was cancelled")
        if previews and images:  # hub pipelines report progress with no preview of the current image
            events.put(("step", images[-1]))

    def work() -> None:
        try:
            image = generator.generate([text], seed=seed, steps=steps, guidance_scale=guidance, sampler=sampler,
                                       on_step=on_step, **extra)[0]
            events.put(("done", image))
        except Exception as error:  # handed to the caller, who decides what the user sees
            events.put(("error", error))

    threading.Thread(target=work, daemon=True, name="genbench-generate").start()
    try:
        yield from _relay(events, every, pulse)
    finally:
        stop.set()  # a no-op when the work is done; else it ends at the next step


def _relay(events: queue.Queue, every: float, pulse: float):
    shown = 0.0
    while True:
        try:
            kind, value = events.get(timeout=pulse)
        except queue.Empty:
            # Gradio can close a cancelled generator only between yields: never stay inside one for long
            yield None
            continue
        if kind == "error":
            raise value
        if kind == "done":
            yield value
            return
        if time.perf_counter() - shown >= every:
            shown = time.perf_counter()
            yield value


def parse_scales(text: str) -> list[float]:
    """'1, 3, 5' -> [1.0, 3.0, 5.0]; a gr.Error for anything else."""
    if len(str(text)) > 20 * MAX_SCALES:  # before parsing what could be millions of numbers
        raise gr.Error(f"Give from 1 to {MAX_SCALES} guidance scales, e.g. 1, 3, 5, 7.")
    try:
        scales = [float(v) for v in str(text).replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise gr.Error(f"Guidance scales must be numbers separated by commas, got {text!r:.40}.") from None
    if not 1 <= len(scales) <= MAX_SCALES:
        raise gr.Error(f"Give from 1 to {MAX_SCALES} guidance scales, e.g. 1, 3, 5, 7.")
    if any(not math.isfinite(v) or not 0 <= v <= MAX_GUIDANCE for v in scales):
        raise gr.Error(f"Every guidance scale must be a finite number from 0 to {MAX_GUIDANCE:g}.")
    return scales


def plan_text(plan) -> str:
    """What the planner made of the prompt, as one Markdown line under it."""
    if not plan.understood:
        return f"**Outside the Shapes world:** {plan.reason}"
    notes = f" ({'; '.join(plan.notes)})" if plan.notes else ""
    return f"Built-in models get: **{plan.caption}** · planner {plan.planner}{notes}"


def prompt_for(generator, prompt: str, plan) -> str | None:
    """What this generator is sent: the planned caption for built-in models, the text as typed for hub ones."""
    if plan is None or generator.info.family == "hub":
        return prompt
    return plan.caption if plan.understood else None


def sampler_for(generator, sampler: str) -> str | None:
    """A sampler this generator lacks (hub pipelines: default | ddim | dpm++) falls back to its own."""
    return sampler if sampler in generator.info.samplers else None


def layout_picture(image: Image.Image) -> Image.Image | None:
    """The layout a layout-aware generator drew `image` from, as labelled boxes (None for other generators)."""
    used = image.info.get("layout")
    return draw_layout(Layout.from_dict(json.loads(used))) if used else None


def compare(session: DemoSession, prompt: str, seed: float, randomize: bool, steps: float, guidance: float,
            sampler: str, rewrite: bool = True):
    """Every generator, one after the other: yields [seed, plan line, *one gr.Image per generator, the planned
    layout] as images stream; the layout is the one a layout-aware generator (dit-layout, gan-layout) used, if one is loaded."""
    prompt, steps, guidance = validate(prompt, steps, guidance)
    seed = random.randint(0, MAX_SEED) if check_flag(randomize, "Randomise seed") else check_seed(seed)
    plan = session.planner.plan(prompt) if check_flag(rewrite, "Rewrite") else None
    session.remember(prompt, plan)
    shown = plan_text(plan) if plan is not None else "Rewriting is off: every model gets the prompt as typed."
    outputs: list[tuple[Image.Image | None, str]] = [(None, label(g)) for g in session.generators.values()]
    layout: list[Image.Image | None] = [None]
    nothing_new = [gr.skip()] * (len(outputs) + 3)

    def current():
        return [seed, shown, *[gr.Image(value=im, label=text) for im, text in outputs], layout[0]]

    yield current()  # before any work starts: see _STARTED
    for index, generator in enumerate(session.generators.values()):
        text = prompt_for(generator, prompt, plan)
        if text is None:
            outputs[index] = (None, f"{generator.info.name}: outside the Shapes world")
            continue
        started = time.perf_counter()
        try:
            with contextlib.closing(stream(generator, text, seed, steps, guidance,
                                           sampler_for(generator, sampler))) as images:
                for image in images:
                    if image is None:
                        yield nothing_new
                        continue
                    outputs[index] = (for_display(image), label(generator))
                    layout[0] = layout_picture(image) or layout[0]
                    yield current()
        except GenerationError as error:  # this generator cannot take the prompt; the others still answer
            outputs[index] = (None, f"{generator.info.name}: {error}")
            continue
        outputs[index] = (outputs[index][0], label(generator, time.perf_counter() - started))
    yield current()


def _one_model(session: DemoSession, model: str, prompt: str, rewrite: bool):
    """(generator, the text it is sent) for the handlers that use one model; a gr.Error when there is none."""
    if not isinstance(model, str) or model not in session.generators:
        raise gr.Error(f"Unknown model {model!r:.60}; loaded: {', '.join(session.generators)}.")
    generator = session.generators[model]
    plan = session.planner.plan(prompt) if check_flag(rewrite, "Rewrite") else None
    text = prompt_for(generator, prompt, plan)
    if text is None:
        raise gr.Error(f"Outside the Shapes world: {plan.reason}")
    return generator, text


def _one_image(generator, model: str, text: str, seed: int, steps: int, guidance: float, sampler):
    """Returns the image; yields gr.skip() while it is made, so a cancelled request can stop it."""
    image = None
    try:
        with contextlib.closing(stream(generator, text, seed, steps, guidance, sampler_for(generator, sampler),
                                       previews=False)) as images:
            for image in images:
                if image is None:
                    yield gr.skip()
    except GenerationError as error:
        raise gr.Error(f"{model}: {error}")
    return image


def sweep(session: DemoSession, model: str, prompt: str, seed: float, steps: float, scales: str, sampler: str,
          rewrite: bool = True):
    """One generator, one prompt, one seed: yields the row [(image, 'guidance S')] as it grows, a scale at a time."""
    prompt, steps, _ = validate(prompt, steps, 0.0)
    values, seed = parse_scales(scales), check_seed(seed)
    if isinstance(model, str) and model in session.generators and not session.generators[model].info.guidance_applies:
        raise gr.Error(f"Guidance does not apply to {model} ({session.generators[model].info.family}).")
    generator, text = _one_model(session, model, prompt, rewrite)
    yield gr.skip()  # before any work starts: see _STARTED
    row = []
    for scale in values:
        image = yield from _one_image(generator, model, text, seed, steps, scale, sampler)
        row.append((for_display(image), f"guidance {scale:g}"))
        yield list(row)


def generate_one(session: DemoSession, model: str, prompt: str, seed: float, steps: float, guidance: float,
                 sampler: str, rewrite: bool = True):
    """One model, one image (the `generate` endpoint, for scripts): yields gr.skip() while it works, then the image."""
    prompt, steps, guidance = validate(prompt, steps, guidance)
    seed = check_seed(seed)
    generator, text = _one_model(session, model, prompt, rewrite)
    yield gr.skip()  # before any work starts: see _STARTED
    yield (yield from _one_image(generator, model, text, seed, steps, guidance, sampler))


def judged(session: DemoSession, prompt: str, seed: float, rewrite: bool, *images):
    """The world's rendering of the caption compare's images were made from, then the judge's verdict line on
    each image shown (one per generator, None where there is none): [tile, *lines]."""
    prompt, seed = check_prompt(prompt), check_seed(seed)
    rewrite = check_flag(rewrite, "Rewrite")
    key = (prompt, rewrite)
    plan = session.plans[key] if key in session.plans else session.planner.plan(prompt) if rewrite else None
    caption = world_caption(prompt, plan)
    truth = world_tile(caption, seed)
    lines = []
    for generator, image in zip(session.generators.values(), images):
        size = generator.info.resolution
        if image is not None and image.size == (DISPLAY, DISPLAY) and size < DISPLAY:
            image = image.convert("RGB").resize((size, size), Image.NEAREST)  # undo for_display exactly
        lines.append(verdict_line(verdict(caption, image)) if image is not None else "")
    return [None if truth is None else for_display(truth), *lines]
