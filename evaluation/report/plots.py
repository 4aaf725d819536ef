"""The report's plots: FID vs CLIP score across guidance, and accuracy per task against guidance, or, when a run
holds one guidance scale, as bars per model (a line over one value is a lone dot). Legends sit outside the axes,
so they never cover data."""
from __future__ import annotations

import pathlib
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from evaluation.prompts import task_order  # noqa: E402
from models.files import atomic_path  # noqa: E402


def shown_model(record: dict) -> str:
    """The model's name as tables, plots and grids show it: a layout-aware model's caption-only ablation
    (setting ...-nolayout) is a column and a line of its own."""
    return record["model"] + (" (no layout)" if str(record.get("setting", "")).endswith("-nolayout") else "")


def guidance_text(record: dict) -> str:
    return "n/a" if record["guidance"] is None else f"{record['guidance']:g}"


def lines(records: list[dict]) -> dict[str, list[dict]]:
    """model + sampler + steps -> its records in guidance order (one line of a plot)."""
    found: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        label = shown_model(r) if r["guidance"] is None else f"{shown_model(r)} ({r['sampler']}, {r['steps']} steps)"
        found[label].append(r)
    return {k: sorted(v, key=lambda r: r["guidance"] or 0) for k, v in sorted(found.items())}


def one_guidance(records: list[dict]) -> bool:
    return len({r["guidance"] for r in records if r["guidance"] is not None}) <= 1


def _legend_outside(figure, axis) -> None:
    handles, labels = axis.get_legend_handles_labels()
    if handles:
        figure.legend(handles, labels, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)


def save_figure(figure, path: pathlib.Path) -> None:
    with atomic_path(path) as temporary:  # bbox tight: the legend outside the axes is kept whole
        figure.savefig(temporary, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)


def plot_fid_vs_clip(records: list[dict], path: pathlib.Path) -> bool:
    figure = fid_vs_clip_figure(records)
    if figure is not None:
        save_figure(figure, path)
    return figure is not None


def fid_vs_clip_figure(records: list[dict]):
    """The matplotlib figure, or None when no record has both an FID and a CLIP score."""
    kind = "world" if any("world" in r["fid"] for r in records) else next((k for r in records for k in r["fid"]), None)
    points = [r for r in records if kind and r["fid"].get(kind) is not None and r["clip_score"] is not None]
    if not points:
        return None
    figure, axis = plt.subplots(figsize=(5.5, 4))
    for label, line in lines(points).items():
        xs, ys = [r["clip_score"][0] for r in line], [r["fid"][kind] for r in line]
        axis.plot(xs, ys, marker="o", label=label)
        for r, x, y in zip(line, xs, ys):
            axis.annotate(f"g={guidance_text(r)}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    axis.set_xlabel("CLIP score (higher: closer to the prompt)")
    axis.set_ylabel(f"FID, {kind} features (lower: closer to real)")
    axis.set_title("FID vs CLIP score" + (", one point per model" if one_guidance(points) else " across guidance"))
    axis.margins(0.15)  # room for the g= labels
    _legend_outside(figure, axis)
    return figure


def plot_accuracy(records: list[dict], path: pathlib.Path) -> bool:
    figure = accuracy_figure(records)
    if figure is not None:
        save_figure(figure, path)
    return figure is not None


def accuracy_figure(records: list[dict]):
    """Accuracy per task: lines against guidance, or bars when the run holds one guidance scale; None without
    accuracy."""
    categories = task_order({c for r in records for c in r["accuracy"]})
    if not categories:
        return None
    if one_guidance(records):
        return _accuracy_bars(records, categories)
    figure, axes = plt.subplots(1, len(categories), figsize=(3.2 * len(categories), 3.2), sharey=True, squeeze=False)
    guidances = sorted({r["guidance"] for r in records if r["guidance"] is not None}) or [0.0]
    for axis, category in zip(axes[0], categories):
        for label, line in lines(records).items():
            line = [r for r in line if r["accuracy"].get(category)]
            if not line:
                continue
            if line[0]["guidance"] is None:  # a one-pass model: a flat line across the guidance axis
                value = line[0]["accuracy"][category][0]
                axis.plot([guidances[0], guidances[-1]], [value, value], linestyle="--", label=label)
            else:
                axis.plot([r["guidance"] for r in line], [r["accuracy"][category][0] for r in line], marker="o",
                          label=label)
        axis.set_title(category)
        axis.set_xlabel("guidance scale")
        axis.set_ylim(0, 1.02)
    axes[0][0].set_ylabel("accuracy (all that was asked)")
    _legend_outside(figure, axes[0][0])
    return figure


def _accuracy_bars(records: list[dict], categories: list[str]):
    """One group of bars per task, one bar per model, with the bootstrap 95 % interval as an error bar."""
    found = lines(records)
    width = 0.8 / max(1, len(found))
    figure, axis = plt.subplots(figsize=(max(5.0, 1.1 * len(categories) * max(1, len(found)) ** 0.5 + 2), 3.4))
    for i, (label, line) in enumerate(found.items()):
        record = line[0]
        values = [record["accuracy"].get(c) for c in categories]
        means = np.array([v[0] if v else np.nan for v in values])
        errors = np.array([[v[0] - v[1], v[2] - v[0]] if v else [0, 0] for v in values]).T  # [2, C]
        positions = np.arange(len(categories)) + (i - (len(found) - 1) / 2) * width
        bars = axis.bar(positions, means, width * 0.95, yerr=errors, capsize=2, label=label, edgecolor="black",
                        linewidth=0.4)
        axis.bar_label(bars, labels=[f"{100 * m:.0f}%" if m == m else "" for m in means], fontsize=6, padding=1)
    guidance = next((r["guidance"] for r in records if r["guidance"] is not None), None)
    axis.set_xticks(np.arange(len(categories)), categories)
    axis.set_ylim(0, 1.12)  # room for the labels over full bars
    axis.set_ylabel("accuracy (all that was asked)")
    axis.set_title("Accuracy per task" + (f" at guidance {guidance:g}" if guidance is not None else "")
                   + " (bars: 95 % interval)")
    _legend_outside(figure, axis)
    return figure
