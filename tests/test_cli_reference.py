"""docs/cli.md is every command's --help as the code prints it (scripts/cli_reference.py writes it)."""
from __future__ import annotations

import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("cli_reference", ROOT / "scripts" / "cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cli_reference_is_what_the_parsers_print():
    script = _script()
    expected = script.render()
    written = script.PAGE.read_text(encoding="utf-8") if script.PAGE.exists() else ""
    assert written == expected, f"docs/cli.md is out of date with the parsers' --help: run `{script.REGENERATE}`"


def test_every_subcommand_is_in_the_reference():
    script = _script()
    page = script.render()
    for module in script.ENTRY_POINTS:
        parser = script.command_parser(module)
        assert parser.prog == f"python -m {module}"
        for child in script.subcommands(parser):
            assert f"## `{child.prog}`" in page, child.prog
