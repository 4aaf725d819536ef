"""The report's "Accuracy and FID vs steps" section (evaluation/report/steps_curve.py) on hand-made rows and metrics
records with known accuracies and FIDs, and scripts/few_steps.py's command line."""
from __future__ import annotations

import pathlib
import subprocess
import sys

from PIL import Image

from evaluation.report import run_report as report, steps_curve

REPO = pathlib.Path(__file__).resolve().parents[1]
PROMPTS = 4  # prompts with a target; one more without (its row has correct None)
# sampler -> steps -> (prompts correct of PROMPTS, FID)
KNOWN = {"ddim": {5: (1, 40.0), 10: (2, 30.0), 20: (3, 20.0), 50: (3, 15.0), 250: (4, 10.0)},
         "dpm++": {5: (2, 25.0), 10: (3, 18.0), 20: (4, 12.5), 50: (4, 12.0), 250: (4, 11.0)}}


def _setting(sampler, steps, guidance=3.0):
    return f"{sampler}-{steps}steps-g{guidance:g}"


def _rows(root: pathlib.Path, model: str, sampler: str, steps: int, correct: int, guidance=3.0) -> list[dict]:
    setting = _setting(sampler, steps, guidance)
    rows = []
    for j in range(PROMPTS + 1):
        target = None if j == PROMPTS else "a red circle"
        file = f"images/{model}/{setting}/p{j:04d}-s00-seed{j}.png"
        (root / file).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (32, 32)).save(root / file)
        rows.append({"key": f"{model}|{setting}|{j:04d}|00|{j}", "model": model, "family": "dit", "setting": setting,
                     "sampler": sampler, "steps": steps, "guidance": guidance, "prompt_index": j, "sample": 0,
                     "seed": j, "prompt": target or "a cat", "category": "single" if target else "free",
                     "target": target, "clip_score": 20.0, "correct": None if target is None else j < correct,
                     "color_shape": None if target is None else True, "latency_s": 0.1, "file": file})
    return rows


def _record(model: str, sampler: str, steps: int, correct: int, fid: float, guidance=3.0) -> dict:
    return {"model": model, "family": "dit", "setting": _setting(sampler, steps, guidance), "sampler": sampler,
            "steps": steps, "guidance": guidance, "n": PROMPTS + 1, "images_per_s": 10.0,
            "clip_score": (20.0, 19.0, 21.0), "accuracy": {"single": (correct / PROMPTS, 0.0, 1.0)},
            "color_shape": {"single": 1.0}, "fid": {"world": fid}, "kid": {"world": None}}


def _run(root: pathlib.Path, known=KNOWN, model="dit") -> tuple[list[dict], dict[str, dict]]:
    records, rows = [], {}
    for sampler, by_steps in known.items():
        for steps, (correct, fid) in by_steps.items():
            records.append(_record(model, sampler, steps, correct, fid))
            rows.update({r["key"]: r for r in _rows(root, model, sampler, steps, correct)})
    return records, rows


def test_table_and_sentences_hold_the_known_numbers(tmp_path):
    records, rows = _run(tmp_path)
    found = steps_curve.lines(records, rows)
    header, body = steps_curve.table(found, steps_curve.fid_kind(records))
    assert header == ["model", "sampler", "steps", "images", "accuracy", "FID (world)"]
    assert body[:5] == [["dit", "ddim", "5", "5", "25.0 %", "40.00"], ["dit", "ddim", "10", "5", "50.0 %", "30.00"],
                        ["dit", "ddim", "20", "5", "75.0 %", "20.00"], ["dit", "ddim", "50", "5", "75.0 %", "15.00"],
                        ["dit", "ddim", "250", "5", "100.0 %", "10.00"]]
    assert body[7] == ["dit", "dpm++", "20", "5", "100.0 %", "12.50"]
    assert steps_curve.sentences(found) == [
        "dit, ddim at 20 steps: accuracy 75.0 % vs 100.0 % at 250 (Δ -25.0 points), FID 20.00 vs 10.00.",
        "dit, dpm++ at 20 steps: accuracy 100.0 % vs 100.0 % at 250 (Δ +0.0 points), FID 12.50 vs 11.00."]


