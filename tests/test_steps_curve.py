"""The report's "Accuracy and FID vs steps" section (evaluation/report/steps_curve.py, steps_table.py) on hand-made
rows, metrics records and points with known accuracies and FIDs (per task, the noise floor, the steps to reach within
2 points of the largest step count), and scripts/few_steps.py's command line."""
from __future__ import annotations

import dataclasses
import pathlib
import subprocess
import sys

from PIL import Image

from evaluation.report import run_report as report, steps_curve, steps_table

REPO = pathlib.Path(__file__).resolve().parents[1]
PROMPTS = 4  # prompts with a target; one more without (its row has correct None)
# sampler -> steps -> (prompts correct of PROMPTS, FID)
KNOWN = {"ddim": {5: (1, 40.0), 10: (2, 30.0), 20: (3, 20.0), 50: (3, 15.0), 250: (4, 10.0)},
         "dpm++": {5: (2, 25.0), 10: (3, 18.0), 20: (4, 12.5), 50: (4, 12.0), 250: (4, 11.0)}}


def _setting(sampler, steps, guidance=3.0):
    return f"{sampler}-{steps}steps-g{guidance:g}" if steps is not None else "one-pass"


def _rows(root: pathlib.Path, model: str, sampler: str | None, steps: int | None, correct, guidance=3.0) -> list[dict]:
    """PROMPTS prompts per task (correct: prompts right, of `single`, or task -> prompts right), one more without a
    target; steps None: a one-pass row such as the noise floor's."""
    by_task = correct if isinstance(correct, dict) else {"single": correct}
    setting = _setting(sampler, steps, guidance)
    judged = [(task, i < right) for task, right in by_task.items() for i in range(PROMPTS)]
    rows = []
    for j, (task, right) in enumerate([*judged, (None, None)]):
        file = f"images/{model}/{setting}/p{j:04d}-s00-seed{j}.png"
        (root / file).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (32, 32)).save(root / file)
        target = None if task is None else "a red circle"
        rows.append({"key": f"{model}|{setting}|{j:04d}|00|{j}", "model": model, "family": "dit", "setting": setting,
                     "sampler": sampler, "steps": steps, "guidance": None if steps is None else guidance,
                     "prompt_index": j, "sample": 0, "seed": j, "prompt": target or "a cat", "category": task or "free",
                     "target": target, "clip_score": 20.0, "correct": right,
                     "color_shape": None if target is None else True, "latency_s": 0.1, "file": file})
    return rows


def _record(model: str, sampler: str | None, steps: int | None, correct, fid: float, guidance=3.0) -> dict:
    by_task = correct if isinstance(correct, dict) else {"single": correct}
    return {"model": model, "family": "dit", "setting": _setting(sampler, steps, guidance), "sampler": sampler,
            "steps": steps, "guidance": None if steps is None else guidance, "n": PROMPTS * len(by_task) + 1,
            "images_per_s": 10.0, "clip_score": (20.0, 19.0, 21.0),
            "accuracy": {t: (right / PROMPTS, 0.0, 1.0) for t, right in by_task.items()},
            "color_shape": {t: 1.0 for t in by_task}, "fid": {"world": fid}, "kid": {"world": None}}


def _run(root: pathlib.Path, known=KNOWN, model="dit") -> tuple[list[dict], dict[str, dict]]:
    records, rows = [], {}
    for sampler, by_steps in known.items():
        for steps, (correct, fid) in by_steps.items():
            records.append(_record(model, sampler, steps, correct, fid))
            rows.update({r["key"]: r for r in _rows(root, model, sampler, steps, correct)})
    return records, rows


def _with_floor(root: pathlib.Path, records, rows, correct=None, fid=1.5):
    """The run's noise floor: the `world` rows, one pass, and their record."""
    correct = PROMPTS if correct is None else correct
    records.append(_record("world", None, None, correct, fid))
    rows.update({r["key"]: r for r in _rows(root, "world", None, None, correct)})
    return records, rows


def _line(shares: dict[int, float], task="count") -> list:
    """Points of one line whose accuracy on `task` (and over all) is known exactly."""
    return [steps_curve.Point(steps, 50, {steps_table.ALL: (share, share, share), task: (share, share, share)}, None)
            for steps, share in shares.items()]


