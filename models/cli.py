"""`python -m models list | sample | train | plan`: thin shells over the registry, training loop and planner."""
from __future__ import annotations

import argparse
import math
import pathlib
import shlex
import sys

from tqdm import tqdm

from models.acceleration import autocast, compile_generator
from models.checkpoints import CHECKPOINT_ROOT, CheckpointError, read_manifest
from models.contract import GenerationError, GeneratorInfo, check_batch_size, check_request, check_truncation
from models.devices import resolve_device
from models.files import atomic_path
from models import hub
from models.registry import BUILTIN, UnknownModel, is_available, load, world_version
from models.safe_files import check_writable

MAX_IMAGES = 1000
# what sample checks a request against before any model loads: the contract's limits, no model's defaults
ANY_MODEL = GeneratorInfo(name="any", family="any", conditioning="text", resolution=32, parameters=0,
                          default_steps=1, default_guidance=0.0, guidance_applies=True)


def fail(message: str, code: int = 2) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


def check_finite(args: argparse.Namespace) -> None:
    """Every number given as a flag is finite: argparse's float() takes 'nan' and 'inf', which train to NaN."""
    for name, value in vars(args).items():
        if isinstance(value, float) and not math.isfinite(value):
            fail(f"--{name.replace('_', '-')} must be a finite number, got {value}")


