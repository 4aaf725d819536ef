"""report.md and a self-contained report.html from a run's metrics and images, for a reviewer at a glance.

In order: the main table per generator x setting (FID with the sample count it rests on, KID +- std, CMMD, CLIP
score and accuracy per task with bootstrap 95 % intervals, images/s) and its notes (FID's sample counts, whether
CMMD orders the models as FID does, the judge on its own references); paired comparisons between every two
columns (evaluation/report/paired.py); fidelity and diversity; the CLIP score per category for prompts outside the
world; the plots (evaluation/report/plots.py); accuracy per task and FID vs sampling steps with the noise floor,
and the steps each sampler needs to come within 2 points of its most steps, when a run holds several step counts
(evaluation/report/steps_curve.py, steps_table.py); a GAN's accuracy and diversity vs truncation psi
(evaluation/report/truncation_curve.py); image grids with the judge's verdicts (evaluation/report/grids.py).
"""
from __future__ import annotations

import base64
import html
import pathlib

from evaluation.markdown_tables import markdown_row, markdown_table
from evaluation.report import floor_marks, grids, paired, paired_tables, sections, steps_curve, truncation_curve
from evaluation.report.plots import guidance_text, one_guidance, plot_accuracy, plot_fid_vs_clip, shown_model
from evaluation.prompts import task_order
from models.files import atomic_write

__all__ = ["markdown_row", "markdown_table", "shown_model", "table", "write"]


def _interval(value) -> str:
    if value is None:
        return "–"
    mean, low, high = value
    return f"{mean:.3f} [{low:.3f}, {high:.3f}]"


def _percent(value) -> str:
    if value is None:
        return "–"
    mean, low, high = value
    return f"{100 * mean:.0f} % [{100 * low:.0f}, {100 * high:.0f}]"


def _fid(record: dict, kind: str) -> str:
    """FID with the generated sample count beside it; a ⚠ when the count is below the feature dimension."""
    value = record["fid"].get(kind)
    if value is None:
        return "–"
    counts = record.get("fid_n", {}).get(kind)
    if not counts:
        return f"{value:.2f}"
    low = min(c for c in (counts["generated"], counts["real"]) if c is not None) < counts["dim"]
    return f"{value:.2f} (n={counts['generated']}{' ⚠' if low else ''})"