def test_table_and_sentences_hold_the_known_numbers(tmp_path):
    records, rows = _run(tmp_path)
    found = steps_curve.lines(records, rows)
    header, body = steps_table.table(found, steps_curve.fid_kind(records), ["single"])
    assert header == ["model", "sampler", "steps", "images", "acc. all", "acc. single", "FID (world)"]
    # scripts/few_steps.py calls it without tasks: every task judged
    assert steps_curve.table(found, steps_curve.fid_kind(records)) == (header, body)
    assert [row[:4] + row[-1:] for row in body[:5]] == [
        ["dit", "ddim", "5", "5", "40.00"], ["dit", "ddim", "10", "5", "30.00"], ["dit", "ddim", "20", "5", "20.00"],
        ["dit", "ddim", "50", "5", "15.00"], ["dit", "ddim", "250", "5", "10.00"]]
    assert [row[4].split(" [")[0] for row in body[:5]] == ["25.0 %", "50.0 %", "75.0 %", "75.0 %", "100.0 %"]
    assert body[4][4] == body[4][5] == "100.0 % [100, 100]"  # every prompt right: no spread to resample
    assert body[7][:4] + body[7][-1:] == ["dit", "dpm++", "20", "5", "12.50"]
    assert steps_table.sentences(found) == [
        "dit, ddim at 20 steps: accuracy 75.0 % vs 100.0 % at 250 (Δ -25.0 points), FID 20.00 vs 10.00. "
        "Not within 2 points of its 250-step accuracy at 50 steps, the next count below.",
        "dit, dpm++ at 20 steps: accuracy 100.0 % vs 100.0 % at 250 (Δ +0.0 points), FID 12.50 vs 11.00. "
        "Within 2 points of its 250-step accuracy (or above) from 20 steps on."]


def test_accuracy_per_task_with_its_interval(tmp_path):
    # pair listed first: the table still follows the world's task order
    known = {"ddim": {5: ({"pair": 1, "single": 4}, 30.0), 50: ({"pair": 3, "single": 4}, 10.0)}}
    records, rows = _run(tmp_path, known)
    found = steps_curve.lines(records, rows)
    tasks = steps_curve.tasks_of(found, None)
    assert tasks == ["single", "pair"]
    few = found[("dit", "ddim", 3.0)][0]
    assert few.images == 2 * PROMPTS + 1 and few.share() == 5 / 8 and few.share("pair") == 1 / 4
    assert few.share("count") is None  # not asked in this run
    mean, low, high = few.accuracy["pair"]
    assert low < mean < high and 0 <= low and high <= 1  # a bootstrap over the 4 pair prompts
    header, body = steps_table.table(found, "world", tasks)
    assert header[4:7] == ["acc. all", "acc. single", "acc. pair"]
    assert body[0][4].startswith("62.5 % [") and body[0][5] == "100.0 % [100, 100]"
    assert body[0][6].startswith("25.0 % [")
    figure = steps_curve.task_figure(found, tasks)
    assert [axis.get_title() for axis in figure.axes if axis.get_visible()] == ["single", "pair"]
    pair_axis = figure.axes[1]
    assert list(pair_axis.lines[0].get_ydata()) == [0.25, 0.75] and pair_axis.collections  # the line and its band


def test_noise_floor_is_a_row_a_line_and_a_sentence(tmp_path):
    records, rows = _with_floor(tmp_path, *_run(tmp_path, {"ddim": KNOWN["ddim"]}), correct=3, fid=1.5)
    found = steps_curve.lines(records, rows)
    assert all(model != "world" for model, _, _ in found)  # the floor is no line of its own
    floor = steps_curve.floor_point(records, rows)
    assert floor.steps is None and floor.share() == 0.75 and floor.fid == 1.5 and floor.images == PROMPTS + 1
    header, body = steps_table.table(found, "world", ["single"], floor)
    assert body[0][:4] == ["world", "noise floor", "–", "5"] and body[0][-1] == "1.50"
    assert body[0][4].startswith("75.0 % [") and len(body) == 1 + 5
    assert steps_table.sentences(found, ["single"], floor)[-1].startswith(
        "Noise floor (`world`: the world's own rendering with other seeds, a perfect generator): accuracy 75.0 % [")
    accuracy, fid = steps_curve.accuracy_fid_figure(found, "world", floor).axes
    floor_lines = {axis: [line for line in axis.lines if line.get_label() == "noise floor (world)"]
                   for axis in (accuracy, fid)}
    assert list(floor_lines[accuracy][0].get_ydata()) == [0.75, 0.75]
    assert list(floor_lines[fid][0].get_ydata()) == [1.5, 1.5]
    task_axis = steps_curve.task_figure(found, ["single"], floor).axes[0]
    assert [list(line.get_ydata()) for line in task_axis.lines if line.get_label() == "noise floor (world)"] == [
        [0.75, 0.75]]


