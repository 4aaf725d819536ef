"""CMMD (evaluation/metrics/cmmd.py) and precision/recall/density/coverage and diversity (evaluation/metrics/fidelity.py) against
brute-force references and torch-fidelity, `python -m evaluation cmmd`, and the new metrics in a run's records."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from evaluation.metrics import cmmd, fidelity, run_metrics
from evaluation.__main__ import main as evaluation_main
from run_builder import blank, finish_run, make_run, right, wrong_color


def _brute_mmd2(x, y, sigma=10.0):
    k = lambda a, b: np.exp(-np.sum((a - b) ** 2) / (2 * sigma ** 2))
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    if m == n:  # Gretton et al. 2012's MMD^2_u: the cross sum skips i = j as well
        xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n) if i != j) / (m * (m - 1))
    else:
        xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


@pytest.mark.parametrize("m, n", [(7, 7), (6, 9)])
def test_mmd_matches_the_brute_force_estimator(m, n):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(m, 5)) * 6, rng.normal(size=(n, 5)) * 6 + 3
    assert cmmd.mmd2_unbiased(x, y) == pytest.approx(_brute_mmd2(x, y), rel=1e-10)


def test_cmmd_is_zero_for_a_set_against_itself_and_unbiased_between_samples_of_one_distribution():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 16))
    assert cmmd.cmmd(x, x) == 0.0
    assert cmmd.cmmd(x, 3 * x) == pytest.approx(0.0, abs=1e-9)  # embeddings are L2-normalised first
    same = [cmmd.cmmd(rng.normal(size=(30, 16)), rng.normal(size=(30, 16))) for _ in range(40)]
    shifted = cmmd.cmmd(rng.normal(size=(30, 16)), rng.normal(size=(30, 16)) + 1.0)
    assert abs(np.mean(same)) < 3 * np.std(same) / np.sqrt(len(same))  # centred on 0: some draws are negative
    assert min(same) < 0 < shifted and shifted > 10 * np.std(same)


def test_precision_and_recall_match_torch_fidelity_and_density_coverage_a_brute_force_loop():
    from torch_fidelity.metric_prc import calculate_precision_recall_full

    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(30, 4)), rng.normal(size=(25, 4)) * 1.5 + 0.5
    found = fidelity.prdc(real, fake, k=5)
    precision, recall = calculate_precision_recall_full(torch.from_numpy(fake), torch.from_numpy(real), neighborhood=5)
    assert (found["precision"], found["recall"]) == pytest.approx((precision, recall))
    distance = lambda a, b: float(np.linalg.norm(a - b))
    radius = [sorted(distance(r, s) for s in real)[5] for r in real]  # the 5th neighbour; [0] is itself
    density = sum(distance(r, f) <= radius[i] for f in fake for i, r in enumerate(real)) / (5 * len(fake))
    coverage = np.mean([min(distance(r, f) for f in fake) <= radius[i] for i, r in enumerate(real)])
    assert found["density"] == pytest.approx(density) and found["coverage"] == pytest.approx(coverage)
    # a set against itself: every point lies in its own ball and in those of the k points it is a neighbour of
    assert fidelity.prdc(real, real, k=5) == {"precision": 1.0, "recall": 1.0, "density": 6 / 5, "coverage": 1.0, "k": 5}
    assert fidelity.prdc(real[:5], fake, k=5) is None  # not more samples than neighbours


def test_within_prompt_diversity_counts_pairs_with_other_layouts(tmp_path):
    from world import WorldObject, render

    images = [render([WorldObject("circle", "red", "small", cell, (6 + 10 * cell[0], 6 + 10 * cell[1]))])
              for cell in [(0, 0), (0, 0), (2, 2), (1, 1)]]
    members = []
    for i, image in enumerate(images):  # prompt 0: the same layout twice; prompt 1: two cells
        image.save(tmp_path / f"{i}.png")
        members.append({"prompt_index": i // 2, "file": f"{i}.png", "target": None, "seed": i})
    feats = np.array([[0.0, 0.0], [0.0, 0.0], [3.0, 4.0], [0.0, 0.0]])
    found = fidelity.diversity(tmp_path, members, {"world": (feats, None)})
    assert found["layouts_differ"] == 0.5 and found["layouts_differ_reference"] is None
    assert found["spread"] == {"world": pytest.approx(2.5)}  # distances 0 and 5, averaged over the prompts


def test_cmmd_command_on_folders(tmp_path, evaluator_clip, capsys):
    for name, colour in (("a", "red"), ("b", "blue")):
        (tmp_path / name).mkdir()
        for i in range(4):
            Image.new("RGB", (32, 32), (i * 20, 0, 0) if colour == "red" else (0, 0, 100 + i * 30)).save(
                tmp_path / name / f"{i}.png")
    evaluation_main(["cmmd", str(tmp_path / "a"), str(tmp_path / "a")])
    assert capsys.readouterr().out.strip() == "0.0000"
    evaluation_main(["cmmd", str(tmp_path / "a"), str(tmp_path / "b")])
    assert float(capsys.readouterr().out) > 0
    with pytest.raises(SystemExit) as stop:
        evaluation_main(["cmmd", str(tmp_path / "a"), str(tmp_path / "missing")])
    assert stop.value.code == 2 and "is not an image folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        evaluation_main(["cmmd", str(tmp_path / "a"), str(tmp_path / "b"), "--clip", "ViT-B-32:/no/such.bin"])
    assert stop.value.code == 2 and "expected world or MODEL:WEIGHTS_FILE" in capsys.readouterr().err


def test_a_run_records_cmmd_fidelity_diversity_and_the_judge_on_its_references(tmp_path, evaluator_clip):
    rows = make_run(tmp_path, {"good": right, "bad": wrong_color, "none": blank})
    (tmp_path / "metrics.json").write_text(json.dumps({"fingerprint": "from-before", "records": []}))
    finish_run(tmp_path, rows, ["good", "bad", "none"])
    records = {r["model"]: r for r in json.loads((tmp_path / "metrics.json").read_text())["records"]}
    assert set(records) == {"good", "bad", "none"}  # an old cache is recomputed
    for record in records.values():
        assert record["fid_n"]["world"] == {"generated": 12, "real": 12, "dim": 16}
        assert set(record["prdc"]["world"]) == {"precision", "recall", "density", "coverage", "k"}
        assert record["judge_on_references"] == {"n": 12, "correct": 1.0, "failures": []}
        assert record["clip_by_category"]["single"][0] == pytest.approx(25.0)
    # the rendered references of other seeds are closest to the references: the ordering FID should share
    assert records["good"]["cmmd"]["world"] < records["none"]["cmmd"]["world"]
    assert records["none"]["diversity"]["layouts_differ"] == 0.0  # every blank image shows the same nothing
    assert records["good"]["diversity"]["layouts_differ_reference"] == records["bad"]["diversity"]["layouts_differ_reference"]
    assert (tmp_path / "features-world.npz").is_file()


def test_the_fingerprint_carries_a_metrics_version():
    rows = {"k": {}}
    old = run_metrics.hashlib.sha256(json.dumps([sorted(rows), {}], sort_keys=True).encode()).hexdigest()[:16]
    assert run_metrics.fingerprint(rows, {}) != old and run_metrics.METRICS_VERSION >= 2
