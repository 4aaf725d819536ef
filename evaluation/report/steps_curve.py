"""The report's "Accuracy and FID vs steps" section: how few sampling steps a sampler can take.

For every model x sampler (x guidance, when a run holds several) whose rows hold more than one `steps` value:
compositional accuracy (rows' `correct`, over the prompts that have a target) over all tasks and per task, each with
a 95 % bootstrap interval over prompts, and FID (the metrics record of each setting) against steps; the run's noise
floor (the `world` row) beside them. Two plots (per model: all-task accuracy and FID; per task: accuracy), the table
of every point, the table of the steps each line needs to reach within 2 points of its largest step count's accuracy,
and a sentence per line (evaluation/report/steps_table.py). run_report.py renders the section; this module only
computes it.
"""
from __future__ import annotations

import dataclasses
import pathlib
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402

from evaluation.metrics.noise_floor import FLOOR_MODEL  # noqa: E402
from evaluation.report.paired import bootstrap_by_prompt  # noqa: E402
from evaluation.report.plots import save_figure  # noqa: E402
from evaluation.report.steps_table import ALL, labels, reach_table, sentences, table, tasks_of  # noqa: E402

TITLE = "Accuracy and FID vs steps"
FIGURE = "accuracy_fid_vs_steps.png"
TASK_FIGURE = "accuracy_per_task_vs_steps.png"
TASK_TITLE = "Accuracy per task vs steps"
FLOOR_STYLE = {"linestyle": "--", "color": "gray", "linewidth": 1}


@dataclasses.dataclass(frozen=True)
class Point:
    steps: int | None  # None: the noise floor, made in one pass
    images: int
    accuracy: dict[str, tuple[float, float, float]]  # ALL and each judged task -> (share correct, 95 % low, high)
    fid: float | None

    def share(self, task: str = ALL) -> float | None:
        """The share correct on `task`; None: no row of that task has a target."""
        value = self.accuracy.get(task)
        return None if value is None else value[0]


@dataclasses.dataclass(frozen=True)
class Section:
    title: str
    figure: pathlib.Path
    header: list[str]
    body: list[list[str]]
    sentences: list[str]
    figures: tuple = ()  # further (title, path), shown after the first figure
    tables: tuple = ()  # further (what it means, header, body), shown after the first table


def _plain(row: dict) -> str:
    return row["model"]


def fid_kind(records: list[dict]) -> str | None:
    """The features FID is shown with: world when measured, else the first kind any record has."""
    kinds = [k for r in records for k in r["fid"]]
    return "world" if "world" in kinds else (kinds[0] if kinds else None)


def _share(judged: list[dict]) -> tuple[float, float, float]:
    right = np.array([float(r["correct"]) for r in judged])
    # prompts resampled with all their samples, as the paired tests do: samples of one prompt are not independent
    low, high, _ = bootstrap_by_prompt(right, np.array([r["prompt_index"] for r in judged]))
    return float(right.mean()), low, high


