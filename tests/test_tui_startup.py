"""The first frame must not wait for torch: importing the app (and the CLI that starts it)
loads neither torch nor numpy; the stage thread imports them after the first paint."""

from __future__ import annotations

import subprocess
import sys


def imported_modules(statement: str) -> set[str]:
    """Every module a fresh interpreter imports to run `statement` (from -X importtime)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        check=True,
    )
    return {
        line.rsplit("|", 1)[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_the_app_module_imports_neither_torch_nor_numpy() -> None:
    modules = imported_modules("import tui_timing.cli, tui_timing.tui.app")
    assert "tui_timing.tui.app" in modules
    heavy = {m for m in modules if m.split(".")[0] in ("torch", "numpy")}
    assert heavy == set()


def test_the_command_line_reaches_the_app_without_torch() -> None:
    modules = imported_modules(
        "from tui_timing.cli import build_invocation; build_invocation({}); "
        "import tui_timing.tui.app"
    )
    assert {m for m in modules if m.split(".")[0] == "torch"} == set()
