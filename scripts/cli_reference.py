"""Write docs/cli.md, the command-line reference, from the commands' own `--help`, so it cannot drift.

    python scripts/cli_reference.py            # rewrite docs/cli.md
    python scripts/cli_reference.py --check    # exit 1 when docs/cli.md differs from what the parsers say

Each entry point (`python -m models`, `python -m evaluation`, `python -m demo`) is run in this process as
`python -m X` would run it, with `argparse.ArgumentParser.parse_args` intercepted: the first parser asked to
parse is the command's own, whatever function builds it. Its subcommands are read from the parser itself
(every `add_subparsers` choice, nested ones too), so a subcommand added or removed shows up here without an
edit. The help is formatted at a fixed width, so the page does not depend on the terminal it was made in.
tests/test_cli_reference.py regenerates the page in memory and compares.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import runpy
import sys
from typing import Iterator

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as `python scripts/cli_reference.py` from a checkout that is not installed
    sys.path.insert(0, str(ROOT))
PAGE = ROOT / "docs" / "cli.md"
ENTRY_POINTS = ("models", "evaluation", "demo")  # python -m NAME
WIDTH = 100  # columns argparse formats the help to
REGENERATE = "python scripts/cli_reference.py"

HEADER = f"""# Command-line reference

Every command's `--help`, as its parser prints it, generated from the parsers by
`{REGENERATE}`; `tests/test_cli_reference.py` fails when this page and the code
disagree. Do not edit it by hand: change the `help=` text in the code and regenerate. The
[README](../README.md) shows the commands in use; this page lists every option.
"""


class _Captured(Exception):
    def __init__(self, parser: argparse.ArgumentParser) -> None:
        super().__init__(parser.prog)
        self.parser = parser


@contextlib.contextmanager
def _environment(module: str) -> Iterator[None]:
    """sys.argv as `python -m MODULE` sets it, a fixed terminal width, no color; parse_args intercepted."""
    saved_argv, saved_env = sys.argv, {key: os.environ.get(key) for key in ("COLUMNS", "NO_COLOR")}
    saved_parse = argparse.ArgumentParser.parse_known_args

    def capture(self, *args, **kwargs):
        raise _Captured(self)

    sys.argv = [f"python -m {module}"]
    os.environ["COLUMNS"], os.environ["NO_COLOR"] = str(WIDTH + 2), "1"  # argparse uses COLUMNS - 2
    argparse.ArgumentParser.parse_known_args = capture  # parse_args goes through parse_known_args
    try:
        yield
    finally:
        argparse.ArgumentParser.parse_known_args = saved_parse
        sys.argv = saved_argv
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def command_parser(module: str) -> argparse.ArgumentParser:
    """The parser `python -m MODULE` builds, caught as it starts to parse (nothing of the command runs)."""
    with _environment(module):
        try:
            runpy.run_module(module, run_name="__main__", alter_sys=False)  # a package runs its __main__
        except _Captured as caught:
            return caught.parser
    raise RuntimeError(f"python -m {module} finished without parsing its arguments")


def subcommands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parser's subcommand parsers, in the order they were added (aliases once)."""
    found: list[argparse.ArgumentParser] = []
    for action in parser._actions:  # argparse keeps no public list of subparsers
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                if all(child is not seen for seen in found):
                    found.append(child)
    return found


def _help(parser: argparse.ArgumentParser) -> str:
    with _environment("help"):
        if hasattr(parser, "color"):  # Python 3.14 colors help where the terminal allows
            parser.color = False
        text = parser.format_help().rstrip() + "\n"
    return text.replace("\noptional arguments:\n", "\noptions:\n")  # Python 3.10 says "optional arguments"


def _sections(parser: argparse.ArgumentParser, level: int) -> Iterator[str]:
    yield f"{'#' * level} `{parser.prog}`\n\n```text\n{_help(parser)}```\n"
    for child in subcommands(parser):
        yield from _sections(child, min(level + 1, 4))


def render() -> str:
    parts = [HEADER]
    parsers = [command_parser(module) for module in ENTRY_POINTS]
    parts.append("Commands: " + ", ".join(
        f"`{p.prog}`" + (f" ({', '.join(f'`{c.prog.split()[-1]}`' for c in subcommands(p))})" if subcommands(p) else "")
        for p in parsers) + ".\n")
    for parser in parsers:
        parts.extend(_sections(parser, 2))
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--check", action="store_true", help="compare with docs/cli.md instead of writing it")
    options = args.parse_args(argv)
    text = render()
    if options.check:
        if not PAGE.exists() or PAGE.read_text(encoding="utf-8") != text:
            raise SystemExit(f"docs/cli.md is out of date: run `{REGENERATE}`")
        print("docs/cli.md is up to date")
        return
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)} ({text.count(chr(10))} lines)")


if __name__ == "__main__":
    main()
