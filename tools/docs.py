"""Write docs/cli.md, the command reference, from the commands' own parsers, the format registry's recipes and the
gate's floors. `tests/unit/test_docs.py` fails when the committed page differs from what this writes.

    python tools/docs.py            # rewrite docs/cli.md
    python tools/docs.py --check    # exit 1 if docs/cli.md is out of date
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from posenet_port.cli.console import COMMANDS  # noqa: E402
from posenet_port.formats.registry import export_formats  # noqa: E402
from posenet_port.pipeline.gate import floors_table  # noqa: E402

CLI_DOC = REPO / "docs" / "cli.md"
HEADER = """# Command reference

Written by `python tools/docs.py` from the commands' own parsers; `tests/unit/test_docs.py` fails when it is out
of date. Each command runs as `python -m posenet_port.<command>` in a checkout and as `posenet-<command>` after
`pip install .` (`list_nodes` also as `python tools/list_nodes.py`). Every command takes `--help`.
"""


def command_parser(name: str) -> argparse.ArgumentParser:
    return importlib.import_module(f"posenet_port.cli.{name}").build_parser()


def documented_flags(parser: argparse.ArgumentParser) -> set[str]:
    """The options a user may type (internal ones, hidden from --help, are left out)."""
    return {option for action in parser._actions if action.help != argparse.SUPPRESS  # noqa: SLF001
            for option in action.option_strings}


def flag_rows(parser: argparse.ArgumentParser) -> list[str]:
    rows = ["| argument | value | what |", "|---|---|---|"]
    for action in parser._actions:  # noqa: SLF001 - argparse offers no public listing of its arguments
        if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:  # noqa: SLF001
            continue
        names = ", ".join(f"`{option}`" for option in action.option_strings) or f"`{action.dest}`"
        value = "" if action.nargs == 0 else _value(action)
        what = (action.help or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| {names} | {value} | {what} |")
    return rows


def _value(action: argparse.Action) -> str:
    if action.choices is not None:
        return " \\| ".join(f"`{choice}`" for choice in action.choices)
    metavar = action.metavar or (action.dest.upper() if action.option_strings else action.dest)
    return f"`{metavar}`" + (" ..." if action.nargs in ("*", "+") else "")


def recipe_rows() -> list[str]:
    rows = ["| format | recipe | class | what |", "|---|---|---|---|"]
    for fmt in export_formats().values():
        rows += [f"| {fmt.name} | `{r.name}` | {r.weight_class} | {r.description} |" for r in fmt.recipes.values()]
    return rows


def command_section(name: str) -> list[str]:
    parser = command_parser(name)
    lines = [f"## {name}", "", f"`{parser.prog}`: {parser.description}", ""]
    lines += flag_rows(parser)
    if name == "rebuild":
        lines += ["", "### Recipes", ""] + recipe_rows()
        lines += ["", "### Floors", "", "What each class of model must keep on the validation photos "
                  "([quantization.md](quantization.md)).", ""] + floors_table()
    return lines + [""]


def cli_reference() -> str:
    lines = [HEADER]
    for name in COMMANDS:
        lines += command_section(name)
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/cli.md is out of date, write nothing")
    args = parser.parse_args()
    text = cli_reference()
    if args.check:
        current = CLI_DOC.read_text() if CLI_DOC.exists() else ""
        print("docs/cli.md is up to date" if current == text else "docs/cli.md is out of date: run python tools/docs.py")
        return 0 if current == text else 1
    CLI_DOC.write_text(text)
    print(f"wrote {CLI_DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
