"""Few steps: accuracy and FID vs sampling steps, per model and sampler, at one guidance scale.

Runs `python -m evaluation run` (every model x sampler x steps x prompt x sample image, written once to
--out; a rerun, or a run after a crash or Ctrl-C, continues where it stopped), whose report gains the
section "Accuracy and FID vs steps" (a plot, a table and one sentence per model and sampler), then prints
that table and those sentences. Each sentence compares the largest step count <= 20 (below the largest run)
with the largest step count run.

    python scripts/few_steps.py                       # ddpm,dit x ddim,dpm++,ddpm x 5,10,20,50,250 steps
    python scripts/few_steps.py --models dit --samplers ddim,dpm++ --steps 5,10 --prompts shapes-single-8
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from models.contract import MAX_STEPS, GenerationError, check_batch_size  # noqa: E402


def _names(text: str) -> list[str]:
    values = list(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))
    if not values:
        raise argparse.ArgumentTypeError("expected at least one name")
    return values


def _steps(text: str) -> list[int]:
    try:
        values = [int(v) for v in _names(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if any(not 1 <= v <= MAX_STEPS for v in values):
        raise argparse.ArgumentTypeError(f"steps must be integers from 1 to {MAX_STEPS}, got {text!r}")
    return sorted(set(values))


def _batch_size(text: str) -> int:
    try:
        return check_batch_size(text)
    except GenerationError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python scripts/few_steps.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Resumable: rerun the same command to continue. The report: OUT/report.md "
                                       "and OUT/report.html (plot: OUT/accuracy_fid_vs_steps.png).")
    p.add_argument("--models", type=_names, default=["ddpm", "dit"], help="comma-separated generators (default ddpm,dit)")
    p.add_argument("--samplers", type=_names, default=["ddim", "dpm++", "ddpm"],
                   help="comma-separated samplers: ddim, dpm++, ddpm (ancestral) (default ddim,dpm++,ddpm)")
    p.add_argument("--steps", type=_steps, default=[5, 10, 20, 50, 250],
                   help="comma-separated sampling steps (default 5,10,20,50,250)")
    p.add_argument("--guidance", type=float, default=3.0, help="classifier-free guidance scale (default 3)")
    p.add_argument("--prompts", default="shapes-quick", help="prompt set, as `evaluation run --prompts` (default "
                                                             "shapes-quick: 40 prompts)")
    p.add_argument("--n", type=int, default=1, help="samples per prompt (default 1)")
    p.add_argument("--out", default="runs/few-steps", help="the run directory, created or continued "
                                                           "(default runs/few-steps)")
    p.add_argument("--device", default="auto", help="auto (default) | cpu | cuda")
    p.add_argument("--batch-size", type=_batch_size, default=None, help="images computed together (default: by device)")
    return p


def options_from(args: argparse.Namespace):
    from evaluation.runs.sweep import RunOptions

    return RunOptions(models=args.models, prompts=args.prompts, out=args.out, guidance=[args.guidance],
                      steps=args.steps, samplers=args.samplers, n=args.n, device=args.device,
                      batch_size=args.batch_size)


def summary(root: pathlib.Path, rows: dict[str, dict]) -> str:
    """The steps table and its sentences, as the report shows them."""
    from evaluation.report import steps_curve
    from evaluation.markdown_tables import markdown_table
    from evaluation.report.plots import shown_model

    records = json.loads((root / "metrics.json").read_text())["records"]
    found = steps_curve.lines(records, rows, shown_model)
    if not found:
        return "only one step count per model and sampler: nothing to compare"
    header, body = steps_curve.table(found, steps_curve.fid_kind(records))
    return "\n".join([markdown_table(header, body), ""] + steps_curve.sentences(found))


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if not 1 <= args.n <= 999:
        raise SystemExit("error: --n must be from 1 to 999 samples per prompt")
    from evaluation.metrics.features import FeatureError
    from evaluation.runs.sweep import run
    from models.checkpoints import CheckpointError
    from models.registry import UnknownModel

    options = options_from(args)
    try:
        result = run(options)
    except KeyboardInterrupt:
        raise SystemExit("interrupted: every finished image is kept; rerun the same command to continue")
    except (FeatureError, CheckpointError, UnknownModel, ValueError, OSError) as error:  # as `evaluation run`
        raise SystemExit(f"error: {str(error).splitlines()[0] if str(error) else type(error).__name__}")
    if result["report"] is None:  # another process of a multi-GPU run: rank 0 reports
        return
    print(f"{result['generated']} images generated, {result['images']} in the run; report: {result['report']} "
          f"(and report.html)\n")
    print(summary(pathlib.Path(args.out), result["rows"]))  # this command's grid (the folder may hold a wider one)


if __name__ == "__main__":
    main()
