"""python -m evaluation run | report | accuracy: a sweep into a run folder, its report rebuilt, a quick accuracy check."""
from __future__ import annotations

import argparse
import json
import time

from evaluation.arguments import (batch_size as _batch_size, device as _device, fail, floats as _floats,
                                 ints as _ints, layouts as _layouts, names as _names, seed as _seed, step as _step,
                                 truncations as _truncations)


def cmd_accuracy(args: argparse.Namespace) -> None:
    from evaluation import paraphrases
    from world.accuracy import score, world_prompts
    from models.checkpoints import CheckpointError
    from models.contract import GenerationError
    from evaluation.runs.custom_models import CustomModelError, load_generator
    from models.text.planners import make_planner

    if not 1 <= args.n <= 10_000:
        raise SystemExit("error: --n must be from 1 to 10000")
    device = _device(args.device)
    try:
        planner = None if args.planner == "none" else make_planner(args.planner)
    except (ValueError, OSError) as error:
        raise SystemExit(f"error: {str(error).splitlines()[0]}")
    if args.task == "paraphrase":  # free text in, judged against the caption it means
        rows = paraphrases.inside()[:args.n]
        prompts, targets = [text for text, _ in rows], [caption for _, caption in rows]
    else:
        kind = "single" if args.task in ("novel", "single-full") else args.task
        prompts = targets = world_prompts(args.n, kind, held_out=args.task == "novel",
                                          every_word=args.task == "single-full",
                                          **({} if args.prompt_seed is None else {"seed": args.prompt_seed}))
    rows = []
    for name in args.models.split(","):
        try:
            generator = load_generator(name.strip(), device=device)
        except (KeyError, CheckpointError, CustomModelError) as error:
            raise SystemExit(f"error: {error}")
        for guidance in args.guidance:
            started = time.perf_counter()
            aware = getattr(generator, "layout_aware", False)
            try:
                result = score(generator, prompts, guidance=guidance, steps=args.steps, sampler=args.sampler,
                               targets=targets, planner=planner, options={"layout": args.layout} if aware else None)
            except GenerationError as error:  # a bad request, or a user model's wrong answer: one line
                fail(error)
            rows.append({"model": name, "task": args.task, "planner": args.planner, "guidance": guidance,
                         "layout": args.layout if aware else None,
                         "steps": args.steps, "sampler": args.sampler, **result,
                         "seconds": round(time.perf_counter() - started, 1)})
            shown = "  ".join(f"{key.replace('_', '+')} {result[key]:.3f}" for key in
                              ("color_shape", "full", "size", "position", "relation", "count", "line", "planned")
                              if key in result)
            print(json.dumps(rows[-1]) if args.json else
                  f"{name:<10} {args.task:<11} planner={args.planner:<6}"
                  f"{' layout=' + args.layout if rows[-1]['layout'] else ''} g={guidance:<4g} n={result['n']:<4} {shown}"
                  f"  ({rows[-1]['seconds']} s)", flush=True)


def cmd_run(args: argparse.Namespace) -> None:
    from evaluation.metrics.features import FeatureError
    from evaluation.prompts import PromptSetError
    from evaluation.runs.sweep import RunOptions, run
    from models.checkpoints import CheckpointError
    from models.contract import GenerationError
    from models.registry import UnknownModel

    if not 1 <= args.n <= 999:
        fail(ValueError("--n must be from 1 to 999 samples per prompt"))
    _device(args.device)  # a junk device fails here, before any model loads; the sweep resolves "auto" itself
    options = RunOptions(models=args.models, prompts=args.prompts, out=args.out, guidance=args.guidance,
                         steps=args.steps, samplers=args.samplers, n=args.n, seed=args.seed, device=args.device,
                         features=args.features, inception_weights=args.inception_weights, clip=args.clip,
                         reference=args.reference, layout=args.layout, batch_size=args.batch_size,
                         precision=args.precision, compile=args.compile, truncation=args.truncation,
                         floor=not args.no_floor)
    try:
        result = run(options)
    except PromptSetError as error:
        fail(PromptSetError(f"--prompts: {error}"))
    except (FeatureError, CheckpointError, GenerationError, UnknownModel, ValueError, OSError) as error:
        fail(error)
    except KeyboardInterrupt:
        raise SystemExit("interrupted: every finished image is kept; rerun the same command to continue")
    if result["report"] is not None:
        print(f"{result['generated']} images generated, {result['images']} in the run; report: {result['report']} "
              f"(and report.html, images.csv, rows.jsonl)")


