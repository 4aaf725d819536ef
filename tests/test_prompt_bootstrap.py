"""Intervals over prompts for FID and precision/recall/density/coverage (evaluation/metrics/prompt_bootstrap.py)."""
from __future__ import annotations

import numpy as np
import pytest

from evaluation.metrics import fidelity, prompt_bootstrap
from evaluation.metrics.fid_infinity import fid


def test_the_gram_form_of_fid_is_fid_below_and_above_the_feature_dimension():
    rng = np.random.default_rng(0)
    for n, dim in ((40, 64), (80, 16)):
        fake, real = rng.normal(size=(n, dim)), rng.normal(size=(n + 3, dim)) + 0.2
        assert prompt_bootstrap.gram_fid(fake, real) == pytest.approx(fid(fake, real), rel=1e-9)


def test_fid_gets_a_standard_error_that_tells_a_shift_apart():
    rng = np.random.default_rng(1)
    prompts = np.repeat(np.arange(40), 2)
    means = rng.normal(size=(40, 32))[prompts]  # images of one prompt share their mean
    null_a, null_b = means + 0.5 * rng.normal(size=means.shape), means + 0.5 * rng.normal(size=means.shape)
    value, se = prompt_bootstrap.fid_interval(null_a, null_b, prompts)
    shifted = null_a + 0.6
    assert se > 0 and abs(value - prompt_bootstrap.gram_fid(shifted, null_b)) > 2 * se


def test_prdc_intervals_hold_the_full_sets_figures():
    rng = np.random.default_rng(2)
    prompts = np.repeat(np.arange(30), 2)
    real, fake = rng.normal(size=(60, 8)), rng.normal(size=(60, 8)) + 0.3
    intervals = prompt_bootstrap.prdc_intervals(real, fake, prompts, fidelity.K)
    full = fidelity.prdc(real, fake)
    for metric, (value, low, high) in intervals.items():
        assert value == pytest.approx(full[metric]) and low <= value <= high and low < high
    assert prompt_bootstrap.prdc_intervals(real[:4], fake[:4], prompts[:4], fidelity.K) is None
