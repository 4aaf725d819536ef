"""The demo's Evaluation tab: the table and plots of a run directory written by `python -m evaluation run`.

Images are read here and handed to Gradio as PIL images, so the app serves copies it made itself,
never files from the runs folder. A run folder that cannot be read is skipped with a note in the tab:
a malformed run never stops the app.
"""
from __future__ import annotations

import json
import pathlib

import gradio as gr
from PIL import Image

FIGURES = (("fid_vs_clip.png", "FID vs CLIP score across guidance"),
           ("accuracy_vs_guidance.png", "Accuracy vs guidance, per task"))
MAX_JSON_BYTES = 50 * 2**20  # a run's metrics.json is kilobytes; anything this big is not one


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
    from evaluation.report import table
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
             "[a, b] = bootstrap 95 % interval.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    pictures = _pictures(folder, notes)
    return "\n".join(lines + [""] + notes), pictures


def add_tab(root: pathlib.Path) -> None:
    """The tab's components and events, inside an open gr.Blocks."""
    names = list(scan(root)[0])
    with gr.Tab("Evaluation"):
        with gr.Row():
            choice = gr.Dropdown(names, value=names[0] if names else None, label=f"Run (in {root})", scale=3)
            refresh = gr.Button("Refresh", scale=0)
        text, pictures = view(root, names[0] if names else None)
        summary = gr.Markdown(text)
        gallery = gr.Gallery(pictures, label="Plots and image grids", columns=2, height="auto", object_fit="contain")

        def show(name):
            return view(root, name)

        def rescan():
            found = list(scan(root)[0])
            return gr.Dropdown(choices=found, value=found[0] if found else None)

        choice.change(show, choice, [summary, gallery], api_visibility="private")
        refresh.click(rescan, None, choice, api_visibility="private")
