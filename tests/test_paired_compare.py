"""Paired comparisons (evaluation/report/paired.py) and `python -m evaluation compare`: McNemar's exact test, the paired
bootstrap, Holm's correction and the prompts-needed estimate against known values, then the command on a run
folder made by hand with known verdicts."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from evaluation.report import paired
from evaluation.__main__ import main as evaluation_main
from run_builder import SETTING, blank, make_run, right, wrong_color


def test_mcnemar_is_the_exact_binomial_test_of_the_discordant_pairs():
    a = np.array([True] * 8 + [False] * 2 + [True] * 5)
    b = np.array([False] * 8 + [True] * 2 + [True] * 5)  # 8 right only in a, 2 only in b, 5 in both
    only_a, only_b, p = paired.mcnemar(a, b)
    assert (only_a, only_b) == (8, 2)
    assert p == pytest.approx(2 * (1 + 10 + 45) / 1024)  # 2 P(X <= 2), X ~ Bin(10, 1/2)
    assert paired.mcnemar(a, a)[2] == 1.0  # no discordant pair: no evidence at all


def test_holm_adjusts_step_down_and_keeps_the_order():
    assert paired.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert paired.holm([0.5]) == [0.5]
    assert paired.holm([0.2, 0.9, 0.001, 0.5]) == pytest.approx([0.6, 1.0, 0.004, 1.0])  # 0.9 lifted by the running max


def test_bootstrap_by_prompt_finds_a_shift_and_not_its_absence():
    rng = np.random.default_rng(0)
    prompts = np.repeat(np.arange(20), 2)
    shifted = 2.0 + rng.normal(0, 1, size=40)
    low, high, p = paired.bootstrap_by_prompt(shifted, prompts)
    assert low < shifted.mean() < high and low > 1.0 and p < 0.01
    low, high, p = paired.bootstrap_by_prompt(np.zeros(40), prompts)
    assert (low, high, p) == (0.0, 0.0, 1.0)
    noise = rng.normal(0, 1, size=40)
    assert paired.bootstrap_by_prompt(noise - noise.mean() + 0.01, prompts)[2] > 0.5


def test_prompts_needed_gives_the_asked_power():
    """Connor's McNemar sample size, checked by simulating McNemar's exact test at that size."""
    p10, p01 = 0.25, 0.05
    n = math.ceil(paired.mcnemar_pairs_needed(25, 5, 100))
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(400):
        counts = rng.multinomial(n, [p10, p01, 1 - p10 - p01])
        hits += stats.binomtest(int(counts[0]), int(counts[0] + counts[1]), 0.5).pvalue < 0.05
    assert 0.72 <= hits / 400 <= 0.92
    assert paired.mcnemar_pairs_needed(5, 5, 100) is None  # no difference: no size shows one
    assert paired.mcnemar_pairs_needed(4, 0, 4) == 6  # the exact test needs 6 one-sided pairs: 2 / 2^6 < 0.05
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    # per-prompt mean differences 1 and 3 (two samples each): sd sqrt(2), mean 2
    assert paired.mean_prompts_needed(np.array([1.0, 1.0, 3.0, 3.0]), np.array([0, 0, 1, 1])) == \
        pytest.approx((z * math.sqrt(2) / 2) ** 2)


def _clip(model, j, k):
    return {"good": 30.0, "bad": 20.0, "same": 30.0}[model] + 0.5 * ((j * 7 + k * 3) % 5)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    make_run(root, {"good": right, "bad": wrong_color, "same": right}, clip=_clip)
    return root


def test_every_pair_is_tested_and_a_real_difference_is_significant(run_dir):
    from evaluation.store import RunStore

    tests = paired.compare(RunStore(run_dir).rows())
    found = {(t.a.split("/")[0], t.b.split("/")[0], t.metric): t for t in tests}
    assert set(found) == {(a, b, m) for a, b in [("bad", "good"), ("bad", "same"), ("good", "same")]
                          for m in ("accuracy: single", "CLIP score")}
    versus = found[("bad", "good", "accuracy: single")]
    assert (versus.pairs, versus.prompts, versus.mean_a, versus.mean_b) == (12, 6, 0.0, 1.0)
    assert versus.discordant == (0, 12) and versus.p == pytest.approx(2 / 2 ** 12)
    assert versus.significant and versus.p_holm == pytest.approx(3 * versus.p)  # Holm: smallest of 3, times 3
    clip = found[("bad", "good", "CLIP score")]
    assert clip.difference == pytest.approx(-10.0) and clip.low == clip.high == pytest.approx(-10.0)
    assert clip.significant and clip.needed_prompts == 2  # no spread at all: the fewest prompts a test takes
    same = found[("good", "same", "accuracy: single")]
    assert same.p == 1.0 and not same.significant and same.needed_prompts is None


def test_compare_command_prints_the_table_and_the_matrices(run_dir, capsys):
    evaluation_main(["compare", str(run_dir)])
    out = capsys.readouterr().out
    assert "McNemar" in out and "Holm" in out
    line = next(l for l in out.splitlines() if l.startswith(f"bad/{SETTING}") and "accuracy: single" in l)
    assert "-100.0 pts" in line and "✱" in line
    assert "accuracy: single, row − column:" in out and "CLIP score, row − column:" in out
    evaluation_main(["compare", str(run_dir), "--a", f"good/{SETTING}", "--b", f"same/{SETTING}"])
    out = capsys.readouterr().out
    assert "no difference seen" in out and "row − column" not in out  # one pair: no matrix


@pytest.mark.parametrize("argv, message", [
    (["--a", "nope/x", "--b", f"good/{SETTING}"], f"unknown MODEL/SETTING 'nope/x'; the run holds: bad/{SETTING}, "
                                                  f"good/{SETTING}, same/{SETTING}"),
    (["--a", f"good/{SETTING}"], "give both --a and --b, or neither (every pair of the run)"),
    (["--a", f"good/{SETTING}", "--b", f"good/{SETTING}"], "--a and --b are the same column"),
])
def test_bad_columns_are_one_line_errors_with_status_2(run_dir, capsys, argv, message):
    with pytest.raises(SystemExit) as stop:
        evaluation_main(["compare", str(run_dir), *argv])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.strip() == f"error: {message}"


def test_missing_run_and_unshared_rows_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        evaluation_main(["compare", str(tmp_path / "nothing")])
    assert stop.value.code == 2 and "is not a run directory (no run.json)" in capsys.readouterr().err
    rows = make_run(tmp_path / "a", {"x": blank}, prompts="shapes-single-2", n=1)
    # a second column on other seeds shares no (prompt, sample, seed) with the first
    from evaluation.store import RunStore, key_for
    store = RunStore(tmp_path / "a")
    for row in rows.values():
        moved = {**row, "model": "y", "seed": row["seed"] + 1,
                 "key": key_for("y", SETTING, row["prompt_index"], row["sample"], row["seed"] + 1),
                 "file": store.image_path("y", SETTING, row["prompt_index"], 0, row["seed"] + 1)
                 .relative_to(tmp_path / "a").as_posix()}
        store.add(blank(None, 0), moved)
    with pytest.raises(SystemExit) as stop:
        evaluation_main(["compare", str(tmp_path / "a"), "--a", f"x/{SETTING}", "--b", f"y/{SETTING}"])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip() == (f"error: x/{SETTING} and y/{SETTING} share no (prompt, sample, seed) "
                                               f"rows: they were run on other prompts or seeds")
