"""The runs view (`w`), driven through Textual's pilot on a copy of the sample data: the
table fills from real diagnoses, a run that appears while it is open shows up without a key
pressed, Space marks runs (their charts overlay), Enter opens a run in the panes and `c`
compares the two marked ones."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sample_paths import SAMPLE
from test_tui_app import settle, shown, wait_for
from test_tui_compare import discovering, project, walks_fixture  # noqa: F401 (the fixture)
from textual.widgets import DataTable

from tui_timing.tui.app import TimingApp
from tui_timing.tui.panes.plot_view import PlotView
from tui_timing.tui.screens.compare_offer import CompareOffer
from tui_timing.tui.screens.runs_screen import RunsScreen

pytestmark = pytest.mark.asyncio


def table_runs(screen: RunsScreen) -> list[str]:
    return [row.target.run for row in screen.rows]


async def test_runs_view_follows_a_new_run_marks_overlays_and_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = project(tmp_path, ("linear",))
    monkeypatch.chdir(folder)
    app = TimingApp(discovering(), cwd=folder)
    async with app.run_test(size=(140, 44), notifications=True) as pilot:
        await settle(pilot, app, timeout=300)
        await pilot.press("w")
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        await wait_for(pilot, lambda: table_runs(screen) == ["runs/linear"], timeout=300)
        row = screen.rows[0]
        assert row.report.decision is not None and row.report.decision.rule == 4
        # A run lands while the view is open: it is diagnosed and shown, no key pressed.
        # (copied without its times: it is written now, as a new run is)
        shutil.copytree(
            SAMPLE / "runs/increments", folder / "runs/increments", copy_function=shutil.copy
        )
        await wait_for(pilot, lambda: len(screen.rows) == 2, timeout=300)
        assert sorted(table_runs(screen)) == ["runs/increments", "runs/linear"]
        assert table_runs(screen)[0] == "runs/increments"  # ranked: the healthier first
        # The cursor follows the newest run (the one that just landed) until the user moves.
        table = screen.query_one(DataTable)
        assert screen.rows[table.cursor_row].target.run == "runs/increments"
        await pilot.press("space", "down", "space")
        assert screen.marked == ["runs/increments", "runs/linear"]
        labels = {s.label for view in screen.query(PlotView) for s in view.data.series}
        assert {"real", "runs/increments", "runs/linear"} <= labels
        await pilot.press("up", "enter")
        assert not isinstance(app.screen, RunsScreen)
        await wait_for(
            pilot,
            lambda: (
                app.paths is not None
                and app.paths.checkpoint == folder / "runs/increments/checkpoint.pt"
            ),
            timeout=60,
        )
        await settle(pilot, app, timeout=300)
        # `c` on two marked runs: A opens, B is compared with it.
        await pilot.press("w")
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        await wait_for(pilot, lambda: len(screen.rows) == 2, timeout=120)
        await pilot.press("c")  # nothing marked yet in this view: it says so, stays
        assert isinstance(app.screen, RunsScreen)
        await pilot.press("home", "space", "down", "space", "c")
        await wait_for(pilot, lambda: app.compare is not None, timeout=120)
        assert app.compare is not None
        assert app.compare.names == ("runs/increments", "runs/linear")


async def test_a_new_checkpoint_of_the_run_on_show_is_offered_as_b(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, walks: list[tuple[str, bool]]
) -> None:
    folder = project(tmp_path, ("linear",))
    monkeypatch.chdir(folder)
    app = TimingApp(discovering(), cwd=folder)
    async with app.run_test(size=(140, 44), notifications=True) as pilot:
        await settle(pilot, app, timeout=300)
        on_show = app.paths.checkpoint if app.paths is not None else None
        assert on_show == folder / "runs/linear/checkpoint.pt"
        # Training writes the next checkpoint into the run's folder (written now: newer).
        newer = folder / "runs/linear/epochs/epoch_0031.pt"
        newer.parent.mkdir()
        shutil.copy(SAMPLE / "runs/increments/checkpoint.pt", newer)
        await wait_for(pilot, lambda: isinstance(app.screen, CompareOffer), timeout=60)
        await shown(pilot, app, "epoch_0031.pt")
        # the run's folder was listed, then polled, then walked for the newest checkpoint:
        # each on a worker thread
        assert ("candidate_files", False) in walks and ("discover", False) in walks
        assert not [walk for walk, on_ui_thread in walks if on_ui_thread]
        await pilot.press("enter")
        assert app.compare is not None and app.compare.paths.checkpoint == newer
