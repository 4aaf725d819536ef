"""`evaluation run --truncation`: a GAN's psi as a run dimension, and the report's truncation trade-off section
(evaluation/report/truncation_curve.py), end to end on a tiny DCGAN with random weights."""
from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from evaluation.report import truncation_curve
from evaluation.runs.sweep import RunOptions, run
from models.gan import family as gan

REPO = __import__("pathlib").Path(__file__).resolve().parents[1]


@pytest.fixture
def tiny_gan(tiny_text_encoder):
    torch.manual_seed(0)
    config = dataclasses.replace(gan.preset("dcgan", "non-saturating"), width=16)
    network, _ = gan.build(config, tiny_text_encoder.config.embed_dim)
    return gan.GANGenerator(gan.gan_info("tiny-gan", config, 0), network.eval(), config, tiny_text_encoder)


def test_each_psi_is_a_setting_and_psi_zero_collapses_every_prompt_to_one_image(tmp_path, tiny_gan, evaluator_clip):
    options = RunOptions(models=["tiny-gan"], prompts="shapes-single-6", out=str(tmp_path / "run"), n=2,
                         truncation=[0.0, 1.0], features=["world"], floor=False)
    result = run(options, generators={"tiny-gan": tiny_gan})
    rows = result["rows"].values()
    assert {(r["setting"], r["truncation"]) for r in rows} == {("one-pass-psi0", 0.0), ("one-pass-psi1", 1.0)}
    assert len(result["rows"]) == 2 * 6 * 2

    def pixels(row):
        return np.asarray(Image.open(tmp_path / "run" / row["file"]))

    by = {(r["setting"], r["prompt_index"], r["sample"]): r for r in rows}
    for j in range(6):  # psi 0: z * 0, so both samples of a prompt are the same image; psi 1: they differ
        assert np.array_equal(pixels(by[("one-pass-psi0", j, 0)]), pixels(by[("one-pass-psi0", j, 1)]))
        assert not np.array_equal(pixels(by[("one-pass-psi1", j, 0)]), pixels(by[("one-pass-psi1", j, 1)]))
    # psi 1 is the model's default: the same images as a plain generate() with the run's seeds
    row = by[("one-pass-psi1", 3, 1)]
    assert np.array_equal(pixels(row), np.asarray(tiny_gan.generate([row["prompt"]], row["seed"])[0]))

    import json
    records = json.loads((tmp_path / "run" / "metrics.json").read_text())["records"]
    found = truncation_curve.lines(records, result["rows"])
    (points,) = found.values()
    assert [p.psi for p in points] == [0.0, 1.0]
    assert points[0].layouts_differ == 0.0  # identical images have identical layouts
    assert points[0].layouts_differ_reference == points[1].layouts_differ_reference > 0
    report = (tmp_path / "run" / "report.md").read_text()
    assert truncation_curve.TITLE in report and (tmp_path / "run" / truncation_curve.FIGURE).is_file()
    assert "psi 0 → 1" in report


def test_truncation_flag_rejects_bad_values_in_one_line():
    for bad in ("nan", "-0.5", "3", "a,b", ""):
        done = subprocess.run([sys.executable, "-m", "evaluation", "run", "--models", "gan", "--truncation", bad],
                              cwd=REPO, capture_output=True, text=True)
        assert done.returncode == 2 and "truncation psi must be numbers from 0 to 2" in done.stderr, bad
