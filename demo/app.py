"""The GenBench Gradio app: one prompt and one seed to every loaded generator, side by side."""
from __future__ import annotations

import math
import pathlib
import queue
import random
import threading
import time

import gradio as gr
from PIL import Image

from demo.about import LATEX, about_markdown
from demo.evaluation_tab import add_tab
from models.checkpoints import CheckpointError
from models.contract import MAX_PROMPT_CHARS, MAX_STEPS, GenerationError
from models.text.planners import make_planner
from models.registry import available, load

EXAMPLES = [
    ["a large red circle in the center"],
    ["a small blue square in the top left"],
    ["a green triangle to the left of a yellow circle"],
    ["three cyan crosses"],
    ["a purple triangle"],  # a held-out composition: never seen in training
    ["draw a crimson ball up in the left corner"],  # free text: the planner rewrites it
    ["put a green plus under an orange triangle"],
]
SAMPLERS = ["ddim", "dpm++", "ddpm"]  # the built-in samplers; hub pipelines map unknown ones to their own
MAX_SEED = 2**31 - 1
DISPLAY = 256  # 32x32 images are shown enlarged, with nearest-neighbour pixels


def label(generator, seconds: float | None = None) -> str:
    info = generator.info
    text = f"{info.name} · {info.family} · {info.parameters / 1e6:.1f}M params"
    return text if seconds is None else f"{text} · {seconds:.2f} s"


def validate(prompt: str, steps, guidance) -> None:
    if not prompt or not prompt.strip():
        raise gr.Error("Type a prompt first, e.g. 'a large red circle in the center'.")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise gr.Error(f"The prompt is {len(prompt)} characters long; the limit is {MAX_PROMPT_CHARS}.")
    if steps is None or not 1 <= int(steps) <= MAX_STEPS or int(steps) != steps:
        raise gr.Error(f"Steps must be a whole number from 1 to {MAX_STEPS}.")
    if guidance is None or not math.isfinite(float(guidance)) or float(guidance) < 0:
        raise gr.Error("Guidance must be a finite number, 0 or more.")


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
    if not 1 <= len(scales) <= 8:
        raise gr.Error("Give from 1 to 8 guidance scales, e.g. 1, 3, 5, 7.")
    if any(not math.isfinite(v) or not 0 <= v <= 50 for v in scales):
        raise gr.Error("Every guidance scale must be a finite number from 0 to 50.")
    return scales


def plan_text(plan) -> str:
    """What the planner made of the prompt, as one Markdown line under it."""
    if not plan.understood:
        return f"**Outside the Shapes world:** {plan.reason}"
    notes = f" ({'; '.join(plan.notes)})" if plan.notes else ""
    return f"Built-in models get: **{plan.caption}** · planner {plan.planner}{notes}"