def check_output_folder(path: pathlib.Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        check_writable(path)  # a fresh name of its own: a link planted in the folder is never written through
    except OSError as error:
        fail(f"cannot write to output folder {path}: {error.strerror or error}")


def check_sample_args(args: argparse.Namespace) -> str:
    """The checks that cost no model load, with the contract's request limits; returns the device."""
    check_finite(args)
    if args.temperature is not None and not args.temperature > 0:
        fail(f"--temperature must be above 0, got {args.temperature:g}")
    if args.top_k is not None and args.top_k < 0:
        fail(f"--top-k must be 0 (all codes) or more, got {args.top_k}")
    if args.model not in BUILTIN and not hub.is_hub_name(args.model):
        fail(str(UnknownModel(args.model)))
    if args.handoff is not None and not 0 <= args.handoff <= 1:
        fail(f"--handoff must be from 0 (the draft as drawn) to 1 (the draft ignored), got {args.handoff:g}")
    if args.truncation is not None:
        try:
            check_truncation(args.truncation)
        except GenerationError as error:
            fail(f"--{error}")
    try:
        device = resolve_device(args.device)
    except ValueError as error:
        fail(f"--device: {error}")
    if not 1 <= args.n <= MAX_IMAGES:
        fail(f"--n must be from 1 to {MAX_IMAGES}, got {args.n}")
    try:  # prompt, seed, steps and guidance against the limits every entry point shares (the model's defaults
        # and samplers are checked again by generate() once it is loaded)
        check_request(ANY_MODEL, [args.prompt], args.seed, args.steps, args.guidance, None)
        args.batch_size = None if args.batch_size is None else check_batch_size(args.batch_size)
    except GenerationError as error:  # its messages start with the parameter's name, which is the flag's
        fail(f"--{error}")
    return device


def sampling_options(args: argparse.Namespace, generator) -> dict:
    """The family-specific flags as generate() keywords, each refused in one line for a family it does not fit
    (before the progress bar opens, so the error is the only line on stderr)."""
    family, extra = generator.info.family, {}
    if args.truncation is not None:
        if family != "gan":
            fail(f"--truncation applies to GANs; {args.model} is a {family} model")
        extra["truncation"] = args.truncation
    sampling = {k: v for k, v in (("temperature", args.temperature), ("top_k", args.top_k)) if v is not None}
    if sampling and family != "ar":
        fail(f"--temperature and --top-k apply to autoregressive models (ar); {args.model} is a {family} model")
    extra.update(sampling)
    if args.handoff is not None:
        if family != "hybrid":
            fail(f"--handoff applies to hybrid models (ar+dit); {args.model} is a {family} model")
        extra["handoff"] = args.handoff
    if args.layout is not None:
        if not getattr(generator, "layout_aware", False):
            fail(f"--layout applies to layout-aware models (dit-layout, gan-layout); {args.model} reads no layout")
        extra["layout"] = args.layout
    return extra


def cmd_sample(args: argparse.Namespace) -> None:
    device = check_sample_args(args)  # cheap checks first: a typo should not cost a model load
    out = pathlib.Path(args.out)
    check_output_folder(out)
    try:
        generator = load(args.model, device=device)
        extra = sampling_options(args, generator)
        if args.compile:
            compile_generator(generator)
        with tqdm(desc=f"sample {args.model}", unit="step") as bar:

            def progress(done: int, total: int, previews) -> None:
                bar.total = total
                bar.update(done - bar.n)

            with autocast(device, args.precision):
                images = generator.generate([args.prompt] * args.n, seed=args.seed, steps=args.steps,
                                            guidance_scale=args.guidance, sampler=args.sampler, on_step=progress,
                                            batch_size=args.batch_size, **extra)
    except (GenerationError, CheckpointError, ValueError) as error:
        fail(str(error))
    for index, image in enumerate(images):
        with atomic_path(out / f"{index:03d}.png") as temporary:  # replaces a link at the name, never follows it
            image.save(temporary, format="PNG")
    print(f"wrote {len(images)} images to {out}")


def cmd_list(args: argparse.Namespace) -> None:
    print(f"{'name':<14}{'family':<11}{'world':<6}{'conditioning':<14}{'params':>10}{'GFLOPs/eval':>13}  {'steps':>5}"
          f"{'guidance':>9}  status")
    for name, (_, description) in BUILTIN.items():
        if not is_available(name):
            print(f"{name:<14}{'':<11}{'':<6}{'':<14}{'':>10}{'':>13}  {'':>5}{'':>9}  not trained ({description})")
            continue
        try:
            generator = load(name)
        except CheckpointError as error:
            print(f"{name:<14}  broken checkpoint: {error}")
            continue
        info = generator.info
        flops = generator.flops_per_evaluation() / 1e9 if hasattr(generator, "flops_per_evaluation") else float("nan")
        guidance = f"{info.default_guidance:g}" if info.guidance_applies else "n/a"
        steps = info.default_steps if info.steps_apply else "n/a"
        world = f"v{world_version(name)}"  # the world it was trained on
        print(f"{name:<14}{info.family:<11}{world:<6}{info.conditioning:<14}{info.parameters / 1e6:>9.2f}M{flops:>13.3f}  "
              f"{steps:>5}{guidance:>9}  ready: {info.description}")
    for name, (repo, description) in hub.HUB_MODELS.items():
        status = "weights on disk" if is_available(name) else f"not downloaded (in {hub.cache_dir()})"
        print(f"{name:<14}{'hub':<11}{'':<6}{'':<14}{'':>10}{'':>13}  {'':>5}{'':>9}  {status}: {repo}, {description}")
    print("any diffusers pipeline also loads as hub:<repo-id-or-folder>")


def cmd_plan(args: argparse.Namespace) -> None:
    import json

    from models.text.planners import make_planner

    try:
        planner = make_planner(args.planner)
    except (ValueError, OSError) as error:
        fail(str(error).splitlines()[0])
    if args.seed < 0 or args.index < 0:
        fail("--seed and --index must be non-negative")
    plan = planner.plan(args.text)
    if args.json:
        print(json.dumps(plan.as_dict(seed=args.seed, index=args.index), indent=2))
    elif plan.understood:
        print(plan.caption)
        for note in plan.notes:
            print(f"note: {note}", file=sys.stderr)
    else:
        print(f"outside the Shapes world: {plan.reason}", file=sys.stderr)
    raise SystemExit(0 if plan.understood else 3)


FAMILY_FLAGS = {"preset": "--preset"}  # family option -> its flag
PRESET_MODELS = ("ddpm", "ldm", "dit", "flow", "dit-t5", "gan", "gan-layout")  # the trainables with named recipes


def family_options(args: argparse.Namespace) -> dict:
    """The family options given on the command line (None: not given), checked against --model."""
    given = {"preset": args.preset}
    if args.model not in PRESET_MODELS and given["preset"] is not None:
        fail(f"--preset applies to --model {', '.join(PRESET_MODELS)} only")
    return given


def resolve_training(args: argparse.Namespace):
    """What `train` runs, without building or training anything: (trainable, options, config, out folder).
    With no flag but --model NAME, options and config are the recipe of the shipped NAME."""
    from models.trainables import TRAINABLES

    if args.model not in TRAINABLES:
        fail(f"unknown model {args.model!r}; trainable: {', '.join(TRAINABLES)}")
    check_finite(args)
    if args.steps is not None and args.steps <= 0:
        fail("--steps must be positive")
    if args.batch_size is not None and args.batch_size <= 0:
        fail("--batch-size must be positive")
    if args.lr is not None and not 0 < args.lr < 1:
        fail("--lr must be a number between 0 and 1")
    if args.cooldown is not None and args.cooldown < 0:
        fail("--cooldown must be 0 or more")
    trainable = TRAINABLES[args.model]
    try:
        options = trainable.options(**family_options(args))
        config = trainable.config(**options)
    except ValueError as error:  # an unknown --preset
        fail(str(error))
    config.steps = args.steps or config.steps
    config.batch_size = args.batch_size or config.batch_size
    if args.cooldown is not None:
        config.cooldown_steps = args.cooldown
    if args.lr is not None:
        config.lr = args.lr
    return trainable, options, config, pathlib.Path(args.out) if args.out else trainable.out


def recorded_command(argv: list[str], args: argparse.Namespace, options: dict) -> str:
    """The command as typed, plus the family options it left to their defaults: the manifest's command
    keeps its meaning when a default changes."""
    given = family_options(args)
    words = ["python", "-m", "models", *argv]
    for key, value in options.items():
        if given[key] is None:
            words += [FAMILY_FLAGS[key], ("on" if value else "off") if isinstance(value, bool) else str(value)]
    return " ".join(shlex.quote(word) for word in words)


def cmd_train(args: argparse.Namespace) -> None:
    from models.training import train

    trainable, options, config, out = resolve_training(args)
    check_output_folder(out)
    try:
        component = trainable.component(**options)
    except (CheckpointError, ValueError) as error:  # e.g. the frozen text encoder is missing
        fail(str(error))
    init_from = pathlib.Path(args.init_from) if args.init_from else trainable.init_from
    try:
        manifest = train(component, config, out, command=recorded_command(sys.argv[1:], args, options),
                         init_from=init_from)
    except CheckpointError as error:
        fail(str(error))
    print(f"saved {out} after {manifest['training']['steps']} steps: {manifest['metrics']}")
