#!/usr/bin/env python3
"""Load test for the GenBench demo: many gradio_client callers at once, for a bounded time.

    python scripts/load_test.py [--clients 50] [--seconds 120] [--models gan,ddpm] [--queue-size 16]
    python scripts/load_test.py --url http://127.0.0.1:7860/ [--pid PID]

Without --url it launches `python -m demo` (CPU, the built-in models, or --models) on a free local port
and stops it at the end. Each caller loops until --seconds have passed: mostly /compare, some /sweep
and /generate, with varied prompts, seeds and steps. A refusal because the queue is full ("busy") is
the app working as designed; anything else that fails is a failure. Calls still running at the end
get --grace seconds, then are cancelled and counted apart.

Prints completed / refused-busy / failed / cancelled-at-end counts (in all and per endpoint), p50
and p95 latency of the completed calls, and the server's resident memory (first, last, peak),
sampled every second (the launched server, or --pid). Exit status 1 when any call failed for a
reason other than a full queue, or the server died; 2 for bad arguments.
"""
from __future__ import annotations

import argparse
import collections
import pathlib
import random
import sys
import tempfile
import threading
import time

from demo_process import launch_demo, stop  # scripts/demo_process.py: this folder is on the path

PROMPTS = ["a large red circle in the center", "a small blue square in the top left", "three cyan crosses",
           "a green triangle to the left of a yellow circle", "a purple triangle", "two orange squares",
           "draw a crimson ball up in the left corner", "put a green plus under an orange triangle"]
OUTSIDE = "an astronaut riding a horse"  # /compare answers it in its plan line; the one-model endpoints refuse it
BUSY = ("queue is full", "busy")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python scripts/load_test.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("--url", help="an already running demo to call (default: launch one here)")
    p.add_argument("--pid", type=int, help="with --url: the server's process id, to sample its memory")
    p.add_argument("--models", help="comma-separated generators for the launched demo (default: every built-in one)")
    p.add_argument("--queue-size", type=int, default=16, help="the launched demo's queue size (default 16)")
    p.add_argument("--clients", type=int, default=50, help="concurrent callers (default 50)")
    p.add_argument("--seconds", type=float, default=120, help="how long callers keep starting calls (default 120)")
    p.add_argument("--steps", type=int, default=10, help="most denoising steps per call; each call draws from "
                                                         "half of it up to it (default 10)")
    p.add_argument("--grace", type=float, default=30, help="seconds calls running at the end may take (default 30)")
    p.add_argument("--startup", type=float, default=300, help="seconds to wait for the launched demo (default 300)")
    p.add_argument("--seed", type=int, default=0, help="seeds the callers' choices (default 0)")
    return p


def check(args: argparse.Namespace) -> str | None:
    """A one-line complaint about the arguments, or None."""
    if not 1 <= args.clients <= 1000:
        return "--clients must be from 1 to 1000"
    if not 0 < args.seconds <= 24 * 3600 or not 0 <= args.grace <= 3600:
        return "--seconds must be from 0 to 86400 (exclusive of 0) and --grace from 0 to 3600"
    if not 1 <= args.steps <= 1000:
        return "--steps must be from 1 to 1000"
    if args.pid is not None and args.url is None:
        return "--pid goes with --url (a launched demo is sampled anyway)"
    return None


def launch(args: argparse.Namespace, log):
    """The demo on CPU with the asked queue; (process, url) once it answers."""
    options = ["--device", "cpu", "--queue-size", str(args.queue_size)]
    return launch_demo(options + (["--models", args.models] if args.models else []), log, args.startup)


def rss_bytes(pid: int) -> int | None:
    """Resident memory of `pid` (psutil, else /proc); None once it is gone."""
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss
    except ImportError:
        pass
    except Exception:  # psutil.NoSuchProcess and friends
        return None
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def sample_rss(pid: int | None, samples: list, done: threading.Event) -> None:
    while pid is not None and not done.wait(1.0):
        rss = rss_bytes(pid)
        if rss is not None:
            samples.append(rss)


def choices(url: str) -> tuple[list[str], list[str]]:
    """(models the sweep takes, models the generate endpoint takes), read from the app's API description."""
    from gradio_client import Client

    api = Client(url, verbose=False).view_api(return_format="dict", print_info=False)["named_endpoints"]

    def models(endpoint: str) -> list[str]:
        return api.get(endpoint, {}).get("parameters", [{}])[0].get("type", {}).get("enum", [])

    return models("/sweep"), models("/generate")


