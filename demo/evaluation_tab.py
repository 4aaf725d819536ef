"""The demo's Evaluation tab: the table and plots of a run directory written by `python -m evaluation run`.

Images are read here and handed to Gradio as PIL images, so the app serves copies it made itself,
never files from the runs folder. A run folder that cannot be read is skipped with a note in the tab:
a malformed run never stops the app. With no run of the user's, the tab shows the run shipped in
demo/precomputed/ (made by the CLI on the built-in models), and its button runs the same quick evaluation
in the app, into a folder of the app's data folder, through evaluation.runs.sweep (resumable, like the CLI).
"""
from __future__ import annotations

import json
import pathlib

import gradio as gr
from PIL import Image

from models.registry import BUILTIN

FIGURES = (("fid_vs_clip.png", "FID vs CLIP score across guidance"),
           ("accuracy_vs_guidance.png", "Accuracy vs guidance, per task"))
MAX_JSON_BYTES = 50 * 2**20  # a run's metrics.json is kilobytes; anything this big is not one
PRECOMPUTED = pathlib.Path(__file__).parent / "precomputed"  # a run shipped with the demo, shown on a first visit
QUICK_NAME = "quick"  # the folder of the app's own quick evaluation
QUICK_COMMAND = f"--models {','.join(BUILTIN)} --guidance 3 --prompts shapes-v2-quick --n 1"  # every built-in family


class RunError(ValueError):
    """A run folder that cannot be shown; its message is one line for the tab."""


def _modified(path: pathlib.Path) -> float:
    try:
        return (path / "metrics.json").stat().st_mtime
    except OSError:  # removed while we looked
        return 0.0


def run_dirs(root: pathlib.Path) -> list[pathlib.Path]:
    """Run directories under root (those with metrics.json), the latest first; readable or not."""
    if not root.is_dir():
        return []
    found = [p.parent for p in root.glob("*/metrics.json")] + ([root] if (root / "metrics.json").is_file() else [])
    return sorted(found, key=_modified, reverse=True)


def _json(path: pathlib.Path):
    try:
        too_big = path.stat().st_size > MAX_JSON_BYTES
        data = None if too_big else json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as error:  # ValueError: not JSON, not UTF-8
        raise RunError(f"{path.name} cannot be read ({type(error).__name__})") from None
    if too_big:
        raise RunError(f"{path.name} is over {MAX_JSON_BYTES >> 20} MB")
    return data


def read_run(folder: pathlib.Path) -> tuple[list[str], list[list[str]], dict, int]:
    """(table header, table rows, run settings, images) of one run; a RunError for anything malformed."""
    from evaluation.report.run_report import table
    from evaluation.store import StoreError, read_settings

    metrics = _json(folder / "metrics.json")
    if not isinstance(metrics, dict) or not isinstance(metrics.get("records"), list):
        raise RunError("metrics.json is not an object with a list of records")
    try:
        settings = read_settings(folder)  # the run store's own reader of run.json
    except (StoreError, OSError):
        raise RunError("run.json is not a run record") from None
    records = metrics["records"]
    if not all(isinstance(r, dict) for r in records):
        raise RunError("metrics.json has a record that is not an object")
    try:
        header, body = table(records)
        images = sum(int(r["n"]) for r in records)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as error:
        raise RunError(f"metrics.json has a malformed record ({type(error).__name__}: {str(error)[:80]})") from None
    return header, body, settings, images


def scan(root: pathlib.Path) -> tuple[dict[str, tuple], list[str]]:
    """({name: (folder, *read_run(folder))} of the readable runs, latest first; [a note per skipped folder])."""
    runs, notes = {}, []
    for folder in run_dirs(root):
        try:
            runs[folder.name] = (folder, *read_run(folder))
        except RunError as error:
            notes.append(f"Skipped `{folder.name}`: {error}.")
    return runs, notes


def _pictures(folder: pathlib.Path, notes: list[str]) -> list[tuple[Image.Image, str]]:
    """The run's figures and image grids; one that cannot be opened adds a note instead."""
    found = [(folder / file, caption) for file, caption in FIGURES if (folder / file).is_file()]
    found += [(grid, f"images, {grid.stem.removeprefix('grid-')}") for grid in sorted(folder.glob("grid-*.png"))]
    pictures = []
    for path, caption in found:
        try:
            with Image.open(path) as image:
                pictures.append((image.convert("RGB"), caption))
        except (OSError, ValueError, Image.DecompressionBombError) as error:
            notes.append(f"Skipped `{folder.name}/{path.name}`: not a readable image ({type(error).__name__}).")
    return pictures


