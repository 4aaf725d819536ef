"""FID at small n, bias-corrected: FID_inf by extrapolation over subset sizes (Chong & Forsyth 2020).

FID at n images is biased upward by a term that shrinks like 1/n and depends on the generator, so two models
can swap places with n. FID is computed on subsets of N prompts (both sets cut to the same prompts, as the run
pairs them) for several N up to all of them, a line FID_N = FID_inf + b / N is fitted by least squares, and its
value at 1/N = 0 is FID_inf. Reports keep FID at n with its sample count and add FID_inf; rankings use FID_inf.
With fewer images than feature dimensions the covariances are rank-deficient and the 1/N law holds only roughly:
the extrapolation then corrects most, not all, of the bias.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from evaluation.metrics.fid import frechet_distance

SIZES = 6  # subset sizes, from a quarter of the prompts to all of them
DRAWS = 4  # random subsets per size (1 for the full set)
MIN_PROMPTS = 8


def fid(fake: np.ndarray, real: np.ndarray) -> float:
    return frechet_distance(fake.mean(0), np.cov(fake, rowvar=False), real.mean(0), np.cov(real, rowvar=False))


def fid_infinity(fake: np.ndarray, real: np.ndarray, prompts_fake: Sequence, prompts_real: Sequence,
                 seed: int = 0) -> dict | None:
    """{"value": FID_inf, "slope": b, "sizes": [N...], "fids": [mean FID_N ...]} over subsets of prompts;
    None with fewer than MIN_PROMPTS prompts."""
    fake, real = np.asarray(fake, dtype=np.float64), np.asarray(real, dtype=np.float64)
    prompts_fake, prompts_real = np.asarray(prompts_fake), np.asarray(prompts_real)
    units = np.unique(prompts_fake)
    if len(units) < MIN_PROMPTS or not np.isin(units, prompts_real).all():
        return None
    rng = np.random.default_rng(seed)
    sizes = sorted({int(round(s)) for s in np.linspace(len(units) / 4, len(units), SIZES)})
    mean_fids, images = [], []
    for size in sizes:
        values = []
        for _ in range(1 if size == len(units) else DRAWS):
            chosen = rng.choice(units, size=size, replace=False)
            a, b = fake[np.isin(prompts_fake, chosen)], real[np.isin(prompts_real, chosen)]
            values.append(fid(a, b))
        mean_fids.append(float(np.mean(values)))
        images.append(int(np.isin(prompts_fake, chosen).sum()))
    slope, intercept = np.polyfit(1.0 / np.asarray(images, dtype=np.float64), mean_fids, 1)
    return {"value": float(intercept), "slope": float(slope), "sizes": images, "fids": mean_fids}
