"""The report as a reviewer sees it: report.html in headless chromium (bordered grid cells, the judge's verdict on
every image with the failing reason on hover, significant cells of the comparison matrices marked), plots that
suit one guidance scale with legends outside the axes, FID's sample count, and the CLIP score per category for
prompts outside the world."""
from __future__ import annotations


import pytest

from evaluation.report import plots as report_plots
from run_builder import blank, finish_run, make_run, right, wrong_color

@pytest.fixture(scope="module")
def world_run(tmp_path_factory, evaluator_clip):
    root = tmp_path_factory.mktemp("run")
    clip = {"good": 30.0, "bad": 25.0, "none": 10.0}
    rows = make_run(root, {"good": right, "bad": wrong_color, "none": blank}, clip=lambda m, j, k: clip[m] + j % 3)
    finish_run(root, rows, ["good", "bad", "none"])
    return root


def test_report_in_a_browser_shows_verdicts_reasons_borders_and_marked_cells(world_run, tmp_path, page):
    page.goto((world_run / "report.html").as_uri())
    cells = page.eval_on_selector_all(".grid td.cell", "cells => cells.map(c => ({"
                                      "title: c.querySelector('img').title, alt: c.querySelector('img').alt, "
                                      "mark: c.querySelector('.mark').innerText, "
                                      "border: parseFloat(getComputedStyle(c).borderTopWidth)}))")
    significant = page.eval_on_selector_all(".matrix td.sig", "cells => cells.map(c => c.innerText)")
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert len(cells) == 6 * 4  # 6 prompts x (reference, bad, good, none)
    assert all(c["border"] >= 1 and c["title"] == c["alt"] for c in cells)
    columns = [c["title"].split(":")[0] for c in cells]
    for column, cell in zip(columns, cells):
        assert cell["mark"] == ("✓" if column in ("reference", "good") else "✗"), cell
    assert all("✗ color: saw " in c["title"] for col, c in zip(columns, cells) if col == "bad")
    assert all("✗ saw nothing" in c["title"] for col, c in zip(columns, cells) if col == "none")
    # good beats both on accuracy (each way round in the matrix), and every CLIP difference is significant
    assert sum(" pts " in s for s in significant) == 4 and sum(" pts " not in s for s in significant) == 6
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_report_states_fid_sample_counts_cmmd_and_the_judge_on_references(world_run):
    text = (world_run / "report.md").read_text()
    assert "(n=12 ⚠)" in text and "fewer samples than dimensions" in text  # 12 images, 16-d tiny features
    assert "CMMD (world)" in text and "CMMD (world CLIP)" in text
    assert "passes 100.0 % of the 12 rendered references" in text
    assert "## Paired comparisons" in text and "## Fidelity and diversity" in text
    assert "| good (ddim, g=3) |" in text


def _records(guidances, models=("a", "b")):
    return [{"model": m, "setting": f"ddim-50steps-g{g:g}", "sampler": "ddim", "steps": 50, "guidance": g,
             "clip_score": (20.0 + i + g, 19.0, 22.0), "fid": {"world": 10.0 * (i + 1) + g},
             "accuracy": {"single": (0.5, 0.3, 0.7), "pair": (0.0, 0.0, 0.0)}}
            for i, m in enumerate(models) for g in guidances]


def _legend_clear_of_axes(figure) -> bool:
    figure.canvas.draw()
    legend = figure.legends[0].get_window_extent()
    return all(not legend.overlaps(axis.get_window_extent()) for axis in figure.axes)


def test_one_guidance_scale_gives_bars_and_several_give_lines_with_legends_outside():
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    bars = report_plots.accuracy_figure(_records([3.0]))
    [axis] = bars.axes
    assert len([p for p in axis.patches if isinstance(p, Rectangle)]) == 2 * 2  # 2 tasks x 2 models
    assert [t.get_text() for t in axis.get_xticklabels()] == ["single", "pair"]  # the world's task order
    assert "0%" in [t.get_text() for t in axis.texts]  # a zero bar is labelled, not just absent
    assert _legend_clear_of_axes(bars)
    lines = report_plots.accuracy_figure(_records([1.0, 3.0, 5.0]))
    assert len(lines.axes) == 2 and all(len(a.lines) == 2 and not a.patches for a in lines.axes)
    assert _legend_clear_of_axes(lines)
    scatter = report_plots.fid_vs_clip_figure(_records([3.0]))
    assert scatter.axes[0].get_title() == "FID vs CLIP score, one point per model" and _legend_clear_of_axes(scatter)
    for figure in (bars, lines, scatter):
        plt.close(figure)


def test_prompts_outside_the_world_get_a_clip_score_per_category(tmp_path, evaluator_clip):
    prompts = tmp_path / "parti.tsv"
    prompts.write_text("prompt\tcategory\na cat on a mat\tAnimals\na dog\tAnimals\na red car\tVehicles\n")
    run = tmp_path / "run"
    run.mkdir()
    rows = make_run(run, {"x": blank}, prompts=str(prompts), n=2, clip=lambda m, j, k: [20.0, 22.0, 30.0][j])
    finish_run(run, rows, ["x"])
    text = (run / "report.md").read_text()
    section = text[text.index("## CLIP score per category"):]
    assert "| model | Animals | Vehicles |" in section
    assert "| x (ddim, g=3) | 21.00 [20.00, 22.00] | 30.00 [30.00, 30.00] |" in section
