"""`python -m evaluation perf`, FID section: our Frechet distance against scipy's sqrtm route (pytorch-fid's) and
torchmetrics' compute path, on the same float64 statistics."""
from __future__ import annotations

import dataclasses
import statistics
import time

import numpy as np
import scipy.linalg
import torch

from evaluation.metrics.fid import frechet_distance
from evaluation.perf.timing import progress


@dataclasses.dataclass
class FidRow:
    """(d) one route to the same distance: its median seconds and its answer's distance from ours."""
    route: str
    dim: int
    seconds: float
    value: float
    relative_difference: float  # |value - ours| / |ours|
    slowdown: float  # seconds / our seconds


def sqrtm_frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """pytorch-fid's calculate_frechet_distance: scipy.linalg.sqrtm of S1 S2 (offset when it is not finite)."""
    covmean = scipy.linalg.sqrtm(sigma1.dot(sigma2))  # pytorch-fid's disp=False is deprecated: same result
    if not np.isfinite(covmean).all():
        offset = np.eye(len(sigma1)) * 1e-6
        covmean = scipy.linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean.real))


def torchmetrics_frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """torchmetrics' FrechetInceptionDistance.compute() path (eigenvalues of S1 S2), on float64 tensors."""
    from torchmetrics.image.fid import _compute_fid  # private: the one function compute() calls on the statistics

    tensors = [torch.from_numpy(np.asarray(a, np.float64)) for a in (mu1, sigma1, mu2, sigma2)]
    return float(_compute_fid(*tensors))


def feature_statistics(dim: int, samples: int | None = None, seed: int = 0) -> tuple[np.ndarray, ...]:
    """(mu1, sigma1, mu2, sigma2) of two random feature sets [N, dim] (N = 2 dim: full-rank covariances)."""
    rng = np.random.default_rng(seed)
    samples = samples or 2 * dim
    first = rng.standard_normal((samples, dim))  # [N, D]
    mixing = np.eye(dim) + rng.standard_normal((dim, dim)) / np.sqrt(dim)  # [D, D]: correlated features
    second = rng.standard_normal((samples, dim)) @ mixing  # [N, D]
    return first.mean(0), np.cov(first, rowvar=False), second.mean(0) + 0.1, np.cov(second, rowvar=False)


def _timed(call, repeats: int) -> tuple[float, float]:
    """(median seconds of `repeats` calls, the last call's value): LAPACK calls need no warm-up."""
    values, times = [], []
    for _ in range(max(1, repeats)):
        started = time.perf_counter()
        values.append(call())
        times.append(time.perf_counter() - started)
    return statistics.median(times), values[-1]


def compare_fid(dim: int = 2048, repeats: int = 3) -> list[FidRow]:
    """Ours, scipy's sqrtm route and torchmetrics' route on one pair of dim-d statistics."""
    stats = feature_statistics(dim)
    routes = (("ours (Cholesky + eigvalsh)", frechet_distance, repeats),
              ("torchmetrics _compute_fid (eigvals)", torchmetrics_frechet_distance, repeats),
              ("scipy sqrtm (pytorch-fid)", sqrtm_frechet_distance, 1))  # tens of seconds at 2048-d: timed once
    rows = []
    for route, distance, times in routes:
        progress(f"Frechet distance, {dim}-d: {route}")
        rows.append((route, *_timed(lambda: distance(*stats), times)))
    ours_seconds, ours_value = rows[0][1], rows[0][2]
    return [FidRow(route=route, dim=dim, seconds=seconds, value=value,
                   relative_difference=abs(value - ours_value) / max(abs(ours_value), 1e-300),
                   slowdown=seconds / ours_seconds) for route, seconds, value in rows]
