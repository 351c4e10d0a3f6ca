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
