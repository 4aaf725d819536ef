"""The report's "Accuracy and FID vs steps" section: how few sampling steps a sampler can take.

For every model x sampler (x guidance, when a run holds several) whose rows hold more than one `steps`
value: compositional accuracy (rows' `correct`, over the prompts that have a target) and FID (the metrics
record of each setting) against steps, as a table, a log-x plot and one sentence comparing the largest step
count <= 20 with the largest step count present. run_report.py renders the section; this module only computes it.
"""
from __future__ import annotations

import dataclasses
import pathlib
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402

from models.files import atomic_path  # noqa: E402

TITLE = "Accuracy and FID vs steps"
FIGURE = "accuracy_fid_vs_steps.png"
FEW_STEPS = 20  # "few steps": the sentence compares the largest step count up to this with the largest run


@dataclasses.dataclass(frozen=True)
class Point:
    steps: int
    images: int
    accuracy: float | None  # share correct over the prompts with a target; None: no such prompt
    fid: float | None


@dataclasses.dataclass(frozen=True)
class Section:
    title: str
    figure: pathlib.Path
    header: list[str]
    body: list[list[str]]
    sentences: list[str]


def _plain(row: dict) -> str:
    return row["model"]


def fid_kind(records: list[dict]) -> str | None:
    """The features FID is shown with: world when measured, else the first kind any record has."""
    kinds = [k for r in records for k in r["fid"]]
    return "world" if "world" in kinds else (kinds[0] if kinds else None)


def lines(records: list[dict], rows: dict[str, dict], shown=_plain) -> dict[tuple, list[Point]]:
    """(shown model, sampler, guidance) -> its points in steps order, for every line with two step counts or more.
    `shown(row_or_record)` names the model as the rest of the report does."""
    kind = fid_kind(records)
    fids = {(r["model"], r["setting"]): r["fid"].get(kind) for r in records} if kind else {}
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows.values():
        if row["steps"] is not None:  # one-pass models have no steps
            groups[(row["model"], row["setting"])].append(row)
    found: dict[tuple, list[Point]] = defaultdict(list)
    for (model, setting), members in groups.items():
        first = members[0]
        judged = [r["correct"] for r in members if r["correct"] is not None]
        accuracy = sum(judged) / len(judged) if judged else None
        point = Point(first["steps"], len(members), accuracy, fids.get((model, setting)))
        found[(shown(first), first["sampler"], first["guidance"])].append(point)
    return {key: sorted(points, key=lambda p: p.steps) for key, points in sorted(found.items(), key=_order)
            if len({p.steps for p in points}) > 1}


def _order(item) -> tuple:
    (model, sampler, guidance), _ = item
    return model, sampler or "", guidance if guidance is not None else -1.0


def _labels(keys) -> dict[tuple, str]:
    """A line's name within its model: the sampler, and the guidance when the model has several."""
    scales: dict[str, set] = defaultdict(set)
    for model, _, guidance in keys:
        scales[model].add(guidance)
    return {(m, s, g): s if len(scales[m]) == 1 else f"{s}, g={'n/a' if g is None else f'{g:g}'}"
            for m, s, g in keys}


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _fid(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def table(found: dict[tuple, list[Point]], kind: str | None) -> tuple[list[str], list[list[str]]]:
    labels = _labels(found)
    header = ["model", "sampler", "steps", "images", "accuracy", f"FID ({kind})" if kind else "FID"]
    body = [[model, labels[(model, sampler, guidance)], str(p.steps), str(p.images), _percent(p.accuracy), _fid(p.fid)]
            for (model, sampler, guidance), points in found.items() for p in points]
    return header, body


def sentence(model: str, label: str, points: list[Point]) -> str:
    """'dit, ddim at 20 steps: accuracy X vs Y at 250 (Δ ...), FID A vs B.' from the points themselves."""
    top = points[-1]
    # the largest few-step count below the largest run: with steps 5,10 that is 5 vs 10, not 10 vs itself
    few = [p for p in points if p.steps <= FEW_STEPS and p.steps < top.steps]
    if not few:
        return f"{model}, {label}: no run at ≤ {FEW_STEPS} steps below {top.steps} to compare with."
    low = few[-1]
    delta = ("" if low.accuracy is None or top.accuracy is None
             else f" (Δ {100 * (low.accuracy - top.accuracy):+.1f} points)")
    return (f"{model}, {label} at {low.steps} steps: accuracy {_percent(low.accuracy)} vs {_percent(top.accuracy)} "
            f"at {top.steps}{delta}, FID {_fid(low.fid)} vs {_fid(top.fid)}.")


def sentences(found: dict[tuple, list[Point]]) -> list[str]:
    labels = _labels(found)
    return [sentence(key[0], labels[key], points) for key, points in found.items()]


def plot(found: dict[tuple, list[Point]], kind: str | None, path: pathlib.Path) -> None:
    """One row of two panels per model (accuracy, FID), a line per sampler, steps on a log axis."""
    labels = _labels(found)
    models = list(dict.fromkeys(model for model, _, _ in found))
    figure, axes = plt.subplots(len(models), 2, figsize=(8, 3 * len(models)), squeeze=False)
    for (model, sampler, guidance), points in found.items():
        row = axes[models.index(model)]
        steps = [p.steps for p in points]
        for axis, values in ((row[0], [p.accuracy for p in points]), (row[1], [p.fid for p in points])):
            shown = [(s, v) for s, v in zip(steps, values) if v is not None]
            if shown:
                axis.plot(*zip(*shown), marker="o", label=labels[(model, sampler, guidance)])
    every = sorted({p.steps for points in found.values() for p in points})
    for model, (accuracy, fid) in zip(models, axes):
        _steps_axis(accuracy, every, f"{model}: accuracy (all that was asked)")
        _steps_axis(fid, every, f"{model}: FID, {kind} features (lower: closer to real)")
        accuracy.set_ylim(0, 1.02)
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=110)
    plt.close(figure)


def _steps_axis(axis, steps: list[int], title: str) -> None:
    axis.set_xscale("log")
    axis.set_xticks(steps, [str(s) for s in steps])  # the step counts run, not powers of ten
    axis.xaxis.set_minor_formatter(NullFormatter())
    axis.set_xlabel("sampling steps")
    axis.set_title(title, fontsize=9)
    if axis.get_legend_handles_labels()[0]:
        axis.legend(fontsize=7)


def section(root: pathlib.Path, records: list[dict], rows: dict[str, dict], shown=_plain) -> Section | None:
    """The section, its plot written to root/FIGURE; None when no model+sampler has two step counts."""
    found = lines(records, rows, shown)
    if not found:
        return None
    kind = fid_kind(records)
    header, body = table(found, kind)
    plot(found, kind, pathlib.Path(root) / FIGURE)
    return Section(TITLE, pathlib.Path(root) / FIGURE, header, body, sentences(found))
