"""The docs hold what the code does: the command reference is what the parsers say, every flag a page names
exists, every figure a page quotes is in the generated file the page declares, and the README is a user's guide."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Written by commands, never by hand: pages may quote them (CONTRIBUTING.md says which command writes which).
GENERATED = ("BENCHMARKS.md", "benchmarks/avx2/BENCHMARKS.md", "benchmarks/avx512-amx/BENCHMARKS.md", "FUZZING.md", "docs/cli.md", "docs/compat.md",
             "research/gptq_draws.md", "research/int8_finetune.md", "research/int8_finetune_long.md", "research/int8_float_layers.md", "research/int8_int16x8.md", "research/int8_layer_errors.md",
             "research/int8_mixed_activations.md", "research/int8_saturation.md", "research/photo_decoders.md",
             "research/reidentification.md", "research/trackers.md")
PAGES = sorted({"README.md", "CONTRIBUTING.md", *(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md"))}
               - set(GENERATED))
# A measured figure: a number with a unit of time, size, speed, distance or share.
FIGURE = re.compile(r"(?<![\w.-])\d+(?:[.,]\d+)*(?:\s?(?:ms|fps|MB|KB|GB|GFLOP/s|GOP/s|px|%)|x)(?![\w/])")
DECLARED = re.compile(r"^<!-- figures: (.*?) -->$", re.M)
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*[a-z0-9](?![\w])")
# Flags of the tools beside the commands, which docs/cli.md does not cover.
TOOL_FLAGS = {"--check", "--cases", "--out"}
SESSION_WORDS = re.compile(r"\b(this session|previous run|the [a-z-]+ issue|issue \d+|last session)\b", re.I)


def load_docs_tool():
    spec = importlib.util.spec_from_file_location("docs_tool", REPO / "tools" / "docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prose(text: str) -> str:
    """A page without its fenced code blocks (example output is not a claim)."""
    return re.sub(r"```.*?```", "", text, flags=re.S)


def figures(text: str) -> set[str]:
    return {re.sub(r"\s", "", match) for match in FIGURE.findall(text)}


def test_the_command_reference_is_what_the_parsers_say():
    docs = load_docs_tool()
    assert (REPO / "docs" / "cli.md").read_text() == docs.cli_reference(), "docs/cli.md is stale: run python tools/docs.py"


def test_every_flag_of_every_command_is_documented_and_every_documented_flag_exists():
    docs = load_docs_tool()
    flags = set().union(*(docs.documented_flags(docs.command_parser(name)) for name in docs.COMMANDS))
    reference = (REPO / "docs" / "cli.md").read_text()
    assert not {f for f in flags if f.startswith("--") and f"`{f}`" not in reference}
    unknown = {(page, flag) for page in PAGES + ["docs/cli.md"]
               for flag in FLAG.findall(prose((REPO / page).read_text())) if flag not in flags | TOOL_FLAGS}
    assert not unknown, f"pages name flags no command has: {sorted(unknown)}"


@pytest.mark.parametrize("page", PAGES)
def test_every_figure_a_page_quotes_is_in_the_generated_file_it_declares(page):
    text = (REPO / page).read_text()
    sources = [name for match in DECLARED.findall(text) for name in match.split()]
    assert set(sources) <= set(GENERATED), f"{page} declares figures from files no command writes: {sources}"
    held = set().union(*(figures((REPO / source).read_text()) for source in sources)) if sources else set()
    quoted = figures(prose(text))
    print(f"{page}: {len(quoted)} figure(s), from {', '.join(sources) or 'no source'}")
    assert quoted <= held, f"{page} quotes figures its sources ({sources}) do not hold: {sorted(quoted - held)}"


def test_the_readme_is_a_users_guide():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= 200 and lines[0] == "# posenet_port"
    install = next(i for i, line in enumerate(lines) if line.startswith("## Install"))
    assert install < 40 and any("pip install" in line for line in lines[install:40])
    for page in PAGES:
        found = SESSION_WORDS.findall((REPO / page).read_text())
        assert not found, f"{page} speaks of who found what when: {found}"


def test_every_page_and_picture_a_page_links_to_exists():
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", (REPO / page).read_text()):
            assert (REPO / page).parent.joinpath(target).exists(), f"{page} links to {target}, which does not exist"
