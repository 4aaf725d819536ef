"""Markdown tables: the one writer of them, for the run report, the perf tables, the judge audit and the scripts."""
from __future__ import annotations


def markdown_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def markdown_table(header: list[str], body: list[list[str]]) -> str:
    """A GitHub markdown table: the header, its |---| rule, one line per row (the one writer of them)."""
    return "\n".join([markdown_row(header), "|" + "---|" * len(header)] + [markdown_row(row) for row in body])