def test_steps_to_reach_within_two_points():
    reach = steps_table.steps_to_reach
    sweep = (1, 2, 4, 8, 16, 32, 50)
    assert reach(_line(dict(zip(sweep, (0.10, 0.30, 0.60, 0.79, 0.80, 0.81, 0.80))))) == 8
    # reached at 4, out again at 8: only from 16 on does it stay within
    assert reach(_line(dict(zip(sweep, (0.10, 0.30, 0.79, 0.70, 0.80, 0.81, 0.80))))) == 16
    # 2 points below exactly (39 vs 40 of 50, as float shares) still counts
    assert reach(_line(dict(zip(sweep, (0.10, 0.30, 0.60, 39 / 50, 0.80, 0.80, 40 / 50))))) == 8
    # above the largest step count's accuracy counts as reached
    assert reach(_line(dict(zip(sweep, (0.95, 0.90, 0.85, 0.80, 0.80, 0.80, 0.80))))) == 1
    assert reach(_line(dict(zip(sweep, (0.10, 0.30, 0.60, 0.70, 0.75, 0.77, 0.80))))) is None
    assert reach(_line({50: 0.8})) is None
    assert reach(_line({8: 0.5, 50: 0.8}), task="pair") is None  # the task was never asked


def test_reach_table_and_sentence_per_task():
    sweep = (1, 2, 4, 8, 16, 32, 50)
    flow = _line(dict(zip(sweep, (0.10, 0.30, 0.60, 0.79, 0.80, 0.81, 0.80))))
    # per task: single reaches at 2, count dips out at 8 and is back from 16
    singles = dict(zip(sweep, (0.5, 0.99, 1.0, 1.0, 1.0, 1.0, 1.0)))
    counts = dict(zip(sweep, (0.1, 0.3, 0.6, 0.5, 0.6, 0.61, 0.6)))
    flow = [dataclasses.replace(p, accuracy={**p.accuracy, "single": (singles[p.steps],) * 3,
                                             "count": (counts[p.steps],) * 3}) for p in flow]
    dit = _line(dict(zip(sweep, (0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 0.8))), task="single")
    found = {("dit", "ddim", 3.0): dit, ("flow", "euler", 3.0): flow}
    intro, header, body = steps_table.reach_table(found, ["single", "count"])
    assert intro.startswith("Steps to reach within 2 points of the N-step accuracy (N: each line's largest step count)")
    assert header == ["model", "sampler", "N", "all", "single", "count"]
    assert body == [["dit", "ddim", "50", "–", "–", "n/a"], ["flow", "euler", "50", "8", "2", "16"]]
    assert steps_table.sentences(found, ["single", "count"]) == [
        "dit, ddim at 16 steps: accuracy 50.0 % vs 80.0 % at 50 (Δ -30.0 points), FID – vs –. "
        "Not within 2 points of its 50-step accuracy at 32 steps, the next count below.",
        "flow, euler at 16 steps: accuracy 80.0 % vs 80.0 % at 50 (Δ +0.0 points), FID – vs –. "
        "Within 2 points of its 50-step accuracy (or above) from 8 steps on; slowest task: count (16 steps)."]
    stuck = [dataclasses.replace(p, accuracy={**p.accuracy, "count": ((0.5 if p.steps < 50 else 0.6),) * 3})
             for p in flow]
    assert steps_table.sentence("flow", "euler", stuck, ["single", "count"]).endswith(
        "from 8 steps on; slowest task: count (not below 50).")
    unjudged = [steps_curve.Point(steps, 5, {}, fid) for steps, fid in ((10, 30.0), (50, 20.0))]
    assert steps_table.sentence("gan", "–", unjudged) == (
        "gan, – at 10 steps: accuracy – vs – at 50, FID 30.00 vs 20.00.")  # nothing judged: no steps to reach


def test_sentence_picks_its_steps_from_the_data(tmp_path):
    known = {"ddim": {5: (1, 40.0), 10: (3, 30.0)}, "dpm++": {50: (2, 20.0), 250: (4, 10.0)},
             "ddpm": {8: (1, 9.0), 12: (2, 8.0), 100: (4, 7.0)}}
    records, rows = _run(tmp_path, known)
    assert steps_table.sentences(steps_curve.lines(records, rows)) == [
        "dit, ddim at 5 steps: accuracy 25.0 % vs 75.0 % at 10 (Δ -50.0 points), FID 40.00 vs 30.00. "
        "Not within 2 points of its 10-step accuracy at 5 steps, the next count below.",
        "dit, ddpm at 12 steps: accuracy 50.0 % vs 100.0 % at 100 (Δ -50.0 points), FID 8.00 vs 7.00. "
        "Not within 2 points of its 100-step accuracy at 12 steps, the next count below.",
        "dit, dpm++: no run at ≤ 20 steps below 250 to compare with. "
        "Not within 2 points of its 250-step accuracy at 50 steps, the next count below."]


