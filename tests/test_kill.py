"""SIGKILL a real `python -m evaluation run` at ten seeded random instants, each rerun being the next one
killed, then rerun to completion: every image and row exists exactly once, no temporary file is left, and the
metrics equal an uninterrupted run's in another folder."""
from __future__ import annotations

import json
import math
import os
import pathlib
import random
import signal
import subprocess
import sys
import time

import pytest
from PIL import Image

from evaluation.metrics import features

REPO = pathlib.Path(__file__).resolve().parents[1]
KILLS = 10
IMAGES = 40  # shapes-quick x --n 1 x one setting (the GAN has no guidance)
HANG_S = 600  # only against a hang, never a pace: a whole run takes ~7 s on a shared 2-core host


def command(out: pathlib.Path) -> list[str]:
    return [sys.executable, "-m", "evaluation", "run", "--models", "gan", "--prompts", "shapes-quick", "--n", "1",
            "--guidance", "3", "--features", "world", "--device", "cpu", "--no-floor", "--out", str(out)]


@pytest.fixture
def environment(tmp_path_factory, tiny_text_encoder) -> dict:
    folder = tmp_path_factory.mktemp("clip")
    tiny_text_encoder.save_pretrained(folder)  # a tiny evaluator CLIP: the run's features and CLIP scores, quickly
    return {**os.environ, features.EVALUATOR_CLIP_ENV: str(folder), "OMP_NUM_THREADS": "1"}


def rows_written(out: pathlib.Path) -> int:
    path = out / "rows.jsonl"
    return path.read_bytes().count(b"\n") if path.is_file() else 0


def kill_at(out: pathlib.Path, env: dict, seconds: float, rows: int | None) -> tuple[bool, float]:
    """Start a run; SIGKILL it `seconds` after its start, or as soon as rows.jsonl holds `rows` lines.
    Returns (killed, seconds it ran)."""
    process = subprocess.Popen(command(out), env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.monotonic()
    while process.poll() is None:
        elapsed = time.monotonic() - started
        if elapsed >= seconds or (rows is not None and rows_written(out) >= rows) or elapsed > HANG_S:
            process.send_signal(signal.SIGKILL)
            process.wait()
            assert elapsed <= HANG_S, "the run hung"
            return True, elapsed
        time.sleep(0.003)
    assert process.returncode == 0, f"the run failed on its own (status {process.returncode})"
    return False, time.monotonic() - started


def assert_whole_images(out: pathlib.Path) -> None:
    """Whatever instant the kill hit, every PNG under its final name is whole."""
    for png in (out / "images").rglob("*.png"):
        with Image.open(png) as image:
            image.load()


def table(out: pathlib.Path) -> dict[str, dict]:
    """key -> row, asserting each key is written once across rows*.jsonl and has its one PNG."""
    keys = [json.loads(line)["key"] for path in out.glob("rows*.jsonl") for line in path.read_text().splitlines()]
    assert len(keys) == len(set(keys)), "a row is written twice"
    rows = {json.loads(line)["key"]: json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()}
    pngs = sorted(p.relative_to(out).as_posix() for p in (out / "images").rglob("*.png"))
    assert sorted(row["file"] for row in rows.values()) == pngs, "images and rows differ"
    return {key: {k: v for k, v in row.items() if k != "latency_s"} for key, row in rows.items()}


def same_numbers(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=1e-9,
                                                                                             abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_numbers(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_numbers(x, y) for x, y in zip(a, b))
    return a == b


def metrics(out: pathlib.Path) -> list[dict]:
    records = json.loads((out / "metrics.json").read_text())["records"]
    return [{k: v for k, v in record.items() if k != "images_per_s"} for record in records]  # timing, not a metric


def test_sigkill_at_ten_random_instants_then_rerun_equals_an_uninterrupted_run(tmp_path, environment):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    started = time.monotonic()
    subprocess.run(command(whole), env=environment, cwd=REPO, check=True, capture_output=True, timeout=HANG_S)
    duration = time.monotonic() - started
    rng = random.Random(20240611)  # the same instants on every run of the test
    kills, runs, expected = [], 0, duration
    while len(kills) < KILLS:
        runs += 1
        # not a pace: a kill by rows misses only if a run ends within one poll of its row (at most the 39th), and a
        # timed miss shrinks `expected` to that run's length, so misses need ever faster runs (here: 11 runs)
        assert runs <= 2 * KILLS, f"only {len(kills)} of {runs} runs were killed before they finished"
        done = rows_written(killed)
        # the first kills as rows arrive, a few images apart (inside the generation, whatever its pace or
        # batching); the others at a moment of the run: start-up, repair, generation, metrics or reports
        by_rows = len(kills) <= KILLS // 2 and done < IMAGES - 1
        seconds = math.inf if by_rows else rng.uniform(0.0, expected)
        hit, elapsed = kill_at(killed, environment, seconds,
                               rng.randint(done + 1, min(done + 8, IMAGES - 1)) if by_rows else None)
        if hit:
            kills.append(round(elapsed, 2))
        else:
            expected = elapsed  # a rerun with less to do is shorter: aim inside it next time
        assert_whole_images(killed)
    subprocess.run(command(killed), env=environment, cwd=REPO, check=True, capture_output=True, timeout=HANG_S)
    assert not list(killed.rglob("*.tmp")) and not list(killed.glob("rows.*.jsonl"))
    rows = table(killed)
    assert len(rows) == IMAGES and rows == table(whole), f"killed at {kills} s"
    assert same_numbers(metrics(killed), metrics(whole)), (metrics(killed), metrics(whole))
    assert (killed / "report.md").is_file() and (killed / "images.csv").read_text().count("\n") == IMAGES + 1
