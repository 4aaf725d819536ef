"""python -m evaluation compare RUN_DIR [--a MODEL/SETTING --b MODEL/SETTING]: paired tests between the columns
of a run (evaluation/report/paired.py), printed as a table and, for every pair, as matrices
(evaluation/report/paired_tables.py)."""
from __future__ import annotations

import argparse
import pathlib
import sys

from evaluation.report import paired
from evaluation.report.paired_tables import explanation, matrices, test_table


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _text_table(header: list[str], body: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *body)]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip() for line in [header, *body])


def _load_rows(run_dir: str) -> dict[str, dict]:
    from evaluation.store import RunStore

    root = pathlib.Path(run_dir)
    if not (root / "run.json").is_file():
        fail(f"{root} is not a run directory (no run.json): make one with `python -m evaluation run`")
    return RunStore(root).rows()


def cmd_compare(args: argparse.Namespace) -> None:
    rows = _load_rows(args.run_dir)
    known = list(paired.columns(rows))
    if (args.a is None) != (args.b is None):
        fail("give both --a and --b, or neither (every pair of the run)")
    for name in (args.a, args.b):
        if name is not None and name not in known:
            fail(f"unknown MODEL/SETTING {name!r}; the run holds: {', '.join(known) or 'nothing'}")
    if args.a is not None and args.a == args.b:
        fail("--a and --b are the same column")
    if args.a is not None and paired.shared_rows(rows, args.a, args.b) == 0:
        fail(f"{args.a} and {args.b} share no (prompt, sample, seed) rows: they were run on other prompts or seeds")
    if args.a is None and len(known) < 2:
        fail(f"the run holds {len(known)} model/setting column(s) ({', '.join(known) or 'none'}); need two to compare")
    tests = paired.compare(rows, [(args.a, args.b)] if args.a is not None else None)
    if not tests:
        fail("no pair of columns shares a (prompt, sample, seed) row")
    print(explanation())
    print()
    print(_text_table(*test_table(tests)))
    if args.a is None:
        for metric, header, body in matrices(tests):
            print(f"\n{metric}, row − column:")
            print(_text_table(header, [[text for text, _ in cells] for cells in body]))


def add_parser(sub) -> None:
    p = sub.add_parser("compare", help="paired significance tests between the models x settings of a run",
                       description="Every model x setting of a run saw the same prompts with the same seeds: compare "
                                   "them pair by pair. Accuracy per task with McNemar's exact test, CLIP score with a "
                                   "paired bootstrap, 95 %% intervals, Holm-corrected p-values, and how many prompts "
                                   "would separate the two at the observed difference. Without --a/--b: every pair, "
                                   "with a matrix per metric.")
    p.add_argument("run_dir", help="a run directory written by `python -m evaluation run`")
    p.add_argument("--a", metavar="MODEL/SETTING", default=None, help="one column, e.g. ddpm/ddim-50steps-g3")
    p.add_argument("--b", metavar="MODEL/SETTING", default=None, help="the other column")
    p.set_defaults(run=cmd_compare)
