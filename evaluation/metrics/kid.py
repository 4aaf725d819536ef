"""MMD^2 when the two sets are paired by prompt: KID's and CMMD's estimator for a run, with a bootstrap over prompts.

A run's generated images and its rendered references are stratified by prompt: every prompt appears in both
sets, with the same number of samples. Two images of one prompt are far more alike than two of different
prompts, and the usual unbiased MMD^2 (torchmetrics' KID, Gretton et al. 2012) counts same-prompt pairs across
the sets at the rate 1/P but within a set at the rate (n - 1)/(nP - 1), so a perfect generator reads below zero
(KID -0.32 on shapes-quick at two images a prompt). Here the prompt is the unit of sampling: the statistic is
the U-statistic over pairs of *different* prompts,

    MMD^2 = mean_{p(i) != p(j)} k(x_i, x_j) + mean_{p(i) != p(j)} k(y_i, y_j) - 2 mean_{p(i) != p(j)} k(x_i, y_j),

every pair that shares a prompt left out of all three terms. With prompts drawn independently it is unbiased
for the MMD^2 between the generator's and the world's image distributions, and it is exactly zero in
expectation when the generator draws from the world's distribution given each prompt. Two unpaired sets (a
reference folder) are the special case where every image is its own unit: Gretton's MMD^2_u.

The interval: a bootstrap over prompts (units resampled with replacement within their stratum: units holding
both sets, only generated, or only references), the statistic recomputed from per-unit block sums with pairs
of copies of one unit left out; `se` is the bootstrap's standard deviation, (low, high) its 2.5 and 97.5
percentiles.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

BOOTSTRAP_SAMPLES = 1000
Kernel = Callable[[np.ndarray, np.ndarray], np.ndarray]


def polynomial_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """KID's kernel (Binkowski et al. 2018; torchmetrics' defaults): (a.b / D + 1)^3, [len(a), len(b)]."""
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def rbf_kernel(sigma: float) -> Kernel:
    """CMMD's kernel: exp(-|a - b|^2 / (2 sigma^2))."""
    gamma = 1.0 / (2.0 * sigma ** 2)

    def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
        return np.exp(-gamma * np.maximum(squared, 0.0))
    return kernel


def _indicator(labels: np.ndarray, units: int) -> np.ndarray:
    """[len(labels), units] one-hot of each row's unit."""
    one_hot = np.zeros((len(labels), units))
    one_hot[np.arange(len(labels)), labels] = 1.0
    return one_hot


class BlockSums:
    """Per-unit sums of the three kernel matrices ([U, U] each, diagonals zeroed) and the units' sizes."""

    def __init__(self, x: np.ndarray, y: np.ndarray, units_x: Sequence, units_y: Sequence, kernel: Kernel):
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        names = sorted(set(units_x) | set(units_y), key=str)
        index = {name: i for i, name in enumerate(names)}
        gx = _indicator(np.array([index[u] for u in units_x], dtype=int), len(names))  # [M, U]
        gy = _indicator(np.array([index[u] for u in units_y], dtype=int), len(names))  # [N, U]
        self.xx, self.yy, self.xy = (self._blocks(ga, kernel(a, b), gb) for a, b, ga, gb in
                                     ((x, x, gx, gx), (y, y, gy, gy), (x, y, gx, gy)))
        self.count_x, self.count_y = gx.sum(0), gy.sum(0)  # [U]
        self.stratum = (self.count_x > 0).astype(int) + 2 * (self.count_y > 0)  # 1 x only, 2 y only, 3 both

    @staticmethod
    def _blocks(ga: np.ndarray, gram: np.ndarray, gb: np.ndarray) -> np.ndarray:
        blocks = ga.T @ gram @ gb  # [U, U]: sums of k over rows of unit u against rows of unit v
        np.fill_diagonal(blocks, 0.0)  # pairs that share a unit are left out
        return blocks

    def statistic(self, weights: np.ndarray) -> np.ndarray:
        """MMD^2 under unit multiplicities weights [B, U] (ones: the estimate itself), [B]."""
        def term(blocks: np.ndarray, ca: np.ndarray, cb: np.ndarray) -> np.ndarray:
            numerator = np.einsum("bu,uv,bv->b", weights, blocks, weights)
            pairs = (weights @ ca) * (weights @ cb) - (weights ** 2) @ (ca * cb)  # pairs of rows of distinct units
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(pairs > 0, numerator / np.where(pairs > 0, pairs, 1.0), np.nan)
        return (term(self.xx, self.count_x, self.count_x) + term(self.yy, self.count_y, self.count_y)
                - 2.0 * term(self.xy, self.count_x, self.count_y))

    def resampled_weights(self, samples: int, seed: int) -> np.ndarray:
        """[samples, U] multinomial multiplicities, each stratum keeping its number of units."""
        rng = np.random.default_rng(seed)
        weights = np.zeros((samples, len(self.stratum)))
        for kind in np.unique(self.stratum):
            members = np.flatnonzero(self.stratum == kind)
            picks = rng.integers(0, len(members), size=(samples, len(members)))
            np.add.at(weights, (np.arange(samples)[:, None], members[picks]), 1.0)
        return weights


def mmd2(x: np.ndarray, y: np.ndarray, units_x: Sequence, units_y: Sequence, kernel: Kernel,
         samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> dict:
    """{"value", "se", "low", "high", "units"}: MMD^2 of x [M, D] against y [N, D] leaving out every pair whose
    rows share a unit (units_x[i], units_y[j]: a prompt; distinct labels per row for unpaired sets), and its
    bootstrap over units. ValueError when fewer than two units hold each set."""
    blocks = BlockSums(x, y, units_x, units_y, kernel)
    if (blocks.count_x > 0).sum() < 2 or (blocks.count_y > 0).sum() < 2:
        raise ValueError("paired MMD needs rows of at least 2 prompts in each set")
    value = float(blocks.statistic(np.ones((1, len(blocks.stratum))))[0])
    result = {"value": value, "se": None, "low": None, "high": None, "units": int(len(blocks.stratum))}
    if samples > 0:
        draws = blocks.statistic(blocks.resampled_weights(samples, seed))
        draws = draws[np.isfinite(draws)]
        if len(draws) > 1:
            result.update(se=float(draws.std(ddof=1)), low=float(np.percentile(draws, 2.5)),
                          high=float(np.percentile(draws, 97.5)))
    return result


def unpaired_units(x: np.ndarray, y: np.ndarray) -> tuple[list[str], list[str]]:
    """Unit labels for two independent sets: every row its own unit (Gretton's MMD^2_u)."""
    return [f"x{i}" for i in range(len(x))], [f"y{j}" for j in range(len(y))]


def kid(fake: np.ndarray, real: np.ndarray, prompts_fake: Sequence, prompts_real: Sequence,
        samples: int = BOOTSTRAP_SAMPLES) -> dict:
    """KID (polynomial kernel, not scaled) of generated features against references paired by prompt."""
    return mmd2(fake, real, prompts_fake, prompts_real, polynomial_kernel, samples)
