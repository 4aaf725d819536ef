"""Paired comparisons between the columns (model x setting) of one run.

Every column of a run sees the same prompts with the same seeds, so the row (prompt_index, sample, seed) of
column A and that of column B form a pair, and differences are judged pair by pair:
- accuracy, per task and over all tasks: McNemar's exact test (a two-sided binomial test of the discordant
  pairs, A right and B wrong vs A wrong and B right, against 1/2);
- CLIP score: the mean paired difference, its p-value from a bootstrap under the null (differences shifted to
  mean 0);
- both intervals: a 95 % paired bootstrap over prompts (all samples of a prompt are resampled together, since
  they share a prompt and are not independent draws);
- Holm's correction across the pairs of a comparison, one family per metric;
- prompts needed: how many prompts (of that task, at the run's samples per prompt) one test at alpha 0.05
  (before Holm) needs for power 0.8 at the observed effect (McNemar: the exact test's power at the observed
  discordant rates; CLIP: the z approximation over per-prompt mean differences).
"""
from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections import defaultdict

import numpy as np
from scipy import stats

ALPHA, POWER = 0.05, 0.8
BOOTSTRAP = 2000
ALL_TASKS = "all tasks"


@dataclasses.dataclass(frozen=True)
class PairedTest:
    a: str  # column labels, model/setting
    b: str
    metric: str  # "accuracy: <task>", "accuracy: all tasks" or "CLIP score"
    pairs: int
    prompts: int
    mean_a: float
    mean_b: float
    difference: float  # mean of a - b (accuracy: a fraction, shown in points)
    low: float  # 95 % paired bootstrap interval of the difference
    high: float
    p: float
    p_holm: float
    needed_prompts: int | None  # None: no difference observed, no number of prompts would show one
    discordant: tuple[int, int] | None = None  # accuracy: (a right b wrong, a wrong b right)

    @property
    def significant(self) -> bool:
        return self.p_holm < ALPHA


def label(row: dict) -> str:
    return f"{row['model']}/{row['setting']}"


def columns(rows: dict[str, dict]) -> dict[str, dict[tuple, dict]]:
    """model/setting -> {(prompt_index, sample, seed): row}, columns in sorted order."""
    found: dict[str, dict[tuple, dict]] = defaultdict(dict)
    for row in rows.values():
        found[label(row)][(row["prompt_index"], row["sample"], row["seed"])] = row
    return dict(sorted(found.items()))


def mcnemar(a_right: np.ndarray, b_right: np.ndarray) -> tuple[int, int, float]:
    """(a right b wrong, a wrong b right, exact two-sided p)."""
    only_a, only_b = int(np.sum(a_right & ~b_right)), int(np.sum(~a_right & b_right))
    p = 1.0 if only_a + only_b == 0 else float(stats.binomtest(only_a, only_a + only_b, 0.5).pvalue)
    return only_a, only_b, p


def bootstrap_by_prompt(differences: np.ndarray, prompts: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """(low, high, p) of the mean paired difference: a 95 % percentile interval and a two-sided p-value under
    the null, both resampling prompts (with all their pairs) BOOTSTRAP times."""
    ids, cluster = np.unique(prompts, return_inverse=True)
    sums = np.bincount(cluster, weights=differences, minlength=len(ids))  # [C]
    counts = np.bincount(cluster, minlength=len(ids)).astype(np.float64)  # [C]
    picks = np.random.default_rng(seed).integers(0, len(ids), size=(BOOTSTRAP, len(ids)))  # [B, C]
    means = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)  # [B]
    observed = float(differences.mean())
    low, high = np.percentile(means, [2.5, 97.5])
    # shifted to the null: how often a resample lies at least as far from the observed mean as the mean from 0
    extreme = np.sum(np.abs(means - observed) >= abs(observed) - 1e-12)
    p = 1.0 if observed == 0 else float((1 + extreme) / (BOOTSTRAP + 1))
    return float(low), float(high), p


EXACT_UP_TO = 5000  # pairs: below, the exact test's power is computed; above, Connor's approximation is close


@functools.lru_cache(maxsize=4)
def _critical_counts(alpha: float) -> np.ndarray:
    """[D] for D = 0..EXACT_UP_TO discordant pairs: the exact two-sided test at 1/2 rejects x <= c or x >= D - c,
    c the largest count with 2 cdf(c) < alpha (-1: never). The same for every pair of a report: computed once."""
    critical = stats.binom.ppf(alpha / 2, np.arange(EXACT_UP_TO + 1), 0.5) - 1  # [D]
    critical.setflags(write=False)
    return critical


