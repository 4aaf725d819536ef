"""The GenBench Gradio app: one prompt and one seed to every loaded generator, side by side."""
from __future__ import annotations

import math
import random
import time

import gradio as gr
from PIL import Image

from models.checkpoints import CheckpointError
from models.contract import MAX_PROMPT_CHARS, MAX_STEPS, GenerationError
from models.planner import make_planner
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


def plan_text(plan) -> str:
    """What the planner made of the prompt, as one Markdown line under it."""
    if not plan.understood:
        return f"**Outside the Shapes world:** {plan.reason}"
    notes = f" ({'; '.join(plan.notes)})" if plan.notes else ""
    return f"Built-in models get: **{plan.caption}** · planner {plan.planner}{notes}"


def build(model_names: list[str] | None = None, device: str = "cpu", planner: str = "rules") -> gr.Blocks:
    """The app over `model_names` (default: every generator whose weights are on disk, hub ones included)."""
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

    def compare(prompt: str, seed: float, randomize: bool, steps: float, guidance: float, sampler: str,
                rewrite: bool = True):
        validate(prompt, steps, guidance)
        seed = random.randint(0, MAX_SEED) if randomize else int(seed)
        plan = rewriter.plan(prompt) if rewrite else None
        outputs = []
        for generator in generators.values():
            started = time.perf_counter()
            text = prompt
            if plan is not None and generator.info.family != "hub":  # hub models read free text themselves
                if not plan.understood:
                    outputs.append((None, f"{generator.info.name}: outside the Shapes world"))
                    continue
                text = plan.caption
            try:
                # a sampler this generator lacks (hub pipelines: default | ddim | dpm++) falls back to its own
                image = generator.generate([text], seed=seed, steps=int(steps), guidance_scale=float(guidance),
                                           sampler=sampler if sampler in generator.info.samplers else None)[0]
            except GenerationError as error:  # this generator cannot take the prompt; the others still answer
                outputs.append((None, f"{generator.info.name}: {error}"))
                continue
            outputs.append((for_display(image), label(generator, time.perf_counter() - started)))
        shown = plan_text(plan) if plan is not None else "Rewriting is off: every model gets the prompt as typed."
        return [seed, shown, *[gr.Image(value=im, label=text) for im, text in outputs]]

    with gr.Blocks(title="GenBench") as app:
        gr.Markdown("# GenBench\nOne prompt, one seed, every generator side by side. The built-in models know the "
                    "Shapes world: colors, shapes, sizes, positions, pairs and counts.")
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
            sampler = gr.Dropdown(["ddim", "dpm++", "ddpm"], value="ddim", label="Sampler")
        with gr.Row():
            images = [gr.Image(label=label(g), type="pil", interactive=False, height=DISPLAY, width=DISPLAY,
                               elem_classes=["generator-output"]) for g in generators.values()]
        gr.Examples(EXAMPLES, inputs=[prompt])
        inputs = [prompt, seed, randomize, steps, guidance, sampler, rewrite]
        button.click(compare, inputs, [seed, planned, *images], api_name="compare")
        prompt.submit(compare, inputs, [seed, planned, *images], api_name=False)
    # two cores: one generation at a time, and a bounded queue that answers "busy" when full
    app.queue(max_size=16, default_concurrency_limit=1)
    return app
