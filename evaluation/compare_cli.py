"""python -m evaluation compare RUN_DIR [--a MODEL/SETTING --b MODEL/SETTING]: paired tests between the columns
of a run (evaluation/paired.py), printed as a table and, for every pair, as matrices; report.py shows the same
matrices through `matrices` and `matrix_html`."""
from __future__ import annotations

import argparse
import html
import pathlib
import sys

from evaluation import paired

SIGNIFICANT = "✱"


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _difference(test: paired.PairedTest, sign: float = 1.0) -> str:
    value = sign * test.difference + 0.0  # + 0.0: no "-0.0"
    if test.metric.startswith("accuracy"):
        return f"{100 * value:+.1f} pts".replace("-0.0 ", "+0.0 ")
    return f"{value:+.2f}".replace("-0.00", "+0.00")


def _interval(test: paired.PairedTest) -> str:
    scale, digits = (100, 1) if test.metric.startswith("accuracy") else (1, 2)
    return f"[{scale * test.low:+.{digits}f}, {scale * test.high:+.{digits}f}]"


def _needed(test: paired.PairedTest) -> str:
    return "no difference seen" if test.needed_prompts is None else f"~{test.needed_prompts} prompts"


def test_table(tests: list[paired.PairedTest]) -> tuple[list[str], list[list[str]]]:
    header = ["A", "B", "metric", "pairs", "A mean", "B mean", "A − B", "95 % interval", "p", "p (Holm)", "",
              "to separate"]
    body = []
    for t in tests:
        scale = 100 if t.metric.startswith("accuracy") else 1
        body.append([t.a, t.b, t.metric, str(t.pairs), f"{scale * t.mean_a:.{1 if scale == 100 else 2}f}",
                     f"{scale * t.mean_b:.{1 if scale == 100 else 2}f}", _difference(t), _interval(t),
                     f"{t.p:.3g}", f"{t.p_holm:.3g}", SIGNIFICANT if t.significant else "", _needed(t)])
    return header, body


def matrix_metrics(tests: list[paired.PairedTest]) -> list[str]:
    """The metrics a matrix is drawn for: accuracy over all tasks (or the one task) and the CLIP score."""
    names = list(dict.fromkeys(t.metric for t in tests))
    accuracy = [m for m in names if m == f"accuracy: {paired.ALL_TASKS}"] or [m for m in names if m.startswith("accuracy")][:1]
    return accuracy + [m for m in names if m == "CLIP score"]


def matrix(tests: list[paired.PairedTest], metric: str) -> tuple[list[str], list[list[tuple[str, bool]]]]:
    """Rows A, columns B, each cell (A − B with the prompts needed, significant after Holm)."""
    labels = list(dict.fromkeys([t.a for t in tests] + [t.b for t in tests]))
    found = {(t.a, t.b): (t, 1.0) for t in tests if t.metric == metric}
    found.update({(t.b, t.a): (t, -1.0) for t in tests if t.metric == metric})
    body = []
    for a in labels:
        cells = [(a, False)]
        for b in labels:
            if (a, b) not in found:
                cells.append(("–", False))
                continue
            test, sign = found[(a, b)]
            mark = f" {SIGNIFICANT}" if test.significant else ""
            cells.append((f"{_difference(test, sign)}{mark} ({_needed(test)})", test.significant))
        body.append(cells)
    return [f"{metric}: row − column"] + labels, body


def matrices(tests: list[paired.PairedTest]) -> list[tuple[str, list[str], list[list[tuple[str, bool]]]]]:
    return [(metric, *matrix(tests, metric)) for metric in matrix_metrics(tests)]


def matrix_markdown(header: list[str], body: list[list[tuple[str, bool]]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(f"**{text}**" if bold else text for text, bold in cells) + " |" for cells in body]
    return lines


def matrix_html(header: list[str], body: list[list[tuple[str, bool]]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    rows = "".join("<tr>" + "".join(f"<td class='{'sig' if bold else ''}'>{html.escape(text)}</td>" for text, bold in cells)
                   + "</tr>" for cells in body)
    return f"<table class='matrix'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def explanation() -> str:
    return (f"Paired on identical (prompt, sample, seed) rows. Accuracy: McNemar's exact test; CLIP score: paired "
            f"bootstrap; intervals: 95 % bootstrap over prompts; p-values Holm-corrected across the pairs of each "
            f"metric; {SIGNIFICANT}: significant at {paired.ALPHA:g} after correction; prompts: how many prompts (of the "
            f"task, at the run's samples per prompt) one test at {paired.ALPHA:g} (before Holm) needs for power "
            f"{paired.POWER:g} at the observed difference.")


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
