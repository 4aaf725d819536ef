"""python -m demo [--port N] [--share] [--models a,b] [--host ADDRESS] [--device auto|cpu|cuda[:N]]
[--planner rules|none|lm:PATH|chat:URL] [--runs DIR] [--arena-db PATH] [--queue-size N]
[--time-compare [--repeats N]]"""
from __future__ import annotations

import argparse
import sys

from demo.port import port_number, unusable
from models.devices import DEVICE_HELP, resolve_device


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m demo", description="GenBench: every generator side by side.")
    p.add_argument("--port", type=port_number, default=7860, help="port to serve on, 1 to 65535 (default 7860)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 to serve a network)")
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    p.add_argument("--models", default=None,
                   help="comma-separated generator names, hub:<id-or-folder> too (default: every one with weights on disk)")
    p.add_argument("--device", default="cpu", help=f"{DEVICE_HELP} (default cpu)")
    p.add_argument("--planner", default="rules",
                   help="rewrites prompts for the built-in models: rules (default) | none | lm:PATH | chat:URL[#MODEL]")
    p.add_argument("--runs", default="runs", help="folder of evaluation runs for the Evaluation tab (default runs)")
    p.add_argument("--arena-db", default=None,
                   help="the Arena's votes database, SQLite (default: arena.sqlite3 in the data folder: "
                        "$GENBENCH_DATA, else /data/genbench where a writable /data exists, as on a Space with "
                        "persistent storage, else ~/.local/share/genbench)")
    p.add_argument("--queue-size", type=int, default=16,
                   help="requests that may wait for the one generation slot; more are answered 'busy' (default 16)")
    p.add_argument("--time-compare", action="store_true",
                   help="serve nothing: time the compare call at default settings through gradio_client, print the "
                        "seconds per call and exit")
    p.add_argument("--repeats", type=int, default=3, help="timed compare calls with --time-compare (default 3)")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        device = resolve_device(args.device)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2)
    names = [n.strip() for n in args.models.split(",") if n.strip()] if args.models else None
    if not 1 <= args.queue_size <= 1000:
        print("error: --queue-size must be from 1 to 1000", file=sys.stderr)
        raise SystemExit(2)
    if args.time_compare:
        if not 1 <= args.repeats <= 100:
            print("error: --repeats must be from 1 to 100", file=sys.stderr)
            raise SystemExit(2)
        from demo.latency import time_compare
        from models.registry import available
        names = names or available()
        seconds = time_compare(names, args.repeats, device=device)
        print(f"demo compare, default settings, {len(names)} generators ({', '.join(names)}), device {device}: "
              f"{seconds} s per call")
        return
    problem = unusable(args.host, args.port)  # now, not after the models have loaded
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        raise SystemExit(2)
    from demo.app import build
    app = build(names, device=device, planner=args.planner, queue_size=args.queue_size, runs=args.runs,
                arena_db=args.arena_db)
    app.launch(server_name=args.host, server_port=args.port, share=args.share)


if __name__ == "__main__":
    main()