def test_sentence_picks_its_steps_from_the_data(tmp_path):
    known = {"ddim": {5: (1, 40.0), 10: (3, 30.0)}, "dpm++": {50: (2, 20.0), 250: (4, 10.0)},
             "ddpm": {8: (1, 9.0), 12: (2, 8.0), 100: (4, 7.0)}}
    records, rows = _run(tmp_path, known)
    assert steps_curve.sentences(steps_curve.lines(records, rows)) == [
        "dit, ddim at 5 steps: accuracy 25.0 % vs 75.0 % at 10 (Δ -50.0 points), FID 40.00 vs 30.00.",
        "dit, ddpm at 12 steps: accuracy 50.0 % vs 100.0 % at 100 (Δ -50.0 points), FID 8.00 vs 7.00.",
        "dit, dpm++: no run at ≤ 20 steps below 250 to compare with."]


def test_several_guidance_scales_are_lines_of_their_own(tmp_path):
    records, rows = _run(tmp_path, {"ddim": KNOWN["ddim"]})
    for steps, (correct, fid) in {5: (4, 50.0), 250: (0, 5.0)}.items():
        records.append(_record("dit", "ddim", steps, correct, fid, guidance=1.0))
        rows.update({r["key"]: r for r in _rows(tmp_path, "dit", "ddim", steps, correct, guidance=1.0)})
    lines = steps_curve.sentences(steps_curve.lines(records, rows))
    assert lines == ["dit, ddim, g=1 at 5 steps: accuracy 100.0 % vs 0.0 % at 250 (Δ +100.0 points), FID 50.00 vs 5.00.",
                     "dit, ddim, g=3 at 20 steps: accuracy 75.0 % vs 100.0 % at 250 (Δ -25.0 points), FID 20.00 vs 10.00."]


def test_report_embeds_the_plot_table_and_sentences(tmp_path):
    records, rows = _run(tmp_path)
    markdown, page = report.write(tmp_path, {"models": ["dit"]}, records, rows)
    text, html = markdown.read_text(), page.read_text()
    figure = tmp_path / steps_curve.FIGURE
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and Image.open(figure).size[0] > 300
    assert "## Accuracy and FID vs steps" in text and f"![Accuracy and FID vs steps]({steps_curve.FIGURE})" in text
    assert "| dit | ddim | 20 | 5 | 75.0 % | 20.00 |" in text
    assert "- dit, ddim at 20 steps: accuracy 75.0 % vs 100.0 % at 250 (Δ -25.0 points), FID 20.00 vs 10.00." in text
    assert "<h2>Accuracy and FID vs steps</h2><img src='data:image/png;base64," in html
    assert "<td>75.0 %</td>" in html and "<li>dit, dpm++ at 20 steps: accuracy 100.0 %" in html
    # the section sits after the guidance plots and before the image grids
    assert text.index("Accuracy vs guidance") < text.index("Accuracy and FID vs steps") < text.index("## Images")


def test_one_step_count_has_no_section(tmp_path):
    records, rows = _run(tmp_path, {"ddim": {50: (3, 15.0)}, "dpm++": {50: (4, 12.0)}})
    assert steps_curve.section(tmp_path, records, rows) is None
    markdown, page = report.write(tmp_path, {"models": ["dit"]}, records, rows)
    assert "vs steps" not in markdown.read_text() and "vs steps" not in page.read_text()
    assert not (tmp_path / steps_curve.FIGURE).exists()


def test_few_steps_help_explains_and_rejects_bad_steps():
    script = [sys.executable, str(REPO / "scripts" / "few_steps.py")]
    shown = subprocess.run(script + ["--help"], capture_output=True, text=True, cwd=REPO, check=True).stdout
    assert "5,10,20,50,250" in shown and "ddim,dpm++,ddpm" in shown and "runs/few-steps" in shown
    assert "continues where it stopped" in shown
    bad = subprocess.run(script + ["--steps", "5,0"], capture_output=True, text=True, cwd=REPO, check=False)
    assert bad.returncode == 2 and "steps must be integers" in bad.stderr
