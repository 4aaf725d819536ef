"""The judge audited: every verdict says why it failed (world/accuracy.py), run rows carry it, and
`python -m evaluation judge-audit` measures the judge on perturbed renderings."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from evaluation.metrics import judge_audit
from evaluation.__main__ import main as evaluation_main
from run_builder import make_run, right, wrong_color
from world import WorldObject, render
from world.accuracy import judge

BLUE_SQUARE = render([WorldObject("square", "blue", "large", (0, 0), (8.0, 8.0))])
PAIR = render([WorldObject("square", "blue", "small", (0, 0), (6.0, 6.0)),
               WorldObject("circle", "red", "small", (0, 2), (6.0, 26.0))])


@pytest.mark.parametrize("caption, image, reason", [
    ("a large blue square in the top left", BLUE_SQUARE, ""),
    ("a small red square at the bottom", BLUE_SQUARE, "color: saw blue; size: saw large; position: saw top left"),
    ("a red circle", BLUE_SQUARE, "color: saw blue; shape: saw square"),
    ("a blue square", Image.new("RGB", (32, 32)), "saw nothing"),
    ("a blue square", PAIR, "saw 2 objects (blue square, red circle)"),
    ("two blue squares", BLUE_SQUARE, "saw 1 object (blue square)"),
    ("a blue square above a red circle", PAIR, ""),
    ("a blue square below a red circle", PAIR, "relation: blue square not below red circle"),
    ("a blue square above a green circle", PAIR, "saw 2 objects (blue square, red circle)"),
])
def test_every_verdict_says_what_the_detector_saw(caption, image, reason):
    verdict = judge(caption, image)
    assert verdict["reason"] == reason and verdict["full"] == (reason == "")


def test_run_rows_and_the_csv_carry_the_reason(tmp_path):
    from evaluation.store import COLUMNS, RunStore

    rows = make_run(tmp_path, {"good": right, "bad": wrong_color}, prompts="shapes-single-3", n=1)
    for row in rows.values():
        assert row["reason"] == ("" if row["correct"] else row["reason"])
        assert row["correct"] == (row["model"] == "good")
        assert row["model"] == "good" or row["reason"].startswith("color: saw ")
    RunStore(tmp_path).write_csv(rows)
    with open(tmp_path / "images.csv", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert "reason" in COLUMNS and {r["reason"] for r in table if r["model"] == "good"} == {""}


def test_perturbations_leave_strength_zero_alone_and_change_the_image_above():
    rng = np.random.default_rng(0)
    for p in judge_audit.PERTURBATIONS:
        assert judge_audit.perturb(BLUE_SQUARE, p.name, 0, rng) is BLUE_SQUARE
        changed = judge_audit.perturb(BLUE_SQUARE, p.name, p.strengths[-1], rng)
        assert changed.size == (32, 32) and changed.tobytes() != BLUE_SQUARE.tobytes(), p.name


def test_the_judge_passes_clean_renderings_and_fails_more_as_blur_grows():
    blur = [p for p in judge_audit.PERTURBATIONS if p.name == "blur"]
    [row] = judge_audit.audit(20, perturbations=blur, progress=False)  # 12 scenes left 1.5 vs 2 px to 2 images
    assert row.accuracy[0] == 1.0 and row.accuracy[-1] < 0.6
    assert all(a >= b - 0.1 for a, b in zip(row.accuracy, row.accuracy[1:]))  # no better when blurrier, up to noise
    assert row.top_reason.endswith(" of 20") and row.top_reason != ""


def test_judge_audit_command_prints_and_writes_the_table(tmp_path, capsys):
    evaluation_main(["judge-audit", "--n", "3", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "judge accuracy on 3 rendered world scenes" in out
    for p in judge_audit.PERTURBATIONS:
        line = next(line for line in out.splitlines() if line.startswith(p.name))
        assert f"  {p.unit}  " in line and "  0: 100 %  " in line  # level 0, the clean rendering
    saved = json.loads((tmp_path / "judge_audit.json").read_text())
    assert [r["perturbation"] for r in saved["rows"]] == [p.name for p in judge_audit.PERTURBATIONS]
    assert all(r["accuracy"][0] == 1.0 for r in saved["rows"])  # clean renderings: the judge is right
    assert "| gaussian noise |" in (tmp_path / "judge_audit.md").read_text()
    with pytest.raises(SystemExit) as stop:
        evaluation_main(["judge-audit", "--n", "0"])
    assert stop.value.code == 2 and capsys.readouterr().err.strip() == "error: --n must be from 1 to 10000 scenes"