def mcnemar_pairs_needed(only_a: int, only_b: int, pairs: int, alpha: float = ALPHA, power: float = POWER) -> float | None:
    """Pairs McNemar's exact test needs for `power` at the observed discordant rates: the n where its exact
    power reaches it, found by bisection around Connor's (1987) normal approximation
    n = (z_a sqrt(psi) + z_b sqrt(psi - delta^2))^2 / delta^2 (psi: discordant rate, delta: their difference),
    which alone is far too small when few pairs are needed (4 discordant pairs of 4 never reach p < 0.05)."""
    psi, delta = (only_a + only_b) / pairs, (only_a - only_b) / pairs
    if delta == 0:
        return None
    z_alpha, z_power = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    connor = (z_alpha * math.sqrt(psi) + z_power * math.sqrt(max(psi - delta ** 2, 0.0))) ** 2 / delta ** 2
    if connor > EXACT_UP_TO:
        return connor
    discordant, critical = np.arange(EXACT_UP_TO + 1), _critical_counts(alpha)  # [D], [D]
    q = max(only_a, only_b) / (only_a + only_b)  # the larger side's share of the discordant pairs
    rejected = np.where(critical >= 0, stats.binom.cdf(critical, discordant, q)
                        + stats.binom.sf(discordant - critical - 1, discordant, q), 0.0)  # [D]: P(reject | D)

    def exact_power(n: int) -> float:
        return float(stats.binom.pmf(discordant[:n + 1], n, psi) @ rejected[:n + 1])

    low, high = max(1, int(connor / 2)), min(EXACT_UP_TO, max(8, int(connor * 3)))
    if exact_power(high) < power:
        return connor
    while low < high:  # bisection: the exact power rises with n up to a small sawtooth
        middle = (low + high) // 2
        low, high = (middle + 1, high) if exact_power(middle) < power else (low, middle)
    return float(high)


def mean_prompts_needed(differences: np.ndarray, prompts: np.ndarray, alpha: float = ALPHA,
                        power: float = POWER) -> float | None:
    """Prompts a paired test of the mean difference needs: ((z_a + z_b) sd / mean)^2, sd the spread of the
    per-prompt mean differences (samples of one prompt are correlated, so prompts are the unit)."""
    ids, cluster = np.unique(prompts, return_inverse=True)
    per_prompt = np.bincount(cluster, weights=differences) / np.bincount(cluster)  # [C]
    mean = float(differences.mean())
    if mean == 0:
        return None
    sd = float(per_prompt.std(ddof=1)) if len(ids) > 1 else 0.0
    return ((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * sd / abs(mean)) ** 2


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given."""
    order = np.argsort(pvalues, kind="stable")
    adjusted, running = [0.0] * len(pvalues), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[index]))
        adjusted[index] = running
    return adjusted


def _prompts_for(pairs_needed: float | None, samples: int) -> int | None:
    return None if pairs_needed is None else max(2, math.ceil(max(pairs_needed, 1.0) / samples))


def compare_pair(a: dict[tuple, dict], b: dict[tuple, dict], name_a: str, name_b: str) -> list[PairedTest]:
    """Every test between two columns on their shared (prompt, sample, seed) rows; p_holm = p until holm_across."""
    shared = sorted(set(a) & set(b))
    samples = max(1, len({key[1] for key in shared}))
    tests = []
    judged = [k for k in shared if a[k]["correct"] is not None and b[k]["correct"] is not None]
    tasks = sorted({a[k]["category"] for k in judged})
    for task in tasks + ([ALL_TASKS] if len(tasks) > 1 else []):
        keys = [k for k in judged if task == ALL_TASKS or a[k]["category"] == task]
        right_a = np.array([bool(a[k]["correct"]) for k in keys])
        right_b = np.array([bool(b[k]["correct"]) for k in keys])
        only_a, only_b, p = mcnemar(right_a, right_b)
        prompts = np.array([k[0] for k in keys])
        low, high, _ = bootstrap_by_prompt(right_a.astype(float) - right_b.astype(float), prompts)
        needed = mcnemar_pairs_needed(only_a, only_b, len(keys))
        tests.append(PairedTest(name_a, name_b, f"accuracy: {task}", len(keys), len(set(prompts.tolist())),
                                float(right_a.mean()), float(right_b.mean()), float(right_a.mean() - right_b.mean()),
                                low, high, p, p, _prompts_for(needed, samples), (only_a, only_b)))
    scored = [k for k in shared if a[k]["clip_score"] is not None and b[k]["clip_score"] is not None]
    if scored:
        score_a = np.array([float(a[k]["clip_score"]) for k in scored])
        score_b = np.array([float(b[k]["clip_score"]) for k in scored])
        prompts = np.array([k[0] for k in scored])
        low, high, p = bootstrap_by_prompt(score_a - score_b, prompts)
        needed = mean_prompts_needed(score_a - score_b, prompts)
        tests.append(PairedTest(name_a, name_b, "CLIP score", len(scored), len(set(prompts.tolist())),
                                float(score_a.mean()), float(score_b.mean()), float((score_a - score_b).mean()),
                                low, high, p, p, None if needed is None else max(2, math.ceil(needed))))
    return tests


def holm_across(tests: list[PairedTest]) -> list[PairedTest]:
    """Holm's correction across the pairs, one family per metric."""
    by_metric: dict[str, list[int]] = defaultdict(list)
    for i, test in enumerate(tests):
        by_metric[test.metric].append(i)
    adjusted = list(tests)
    for indices in by_metric.values():
        for i, p in zip(indices, holm([tests[i].p for i in indices])):
            adjusted[i] = dataclasses.replace(tests[i], p_holm=p)
    return adjusted


def compare(rows: dict[str, dict], pairs: list[tuple[str, str]] | None = None) -> list[PairedTest]:
    """Paired tests of the given column pairs (default: every pair of columns), Holm-corrected across them;
    pairs that share no row give no test."""
    found = columns(rows)
    chosen = pairs if pairs is not None else list(itertools.combinations(found, 2))
    tests = [t for a, b in chosen for t in compare_pair(found[a], found[b], a, b)]
    return holm_across(tests)


def shared_rows(rows: dict[str, dict], a: str, b: str) -> int:
    found = columns(rows)
    return len(set(found.get(a, {})) & set(found.get(b, {})))
