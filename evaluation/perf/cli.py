"""python -m evaluation perf: every speed number side by side (evaluation/perf/suite.py), as tables or JSON."""
from __future__ import annotations

import argparse
import json
import sys

from evaluation.arguments import device as _device, fail, names as _names
from models.registry import BUILTIN


def cmd_perf(args: argparse.Namespace) -> None:
    import dataclasses

    from evaluation.perf.suite import BUILTIN_MODELS, SECTIONS, load_builtins, run_suite, settings_for
    from evaluation.perf.render import render
    from models.checkpoints import CheckpointError
    from models.registry import UnknownModel, available

    if args.demo:  # moved up a floor: evaluation does not import the demo
        print("error: the demo's compare latency is `python -m demo --time-compare [--models a,b] [--repeats N]` "
              "(or `python -m evaluation perf --sections models,hub,fid,demo`)", file=sys.stderr)
        raise SystemExit(2)
    if set(args.sections) - set(SECTIONS):
        fail(ValueError(f"--sections takes {', '.join(SECTIONS)}; got {','.join(args.sections)}"))
    if args.repeats is not None and not 1 <= args.repeats <= 100:
        fail(ValueError("--repeats must be from 1 to 100"))
    if args.fid_dim is not None and not 2 <= args.fid_dim <= 4096:
        fail(ValueError("--fid-dim must be from 2 to 4096"))
    device = _device(args.device)
    settings = settings_for(device, args.quick, args.repeats)
    settings = dataclasses.replace(settings, fid_dim=args.fid_dim or settings.fid_dim)
    names = args.models or [n for n in BUILTIN_MODELS if n in available()]
    try:
        generators = load_builtins(names, device) if "models" in args.sections else {}
    except (UnknownModel, CheckpointError) as error:
        fail(error)
    report = run_suite(generators, settings, tuple(args.sections))
    print(json.dumps(report.as_dict()) if args.json else render(report))


def add_perf(sub) -> None:
    p = sub.add_parser("perf", help="every speed number side by side: batching, MFU, hub vs stock diffusers, FID "
                                    "routes, defaults, the demo's compare latency",
                       description="(a) images/s one at a time vs batched, (b) model-FLOPs utilisation against the "
                                   "fp32 matmul peak measured in the same run, (c) our sampling loop vs a stock "
                                   "diffusers pipeline, (d) Frechet distance routes, (e) images/s at defaults, "
                                   "(f) the demo's compare latency (with --sections ...,demo). Progress goes to "
                                   "stderr.")
    p.add_argument("--models", type=_names, default=None,
                   help=f"default: every built-in generator on disk ({', '.join(BUILTIN)})")
    p.add_argument("--device", default="cpu", help="cpu (default) | cuda[:N] | auto")
    p.add_argument("--quick", action="store_true",
                   help="10 sampling steps instead of 50 in (a) and (b), 10 instead of 20 in (c)")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed calls per measurement, taken in turns, median reported (default 3)")
    p.add_argument("--fid-dim", type=int, metavar="D", default=None,
                   help="feature dimension of the Frechet distance timings (default 2048)")
    p.add_argument("--sections", type=_names, default=["models", "hub", "fid"],
                   help="comma-separated: models (a, b, e), hub (c), fid (d), demo (f: python -m demo "
                        "--time-compare in a subprocess) (default models,hub,fid)")
    p.add_argument("--demo", action="store_true", help=argparse.SUPPRESS)  # moved: python -m demo --time-compare
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the tables")
    p.set_defaults(run=cmd_perf)
