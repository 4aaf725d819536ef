"""The paired MMD^2 (evaluation/metrics/kid.py) against explicit double loops, and its behaviour on a null and a shift."""
from __future__ import annotations

import numpy as np
import pytest

from evaluation.metrics import kid


def _brute(x, y, px, py, k):
    """The U-statistic written out: every pair whose rows share a prompt left out of all three terms."""
    def mean(a, b, pa, pb, same_set):
        values = [k(a[i], b[j]) for i in range(len(a)) for j in range(len(b))
                  if pa[i] != pb[j] and not (same_set and i == j)]
        return sum(values) / len(values)
    return mean(x, x, px, px, True) + mean(y, y, py, py, True) - 2 * mean(x, y, px, py, False)


def _poly(a, b):
    return (a @ b / len(a) + 1.0) ** 3


def _rbf(a, b, sigma=1.5):
    return np.exp(-np.sum((a - b) ** 2) / (2 * sigma ** 2))


@pytest.mark.parametrize("kernel, k", [(kid.polynomial_kernel, _poly), (kid.rbf_kernel(1.5), _rbf)])
def test_matches_the_double_loop_on_paired_and_ragged_sets(kernel, k):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(6, 3)) + 0.5
    px, py = [0, 0, 1, 2, 2, 3, 4], [0, 1, 1, 2, 3, 4]  # prompts with 1 or 2 rows, in both sets
    got = kid.mmd2(x, y, px, py, kernel, samples=0)["value"]
    assert got == pytest.approx(_brute(x, y, px, py, k), rel=1e-10)


def test_unpaired_units_give_grettons_mmd2u_with_the_full_cross_term():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(5, 2)), rng.normal(size=(4, 2))
    ux, uy = kid.unpaired_units(x, y)
    k = kid.rbf_kernel(1.0)
    expected = ((k(x, x).sum() - 5) / 20 + (k(y, y).sum() - 4) / 12 - 2 * k(x, y).mean())
    assert kid.mmd2(x, y, ux, uy, k, samples=0)["value"] == pytest.approx(expected, rel=1e-10)


def test_bootstrap_leaves_out_copies_of_one_prompt():
    """A resample's statistic from block sums equals the double loop over the resampled rows, copies of one
    prompt counted as the same prompt (never paired with each other)."""
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    units = [0, 1, 2, 3]
    blocks = kid.BlockSums(x, y, units, units, kid.rbf_kernel(1.0))
    weights = np.array([[2.0, 0.0, 1.0, 1.0]])
    picked = [0, 0, 2, 3]
    expected = _brute(x[picked], y[picked], picked, picked, lambda a, b: _rbf(a, b, 1.0))
    assert blocks.statistic(weights)[0] == pytest.approx(expected, rel=1e-10)


def _prompted(prompts: int, per_prompt: int, shift: float, seed: int):
    """Features clustered by prompt (a shared prompt dominates the kernel, as in a run): x and y drawn given the
    prompt, y's cluster moved by `shift`."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(prompts, 8)) * 2
    labels = np.repeat(np.arange(prompts), per_prompt)
    x = centres[labels] + rng.normal(size=(len(labels), 8)) * 0.3
    y = centres[labels] + shift + rng.normal(size=(len(labels), 8)) * 0.3
    return x, y, labels


@pytest.mark.parametrize("kernel", [kid.polynomial_kernel, kid.rbf_kernel(3.0)])
def test_null_reads_zero_within_its_interval_and_a_shift_reads_above_it(kernel):
    x, y, labels = _prompted(40, 2, 0.0, 3)
    null = kid.mmd2(x, y, labels, labels, kernel, samples=300)
    assert null["low"] <= 0.0 <= null["high"] and abs(null["value"]) <= 2 * null["se"]
    # the estimator that ignores the pairing reads well below zero on the same null
    ux, uy = kid.unpaired_units(x, y)
    assert kid.mmd2(x, y, ux, uy, kernel, samples=0)["value"] < null["low"]
    sx, sy, _ = _prompted(40, 2, 0.5, 3)
    shifted = kid.mmd2(sx, sy, labels, labels, kernel, samples=300)
    assert shifted["low"] > null["high"]


def test_needs_two_prompts_per_set():
    with pytest.raises(ValueError, match="2 prompts"):
        kid.mmd2(np.zeros((2, 2)), np.zeros((2, 2)), [0, 0], [0, 0], kid.polynomial_kernel)