def accuracy_by_task(members: list[dict]) -> dict[str, tuple[float, float, float]]:
    """ALL and each task (the rows' category) -> (share correct, 95 % low, high) over the rows with a target."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in members:
        if row["correct"] is not None:
            groups[ALL].append(row)
            groups[str(row["category"])].append(row)
    return {task: _share(judged) for task, judged in groups.items()}


def _fids(records: list[dict]) -> dict[tuple[str, str], float | None]:
    kind = fid_kind(records)
    return {(r["model"], r["setting"]): r["fid"].get(kind) for r in records} if kind else {}


def lines(records: list[dict], rows: dict[str, dict], shown=_plain) -> dict[tuple, list[Point]]:
    """(shown model, sampler, guidance) -> its points in steps order, for every line with two step counts or more.
    `shown(row_or_record)` names the model as the rest of the report does."""
    fids = _fids(records)
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows.values():
        if row["steps"] is not None:  # one-pass models have no steps
            groups[(row["model"], row["setting"])].append(row)
    found: dict[tuple, list[Point]] = defaultdict(list)
    for (model, setting), members in groups.items():
        first = members[0]
        point = Point(first["steps"], len(members), accuracy_by_task(members), fids.get((model, setting)))
        found[(shown(first), first["sampler"], first["guidance"])].append(point)
    return {key: sorted(points, key=lambda p: p.steps) for key, points in sorted(found.items(), key=_order)
            if len({p.steps for p in points}) > 1}


def floor_point(records: list[dict], rows: dict[str, dict]) -> Point | None:
    """The noise floor (the run's `world` rows) as one point without steps; None when the run has none."""
    members = [r for r in rows.values() if r["model"] == FLOOR_MODEL]
    if not members:
        return None
    fids = _fids(records)
    return Point(None, len(members), accuracy_by_task(members), fids.get((FLOOR_MODEL, members[0]["setting"])))


def _order(item) -> tuple:
    (model, sampler, guidance), _ = item
    return model, sampler or "", guidance if guidance is not None else -1.0


def _draw(axis, points: list[Point], task: str, label: str) -> None:
    """A line of `task` accuracy against steps, its 95 % interval as a band."""
    shown = [(p.steps, *p.accuracy[task]) for p in points if task in p.accuracy]
    if shown:
        steps, mean, low, high = zip(*shown)
        line, = axis.plot(steps, mean, marker="o", markersize=3, label=label)
        axis.fill_between(steps, low, high, color=line.get_color(), alpha=0.15, linewidth=0)


def _floor_line(axis, value: float | None) -> None:
    if value is not None:
        axis.axhline(value, label=f"noise floor ({FLOOR_MODEL})", **FLOOR_STYLE)


def accuracy_fid_figure(found: dict[tuple, list[Point]], kind: str | None, floor: Point | None = None):
    """One row of two panels per model (accuracy over all tasks with its interval, FID), a line per sampler, steps
    on a log axis, the noise floor dashed."""
    names = labels(found)
    models = list(dict.fromkeys(model for model, _, _ in found))
    figure, axes = plt.subplots(len(models), 2, figsize=(8, 3 * len(models)), squeeze=False)
    for key, points in found.items():
        accuracy, fid = axes[models.index(key[0])]
        _draw(accuracy, points, ALL, names[key])
        fids = [(p.steps, p.fid) for p in points if p.fid is not None]
        if fids:
            fid.plot(*zip(*fids), marker="o", markersize=3, label=names[key])
    every = sorted({p.steps for points in found.values() for p in points})
    for model, (accuracy, fid) in zip(models, axes):
        _floor_line(accuracy, floor and floor.share())
        _floor_line(fid, floor and floor.fid)
        _steps_axis(accuracy, every, f"{model}: accuracy, all tasks (band: 95 % interval)")
        _steps_axis(fid, every, f"{model}: FID, {kind} features (lower: closer to real)")
        accuracy.set_ylim(0, 1.02)
    figure.tight_layout()
    return figure


def task_figure(found: dict[tuple, list[Point]], tasks: list[str], floor: Point | None = None):
    """One panel per task (three a row), a line per model x sampler with its 95 % band, the task's noise floor
    dashed; one legend outside the panels."""
    keys = list(found)
    names = {key: f"{key[0]}, {label}" for key, label in labels(keys).items()}
    columns = min(3, len(tasks))
    rows = -(-len(tasks) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 2.9 * rows), sharey=True, squeeze=False)
    every = sorted({p.steps for points in found.values() for p in points})
    for axis, task in zip(axes.flat, tasks):
        for key, points in found.items():
            _draw(axis, points, task, names[key])
        _floor_line(axis, floor and floor.share(task))
        _steps_axis(axis, every, task, legend=False)
        axis.set_ylim(0, 1.02)
    for axis in axes.flat[len(tasks):]:
        axis.set_visible(False)
    handles, shown = axes.flat[0].get_legend_handles_labels()
    figure.legend(handles, shown, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    figure.suptitle("Accuracy per task vs sampling steps (band: 95 % interval; dashed: noise floor)", fontsize=9)
    figure.tight_layout()
    return figure


def _steps_axis(axis, steps: list[int], title: str, legend: bool = True) -> None:
    axis.set_xscale("log")
    axis.set_xticks(steps, [str(s) for s in steps])  # the step counts run, not powers of ten
    axis.xaxis.set_minor_formatter(NullFormatter())
    axis.set_xlabel("sampling steps")
    axis.set_title(title, fontsize=9)
    if legend and axis.get_legend_handles_labels()[0]:
        axis.legend(fontsize=7)


def section(root: pathlib.Path, records: list[dict], rows: dict[str, dict], shown=_plain) -> Section | None:
    """The section, its plots written to root/FIGURE and root/TASK_FIGURE; None when no model+sampler has two
    step counts."""
    found = lines(records, rows, shown)
    if not found:
        return None
    kind, floor = fid_kind(records), floor_point(records, rows)
    tasks = tasks_of(found, floor)
    root = pathlib.Path(root)
    save_figure(accuracy_fid_figure(found, kind, floor), root / FIGURE)
    figures = ()
    if tasks:
        save_figure(task_figure(found, tasks, floor), root / TASK_FIGURE)
        figures = ((TASK_TITLE, root / TASK_FIGURE),)
    header, body = table(found, kind, tasks, floor)
    return Section(TITLE, root / FIGURE, header, body, sentences(found, tasks, floor), figures,
                   (reach_table(found, tasks),))
