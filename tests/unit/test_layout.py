"""The package's folders show its data flow: a module imports only from its own folder and the folders above it
(weights and model -> formats -> inference -> pipeline -> commands), nothing imports the commands, no two modules
import each other, and the top level holds few modules."""
from __future__ import annotations

import ast
from pathlib import Path

from posenet_port.cli.console import COMMANDS

PACKAGE = Path(__file__).resolve().parents[2] / "posenet_port"
# Each stage may import the stages before it, never one after it.
STAGES = ("errors", "_util", "model", "formats", "inference", "pipeline", "training", "oracle", "benchmark", "web",
          "cli")
COMMAND_MODULES = tuple(COMMANDS)  # `python -m posenet_port.<command>`


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports(path: Path, known: set[str]) -> set[str]:
    """Every posenet_port module this file imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("posenet_port"):
            found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("posenet_port")}
    return found & known


def stage(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return -1  # the package's __init__: lazy names only
    if parts[1] in COMMAND_MODULES:
        return len(STAGES)  # above the commands' folder: they only run it
    return STAGES.index(parts[1])


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports(path, set(found)) - {name} for name, path in found.items()}


def test_every_module_imports_only_from_its_stage_and_the_stages_before():
    wrong = sorted((module, target) for module, targets in graph().items() for target in targets
                   if stage(module) >= 0 and stage(target) > stage(module))
    assert not wrong, f"imports against the data flow: {wrong}"


def test_the_library_never_imports_the_commands():
    wrong = sorted((module, target) for module, targets in graph().items() for target in targets
                   if target.startswith("posenet_port.cli") and not module.startswith("posenet_port.cli")
                   and module.split(".")[-1] not in COMMAND_MODULES)
    assert not wrong, f"the library imports the commands' folder: {wrong}"


def test_no_import_circles():
    edges = graph()
    circles = []

    def visit(module: str, path: list[str]) -> None:
        for target in sorted(edges.get(module, ())):
            if target in path:
                circles.append(path[path.index(target):] + [target])
            elif target not in done:
                visit(target, path + [target])
        done.add(module)

    done: set[str] = set()
    for module in sorted(edges):
        if module not in done:
            visit(module, [module])
    assert not circles, f"modules that import each other: {circles[:5]}"


def test_the_top_level_holds_at_most_eight_modules():
    top = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    print(f"top-level modules: {', '.join(top)}")
    assert len(top) <= 8
