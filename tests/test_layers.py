"""The package's parts import one way: artifact formats and safe I/O at the bottom, data
and model above them, the stages above those, then the reports, the TUI and the CLI.

Read from the source (ast), so that function-level and TYPE_CHECKING imports count too: a
lazy import still ties two layers together.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tui_timing"

#: Lowest first: a part may import only the parts before it (and itself).
LAYERS = (
    "errors",
    "resources",
    "findings",
    "numerics",
    "plugins",
    "artifact_kinds",
    "project",
    "config",
    "artifacts",
    "data",
    "model",
    "hook",
    "lightning",
    "stages",
    "report",
    "tui",
    "cli",
    "__main__",
    "__init__",
)


def part_of(module: str) -> str:
    """`tui_timing.stages.cache` -> `stages`; the package itself -> `__init__`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    names = list(relative.parts)
    if names[-1] == "__init__":
        names.pop()
    return ".".join(names)


def imports() -> list[tuple[str, str, int]]:
    """(importing module, imported module, line) for every import of the package's own
    modules, at any depth of the source (functions and TYPE_CHECKING blocks included)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = module_name(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module]
            else:
                assert not isinstance(node, ast.ImportFrom) or node.level == 0, (
                    f"{here}: use absolute imports"
                )
                continue
            found += [(here, t, node.lineno) for t in targets if t.split(".")[0] == "tui_timing"]
    return found


def runtime_imports() -> dict[str, set[str]]:
    """Each module's imports of the package's own modules that run (at any depth of the
    source, lazy ones included), TYPE_CHECKING blocks aside: those never run."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for here, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {
            id(sub)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for sub in ast.walk(node)
        }
        targets: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                # `from package import module` imports the module too
                targets |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
        graph[here] = {t for t in targets if t in modules and t != here}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other, round a circle (Tarjan's strongly
    connected components of more than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(here: str) -> None:
        index[here] = low[here] = len(index)
        stack.append(here)
        for there in sorted(graph[here]):
            if there not in index:
                visit(there)
                low[here] = min(low[here], low[there])
            elif there in stack:
                low[here] = min(low[here], index[there])
        if low[here] == index[here]:
            group = []
            while (top := stack.pop()) != here:
                group.append(top)
            if group:
                found.append(sorted([here, *group]))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(found)


def test_no_import_circles() -> None:
    """A module's imports never lead back to it (within a folder or across): each folder
    reads bottom-up, and a module can be imported on its own."""
    assert circles(runtime_imports()) == []


def test_a_circle_is_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]


def test_every_part_has_a_layer() -> None:
    parts = {part_of(module_name(p)) for p in PACKAGE.rglob("*.py")}
    assert parts <= set(LAYERS), parts - set(LAYERS)


def test_imports_point_down_the_layers() -> None:
    upward = [
        f"{here}:{line} imports {target}"
        for here, target, line in imports()
        if LAYERS.index(part_of(target)) > LAYERS.index(part_of(here))
    ]
    assert upward == []


def test_only_the_tui_imports_textual() -> None:
    textual = []
    for path in PACKAGE.rglob("*.py"):
        if "tui" in path.relative_to(PACKAGE).parts[:-1]:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            textual += [f"{path.name}:{node.lineno}" for n in names if n.split(".")[0] == "textual"]
    assert textual == []
