"""The hybrid's hand-off sweep: accuracy per task of `ar+dit` at each hand-off level, beside `ar` and `dit`
(the hybrid's ends: handoff 0 is the draft through the VAE, 1 is `dit` alone), on the same prompts and seeds.

    python scripts/handoff_sweep.py --handoffs 0,0.2,0.4,0.6,0.8,1 --tasks single,pair,count,novel --n 40
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from evaluation.prompts import WORLD_TASKS, world_set  # noqa: E402
from models.registry import load  # noqa: E402
from world.accuracy import score  # noqa: E402


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handoffs", type=_floats, default=[0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    parser.add_argument("--tasks", default="single,pair,count,novel", help=f"comma-separated of {', '.join(WORLD_TASKS)}")
    parser.add_argument("--n", type=int, default=40, help="prompts per task (default 40)")
    parser.add_argument("--steps", type=int, default=25, help="the finisher's schedule (default 25 DDIM steps)")
    parser.add_argument("--guidance", type=float, default=3.0, help="the finisher's guidance (default 3)")
    parser.add_argument("--out", type=pathlib.Path, help="write the table as JSON here too")
    args = parser.parse_args(argv)
    tasks = [t for t in args.tasks.split(",") if t]
    unknown = [t for t in tasks if t not in WORLD_TASKS]
    if unknown:
        parser.error(f"unknown task {unknown[0]!r}; choose from {', '.join(WORLD_TASKS)}")
    hybrid, ar = load("ar+dit"), load("ar")
    rows = []
    for task in tasks:
        prompts = [item.prompt for item in world_set(args.n, (task,))]
        started = time.perf_counter()
        ar_result = score(ar, prompts, guidance=ar.info.default_guidance, steps=1)
        rows.append({"task": task, "model": "ar", "handoff": None, "full": ar_result["full"],
                     "seconds_per_image": (time.perf_counter() - started) / len(prompts)})
        for handoff in args.handoffs:
            started = time.perf_counter()
            result = score(hybrid, prompts, guidance=args.guidance, steps=args.steps, options={"handoff": handoff})
            rows.append({"task": task, "model": "ar+dit", "handoff": handoff, "full": result["full"],
                         "seconds_per_image": (time.perf_counter() - started) / len(prompts)})
            print(f"{task:>10}  handoff {handoff:.2f}: {100 * result['full']:5.1f} %  (ar alone "
                  f"{100 * ar_result['full']:.1f} %)", flush=True)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