def request(rng: random.Random, steps: int, guided: list[str], every: list[str]) -> tuple[str, tuple]:
    """(endpoint, its arguments): /compare mostly, /sweep and /generate sometimes."""
    prompt, seed, n = rng.choice(PROMPTS), rng.randrange(2**31 - 1), rng.randint(max(1, steps // 2), steps)
    kind = rng.random()
    if kind < 0.15 and guided:
        return "/sweep", (rng.choice(guided), prompt, seed, n, "1, 3", "ddim", True)
    if kind < 0.3 and every:
        return "/generate", (rng.choice(every), prompt, seed, n, 3.0, rng.choice(["ddim", "dpm++"]), True)
    prompt = OUTSIDE if kind > 0.95 else prompt
    return "/compare", (prompt, seed, False, n, rng.choice([0.0, 3.0, 7.5]), rng.choice(["ddim", "dpm++"]), True)


def one_call(client, endpoint: str, arguments: tuple, finish_by: float) -> tuple[str, str]:
    """(outcome, message): completed, busy, failed or cancelled (still running at `finish_by`)."""
    from concurrent.futures import TimeoutError as Timeout

    job = client.submit(*arguments, api_name=endpoint)
    try:
        job.result(timeout=max(0.1, finish_by - time.monotonic()))
        return "completed", ""
    except Timeout:
        job.cancel()
        return "cancelled", ""
    except Exception as error:  # the app's answer: a full queue, or a real failure
        message = " ".join(str(error).split())[:160] or type(error).__name__
        return ("busy" if any(b in message.lower() for b in BUSY) else "failed"), message


def caller(index: int, url: str, args: argparse.Namespace, models: tuple, deadline: float, results: list) -> None:
    from gradio_client import Client

    rng = random.Random(args.seed * 100_003 + index)
    try:
        client = Client(url, verbose=False)
    except Exception as error:
        results.append(("(connect)", "failed", 0.0, f"could not connect: {str(error)[:120]}"))
        return
    while time.monotonic() < deadline:
        endpoint, arguments = request(rng, args.steps, *models)
        started = time.monotonic()
        outcome, message = one_call(client, endpoint, arguments, deadline + args.grace)
        results.append((endpoint, outcome, time.monotonic() - started, message))
        if outcome == "busy":  # back off a little, as a polite client would
            time.sleep(rng.uniform(0.5, 1.5))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


def report(results: list, samples: list, seconds: float) -> int:
    """Print the summary; the number of real failures."""
    counts = collections.Counter(outcome for _, outcome, _, _ in results)
    latencies = [s for _, outcome, s, _ in results if outcome == "completed"]
    print(f"calls: {len(results)} in {seconds:.0f} s · completed {counts['completed']} · refused-busy "
          f"{counts['busy']} · failed {counts['failed']} · cancelled-at-end {counts['cancelled']}")
    for endpoint in sorted({e for e, _, _, _ in results}):
        mine = collections.Counter(o for e, o, _, _ in results if e == endpoint)
        print(f"  {endpoint}: " + ", ".join(f"{k} {v}" for k, v in sorted(mine.items())))
    p50, p95, most = percentile(latencies, 0.5), percentile(latencies, 0.95), max(latencies, default=float("nan"))
    print(f"latency of completed calls: p50 {p50:.2f} s · p95 {p95:.2f} s · max {most:.2f} s")
    if samples:
        mb = [s / 2**20 for s in samples]
        print(f"server RSS ({len(mb)} samples, 1/s): first {mb[0]:.0f} MB · last {mb[-1]:.0f} MB · "
              f"peak {max(mb):.0f} MB")
        # the trajectory: warm-up growth levels off, a leak keeps climbing
        tenths = [mb[min(len(mb) - 1, round(i * (len(mb) - 1) / 10))] for i in range(11)]
        print("server RSS every tenth of the run (MB): " + " ".join(f"{v:.0f}" for v in tenths))
    else:
        print("server RSS: not sampled (pass --pid with --url)")
    for message, n in collections.Counter(m for _, o, _, m in results if o == "failed").most_common(5):
        print(f"  failure ×{n}: {message}")
    return counts["failed"]


def run(args: argparse.Namespace, url: str, pid: int | None) -> int:
    samples: list[int] = []
    done = threading.Event()
    threading.Thread(target=sample_rss, args=(pid, samples, done), daemon=True).start()
    models = choices(url)
    results: list = []
    started = time.monotonic()
    deadline = started + args.seconds
    callers = [threading.Thread(target=caller, args=(i, url, args, models, deadline, results), daemon=True)
               for i in range(args.clients)]
    for thread in callers:
        thread.start()
    for thread in callers:
        thread.join(max(0.0, deadline + args.grace + 30 - time.monotonic()))
    done.set()
    return report(results, samples, time.monotonic() - started)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if (problem := check(args)) is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if args.url:
        return 1 if run(args, args.url, args.pid) else 0
    with tempfile.NamedTemporaryFile("w", prefix="genbench-demo-", suffix=".log", delete=False) as log:
        process, url = launch(args, log)
        print(f"demo at {url} (pid {process.pid}, log {log.name})", flush=True)
        try:
            failed = run(args, url, process.pid)
        finally:
            died = process.poll() is not None
            stop(process)
    if died:
        print(f"error: the demo died during the test (status {process.returncode}); see {log.name}", file=sys.stderr)
    if not failed and not died:  # the log is kept only when there is something to read in it
        pathlib.Path(log.name).unlink(missing_ok=True)
    return 1 if failed or died else 0


if __name__ == "__main__":
    sys.exit(main())