def view(root: pathlib.Path, name: str | None) -> tuple[str, list[tuple[Image.Image, str]]]:
    """(Markdown with the run's table, [(figure or grid, caption)]) of the run called `name` under root."""
    runs, notes = scan(root)
    if not runs:
        text = (f"No evaluation runs in `{root}` yet. Make one with\n\n"
                "`python -m evaluation run --models ddpm,ldm,dit --guidance 1,3,5 --prompts shapes-quick --n 2 "
                f"--out {root}/quick`")
        return "\n\n".join([text, *notes]), []
    chosen = name if isinstance(name, str) and name in runs else next(iter(runs))
    folder, header, body, settings, images = runs[chosen]
    lines = [f"**{chosen}**: prompts `{settings.get('prompts', '?')}`, {settings.get('n', '?')} samples per prompt, "
             f"{images} images. Accuracy = all the prompt asks (world detector); "
             "[a, b] = bootstrap 95 % interval." + (" Row `world`: the noise floor, the world's own rendering with "
                                                     "other seeds (a perfect generator); ≈ = inside its 95 % interval."
                                                     if any(row[0] == "world" for row in body) else ""), "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    pictures = _pictures(folder, notes)
    return "\n".join(lines + [""] + notes), pictures


def catalogue(roots: list[pathlib.Path]) -> dict[str, tuple[pathlib.Path, str]]:
    """{label: (root, run name)} of the readable runs under every root, each root's latest first; a label is the
    run's name, with its folder when an earlier root has a run of that name."""
    found: dict[str, tuple[pathlib.Path, str]] = {}
    for root in dict.fromkeys(roots):
        for name in scan(root)[0]:
            found[name if name not in found else f"{name} ({root})"] = (root, name)
    return found


def first_visit(roots: list[pathlib.Path], label: str | None) -> tuple[str, list[tuple[Image.Image, str]]]:
    """view() of the run called `label`; with no run of the user's anywhere, the run shipped with the demo."""
    runs = catalogue(roots)
    if runs:
        return view(*runs.get(label, next(iter(runs.values()))))
    notes = [line for root in dict.fromkeys(roots) for line in view(root, None)[0].split("\n\n")
             if line.startswith("Skipped")]
    text, pictures = view(PRECOMPUTED, None)
    intro = ("**No run of yours yet.** Shown: the run shipped with the demo, made with `python -m evaluation run "
             f"{QUICK_COMMAND}` on CPU. **Run the quick evaluation** makes the same run here, with this demo's "
             f"models, in `{roots[-1]}/{QUICK_NAME}`.")
    return "\n\n".join([intro, text, *notes]), pictures


def run_quick(out: pathlib.Path, models: list[str], device: str) -> None:
    """The quick evaluation of `models` into `out`, resumable like the CLI's (a rerun continues); a gr.Error with
    one line when it cannot run."""
    from evaluation.runs.sweep import RunOptions, run

    if not models:
        raise gr.Error("No built-in generator is loaded: the quick evaluation runs on the Shapes world's models.")
    options = RunOptions(models=models, prompts="shapes-v2-quick", out=str(out), guidance=[3.0], n=1, device=device)
    try:
        run(options)
    except Exception as error:  # a locked folder, a failing model: the user sees why, the app keeps serving
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise gr.Error(f"The quick evaluation stopped: {reason}") from None


def add_tab(root: pathlib.Path, own: pathlib.Path | None = None, models: list[str] | None = None,
            device: str = "cpu") -> None:
    """The tab's components and events, inside an open gr.Blocks: the runs under `root` and `own` (where the
    button writes the app's own quick evaluation of `models`; None: no button)."""
    roots = [root] + ([own] if own is not None else [])
    names = list(catalogue(roots))
    with gr.Tab("Evaluation"):
        with gr.Row():
            choice = gr.Dropdown(names, value=names[0] if names else None, label="Run (in " + " or ".join(map(str, roots)) + ")",
                                 scale=3)
            refresh = gr.Button("Refresh", scale=0)
            quick = gr.Button("Run the quick evaluation", scale=0, visible=own is not None, elem_id="quick-evaluation")
        text, pictures = first_visit(roots, names[0] if names else None)
        summary = gr.Markdown(text, elem_id="evaluation-summary")
        gallery = gr.Gallery(pictures, label="Plots and image grids", columns=2, height="auto", object_fit="contain")

        def show(name):
            return first_visit(roots, name)

        def rescan(chosen=None):
            found = list(catalogue(roots))
            return gr.Dropdown(choices=found, value=chosen if chosen in found else (found[0] if found else None))

        def evaluate(progress=gr.Progress(track_tqdm=True)):
            progress(0, desc="Loading the models")
            run_quick(own / QUICK_NAME, models or [], device)
            label = next((label for label, place in catalogue(roots).items() if place == (own, QUICK_NAME)), None)
            return (rescan(label), *first_visit(roots, label))

        choice.change(show, choice, [summary, gallery], api_visibility="private")
        refresh.click(rescan, None, choice, api_visibility="private")
        # one quick evaluation at a time across the app; others wait in the queue
        quick.click(evaluate, None, [choice, summary, gallery], api_visibility="private",
                    concurrency_id="quick-evaluation", concurrency_limit=1)
