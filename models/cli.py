"""`python -m models list | sample | train | plan`: thin shells over the registry, training loop and planner."""
from __future__ import annotations

import argparse
import math
import pathlib
import sys

from tqdm import tqdm

from models.checkpoints import CheckpointError
from models.contract import MAX_PROMPT_CHARS, MAX_STEPS, GenerationError
from models import hub
from models.registry import BUILTIN, UnknownModel, is_available, load

MAX_IMAGES = 1000


def fail(message: str, code: int = 2) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


def check_output_folder(path: pathlib.Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".genbench-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        fail(f"cannot write to output folder {path}: {error.strerror or error}")


def cmd_sample(args: argparse.Namespace) -> None:
    # cheap checks first: a typo should not cost a model load
    if args.model not in BUILTIN and not hub.is_hub_name(args.model):
        fail(str(UnknownModel(args.model)))
    if args.truncation is not None and not (math.isfinite(args.truncation) and 0 <= args.truncation <= 2):
        fail(f"--truncation must be a number from 0 to 2, got {args.truncation}")
    if args.device not in ("auto", "cpu") and not args.device.startswith("cuda"):
        fail(f"--device must be auto, cpu or cuda[:N], got {args.device!r}")
    if not args.prompt.strip():
        fail("--prompt is empty: give a caption such as 'a large red circle in the center'")
    if len(args.prompt) > MAX_PROMPT_CHARS:
        fail(f"--prompt is {len(args.prompt)} characters long; the limit is {MAX_PROMPT_CHARS}")
    if not 1 <= args.n <= MAX_IMAGES:
        fail(f"--n must be from 1 to {MAX_IMAGES}, got {args.n}")
    if args.seed < 0:
        fail(f"--seed must be non-negative, got {args.seed}")
    if args.steps is not None and not 1 <= args.steps <= MAX_STEPS:
        fail(f"--steps must be from 1 to {MAX_STEPS}, got {args.steps}")
    if args.guidance is not None and (not math.isfinite(args.guidance) or args.guidance < 0):
        fail(f"--guidance must be a finite number >= 0, got {args.guidance}")
    out = pathlib.Path(args.out)
    check_output_folder(out)
    try:
        generator = load(args.model, device=hub.default_device() if args.device == "auto" else args.device)
        with tqdm(desc=f"sample {args.model}", unit="step") as bar:

            def progress(done: int, total: int, previews) -> None:
                bar.total = total
                bar.update(done - bar.n)

            extra = {}
            if args.truncation is not None:
                if generator.info.family != "gan":
                    fail(f"--truncation applies to GANs; {args.model} is a {generator.info.family} model")
                extra["truncation"] = args.truncation
            images = generator.generate([args.prompt] * args.n, seed=args.seed, steps=args.steps,
                                        guidance_scale=args.guidance, sampler=args.sampler, on_step=progress, **extra)
    except (GenerationError, CheckpointError) as error:
        fail(str(error))
    for index, image in enumerate(images):
        image.save(out / f"{index:03d}.png")
    print(f"wrote {len(images)} images to {out}")


def cmd_list(args: argparse.Namespace) -> None:
    print(f"{'name':<14}{'family':<8}{'conditioning':<14}{'params':>10}{'GFLOPs/eval':>13}  {'steps':>5}"
          f"{'guidance':>9}  status")
    for name, (_, description) in BUILTIN.items():
        if not is_available(name):
            print(f"{name:<14}{'':<8}{'':<14}{'':>10}{'':>13}  {'':>5}{'':>9}  not trained ({description})")
            continue
        try:
            generator = load(name)
        except CheckpointError as error:
            print(f"{name:<14}  broken checkpoint: {error}")
            continue
        info = generator.info
        flops = generator.flops_per_evaluation() / 1e9 if hasattr(generator, "flops_per_evaluation") else float("nan")
        guidance = f"{info.default_guidance:g}" if info.guidance_applies else "n/a"
        print(f"{name:<14}{info.family:<8}{info.conditioning:<14}{info.parameters / 1e6:>9.2f}M{flops:>13.3f}  "
              f"{info.default_steps:>5}{guidance:>9}  ready: {info.description}")
    for name, (repo, description) in hub.HUB_MODELS.items():
        status = "weights on disk" if is_available(name) else f"not downloaded (in {hub.cache_dir()})"
        print(f"{name:<14}{'hub':<8}{'':<14}{'':>10}{'':>13}  {'':>5}{'':>9}  {status}: {repo}, {description}")
    print("any diffusers pipeline also loads as hub:<repo-id-or-folder>")


def cmd_plan(args: argparse.Namespace) -> None:
    import json

    from models.text.planners import make_planner

    try:
        planner = make_planner(args.planner)
    except (ValueError, OSError) as error:
        fail(str(error).splitlines()[0])
    plan = planner.plan(args.text)
    if args.json:
        print(json.dumps(plan.as_dict(), indent=2))
    elif plan.understood:
        print(plan.caption)
        for note in plan.notes:
            print(f"note: {note}", file=sys.stderr)
    else:
        print(f"outside the Shapes world: {plan.reason}", file=sys.stderr)
    raise SystemExit(0 if plan.understood else 3)


def cmd_train(args: argparse.Namespace) -> None:
    from models.trainables import TRAINABLES
    from models.training import train

    if args.model not in TRAINABLES:
        fail(f"unknown model {args.model!r}; trainable: {', '.join(TRAINABLES)}")
    if args.steps is not None and args.steps <= 0:
        fail("--steps must be positive")
    if args.batch_size is not None and args.batch_size <= 0:
        fail("--batch-size must be positive")
    if args.lr is not None and not 0 < args.lr < 1:
        fail("--lr must be a number between 0 and 1")
    if args.cooldown is not None and args.cooldown < 0:
        fail("--cooldown must be 0 or more")
    options = {}
    if args.arch is not None or args.loss is not None or args.text_losses is not None:
        if args.model != "gan":
            fail("--arch, --loss and --text-losses apply to --model gan only")
        options = {k: v for k, v in (("arch", args.arch), ("loss", args.loss)) if v is not None}
        if args.text_losses is not None:
            options["text_losses"] = args.text_losses == "on"
    if args.preset is not None:
        if args.model != "ddpm":
            fail("--preset applies to --model ddpm only")
        options["preset"] = args.preset
    try:
        component, config, default_out = TRAINABLES[args.model](**options)
    except CheckpointError as error:  # e.g. the frozen text encoder is missing
        fail(str(error))
    except ValueError as error:  # an unknown --arch or --loss
        fail(str(error))
    config.steps = args.steps or config.steps
    config.batch_size = args.batch_size or config.batch_size
    if args.cooldown is not None:
        config.cooldown_steps = args.cooldown
    if args.lr is not None:
        config.lr = args.lr
    out = pathlib.Path(args.out) if args.out else default_out
    check_output_folder(out)
    try:
        manifest = train(component, config, out, init_from=pathlib.Path(args.init_from) if args.init_from else None)
    except CheckpointError as error:
        fail(str(error))
    print(f"saved {out} after {manifest['training']['steps']} steps: {manifest['metrics']}")