def _share(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def table(records: list[dict]) -> tuple[list[str], list[list[str]]]:
    kinds = sorted({k for r in records for k in r["fid"]})
    clips = sorted({c for r in records for c in r.get("cmmd", {})})
    categories = task_order({c for r in records for c in r["accuracy"]})
    header = ["model", "family", "sampler", "steps", "guidance", "n"]
    header += [f"FID ({k})" for k in kinds] + [f"FID∞ ({k})" for k in kinds] + [f"KID ({k}) ×1e3" for k in kinds]
    header += [f"CMMD ({c})" for c in clips] + ["CLIP score"] + [f"acc. {c}" for c in categories]
    header += ["unsure"] * any(r.get("unsure") is not None for r in records) + ["img/s"]
    body, floor = [], floor_marks.floor_record(records)
    for r in sorted(records, key=lambda r: (r is not floor, shown_model(r), r["sampler"] or "", r["steps"] or 0,
                                            r["guidance"] or 0)):
        row = [shown_model(r), r["family"], r["sampler"] or "–", str(r["steps"] or "–"), guidance_text(r), str(r["n"])]
        row += [_fid(r, k) + floor_marks.fid_mark(r, floor, k) for k in kinds] + [floor_marks.fid_inf(r, k) for k in kinds]
        row += [f"{1e3 * r['kid'][k][0]:.2f} ± {1e3 * (r['kid'][k][1] or 0):.2f}"
                + floor_marks.mark(r, floor, r["kid"][k][0], "kid_interval", k) if r["kid"].get(k) else "–" for k in kinds]
        row += ["–" if r.get("cmmd", {}).get(c) is None else f"{r['cmmd'][c]:.4f}"
                + floor_marks.mark(r, floor, r["cmmd"][c], "cmmd_interval", c) for c in clips]
        row += [_interval(r["clip_score"]) + floor_marks.mark(r, floor, (r["clip_score"] or [None])[0], "clip_score")]
        row += [_percent(r["accuracy"].get(c)) + floor_marks.mark(r, floor, (r["accuracy"].get(c) or [None])[0],
                                                                   "accuracy", c) for c in categories]
        row += [_share(r.get("unsure"))] * ("unsure" in header)
        row += ["n/a" if r["images_per_s"] is None else f"{r['images_per_s']:.2f}"]  # made elsewhere: time unknown
        body.append(row)
    return header, body


def _html_table(header: list[str], body: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _inline(path: pathlib.Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


class Page:
    """report.md and report.html written side by side, section by section."""

    def __init__(self):
        self.markdown: list[str] = []
        self.html: list[str] = []

    def heading(self, title: str) -> None:
        self.markdown += [f"## {title}", ""]
        self.html.append(f"<h2>{html.escape(title)}</h2>")

    def text(self, lines: list[str], bullets: bool = False) -> None:
        if not lines:
            return
        self.markdown += [f"- {line}" if bullets else line for line in lines] + [""]
        items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
        self.html.append(f"<ul>{items}</ul>" if bullets else "".join(f"<p>{html.escape(line)}</p>" for line in lines))

    def table(self, header: list[str], body: list[list[str]]) -> None:
        self.markdown += [markdown_table(header, body), ""]
        self.html.append(_html_table(header, body))

    def figure(self, title: str, path: pathlib.Path) -> None:
        self.markdown += [f"![{title}]({path.name})", ""]
        self.html.append(f"<img src='{_inline(path)}' alt='{html.escape(title, quote=True)}'>")


def _comparisons(page: Page, rows: dict[str, dict]) -> None:
    tests = paired.compare(rows)
    if not tests:
        return
    page.heading("Paired comparisons")
    page.text([paired_tables.explanation(), "Full table with intervals and per-task tests: "
               "`python -m evaluation compare RUN_DIR` (or --a MODEL/SETTING --b MODEL/SETTING)."])
    for metric, header, body in paired_tables.matrices(tests):
        page.markdown += [f"**{metric}**", "", *paired_tables.matrix_markdown(header, body), ""]
        page.html.append(f"<h3>{html.escape(metric)}</h3>{paired_tables.matrix_html(header, body)}")
    significant = [t for t in tests if t.significant and t.metric not in paired_tables.matrix_metrics(tests)]
    if significant:
        page.markdown += ["Significant per-task differences:", ""]
        page.html.append("<p>Significant per-task differences:</p>")
        page.table(*paired_tables.test_table(significant))


def _quality(page: Page, records: list[dict]) -> None:
    fidelity = sections.fidelity_table(records)
    if fidelity:
        page.heading("Fidelity and diversity")
        page.text(["Precision / recall / density / coverage: k-NN estimates (k = 5; Kynkäänniemi et al. 2019, "
                   "Naeem et al. 2020) on the FID features against the same references. Layouts differ: the share of "
                   "sample pairs of one prompt whose detected sizes or positions differ; feature spread: the mean "
                   "feature distance between them; each beside the same for the rendered references of the same "
                   "prompts and seeds (the variety the prompts leave open)."])
        page.table(*fidelity)
    by_category = sections.clip_by_category_table(records)
    if by_category:
        page.heading("CLIP score per category")
        page.table(*by_category)


def _imported(run: dict) -> str:
    """The image folders scored into this run (`evaluation score`), by name and source."""
    imported = run.get("imported") or {}
    return "".join(f", {name} (images from {entry.get('source', '?')})" for name, entry in sorted(imported.items()))


def write(root: pathlib.Path, run: dict, records: list[dict], rows: dict[str, dict]) -> tuple[pathlib.Path, pathlib.Path]:
    page = Page()
    intro = (f"Prompts `{run.get('prompts')}` ({run.get('n_prompts')} prompts × {run.get('n')} samples), "
             f"models {', '.join(run.get('models', []))}{_imported(run)}, {len(rows)} images. Accuracy: all the prompt "
             f"asks, judged "
             f"by the world detector; CLIP score: {run.get('clip')} CLIP, 100·max(cos, 0); FID/KID/CMMD against "
             f"{run.get('reference') or 'images rendered from the same world prompts'}; CMMD: 1000 × MMD² "
             f"of CLIP embeddings (Jayasumana et al. 2024), KID and CMMD paired by prompt (± a bootstrap standard error over prompts); "
             f"[a, b]: bootstrap 95 % interval.")
    page.text([intro])
    page.table(*table(records))
    notes = floor_marks.notes(records) + sections.fid_sample_notes(records) + [sections.cmmd_vs_fid(records),
                                                                                sections.judge_sentence(records)]
    page.text([n for n in notes if n], bullets=True)
    _comparisons(page, rows)
    _quality(page, records)
    single = " (one guidance scale: {})" if one_guidance(records) else ""
    if plot_fid_vs_clip(records, root / "fid_vs_clip.png"):
        page.heading("FID vs CLIP score across guidance" + single.format("a point per model"))
        page.figure("FID vs CLIP score", root / "fid_vs_clip.png")
    if plot_accuracy(records, root / "accuracy_vs_guidance.png"):
        page.heading("Accuracy vs guidance, per task" + single.format("bars per model"))
        page.figure("Accuracy per task", root / "accuracy_vs_guidance.png")
    for curve in (steps_curve.section(root, records, rows, shown_model),
                  truncation_curve.section(root, records, rows, shown_model)):
        if curve is not None:
            page.heading(curve.title)
            page.figure(curve.title, curve.figure)
            for title, figure in curve.figures:
                page.figure(title, figure)
            page.table(curve.header, curve.body)
            for intro, header, body in curve.tables:  # e.g. the steps each line needs to reach its best
                page.text([intro])
                page.table(header, body)
            page.text(curve.sentences, bullets=True)
    for grid in grids.image_grids(root, rows):
        page.heading(f"Images, {grid.title}")
        page.markdown += [f"![{grid.title}]({grid.path.name})", ""]
        page.html.append(grids.grid_html(grid))
    atomic_write(root / "report.md", "\n".join(["# GenBench report", "", *page.markdown]) + "\n")
    style = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;"
             "font-size:12px;margin:0.5em 0}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
             "td{white-space:nowrap}"
             "td:first-child,th:first-child{text-align:left;white-space:nowrap}img{max-width:100%}"
             ".matrix td.sig{background:#ffe08a;font-weight:bold}" + grids.GRID_STYLE)
    atomic_write(root / "report.html", f"<!doctype html><html><head><meta charset='utf-8'><title>GenBench report</title>"
                                       f"<style>{style}</style></head><body><h1>GenBench report</h1>"
                                       + "".join(page.html) + "</body></html>\n")
    return root / "report.md", root / "report.html"
