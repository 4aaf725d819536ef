"""python -m evaluation accuracy — compositional accuracy of generators on world prompts (optionally planned)."""
from __future__ import annotations

import argparse
import json
import math
import time


def _floats(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values or any(not math.isfinite(v) or v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"guidance scales must be finite numbers >= 0, got {text!r}")
    return values


def cmd_accuracy(args: argparse.Namespace) -> None:
    from evaluation import paraphrases
    from evaluation.accuracy import score, world_prompts
    from models.checkpoints import CheckpointError
    from models.planner import make_planner
    from models.registry import load

    if not 1 <= args.n <= 10_000:
        raise SystemExit("error: --n must be from 1 to 10000")
    import torch
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    try:
        planner = None if args.planner == "none" else make_planner(args.planner)
    except (ValueError, OSError) as error:
        raise SystemExit(f"error: {str(error).splitlines()[0]}")
    if args.task == "paraphrase":  # free text in, judged against the caption it means
        rows = paraphrases.inside()[:args.n]
        prompts, targets = [text for text, _ in rows], [caption for _, caption in rows]
    else:
        kind = "single" if args.task == "novel" else args.task
        prompts = targets = world_prompts(args.n, kind, held_out=args.task == "novel")
    rows = []
    for name in args.models.split(","):
        try:
            generator = load(name.strip(), device=device)
        except (KeyError, CheckpointError) as error:
            raise SystemExit(f"error: {error}")
        for guidance in args.guidance:
            started = time.perf_counter()
            result = score(generator, prompts, guidance=guidance, steps=args.steps, sampler=args.sampler,
                           targets=targets, planner=planner)
            rows.append({"model": name, "task": args.task, "planner": args.planner, "guidance": guidance,
                         "steps": args.steps, "sampler": args.sampler, **result,
                         "seconds": round(time.perf_counter() - started, 1)})
            shown = "  ".join(f"{key.replace('_', '+')} {result[key]:.3f}" for key in
                              ("color_shape", "full", "size", "position", "relation", "count", "planned") if key in result)
            print(json.dumps(rows[-1]) if args.json else
                  f"{name:<8} {args.task:<10} planner={args.planner:<6} g={guidance:<4g} n={result['n']:<4} {shown}"
                  f"  ({rows[-1]['seconds']} s)", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m evaluation", description="GenBench evaluation.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("accuracy", help="compositional accuracy judged by the world detector")
    p.add_argument("--models", default="ddpm", help="comma-separated generator names (default ddpm)")
    p.add_argument("--task", choices=["single", "pair", "count", "novel", "paraphrase"], default="single",
                   help="single, pair, count: world prompts of that kind, held-in color-shape pairs; novel: single "
                        "objects of the held-out pairs; paraphrase: the planner's "
                        "hand-written free-text set (evaluation/prompt_sets/paraphrases.tsv), judged by meaning")
    p.add_argument("--planner", default="none",
                   help="rewrite prompts before generating: none (default) | rules | lm:PATH | chat:URL[#MODEL]")
    p.add_argument("--guidance", type=_floats, default=[1.0, 3.0], help="comma-separated scales (default 1,3)")
    p.add_argument("--steps", type=int, default=50, help="sampling steps (default 50)")
    p.add_argument("--sampler", default="ddim", help="ddim | dpm++ | ddpm (default ddim)")
    p.add_argument("--n", type=int, default=200, help="number of prompts, one image each (default 200)")
    p.add_argument("--device", default="cpu", help="cpu (default) | cuda | auto")
    p.add_argument("--json", action="store_true", help="print one JSON object per row")
    p.set_defaults(run=cmd_accuracy)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
