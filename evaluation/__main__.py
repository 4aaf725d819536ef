"""python -m evaluation run | report | fid | stats | perf | accuracy | score | export-prompts | ...: sweeps,
reports, FID, speed, quick accuracy checks, and images made elsewhere (every subcommand: --help).

Every subcommand lives in its sub-package and is registered one way, by an add function of that package
(`add_*(subparsers)`); this module only lists them, in the order `--help` shows them."""
from __future__ import annotations

import argparse

from evaluation.arena import cli as arena_cli
from evaluation.metrics import cli as metrics_cli, cmmd, judge_audit
from evaluation.perf import cli as perf_cli
from evaluation.report import cli as report_cli
from evaluation.runs import cli as runs_cli, score_images

SUBCOMMANDS = (runs_cli.add_run, runs_cli.add_report, metrics_cli.add_fid_and_stats, perf_cli.add_perf,
               runs_cli.add_accuracy, score_images.add_parser, arena_cli.add_parser, report_cli.add_parser,
               cmmd.add_parser, judge_audit.add_parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m evaluation", description="GenBench evaluation.")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
