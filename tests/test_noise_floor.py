"""The noise floor: a run's `world` row (the world's rendering with other seeds) reads zero on KID and CMMD within
their intervals, a shifted generator (wrong colors) reads above them, and reports and Results.table mark it."""
from __future__ import annotations

import json

import numpy as np
import pytest

import evaluation
from evaluation.metrics import fid_infinity, noise_floor
from models.contract import ImageRequest
from run_builder import blank, finish_run, make_run, wrong_color

PROMPTS = "shapes-single-20"


def _world(item, seed):
    return noise_floor.WorldRenderer({item.prompt: item.target}).generate_requests([ImageRequest(item.prompt, seed)])[0]


@pytest.fixture(scope="module")
def records(tmp_path_factory, evaluator_clip):
    root = tmp_path_factory.mktemp("floor")
    rows = make_run(root, {"world": _world, "wrong": wrong_color, "blank": blank}, prompts=PROMPTS, n=2)
    finish_run(root, rows, ["world", "wrong", "blank"])
    return root, {r["model"]: r for r in json.loads((root / "metrics.json").read_text())["records"]}


@pytest.mark.parametrize("field, interval", [("kid", "kid_interval"), ("cmmd", "cmmd_interval")])
def test_the_null_reads_zero_within_its_interval_and_another_family_reads_above_it(records, field, interval):
    """Another family: blank canvases (the tests' evaluator CLIP is untrained and barely sees color, so wrong
    colors are held to the judge below; tests/test_paired_mmd.py shifts features directly)."""
    _, by_model = records
    floor, other = by_model["world"][interval]["world"], by_model["blank"][interval]["world"]
    assert floor[1] <= 0.0 <= floor[2]
    assert other[1] > floor[2]  # the shifted distribution's whole interval lies above the floor's


def test_accuracy_fid_and_fid_infinity_of_the_null_against_wrong_colors(records):
    _, by_model = records
    floor, wrong = by_model["world"], by_model["wrong"]
    assert floor["accuracy"]["single"][0] == 1.0 and wrong["accuracy"]["single"][2] < 1.0
    assert wrong["fid"]["world"] > floor["fid"]["world"]
    assert wrong["fid_inf"]["world"]["value"] > floor["fid_inf"]["world"]["value"]
    assert floor["prdc"]["world"]["coverage"] >= wrong["prdc"]["world"]["coverage"]


def test_the_report_marks_figures_inside_the_floor_interval(records):
    root, by_model = records
    report = (root / "report.md").read_text()
    floor_line = next(line for line in report.splitlines() if line.startswith("| world |"))
    wrong_line = next(line for line in report.splitlines() if line.startswith("| wrong |"))
    assert "≈" not in floor_line and "≈" not in wrong_line.split("|")[9]  # KID column: wrong is told apart
    assert "Noise floor" in report and "FID∞" in report
    assert noise_floor.near_floor(by_model["world"], by_model["world"]) == []
    assert "kid_world" not in noise_floor.near_floor(by_model["wrong"], by_model["world"])


def test_a_run_adds_the_floor_row_once_and_results_table_says_what_is_near_it(tmp_path, evaluator_clip):
    def perfect(prompts, seed):  # the world's rendering from yet another stream: near the floor everywhere
        return noise_floor.WorldRenderer({p: p for p in prompts}).generate(prompts, seed + 7)

    results = evaluation.run(models=[perfect], prompts="shapes-single-5", guidance=[3.0], n=2, out=tmp_path / "r",
                             device="cpu")
    table = {row["model"]: row for row in results.table}
    assert set(table) == {"perfect", "world"} and table["world"]["family"] == "world"
    assert table["world"]["near_floor"] == [] and "accuracy_single" in table["perfect"]["near_floor"]
    assert {"kid_interval_world_low", "kid_interval_world_high", "cmmd_interval_world_high"} <= set(table["world"])
    again = evaluation.run(models=[perfect], prompts="shapes-single-5", guidance=[3.0], n=2, out=tmp_path / "r",
                           device="cpu", floor=False)
    assert {row["model"] for row in again.table} == {"perfect"}


def test_fid_infinity_removes_the_small_sample_bias_of_a_null():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(60), 2)
    x, y = rng.normal(size=(120, 6)), rng.normal(size=(120, 6))
    result = fid_infinity.fid_infinity(x, y, labels, labels)
    assert result["value"] < 0.5 * fid_infinity.fid(x, y) and result["slope"] > 0
    assert fid_infinity.fid_infinity(x[:10], y[:10], labels[:10], labels[:10]) is None  # too few prompts


def test_cmmd_command_pairs_folders_by_prompt_folder(tmp_path, evaluator_clip, capsys):
    from evaluation.__main__ import main as evaluation_main
    from evaluation.prompts import load_prompts
    from world.references import reference_image

    for name, offset in (("a", 0), ("b", 500)):
        for j, item in enumerate(load_prompts("shapes-single-6")):
            folder = tmp_path / name / f"{j:05d}" / "samples"
            folder.mkdir(parents=True)
            for k in range(2):
                reference_image(item.target, offset + 10 * j + k).save(folder / f"{k:04d}.png")
    evaluation_main(["cmmd", str(tmp_path / "a"), str(tmp_path / "b"), "--paired"])
    value, _, se = capsys.readouterr().out.split()[:3]
    assert abs(float(value)) <= 2 * float(se) + 1e-9


def test_fid_and_prdc_stand_next_to_the_floor_interval(records):
    """The floor row carries FID's standard error and precision/recall/density/coverage intervals over prompts; a
    shifted generator (blank canvases: the tests' evaluator CLIP barely sees color) lies outside them, unmarked."""
    root, by_model = records
    floor, wrong = by_model["world"], by_model["blank"]
    value, se = floor["fid_interval"]["world"]
    assert value == pytest.approx(floor["fid"]["world"], rel=1e-6) and se > 0
    assert not noise_floor.within(wrong["fid"]["world"], floor["fid_interval"]["world"])
    for metric, (mid, low, high) in floor["prdc_interval"]["world"].items():
        assert low <= mid <= high and mid == pytest.approx(floor["prdc"]["world"][metric])
    assert "fid_interval" not in wrong or wrong["fid_interval"] == {}  # the floor row alone pays the bootstrap
    lines = (root / "report.md").read_text().splitlines()
    floor_line = next(line for line in lines if line.startswith("| world |"))
    wrong_line = next(line for line in lines if line.startswith("| blank |"))
    assert f" ± {se:.2f}" in floor_line.split("|")[7] and "≈" not in wrong_line.split("|")[7]
    assert any(line.startswith("| world (") and " [" in line for line in lines)  # the fidelity table
    assert "fid_world" not in noise_floor.near_floor(wrong, floor)
