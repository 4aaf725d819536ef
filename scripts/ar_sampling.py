"""`ar`'s sampling knobs measured: accuracy per task over temperature x top-k x guidance, on prompts drawn with a
tuning seed (pick there, then confirm on a fresh seed with `evaluation accuracy --prompt-seed`).

    python scripts/ar_sampling.py --temperatures 0.6,0.8,1.0 --top-k 0,16 --guidance 1,2,3 --n 40 --prompt-seed 31
"""
from __future__ import annotations

import argparse
import itertools
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from models.registry import load  # noqa: E402
from world.accuracy import score, world_prompts  # noqa: E402

# task -> (scene kind, held-out pairs, every word given)
TASKS = {"single-full": ("single", False, True), "novel": ("single", True, False), "pair": ("pair", False, False),
         "count": ("count", False, False)}


def _numbers(kind):
    return lambda text: [kind(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--temperatures", type=_numbers(float), default=[0.6, 0.8, 1.0])
    parser.add_argument("--top-k", type=_numbers(int), default=[0, 16])
    parser.add_argument("--guidance", type=_numbers(float), default=[1.0, 2.0, 3.0])
    parser.add_argument("--n", type=int, default=40, help="prompts per task (default 40)")
    parser.add_argument("--prompt-seed", type=int, default=31, help="the tuning prompts' seed (default 31)")
    parser.add_argument("--out", type=pathlib.Path, help="write the rows as JSON here too")
    args = parser.parse_args(argv)
    ar = load("ar")
    prompts = {task: world_prompts(args.n, kind, seed=args.prompt_seed, held_out=held, every_word=every)
               for task, (kind, held, every) in TASKS.items()}
    rows = []
    for temperature, top_k, guidance in itertools.product(args.temperatures, args.top_k, args.guidance):
        row = {"temperature": temperature, "top_k": top_k, "guidance": guidance}
        for task, task_prompts in prompts.items():
            row[task] = score(ar, task_prompts, guidance=guidance, steps=1,
                              options={"temperature": temperature, "top_k": top_k})["full"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