def cmd_report(args: argparse.Namespace) -> None:
    import pathlib

    from evaluation.metrics.features import FeatureError
    import os

    from evaluation.run_health import heal_folder, heal_settings, holds_run
    from evaluation.store import RunStore, StoreError
    from evaluation.runs.sweep import RunOptions, finish

    root = pathlib.Path(args.run_dir)
    if not os.path.lexists(root / "run.json"):
        fail(FileNotFoundError(f"{root} is not a run directory (no run.json): make one with `python -m evaluation run`"))
    try:
        store = RunStore(root)
        store.lock()  # it rewrites the metrics and reports, and sets bad files aside: the folder's one writer
        saved = heal_settings(root, holds_run(root))
        before = len(store.rows())
        rows = heal_folder(store)
        options = RunOptions(**{"models": [], "prompts": "", **{k: saved[k] for k in RunOptions.__dataclass_fields__
                                                                if k in saved}})
        path = finish(root, rows, options)
    except (FeatureError, StoreError, ValueError, OSError) as error:
        fail(error)
    skipped = f"; {before - len(rows)} unreadable image(s) left out (set aside; `evaluation run` makes them again)"
    print(f"report: {path} (and report.html){skipped if before > len(rows) else ''}")


def add_run(sub) -> None:
    from models.acceleration import PRECISIONS
    from models.contract import MAX_TRUNCATION

    p = sub.add_parser("run", help="generate a sweep (resumable) and write its metrics and reports",
                       description="Every model x sampler x steps x guidance x prompt x sample image, written once to "
                                   "RUN_DIR; a rerun (or a run after a crash or Ctrl-C) continues where it stopped. "
                                   "Multi-GPU: accelerate launch -m evaluation run ...")
    p.add_argument("--models", type=_names, required=True, help="comma-separated generators: built-in names (ddpm,ldm,dit,gan), hub:FOLDER, "
                        "or your own as package.module:attribute (an object, factory or generate(prompts, seed))")
    p.add_argument("--prompts", default="shapes-quick",
                   help="shapes-quick (40, the v1 tasks), shapes-v2-quick (90), shapes-full (900: 100 of each of the "
                        "nine tasks), shapes-<task>-<N>, shapes-all-<N>, or a .txt / .csv / .tsv (PartiPrompts) / "
                        ".jsonl (GenEval) file (default shapes-quick)")
    p.add_argument("--guidance", type=_floats, default=[1.0, 3.0, 5.0], help="comma-separated scales (default 1,3,5)")
    p.add_argument("--steps", type=_ints, default=[50], help="comma-separated sampling steps (default 50)")
    p.add_argument("--samplers", type=_names, default=["ddim"],
                   help="comma-separated: ddim, dpm++, ddpm (default ddim); a model offering none of them (flow: "
                        "euler, heun) runs its own default")
    p.add_argument("--n", "--samples", dest="n", type=int, default=2,
                   help="samples per prompt (default 2); spell it --samples after torchrun / accelerate launch, "
                        "whose own options would swallow --n")
    p.add_argument("--seed", type=_seed, default=0, help="base seed; image (prompt j, sample k) uses seed + 1000 j + k")
    p.add_argument("--out", required=True, help="the run directory (created, or continued)")
    p.add_argument("--device", default="auto", help="auto (CUDA with autocast when present, default) | cpu | cuda")
    p.add_argument("--features", type=_names, default=["world"],
                   help="FID/KID features: world (the evaluator CLIP's image tower, default), inception, or both")
    p.add_argument("--inception-weights", default=None,
                   help="Inception-v3 FID weights file (pt_inception-2015-12-05-6726825d.pth)")
    p.add_argument("--clip", default="world", help="CLIP score model: world (default) or MODEL:WEIGHTS for open_clip")
    p.add_argument("--reference", default=None,
                   help="real images for FID/KID: a folder or an .npz (mu, sigma); default for world prompts: "
                        "images rendered from the same prompts")
    p.add_argument("--layout", type=_layouts, default=["planner"],
                   help="layout-aware models (dit-layout, gan-layout): planner (default), none (the caption alone, setting "
                        "names end in -nolayout), or planner,none for the ablation side by side")
    p.add_argument("--truncation", type=_truncations, default=None, metavar="PSI,...",
                   help=f"GANs: comma-separated truncation psi from 0 to {MAX_TRUNCATION:g}, one setting each (names "
                        "end in -psi0.5); the report plots accuracy and diversity against psi (default: the model's "
                        "own, 1)")
    p.add_argument("--batch-size", type=_batch_size, default=None,
                   help="images computed together (default: 16 on CPU, 64 on CUDA); a fixed batch size gives "
                        "bitwise-identical images, another one equal to within 1/255 (recorded in run.json and rows)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="CUDA autocast: auto (bf16 where the card has it, else fp16; default) | fp32 | fp16 | bf16; "
                        "CPU runs are always fp32")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile each model's network first (tens of seconds; pays off on long GPU runs)")
    p.add_argument("--no-floor", action="store_true",
                   help="leave out the noise floor: the row `world`, the world's own rendering with other seeds "
                        "(a perfect generator), made by default on prompts with world targets")
    p.set_defaults(run=cmd_run)


