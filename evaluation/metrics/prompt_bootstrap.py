"""Intervals over prompts for FID (a standard error) and precision/recall/density/coverage (95 %), for the noise
floor's row.

A run's images are stratified by prompt, so the unit to resample is the prompt: each draw takes prompts with
replacement and every image (generated and reference) of each. FID is recomputed per draw through the Gram form
Tr (S1 S2)^(1/2) = ||A B^T||_* / sqrt((n-1)(m-1)) (A, B the centred features [n, D], [m, D]), exact and cheap while
n is below the feature dimension; n above it goes through world's general formula (evaluation/metrics/fid.py).
Precision, recall, density and coverage are means over images of per-image terms given the k-NN balls of the full
sets, so a draw re-weights those terms by prompt (the balls stay fixed: duplicated images would shrink them).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from evaluation.metrics.fid import frechet_distance

DRAWS = 100  # enough for a 95 % percentile interval to two figures; the floor row alone pays it


def gram_fid(fake: np.ndarray, real: np.ndarray) -> float:
    """FID of two feature sets [n, D], [m, D] (sample covariances, as torchmetrics)."""
    n, m = len(fake), len(real)
    if min(n, m) >= fake.shape[1]:
        return frechet_distance(fake.mean(0), np.cov(fake, rowvar=False), real.mean(0), np.cov(real, rowvar=False))
    a, b = fake - fake.mean(0), real - real.mean(0)
    diff = fake.mean(0) - real.mean(0)
    cross = np.linalg.svd(a @ b.T, compute_uv=False).sum() / np.sqrt((n - 1) * (m - 1))
    return float(diff @ diff + (a * a).sum() / (n - 1) + (b * b).sum() / (m - 1) - 2 * cross)


def _draws(prompts: Sequence, draws: int, seed: int) -> list[np.ndarray]:
    """Each draw: positions of every row whose prompt was drawn, once per time it was drawn."""
    prompts = np.asarray(prompts)
    units = np.unique(prompts)
    rows = {u: np.flatnonzero(prompts == u) for u in units}
    rng = np.random.default_rng(seed)
    return [np.concatenate([rows[u] for u in rng.choice(units, size=len(units))]) for _ in range(draws)]


def fid_interval(fake: np.ndarray, real: np.ndarray, prompts: Sequence, draws: int = DRAWS,
                 seed: int = 0) -> list[float] | None:
    """[FID, se]: row i of real is the reference of row i of fake, both of prompt prompts[i]. The standard error is
    the draws' spread; their percentiles would not do, since a draw repeats images and FID rises as the number of
    distinct images falls (the draws sit above the full set's value)."""
    fake, real = np.asarray(fake, dtype=np.float64), np.asarray(real, dtype=np.float64)
    if len(np.unique(prompts)) < 2 or len(fake) < 3:
        return None
    values = [gram_fid(fake[rows], real[rows]) for rows in _draws(prompts, draws, seed)]
    return [gram_fid(fake, real), float(np.std(values, ddof=1))]


def prdc_terms(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, tuple[np.ndarray, str]]:
    """Per-image terms whose means are precision, recall, density and coverage, and the side they belong to."""
    from evaluation.metrics.fidelity import _distances

    radius_real = np.sort(_distances(real, real), axis=1)[:, k]
    radius_fake = np.sort(_distances(fake, fake), axis=1)[:, k]
    cross = _distances(real, fake)  # [R, F]
    inside = cross <= radius_real[:, None]
    return {"precision": (inside.any(axis=0).astype(float), "fake"),
            "recall": ((cross <= radius_fake[None, :]).any(axis=1).astype(float), "real"),
            "density": (inside.sum(axis=0) / k, "fake"),
            "coverage": ((cross.min(axis=1) <= radius_real).astype(float), "real")}


def prdc_intervals(real: np.ndarray, fake: np.ndarray, prompts: Sequence, k: int, draws: int = DRAWS,
                   seed: int = 0) -> dict[str, list[float]] | None:
    """{metric: [value, low, high]} with the same prompts on both sides (row i of each: prompt prompts[i])."""
    real, fake = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)
    if len(real) <= k or len(fake) <= k or len(np.unique(prompts)) < 2:
        return None
    resamples = _draws(prompts, draws, seed)
    out = {}
    for name, (terms, _) in prdc_terms(real, fake, k).items():
        values = [terms[rows].mean() for rows in resamples]
        out[name] = [float(terms.mean()), float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]
    return out
