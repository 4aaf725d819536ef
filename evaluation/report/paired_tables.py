"""The paired tests of a run (evaluation/report/paired.py) as tables: the full table, one matrix per metric
(Markdown and HTML), and the sentence that explains them; `python -m evaluation compare` prints them and the run
report shows the matrices."""
from __future__ import annotations

import html

from evaluation.report import paired

SIGNIFICANT = "✱"


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
