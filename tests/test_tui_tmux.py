"""End to end in a real terminal: `timing-tui` in an empty folder under tmux at 80x24, with
COLORTERM unset, driven by keys and read back with capture-pane, as a new user would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="tmux is not installed (needed to drive a real terminal)"
)


class Terminal:
    """A tmux session on a private server socket, so no user session is touched."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True
        )
        return done.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "tui")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "tui", *keys)

    def wait_for(self, condition: Callable[[str], bool], what: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if condition(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen shows:\n{text}")
            time.sleep(0.1)


def command_line(folder: Path) -> str:
    """Start timing-tui as the user would (the installed script), then report its exit."""
    script = Path(sys.executable).with_name("timing-tui")
    program = str(script) if script.exists() else f"{sys.executable} -m tui_timing"
    return (
        f"cd {folder} && env -u COLORTERM TERM=xterm-256color HOME={folder} "
        f"XDG_CONFIG_HOME={folder}/.config {program}; echo EXITED $?; sleep 60"
    )


def test_a_new_user_steps_through_the_sample_exports_and_quits(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    term = Terminal(f"timing-tui-test-{os.getpid()}")
    term.tmux("new-session", "-d", "-s", "tui", "-x", "80", "-y", "24", command_line(folder))
    try:
        term.wait_for(lambda s: "Stage 1 · Cache integrity" in s, "the first paint")
        text = term.wait_for(lambda s: "SAMPLE DATA" in s, "the sample data header")
        assert "1 cache" in text and "7 decision" in text and "q quit" in text
        term.wait_for(
            lambda s: not any(w in s for w in ("· pending", "… running")),
            "all stages to finish",
            timeout=180,
        )
        titles = ["Dataset", "Model", "Training", "Sampler", "Diffusion", "Decision"]
        for number, title in enumerate(titles, start=2):
            term.keys(str(number))
            term.wait_for(lambda s, n=number, t=title: f"Stage {n} · {t}" in s, f"stage {number}")
        term.keys("p")
        term.wait_for(lambda s: "Stage 6 ·" in s, "the previous stage")
        term.keys("Right")
        term.wait_for(lambda s: "Stage 7 ·" in s, "the next stage")
        term.keys("?")
        term.wait_for(lambda s: "timing-tui keys" in s, "the help screen")
        term.keys("Escape")
        term.wait_for(lambda s: "timing-tui keys" not in s, "the help screen to close")
        term.keys("e")
        scratchpad = folder / "scratchpad.md"
        deadline = time.monotonic() + 30
        while not (scratchpad.is_file() and "Verdict" in scratchpad.read_text()):
            assert time.monotonic() < deadline, "the export did not reach the scratchpad"
            time.sleep(0.1)
        assert scratchpad.read_text().startswith("## timing-tui findings")
        term.wait_for(lambda s: "Exported" in s, "the export notification")
        term.keys("q")
        text = term.wait_for(lambda s: "EXITED" in s, "the app to quit", timeout=15)
        assert "EXITED 0" in text and "Traceback" not in text
    finally:
        subprocess.run(["tmux", "-L", term.socket, "kill-server"], capture_output=True)


def test_c_compares_two_runs_in_a_real_terminal(tmp_path: Path) -> None:
    """`c` in a research folder with two runs: pick the other run, read both in stage 3 and
    what changed in stage 7, then `c` again to leave compare mode."""
    folder = tmp_path / "project"
    sample = Path(__file__).resolve().parents[1] / "sample_data"
    shutil.copytree(sample / "datasets", folder / "datasets")
    for name in ("increments", "linear"):
        shutil.copytree(sample / "runs" / name, folder / "runs" / name)
    term = Terminal(f"timing-tui-compare-{os.getpid()}")
    term.tmux("new-session", "-d", "-s", "tui", "-x", "80", "-y", "24", command_line(folder))
    idle = ("· pending", "… running", ". pending", ".. running")
    try:
        term.wait_for(lambda s: "run increments (1/2" in s, "the runs found")
        term.wait_for(lambda s: not any(w in s for w in idle), "all stages", timeout=240)
        term.keys("c")
        text = term.wait_for(lambda s: "Compare with another run" in s, "the run picker")
        assert "runs/linear" in text and "A: runs/increments" in text
        term.keys("Enter")
        term.wait_for(lambda s: "Comparing A runs/increments" in s, "compare mode")
        term.wait_for(lambda s: not any(w in s for w in idle), "run B's stages", timeout=240)
        term.keys("3")
        text = term.wait_for(lambda s: "Stage 3 ·" in s and " B " in s, "stage 3 of both runs")
        line = next(line for line in text.splitlines() if "Stage 3 ·" in line)
        title = line[line.index("Stage 3 ·") :]
        assert title.index("A ") < title.index("pass") < title.index("B ") < title.index("fail")
        assert "model.profile_capacity" in text and "regressed" in text
        term.keys("7")
        text = term.wait_for(lambda s: "Compared A runs/increments" in s, "what changed")
        assert "B runs/linear" in text and "regressed" in text
        term.keys("c")
        term.wait_for(lambda s: "Compare mode left" in s, "compare mode to end")
        text = term.wait_for(lambda s: "Compared A" not in s, "stage 7 of one run")
        assert "Verdict" in text
        term.keys("q")
        text = term.wait_for(lambda s: "EXITED" in s, "the app to quit", timeout=15)
        assert "EXITED 0" in text and "Traceback" not in text
    finally:
        subprocess.run(["tmux", "-L", term.socket, "kill-server"], capture_output=True)
