"""The demo's Evaluation tab: the table and plots of a run directory written by `python -m evaluation run`.

Images are read here and handed to Gradio as PIL images, so the app serves copies it made itself,
never files from the runs folder.
"""
from __future__ import annotations

import json
import pathlib

import gradio as gr
from PIL import Image

FIGURES = (("fid_vs_clip.png", "FID vs CLIP score across guidance"),
           ("accuracy_vs_guidance.png", "Accuracy vs guidance, per task"))


def run_dirs(root: pathlib.Path) -> list[pathlib.Path]:
    """Run directories under root (those with metrics.json), the latest first."""
    if not root.is_dir():
        return []
    found = [p.parent for p in root.glob("*/metrics.json")] + ([root] if (root / "metrics.json").is_file() else [])
    return sorted(found, key=lambda p: (p / "metrics.json").stat().st_mtime, reverse=True)


def view(root: pathlib.Path, name: str | None) -> tuple[str, list[tuple[Image.Image, str]]]:
    """(Markdown with the run's table, [(figure or grid, caption)]) of the run called `name` under root."""
    from evaluation.report import table

    runs = {p.name: p for p in run_dirs(root)}
    if not runs:
        return (f"No evaluation runs in `{root}` yet. Make one with\n\n"
                "`python -m evaluation run --models ddpm,ldm,dit --guidance 1,3,5 --prompts shapes-quick --n 2 "
                f"--out {root}/quick`"), []
    folder = runs.get(name) or next(iter(runs.values()))
    try:
        records = json.loads((folder / "metrics.json").read_text())["records"]
        settings = json.loads((folder / "run.json").read_text()) if (folder / "run.json").is_file() else {}
    except (OSError, ValueError, KeyError) as error:
        return f"Cannot read the run in `{folder.name}`: {error}", []
    header, body = table(records)
    lines = [f"**{folder.name}**: prompts `{settings.get('prompts', '?')}`, {settings.get('n', '?')} samples per prompt, "
             f"{sum(r['n'] for r in records)} images. Accuracy = all the prompt asks (world detector); "
             "[a, b] = bootstrap 95 % interval.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    pictures = [(Image.open(folder / file).convert("RGB"), caption) for file, caption in FIGURES
                if (folder / file).is_file()]
    pictures += [(Image.open(grid).convert("RGB"), f"images, {grid.stem.removeprefix('grid-')}")
                 for grid in sorted(folder.glob("grid-*.png"))]
    return "\n".join(lines), pictures


def add_tab(root: pathlib.Path) -> None:
    """The tab's components and events, inside an open gr.Blocks."""
    names = [p.name for p in run_dirs(root)]
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
            found = [p.name for p in run_dirs(root)]
            return gr.Dropdown(choices=found, value=found[0] if found else None)

        choice.change(show, choice, [summary, gallery], api_visibility="private")
        refresh.click(rescan, None, choice, api_visibility="private")