def add_report(sub) -> None:
    p = sub.add_parser("report", help="rebuild report.md / report.html of a run directory")
    p.add_argument("run_dir")
    p.set_defaults(run=cmd_report)


def add_accuracy(sub) -> None:
    p = sub.add_parser("accuracy", help="compositional accuracy judged by the world detector")
    p.add_argument("--models", default="ddpm", help="comma-separated generators: built-in names, hub:FOLDER or "
                   "package.module:attribute, as for run (default ddpm)")
    p.add_argument("--task", choices=["single", "single-full", "pair", "count", "novel", "count-high", "multi", "mixed",
                                      "between", "sizes", "paraphrase"], default="single",
                   help="single, pair, count and version 2's count-high, multi, mixed, between, sizes: world prompts "
                        "of that kind, held-in color-shape pairs (a single's optional words dropped as in training); "
                        "single-full: single objects with size, color, shape and position all given; novel: single "
                        "objects of the held-out pairs; paraphrase: the planner's hand-written free-text set "
                        "(evaluation/prompt_sets/paraphrases.tsv), judged by meaning")
    p.add_argument("--prompt-seed", type=_seed, default=None,
                   help="draw the world prompts from this seed instead of the evaluation stream's (2024): a fresh "
                        "set nobody tuned on")
    p.add_argument("--planner", default="none",
                   help="rewrite prompts before generating: none (default) | rules | lm:PATH | chat:URL[#MODEL]")
    p.add_argument("--guidance", type=_floats, default=[1.0, 3.0], help="comma-separated scales (default 1,3)")
    p.add_argument("--steps", type=_step, default=50, help="sampling steps (default 50)")
    p.add_argument("--sampler", default=None,
                   help="ddim | dpm++ | ddpm for the diffusion families, euler | heun for flow (default: the model's "
                        "own, ddim or euler)")
    p.add_argument("--layout", choices=("planner", "none"), default="planner",
                   help="layout-aware models (dit-layout, gan-layout): planner (default) | none (the caption alone)")
    p.add_argument("--n", type=int, default=200, help="number of prompts, one image each (default 200)")
    p.add_argument("--device", default="cpu", help="cpu (default) | cuda[:N] | auto")
    p.add_argument("--json", action="store_true", help="print one JSON object per row")
    p.set_defaults(run=cmd_accuracy)