def build(model_names: list[str] | None = None, device: str = "cpu", planner: str = "rules",
          queue_size: int = 16, gpu=None, runs: str | pathlib.Path = "runs") -> gr.Blocks:
    """The app over `model_names` (default: every generator whose weights are on disk, hub ones included).

    gpu: a decorator for the functions that generate (spaces.GPU on a ZeroGPU Space), or None.
    runs: the folder of evaluation runs the Evaluation tab shows (the latest first).
    """
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

    def prompt_for(generator, prompt: str, plan) -> str | None:
        """What this generator is sent: the planned caption for built-in models, the text as typed for hub ones."""
        if plan is None or generator.info.family == "hub":
            return prompt
        return plan.caption if plan.understood else None

    def compare(prompt: str, seed: float, randomize: bool, steps: float, guidance: float, sampler: str,
                rewrite: bool = True):
        validate(prompt, steps, guidance)
        seed = random.randint(0, MAX_SEED) if randomize else int(seed)
        plan = rewriter.plan(prompt) if rewrite else None
        shown = plan_text(plan) if plan is not None else "Rewriting is off: every model gets the prompt as typed."
        outputs: list[tuple[Image.Image | None, str]] = [(None, label(g)) for g in generators.values()]

        def current():
            return [seed, shown, *[gr.Image(value=im, label=text) for im, text in outputs]]

        for index, generator in enumerate(generators.values()):
            text = prompt_for(generator, prompt, plan)
            if text is None:
                outputs[index] = (None, f"{generator.info.name}: outside the Shapes world")
                continue
            started = time.perf_counter()
            # a sampler this generator lacks (hub pipelines: default | ddim | dpm++) falls back to its own
            chosen = sampler if sampler in generator.info.samplers else None
            try:
                for image in stream(generator, text, seed, int(steps), float(guidance), chosen):
                    outputs[index] = (for_display(image), label(generator))
                    yield current()
            except GenerationError as error:  # this generator cannot take the prompt; the others still answer
                outputs[index] = (None, f"{generator.info.name}: {error}")
                continue
            outputs[index] = (outputs[index][0], label(generator, time.perf_counter() - started))
        yield current()

    def sweep(model: str, prompt: str, seed: float, steps: float, scales: str, sampler: str, rewrite: bool = True):
        validate(prompt, steps, 0.0)
        if model not in generators:
            raise gr.Error(f"Unknown model {model!r}; loaded: {', '.join(generators)}.")
        generator = generators[model]
        if not generator.info.guidance_applies:
            raise gr.Error(f"Guidance does not apply to {model} ({generator.info.family}).")
        plan = rewriter.plan(prompt) if rewrite else None
        text = prompt_for(generator, prompt, plan)
        if text is None:
            raise gr.Error(f"Outside the Shapes world: {plan.reason}")
        chosen = sampler if sampler in generator.info.samplers else None
        row = []
        for scale in parse_scales(scales):
            try:
                image = generator.generate([text], seed=int(seed), steps=int(steps), guidance_scale=scale,
                                           sampler=chosen)[0]
            except GenerationError as error:
                raise gr.Error(f"{model}: {error}")
            row.append((for_display(image), f"guidance {scale:g}"))
        return row

    def generate_one(model: str, prompt: str, seed: float, steps: float, guidance: float, sampler: str,
                     rewrite: bool = True):
        validate(prompt, steps, guidance)
        if model not in generators:
            raise gr.Error(f"Unknown model {model!r}; loaded: {', '.join(generators)}.")
        generator = generators[model]
        plan = rewriter.plan(prompt) if rewrite else None
        text = prompt_for(generator, prompt, plan)
        if text is None:
            raise gr.Error(f"Outside the Shapes world: {plan.reason}")
        chosen = sampler if sampler in generator.info.samplers else None
        try:
            return generator.generate([text], seed=int(seed), steps=int(steps), guidance_scale=float(guidance),
                                      sampler=chosen)[0]
        except GenerationError as error:
            raise gr.Error(f"{model}: {error}")

    if gpu is not None:  # ZeroGPU attaches a GPU only inside functions it decorates
        compare, sweep, generate_one = gpu(compare), gpu(sweep), gpu(generate_one)
    guided = [name for name, g in generators.items() if g.info.guidance_applies]
    with gr.Blocks(title="GenBench") as app:
        gr.Markdown("# GenBench\nOne prompt, one seed, every generator side by side. The built-in models know the "
                    "Shapes world: colors, shapes, sizes, positions, pairs and counts.")
        with gr.Tab("Compare"):
            with gr.Row():
                prompt = gr.Textbox(label="Prompt", value=EXAMPLES[0][0], max_length=MAX_PROMPT_CHARS, scale=4,
                                    elem_id="prompt")
                button = gr.Button("Generate", variant="primary", scale=1, elem_id="generate")
            with gr.Row():
                planned = gr.Markdown("The planner rewrites free text into a caption the built-in models know.",
                                      elem_id="plan")
                rewrite = gr.Checkbox(label="Rewrite with the planner", value=True, scale=0, elem_id="rewrite")
            with gr.Row():
                seed = gr.Number(label="Seed", value=0, precision=0, minimum=0, maximum=MAX_SEED)
                randomize = gr.Checkbox(label="Randomise seed", value=False)
                steps = gr.Slider(1, 200, value=50, step=1, label="Steps")
                guidance = gr.Slider(0, 15, value=3.0, step=0.5, label="Guidance")
                sampler = gr.Dropdown(SAMPLERS, value="ddim", label="Sampler")
            with gr.Row():
                images = [gr.Image(label=label(g), type="pil", interactive=False, height=DISPLAY, width=DISPLAY,
                                   elem_classes=["generator-output"]) for g in generators.values()]
            gr.Examples(EXAMPLES, inputs=[prompt])
            inputs = [prompt, seed, randomize, steps, guidance, sampler, rewrite]
            button.click(compare, inputs, [seed, planned, *images], api_name="compare")
            prompt.submit(compare, inputs, [seed, planned, *images], api_visibility="private")
            # one model, one image, for scripts (gradio_client): no UI of its own
            one_model = gr.Dropdown(list(generators), value=next(iter(generators)), visible=False)
            one_image = gr.Image(type="pil", visible=False)
            gr.Button(visible=False).click(generate_one, [one_model, prompt, seed, steps, guidance, sampler, rewrite],
                                           one_image, api_name="generate")
        with gr.Tab("Guidance sweep"):
            gr.Markdown("One generator, one prompt, one seed, a row of guidance scales.")
            with gr.Row():
                sweep_model = gr.Dropdown(guided, value=guided[0] if guided else None, label="Generator")
                sweep_prompt = gr.Textbox(label="Prompt", value=EXAMPLES[0][0], max_length=MAX_PROMPT_CHARS, scale=3)
            with gr.Row():
                sweep_scales = gr.Textbox(label="Guidance scales", value="0, 1, 3, 5, 7")
                sweep_seed = gr.Number(label="Seed", value=0, precision=0, minimum=0, maximum=MAX_SEED)
                sweep_steps = gr.Slider(1, 200, value=50, step=1, label="Steps")
                sweep_sampler = gr.Dropdown(SAMPLERS, value="ddim", label="Sampler")
                sweep_rewrite = gr.Checkbox(label="Rewrite with the planner", value=True)
                sweep_button = gr.Button("Sweep", variant="primary")
            sweep_row = gr.Gallery(label="Guidance sweep", columns=8, height=DISPLAY + 60, object_fit="contain")
            sweep_button.click(sweep, [sweep_model, sweep_prompt, sweep_seed, sweep_steps, sweep_scales,
                                       sweep_sampler, sweep_rewrite], sweep_row, api_name="sweep")
        add_tab(pathlib.Path(runs))
        with gr.Tab("About"):
            gr.Markdown(about_markdown(), latex_delimiters=LATEX)
    # two cores: one generation at a time, and a bounded queue that answers "busy" when full
    app.queue(max_size=queue_size, default_concurrency_limit=1)
    return app
