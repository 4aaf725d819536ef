"""The GenBench Gradio app: one prompt and one seed to every loaded generator, side by side.

The handlers live in demo/handlers.py as plain functions of a DemoSession; this module lays out the
page and binds them to its events.
"""
from __future__ import annotations

import functools
import inspect
import pathlib

import gradio as gr

from demo import arena_tab, evaluation_tab, handlers
from demo.about import LATEX, about_markdown
from demo.arena_handlers import data_dir, open_arena
from demo.handlers import DISPLAY, MAX_SEED, SAMPLERS, DemoSession, label, open_session
from models.contract import MAX_GUIDANCE, MAX_PROMPT_CHARS, MAX_STEPS
from models.registry import available

EXAMPLES = [
    ["a large red circle in the center"],
    ["a small blue square in the top left"],
    ["a green triangle to the left of a yellow circle"],
    ["three cyan crosses"],
    ["a red circle, a blue square and a green triangle"],  # world v2: three or four objects
    ["put a yellow pyramid between a red ball and a blue box"],
    ["five blue squares"],
    ["a large orange circle and a small purple cross"],
    ["a purple triangle"],  # a held-out composition: never seen in training
    ["draw a crimson ball up in the left corner"],  # free text: the planner rewrites it
    ["put a green plus under an orange triangle"],
]
# the sliders' ranges, narrower than the request limits (models.contract) for usability; validation uses the limits
UI_MAX_STEPS = min(200, MAX_STEPS)
UI_MAX_GUIDANCE = min(15, MAX_GUIDANCE)
# every event that generates shares one queue slot: one generation at a time across the whole app (two cores);
# inputs reach the handlers unprocessed, so a malformed API value gets the handler's one-line reason
GENERATION = {"concurrency_id": "generation", "concurrency_limit": 1, "preprocess": False}
MAX_UPLOAD = "5mb"  # the app takes no uploads; this bounds what an anonymous POST to /upload can leave behind
CACHE_CLEANUP = (600, 3600)  # every 10 minutes, delete the app's temporary files older than an hour


def bind(handler, session: DemoSession):
    """`handler` with the session filled in: a real function (a generator function for a streaming handler)
    with the handler's name and its signature less `session`, as Gradio and spaces.GPU expect. No docstring:
    Gradio would show it as the endpoint's description."""
    if inspect.isgeneratorfunction(handler):
        @functools.wraps(handler)
        def bound(*args, **kwargs):
            yield from handler(session, *args, **kwargs)
    else:
        @functools.wraps(handler)
        def bound(*args, **kwargs):
            return handler(session, *args, **kwargs)
    signature = inspect.signature(handler)
    bound.__signature__ = signature.replace(parameters=list(signature.parameters.values())[1:])
    bound.__doc__ = None
    return bound


def _compare_tab(session: DemoSession, fns: dict) -> None:
    generators = session.generators
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
        steps = gr.Slider(1, UI_MAX_STEPS, value=50, step=1, label="Steps")
        guidance = gr.Slider(0, UI_MAX_GUIDANCE, value=3.0, step=0.5, label="Guidance")
        sampler = gr.Dropdown(SAMPLERS, value="ddim", label="Sampler")
    with gr.Row():
        truth = gr.Image(label="The world's rendering (ground truth)", type="pil", interactive=False, height=DISPLAY,
                         width=DISPLAY, elem_id="world-tile")
        images, verdicts = [], []
        for g in generators.values():
            with gr.Column(min_width=DISPLAY):
                # PNG: the judge reads the shown image back, pixel for pixel
                images.append(gr.Image(label=label(g), type="pil", format="png", interactive=False, height=DISPLAY,
                                       width=DISPLAY, elem_classes=["generator-output"]))
                verdicts.append(gr.Markdown("", elem_classes=["verdict"]))
        layout = gr.Image(label="Planned layout (dit-layout reads it; gan-layout, for one object)", type="pil",
                          interactive=False, height=DISPLAY, width=DISPLAY, elem_id="layout")
    gr.Examples(EXAMPLES, inputs=[prompt])
    inputs = [prompt, seed, randomize, steps, guidance, sampler, rewrite]
    outputs = [seed, planned, *images, layout]
    judged = [truth, *verdicts]
    # the judge reads the images once they are made; the compare endpoint's outputs stay as scripts know them
    for trigger, name in ((button.click, "compare"), (prompt.submit, None)):
        trigger(lambda: [None] + [""] * len(verdicts), None, judged, api_visibility="private")
        trigger(fns["compare"], inputs, outputs, api_name=name, api_visibility="public" if name else "private",
                **GENERATION).success(fns["judged"], [prompt, seed, rewrite, *images], judged,
                                      api_visibility="private")
    # one model, one image, for scripts (gradio_client): no UI of its own
    one_model = gr.Dropdown(list(generators), value=next(iter(generators)), visible=False)
    one_image = gr.Image(type="pil", visible=False)
    gr.Button(visible=False).click(fns["generate_one"], [one_model, prompt, seed, steps, guidance, sampler, rewrite],
                                   one_image, api_name="generate", **GENERATION)


