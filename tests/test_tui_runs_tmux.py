"""The runs view (`w`) in a real terminal (tmux): a run that appears while the view is open
shows up on screen by itself, as training writes it, and the app quits cleanly after."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sample_paths import SAMPLE
from test_tui_tmux import close, open_terminal

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def table_rows(screen: str) -> list[str]:
    """The runs table's rows on the screen (each starts with its run's folder)."""
    return [line for line in screen.splitlines() if line.split()[:1] and "runs/" in line.split()[0]]


def test_the_runs_view_picks_up_a_run_that_appears_while_it_is_open(tmp_path: Path) -> None:
    folder = tmp_path / "repo"
    shutil.copytree(SAMPLE / "datasets", folder / "datasets")
    shutil.copytree(SAMPLE / "runs/linear", folder / "runs/linear", copy_function=shutil.copy)
    term = open_terminal(folder, 120, 36)
    try:
        term.wait_for(lambda s: "Stage 1 · Cache integrity" in s, "the first paint")
        term.wait_done()
        term.keys("w")
        # The count line and the table's rows are drawn apart (on a busy machine a screen
        # showed "1 runs" over an empty table): wait for both.
        text = term.wait_for(
            lambda s: "1 runs · updated" in s and "runs/linear" in s, "the runs table", timeout=300
        )
        assert "runs/increments" not in text
        # A new run lands (written now) while the view is open; no key is pressed.
        shutil.copytree(
            SAMPLE / "runs/increments", folder / "runs/increments", copy_function=shutil.copy
        )
        text = term.wait_for(
            lambda s: "2 runs · updated" in s and len(table_rows(s)) >= 2,
            "the new run",
            timeout=300,
        )
        lines = table_rows(text)
        assert [line.split()[0] for line in lines][:2] == ["runs/increments", "runs/linear"]
        term.keys("Escape")
        term.wait_for(lambda s: "Stage " in s and "runs · updated" not in s, "the panes again")
        term.keys("q")
        term.wait_for(lambda s: "EXITED 0" in s, "a clean exit")
    finally:
        close(term)
