"""The fast Frechet distance against scipy's sqrtm route, and `python -m evaluation perf` end to end on tiny
models (no timed assertions: the machine is shared)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from evaluation.__main__ import main as evaluation_main
from evaluation.metrics.fid import frechet_distance
from evaluation.perf.suite import DEFAULT_SECTIONS, run_suite
from evaluation.perf.fid_routes import compare_fid, sqrtm_frechet_distance
from evaluation.perf.render import render
from evaluation.perf.timing import PerfSettings


def _stats(rng, n, d, scale=1.0):
    x = rng.normal(size=(n, d)) * scale  # [n, d]
    return x.mean(0), np.cov(x, rowvar=False)


def _case(name: str) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(0)
    if name == "random":
        (mu1, s1), (mu2, s2) = _stats(rng, 200, 64), _stats(rng, 200, 64, scale=1.3)
        return mu1, s1, mu2 + 0.2, s2
    if name == "ill-conditioned":  # full rank, eigenvalues over 12 decades in each
        return (*_stats(rng, 400, 64, scale=np.logspace(0, -6, 64)),
                *_stats(rng, 400, 64, scale=np.logspace(-6, 0, 64)))
    if name == "first-singular":  # fewer samples than dimensions on one side (the Cholesky of S2 is used)
        return (*_stats(rng, 20, 32, scale=np.logspace(0, -6, 32)), *_stats(rng, 200, 32, scale=1.3))
    return (*_stats(rng, 20, 32), *_stats(rng, 25, 32, scale=1.3))  # both singular: S1's range is used


@pytest.mark.parametrize("case", ["random", "ill-conditioned"])
def test_frechet_distance_equals_the_sqrtm_route(case):
    statistics = _case(case)
    assert frechet_distance(*statistics) == pytest.approx(sqrtm_frechet_distance(*statistics), rel=1e-9)


@pytest.mark.parametrize("case", ["first-singular", "both-singular"])
def test_singular_statistics_agree_with_the_sqrtm_route(case):
    # sqrtm takes square roots of round-off noise in the null space: agreement to that noise, as pytorch-fid's test
    statistics = _case(case)
    assert frechet_distance(*statistics) == pytest.approx(sqrtm_frechet_distance(*statistics), rel=1e-6)


@pytest.mark.parametrize("n", [10, 500])
def test_identical_statistics_give_zero(n):
    mu, sigma = _stats(np.random.default_rng(1), n, 64)  # rank 9 of 64, then full rank
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-9


def test_bad_statistics_are_one_line_errors():
    mu, sigma = _stats(np.random.default_rng(2), 50, 8)
    with pytest.raises(ValueError, match="do not match"):
        frechet_distance(mu, sigma, mu[:4], sigma[:4, :4])
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(mu, sigma * np.nan, mu, sigma)


def test_fid_routes_agree():
    rows = compare_fid(dim=48, repeats=1)
    assert [r.route.split()[0] for r in rows] == ["ours", "torchmetrics", "scipy"]
    assert all(r.seconds > 0 and r.value > 0 and r.relative_difference < 1e-6 for r in rows)


TINY = PerfSettings(prompts=3, steps=2, batch_size=2, repeats=1, hub_images=2, hub_steps=2, hub_repeats=1,
                    fid_dim=16, matmul_size=128)


@pytest.fixture(scope="module")
def tiny_report(tiny_generator, tiny_layout_generator):
    return run_suite({"tiny": tiny_generator, "tiny-layout": tiny_layout_generator}, TINY, DEFAULT_SECTIONS)


def test_the_suite_measures_every_section(tiny_report):
    report = tiny_report
    assert report.matmul_peak_gflops > 0
    assert [r.model for r in report.batching] == ["tiny", "tiny-layout"]
    for row in report.batching:
        assert row.one_at_a_time_images_per_s > 0 and row.batched_images_per_s > 0 and row.speedup > 0
        assert (row.images, row.steps, row.batch_size) == (3, 2, 2)
    assert [r.model for r in report.mfu] == ["tiny", "tiny-layout"]
    for row in report.mfu:
        assert row.flops_per_evaluation > 0 and 0 < row.batch1_mfu < 1.5 and 0 < row.batched_mfu < 1.5
    assert len(report.hub) == 3 and all(r.stock_seconds > 0 and r.ours_seconds > 0 and r.speedup > 0
                                        for r in report.hub)
    assert len(report.fid) == 3 and all(r.relative_difference < 1e-6 for r in report.fid)
    assert [r.model for r in report.defaults] == ["tiny", "tiny-layout"]
    assert all(r.images_per_s > 0 and r.steps in (4, 3) for r in report.defaults)  # the fixtures' default steps
    assert not report.demo.seconds and "python -m demo --time-compare" in report.demo.note


def test_the_report_renders_and_serialises(tiny_report):
    text = render(tiny_report)
    for title in ("(a)", "(b)", "(c)", "(d)", "(e)", "(f)"):
        assert f"### {title}" in text
    assert json.loads(json.dumps(tiny_report.as_dict()))["batching"][0]["model"] == "tiny"


def test_perf_json_on_the_command_line(capsys):
    evaluation_main(["perf", "--sections", "fid", "--fid-dim", "12", "--repeats", "1", "--json"])
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["settings"]["fid_dim"] == 12 and len(report["fid"]) == 3 and report["batching"] == []
    assert "perf:" in captured.err  # progress lines go to stderr


def test_perf_rejects_unknown_sections(capsys):
    with pytest.raises(SystemExit, match="--sections takes"):
        evaluation_main(["perf", "--sections", "models,nope"])


def test_the_demo_latency_is_read_from_its_subprocess(monkeypatch):
    import subprocess
    import types

    from evaluation.perf import suite as perf

    printed = "Closing server\ndemo compare, default settings, 2 generators (a, b), device cpu: [7.4, 7.1] s per call\n"
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: types.SimpleNamespace(returncode=0, stdout=printed,
                                                                                  stderr=""))
    latency = perf.demo_latency(True, "cpu", 2)
    assert latency.seconds == [7.4, 7.1] and latency.note.startswith("demo compare")
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: types.SimpleNamespace(returncode=1, stdout="",
                                                                                  stderr="Traceback\nOSError: x\n"))
    assert perf.demo_latency(True, "cpu", 2).note.endswith("failed (exit 1): OSError: x")
