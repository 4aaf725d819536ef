"""The report's "Truncation trade-off" section: a GAN's fidelity/diversity knob, psi, as a curve.

For every model whose rows hold two truncation values or more (`evaluation run --truncation 0.5,0.75,1`):
accuracy (all that was asked, and color + shape) and within-prompt diversity (the share of sample pairs of
one prompt whose detected layouts differ, beside the references' share) against psi, with FID, as a table
and a plot. run_report.py renders the section; this module only computes it.
"""
from __future__ import annotations

import dataclasses
import pathlib
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402

from evaluation.report.steps_curve import Section, fid_kind  # noqa: E402
from models.files import atomic_path  # noqa: E402

TITLE = "Truncation trade-off: accuracy and diversity vs psi"
FIGURE = "truncation_tradeoff.png"


@dataclasses.dataclass(frozen=True)
class Point:
    psi: float
    images: int
    accuracy: float | None  # share correct (all asked) over the rows with a world target
    color_shape: float | None
    layouts_differ: float | None  # within-prompt diversity of the generated images
    layouts_differ_reference: float | None  # the same for the rendered references of the same rows
    fid: float | None


def _share(values: list) -> float | None:
    judged = [v for v in values if v is not None]
    return sum(judged) / len(judged) if judged else None


def lines(records: list[dict], rows: dict[str, dict], shown=lambda row: row["model"]) -> dict[str, list[Point]]:
    """shown model -> its points in psi order, for every model with two truncation values or more."""
    kind = fid_kind(records)
    by_setting = {(r["model"], r["setting"]): r for r in records}
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows.values():
        if row.get("truncation") is not None:
            groups[(row["model"], row["setting"])].append(row)
    found: dict[str, list[Point]] = defaultdict(list)
    for (model, setting), members in groups.items():
        record = by_setting.get((model, setting), {})
        spread = record.get("diversity") or {}
        found[shown(members[0])].append(Point(
            members[0]["truncation"], len(members), _share([r["correct"] for r in members]),
            _share([r["color_shape"] for r in members]), spread.get("layouts_differ"),
            spread.get("layouts_differ_reference"), (record.get("fid") or {}).get(kind) if kind else None))
    return {model: sorted(points, key=lambda p: p.psi) for model, points in sorted(found.items())
            if len({p.psi for p in points}) > 1}


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def table(found: dict[str, list[Point]], kind: str | None) -> tuple[list[str], list[list[str]]]:
    header = ["model", "psi", "images", "accuracy (all asked)", "color + shape",
              "layouts differ: generated / references", f"FID ({kind})" if kind else "FID"]
    body = [[model, f"{p.psi:g}", str(p.images), _percent(p.accuracy), _percent(p.color_shape),
             f"{_percent(p.layouts_differ)} / {_percent(p.layouts_differ_reference)}",
             "–" if p.fid is None else f"{p.fid:.2f}"] for model, points in found.items() for p in points]
    return header, body


def sentence(model: str, points: list[Point]) -> str:
    """From the lowest psi to the highest: what accuracy and diversity did, from the points themselves."""
    low, high = points[0], points[-1]
    reference = next((p.layouts_differ_reference for p in points if p.layouts_differ_reference is not None), None)
    return (f"{model}: psi {low.psi:g} → {high.psi:g} takes accuracy {_percent(low.accuracy)} → "
            f"{_percent(high.accuracy)} and layouts differing {_percent(low.layouts_differ)} → "
            f"{_percent(high.layouts_differ)} (references {_percent(reference)}).")


def plot(found: dict[str, list[Point]], kind: str | None, path: pathlib.Path) -> None:
    """Per model: accuracy and diversity against psi (one panel), FID against psi (the other)."""
    figure, axes = plt.subplots(len(found), 2, figsize=(8, 3 * len(found)), squeeze=False)
    for (model, points), (left, right) in zip(found.items(), axes):
        psis = [p.psi for p in points]
        for label, values in (("accuracy (all asked)", [p.accuracy for p in points]),
                              ("color + shape", [p.color_shape for p in points]),
                              ("layouts differ", [p.layouts_differ for p in points])):
            shown = [(x, v) for x, v in zip(psis, values) if v is not None]
            if shown:
                left.plot(*zip(*shown), marker="o", label=label)
        reference = next((p.layouts_differ_reference for p in points if p.layouts_differ_reference is not None), None)
        if reference is not None:
            left.axhline(reference, linestyle="--", color="gray", label="layouts differ, references")
        left.set_ylim(0, 1.02)
        left.set_title(f"{model}: accuracy and diversity", fontsize=9)
        left.legend(fontsize=7)
        fids = [(x, p.fid) for x, p in zip(psis, points) if p.fid is not None]
        if fids:
            right.plot(*zip(*fids), marker="o")
        right.set_title(f"{model}: FID, {kind} features (lower: closer to real)", fontsize=9)
        for axis in (left, right):
            axis.set_xlabel("truncation psi")
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=110)
    plt.close(figure)


def section(root: pathlib.Path, records: list[dict], rows: dict[str, dict], shown=lambda row: row["model"]
            ) -> Section | None:
    """The section, its plot written to root/FIGURE; None when no model has two truncation values."""
    found = lines(records, rows, shown)
    if not found:
        return None
    kind = fid_kind(records)
    header, body = table(found, kind)
    plot(found, kind, pathlib.Path(root) / FIGURE)
    return Section(TITLE, pathlib.Path(root) / FIGURE, header, body, [sentence(m, p) for m, p in found.items()])
