"""The demo's request handlers: plain functions of a DemoSession, callable and testable without a UI.

demo/app.py lays out the page and binds these to its events; each takes the session first, then the
event's inputs in the order the page sends them. Bad input is a gr.Error whose message the user sees.
"""
from __future__ import annotations

import dataclasses
import json
import math
import queue
import random
import threading
import time

import gradio as gr
from PIL import Image

from models.checkpoints import CheckpointError
from models.contract import MAX_GUIDANCE, MAX_PROMPT_CHARS, MAX_STEPS, GenerationError
from models.registry import available, load
from models.text.planners import make_planner
from world.layout import Layout, draw_layout

SAMPLERS = ["ddim", "dpm++", "ddpm"]  # the built-in samplers; hub pipelines map unknown ones to their own
MAX_SEED = 2**31 - 1
DISPLAY = 256  # 32x32 images are shown enlarged, with nearest-neighbour pixels
MAX_SCALES = 8  # guidance scales in one sweep


@dataclasses.dataclass
class DemoSession:
    """What every handler works on: the loaded generators (name -> generator), the prompt planner, the device."""
    generators: dict
    planner: object  # has .plan(prompt) -> a plan with understood, caption, reason, notes, planner
    device: str = "cpu"

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


def validate(prompt: str, steps, guidance) -> None:
    """The request limits of models.contract, as messages for the demo's user."""
    if not prompt or not prompt.strip():
        raise gr.Error("Type a prompt first, e.g. 'a large red circle in the center'.")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise gr.Error(f"The prompt is {len(prompt)} characters long; the limit is {MAX_PROMPT_CHARS}.")
    if steps is None or not 1 <= int(steps) <= MAX_STEPS or int(steps) != steps:
        raise gr.Error(f"Steps must be a whole number from 1 to {MAX_STEPS}.")
    if guidance is None or not math.isfinite(float(guidance)) or not 0 <= float(guidance) <= MAX_GUIDANCE:
        raise gr.Error(f"Guidance must be a finite number from 0 to {MAX_GUIDANCE:g}.")


def for_display(image: Image.Image) -> Image.Image:
    """Small world images are enlarged with crisp pixels; hub images (256-768 px) are left as they are."""
    if image.width >= DISPLAY:
        return image
    return image.resize((DISPLAY, DISPLAY), Image.NEAREST)


def stream(generator, text: str, seed: int, steps: int, guidance: float, sampler: str | None,
           every: float = 0.3, **extra):
    """Yield previews of the image as it is denoised (at most one per `every` seconds), then the image.

    The generator runs in a worker thread and reports through on_step; a GenerationError is re-raised here.
    """
    events: queue.Queue = queue.Queue()

    def work() -> None:
        try:
            image = generator.generate([text], seed=seed, steps=steps, guidance_scale=guidance, sampler=sampler,
                                       # hub pipelines report progress with no preview of the current image
                                       on_step=lambda done, total, previews: previews and events.put(
                                           ("step", previews[-1])),
                                       **extra)[0]
            events.put(("done", image))
        except Exception as error:  # handed to the caller, who decides what the user sees
            events.put(("error", error))

    threading.Thread(target=work, daemon=True).start()
    shown = 0.0
    while True:
        kind, value = events.get()
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
    try:
        scales = [float(v) for v in str(text).replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise gr.Error(f"Guidance scales must be numbers separated by commas, got {text!r}.") from None
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
    layout] as images stream; the layout is the one a layout-aware generator (dit-layout) used, if one is loaded."""
    validate(prompt, steps, guidance)
    seed = random.randint(0, MAX_SEED) if randomize else int(seed)
    plan = session.planner.plan(prompt) if rewrite else None
    shown = plan_text(plan) if plan is not None else "Rewriting is off: every model gets the prompt as typed."
    outputs: list[tuple[Image.Image | None, str]] = [(None, label(g)) for g in session.generators.values()]
    layout: list[Image.Image | None] = [None]

    def current():
        return [seed, shown, *[gr.Image(value=im, label=text) for im, text in outputs], layout[0]]

    for index, generator in enumerate(session.generators.values()):
        text = prompt_for(generator, prompt, plan)
        if text is None:
            outputs[index] = (None, f"{generator.info.name}: outside the Shapes world")
            continue
        started = time.perf_counter()
        try:
            for image in stream(generator, text, seed, int(steps), float(guidance), sampler_for(generator, sampler)):
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
    if model not in session.generators:
        raise gr.Error(f"Unknown model {model!r}; loaded: {', '.join(session.generators)}.")
    generator = session.generators[model]
    plan = session.planner.plan(prompt) if rewrite else None
    text = prompt_for(generator, prompt, plan)
    if text is None:
        raise gr.Error(f"Outside the Shapes world: {plan.reason}")
    return generator, text


def sweep(session: DemoSession, model: str, prompt: str, seed: float, steps: float, scales: str, sampler: str,
          rewrite: bool = True) -> list[tuple[Image.Image, str]]:
    """One generator, one prompt, one seed: [(image, 'guidance S')] for each scale in `scales`."""
    validate(prompt, steps, 0.0)
    if model in session.generators and not session.generators[model].info.guidance_applies:
        raise gr.Error(f"Guidance does not apply to {model} ({session.generators[model].info.family}).")
    generator, text = _one_model(session, model, prompt, rewrite)
    row = []
    for scale in parse_scales(scales):
        try:
            image = generator.generate([text], seed=int(seed), steps=int(steps), guidance_scale=scale,
                                       sampler=sampler_for(generator, sampler))[0]
        except GenerationError as error:
            raise gr.Error(f"{model}: {error}")
        row.append((for_display(image), f"guidance {scale:g}"))
    return row


def generate_one(session: DemoSession, model: str, prompt: str, seed: float, steps: float, guidance: float,
                 sampler: str, rewrite: bool = True) -> Image.Image:
    """One model, one image (the `generate` endpoint, for scripts)."""
    validate(prompt, steps, guidance)
    generator, text = _one_model(session, model, prompt, rewrite)
    try:
        return generator.generate([text], seed=int(seed), steps=int(steps), guidance_scale=float(guidance),
                                  sampler=sampler_for(generator, sampler))[0]
    except GenerationError as error:
        raise gr.Error(f"{model}: {error}")