def test_several_guidance_scales_are_lines_of_their_own(tmp_path):
    records, rows = _run(tmp_path, {"ddim": KNOWN["ddim"]})
    for steps, (correct, fid) in {5: (4, 50.0), 250: (0, 5.0)}.items():
        records.append(_record("dit", "ddim", steps, correct, fid, guidance=1.0))
        rows.update({r["key"]: r for r in _rows(tmp_path, "dit", "ddim", steps, correct, guidance=1.0)})
    said = steps_table.sentences(steps_curve.lines(records, rows))
    assert said == [
        "dit, ddim, g=1 at 5 steps: accuracy 100.0 % vs 0.0 % at 250 (Δ +100.0 points), FID 50.00 vs 5.00. "
        "Within 2 points of its 250-step accuracy (or above) from 5 steps on.",
        "dit, ddim, g=3 at 20 steps: accuracy 75.0 % vs 100.0 % at 250 (Δ -25.0 points), FID 20.00 vs 10.00. "
        "Not within 2 points of its 250-step accuracy at 50 steps, the next count below."]


def test_report_embeds_the_plots_tables_and_sentences(tmp_path):
    records, rows = _with_floor(tmp_path, *_run(tmp_path))
    markdown, page = report.write(tmp_path, {"models": ["dit"]}, records, rows)
    text, html = markdown.read_text(), page.read_text()
    for name in (steps_curve.FIGURE, steps_curve.TASK_FIGURE):
        figure = tmp_path / name
        assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and Image.open(figure).size[0] > 300
    assert "## Accuracy and FID vs steps" in text and f"![Accuracy and FID vs steps]({steps_curve.FIGURE})" in text
    assert f"![Accuracy per task vs steps]({steps_curve.TASK_FIGURE})" in text
    assert "| model | sampler | steps | images | acc. all | acc. single | FID (world) |" in text
    assert "| world | noise floor | – | 5 | 100.0 % [100, 100] | 100.0 % [100, 100] | 1.50 |" in text
    assert "| dit | ddim | 250 | 5 | 100.0 % [100, 100] | 100.0 % [100, 100] | 10.00 |" in text
    assert "Steps to reach within 2 points of the N-step accuracy" in text
    assert "| model | sampler | N | all | single |" in text and "| dit | dpm++ | 250 | 20 | 20 |" in text
    assert ("- dit, ddim at 20 steps: accuracy 75.0 % vs 100.0 % at 250 (Δ -25.0 points), FID 20.00 vs 10.00. "
            "Not within 2 points of its 250-step accuracy at 50 steps, the next count below.") in text
    assert "- Noise floor (`world`" in text
    assert "<h2>Accuracy and FID vs steps</h2><img src='data:image/png;base64," in html
    assert "alt='Accuracy per task vs steps'" in html and "<td>noise floor</td>" in html
    assert "<li>dit, dpm++ at 20 steps: accuracy 100.0 %" in html
    # the section sits after the guidance plots and before the image grids
    assert text.index("Accuracy vs guidance") < text.index("Accuracy and FID vs steps") < text.index("## Images")


def test_one_step_count_has_no_section(tmp_path):
    records, rows = _run(tmp_path, {"ddim": {50: (3, 15.0)}, "dpm++": {50: (4, 12.0)}})
    assert steps_curve.section(tmp_path, records, rows) is None
    markdown, page = report.write(tmp_path, {"models": ["dit"]}, records, rows)
    assert "vs steps" not in markdown.read_text() and "vs steps" not in page.read_text()
    assert not (tmp_path / steps_curve.FIGURE).exists() and not (tmp_path / steps_curve.TASK_FIGURE).exists()


def test_few_steps_help_explains_and_rejects_bad_steps():
    script = [sys.executable, str(REPO / "scripts" / "few_steps.py")]
    shown = subprocess.run(script + ["--help"], capture_output=True, text=True, cwd=REPO, check=True).stdout
    assert "5,10,20,50,250" in shown and "ddim,dpm++,ddpm" in shown and "runs/few-steps" in shown
    assert "continues where it stopped" in shown
    bad = subprocess.run(script + ["--steps", "5,0"], capture_output=True, text=True, cwd=REPO, check=False)
    assert bad.returncode == 2 and "steps must be integers" in bad.stderr
