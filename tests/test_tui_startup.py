"""The first frame must not wait for torch: importing the app (and the CLI that starts it)
loads neither torch nor numpy; the stage thread imports them after the first paint. A real
launch in a terminal draws its first frame before numpy or the charts' plotext are
imported (handed to Textual's writer thread before the UI thread goes on to them; how soon
that thread writes it is timed by the benchmarks), with the garbage collector held off and
the switch interval shortened until then."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pytest

from tui_timing.resources import sample_data_dir
from tui_timing.tui import startup

WRAPPER = Path(__file__).resolve().parent.parent / "benchmarks" / "floors" / "cpu_until.py"
SAMPLE_CACHE = sample_data_dir() / "datasets" / "sample" / "train_timing.pt"


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


#: Modules (and packages) the first frame has no use for: each is imported when first
#: needed, after it (the dialogs and the export by their keys).
NOT_BEFORE_THE_FIRST_FRAME = (
    "torch",
    "numpy",
    "plotext",
    "tui_timing.tui.screens",
    "tui_timing.tui.export",
    "tui_timing.tui.panes.stage_pane",  # the first pane is mounted right after the frame
    "tui_timing.tui.describe",  # the header's description, once the artifacts are found
    "tui_timing.report.compare",  # compare mode's
    "tui_timing.report.compare_plots",
    "tui_timing.report.compare_render",
    "tui_timing.report.markdown",
)


def first_frame(tmp_path: Path, *args: str) -> dict[str, Any]:
    """Launch the real command line in a terminal (a pty, 120x40) under the benchmark's
    wrapper (benchmarks/floors/cpu_until.py), and what it recorded as the UI thread handed
    the first frame that shows the stage list to Textual's writer thread: the modules
    imported by then and the collector's state. (When the writer thread writes it depends
    on when it gets a core: on a busy machine the UI thread may be well past it by then.)"""
    out = tmp_path / "first_frame.json"
    main, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "CPU_UNTIL_HANDED": "1",  # as the UI thread hands the frame over: the same when busy
    }
    proc = subprocess.Popen(
        [sys.executable, str(WRAPPER), str(out), "1 cache", "--", "timing-tui", *args],
        stdin=follower, stdout=follower, stderr=follower, cwd=tmp_path, env=env,
        start_new_session=True,
    )  # fmt: skip
    os.close(follower)
    screen = bytearray()
    try:
        deadline = time.monotonic() + 180  # a guard against a hang, not a timing
        while not out.exists() and proc.poll() is None and time.monotonic() < deadline:
            if select.select([main], [], [], 0.1)[0]:
                with contextlib.suppress(OSError):
                    screen += os.read(main, 1 << 16)  # drained, so the app never blocks
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        os.close(main)
    assert out.exists(), f"no first frame; the terminal got:\n{screen[-3000:]!r}"
    figures: dict[str, Any] = json.loads(out.read_text())
    return figures


@pytest.mark.parametrize("flags", [(), ("--no-cache",)], ids=["cold", "no-cache"])
def test_the_first_frame_comes_before_the_heavy_modules_with_the_collector_held(
    tmp_path: Path, flags: tuple[str, ...]
) -> None:
    figures = first_frame(tmp_path, "--cache", str(SAMPLE_CACHE), *flags)
    modules = set(figures["modules"])
    assert "tui_timing.tui.app" in modules
    early = {
        m
        for m in modules
        for name in NOT_BEFORE_THE_FIRST_FRAME
        if (m + ".").startswith(name + ".")
    }
    assert early == set()
    # held off from the command line's TUI branch until the frame (tui/startup.py)
    assert figures["markers"]["1 cache"]["gc_enabled"] is False


#: The app started as the command line starts it: the collector held off first, and the
#: switch interval shortened.
HELD_UNTIL_DRAWN = """
import asyncio, gc, json, sys
from pathlib import Path
from tui_timing.config import ArtifactPaths, Invocation, Settings
from tui_timing.tui import startup

gc.disable()
startup.release()  # not held by it: left as the caller set it
left_off = not gc.isenabled()
gc.enable()
interval = sys.getswitchinterval()
startup.hold()
from tui_timing.tui.app import TimingApp

invocation = Invocation(ArtifactPaths(cache=Path(sys.argv[1])), Settings(), None, None)

async def run():
    app = TimingApp(invocation)
    async with app.run_test(size=(120, 40)) as pilot:
        held_in_mount = not gc.isenabled()
        interval_in_mount = sys.getswitchinterval()
        for _ in range(2400):  # a guard against a hang
            if gc.isenabled():
                break
            await pilot.pause(0.05)
        print(json.dumps({"left_off": left_off, "held_in_mount": held_in_mount,
                          "enabled": gc.isenabled(), "frozen": gc.get_freeze_count(),
                          "intervals": [interval, interval_in_mount, sys.getswitchinterval()]}))

asyncio.run(run())
"""


def test_the_collector_and_the_switch_interval_are_back_after_the_first_frame(
    tmp_path: Path,
) -> None:
    run = subprocess.run(
        [sys.executable, "-c", HELD_UNTIL_DRAWN, str(SAMPLE_CACHE)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.splitlines()[-1])
    assert seen["left_off"], "release() turned on a collector that hold() had not turned off"
    assert seen["held_in_mount"] and seen["enabled"], seen
    assert seen["frozen"] > 10_000, seen  # what start-up made is set apart, not walked
    before, in_mount, after = seen["intervals"]
    assert in_mount == startup.START_SWITCH_INTERVAL_S < before == after, seen
