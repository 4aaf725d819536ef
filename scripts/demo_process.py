"""A `python -m demo` of its own for the scripts that drive one (load_test.py, arena_voter.py): launched on a
free port, waited for until it answers, stopped."""
from __future__ import annotations

import pathlib
import socket
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_demo(options: list[str], log, startup_s: float = 300.0) -> tuple[subprocess.Popen, str]:
    """`python -m demo --port P *options`, its output to `log`; (process, url) once it answers, a SystemExit if
    it dies or stays silent for `startup_s`."""
    import httpx

    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "demo", "--port", str(port), *options], cwd=REPO, stdout=log,
                               stderr=subprocess.STDOUT)
    url, deadline = f"http://127.0.0.1:{port}/", time.monotonic() + startup_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"error: the demo exited with status {process.returncode} before serving; see {log.name}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stop(process)
    raise SystemExit(f"error: the demo did not answer within {startup_s:g} s; see {log.name}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