def _sweep_tab(session: DemoSession, fns: dict) -> None:
    guided = session.guided
    gr.Markdown("One generator, one prompt, one seed, a row of guidance scales.")
    with gr.Row():
        model = gr.Dropdown(guided, value=guided[0] if guided else None, label="Generator")
        prompt = gr.Textbox(label="Prompt", value=EXAMPLES[0][0], max_length=MAX_PROMPT_CHARS, scale=3)
    with gr.Row():
        scales = gr.Textbox(label="Guidance scales", value="0, 1, 3, 5, 7")
        seed = gr.Number(label="Seed", value=0, precision=0, minimum=0, maximum=MAX_SEED)
        steps = gr.Slider(1, UI_MAX_STEPS, value=50, step=1, label="Steps")
        sampler = gr.Dropdown(SAMPLERS, value="ddim", label="Sampler")
        rewrite = gr.Checkbox(label="Rewrite with the planner", value=True)
        button = gr.Button("Sweep", variant="primary")
    row = gr.Gallery(label="Guidance sweep", columns=8, height=DISPLAY + 60, object_fit="contain")
    button.click(fns["sweep"], [model, prompt, seed, steps, scales, sampler, rewrite], row, api_name="sweep",
                 **GENERATION)


def build(model_names: list[str] | None = None, device: str = "cpu", planner: str = "rules",
          queue_size: int = 16, gpu=None, runs: str | pathlib.Path = "runs",
          session: DemoSession | None = None, arena_db: str | pathlib.Path | None = None,
          data: str | pathlib.Path | None = None) -> gr.Blocks:
    """The app over `model_names` (default: every generator whose weights are on disk, hub ones included).

    gpu: a decorator for the functions that generate (spaces.GPU on a ZeroGPU Space), or None.
    runs: the folder of evaluation runs the Evaluation tab shows (the latest first).
    session: an already opened DemoSession to serve instead (model_names, device and planner are then unused).
    arena_db: the Arena's votes database (default: arena.sqlite3 in the data folder).
    data: the folder the app writes to, votes and its own quick evaluation (default: demo.arena_handlers.data_dir()).
    """
    session = session or open_session(model_names, device=device, planner=planner)
    data = pathlib.Path(data) if data is not None else data_dir()
    arena = open_arena(session, arena_db if arena_db is not None else data / "arena.sqlite3")
    fns = {fn.__name__: bind(fn, session) for fn in (handlers.compare, handlers.sweep, handlers.generate_one)}
    if gpu is not None:  # ZeroGPU attaches a GPU only inside functions it decorates
        fns = {name: gpu(fn) for name, fn in fns.items()}
    fns["judged"] = bind(handlers.judged, session)  # reads images back: no GPU
    with gr.Blocks(title="GenBench", delete_cache=CACHE_CLEANUP) as app:
        gr.Markdown("# GenBench\nOne prompt, one seed, every generator side by side. The built-in models know the "
                    "Shapes world: colors, shapes, sizes, positions, pairs, counts up to five, lists of three or "
                    "four objects, a line of three, one large and one small.")
        with gr.Tab("Compare"):
            _compare_tab(session, fns)
        with gr.Tab("Guidance sweep"):
            _sweep_tab(session, fns)
        with gr.Tab("Arena"):
            arena_tab.add_tab(arena, GENERATION, gpu)
        built_in = [name for name in session.generators if name in available()]  # what a run can load by name
        evaluation_tab.add_tab(pathlib.Path(runs), data / "runs", built_in, session.device)
        with gr.Tab("About"):
            gr.Markdown(about_markdown(), latex_delimiters=LATEX)
    # two cores: one generation at a time, and a bounded queue that answers "busy" when full
    app.queue(max_size=queue_size, default_concurrency_limit=1)
    # every launch (python -m demo, the Space, tests) bounds uploads unless its caller says otherwise
    app.launch = functools.partial(app.launch, max_file_size=MAX_UPLOAD)
    return app
