"""Compare mode in the TUI (docs/cli.md, `c`), driven through Textual's pilot on a copy of the
sample data: a second run picked with `c`, both runs in every pane, `c` again to leave;
and after an action trains a new run, the offer to compare it with the run it came from."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sample_paths import SAMPLE
from test_tui_app import screen_text, settle, wait_for
from textual.widgets import Input

from tui_timing.artifacts import discovery
from tui_timing.config import ArtifactPaths, Invocation, Settings
from tui_timing.tui.app import TimingApp
from tui_timing.tui.panes.compare_checks import CompareChecks
from tui_timing.tui.panes.plot_view import PlotView
from tui_timing.tui.screens.compare_offer import CompareOffer
from tui_timing.tui.screens.confirm_screen import ConfirmAction
from tui_timing.tui.screens.run_picker import RunPicker

pytestmark = pytest.mark.asyncio


def project(tmp_path: Path, runs: tuple[str, ...], eval_dump: bool = False) -> Path:
    """A research folder: the sample cache, the named sample runs and maybe the eval dump."""
    folder = tmp_path / "project"
    shutil.copytree(SAMPLE / "datasets", folder / "datasets")
    if eval_dump:
        shutil.copytree(SAMPLE / "eval", folder / "eval")
    for name in runs:
        shutil.copytree(SAMPLE / "runs" / name, folder / "runs" / name)
    return folder


def discovering() -> Invocation:
    return Invocation(paths=ArtifactPaths(), settings=Settings(), scratchpad=None, theme=None)


@pytest.fixture(name="walks")
def walks_fixture(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """Each walk of a folder for artifacts (`discover`, `candidate_files`) in the session:
    its name and whether it ran on the UI thread (the pilot runs the app's loop on the
    test's main thread), which it must not: a large folder would freeze the keys."""
    seen: list[tuple[str, bool]] = []

    def recorded(walk: Callable[..., object]) -> Callable[..., object]:
        def walking(*args: object, **kwargs: object) -> object:
            seen.append((walk.__name__, threading.current_thread() is threading.main_thread()))
            return walk(*args, **kwargs)

        return walking

    for name in ("discover", "candidate_files"):
        monkeypatch.setattr(discovery, name, recorded(getattr(discovery, name)))
    return seen


async def test_c_picks_a_second_run_every_pane_shows_both_and_c_leaves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = project(tmp_path, ("linear", "increments"), eval_dump=True)
    monkeypatch.chdir(folder)
    app = TimingApp(discovering(), cwd=folder)
    async with app.run_test(size=(140, 44), notifications=True) as pilot:
        await settle(pilot, app, timeout=180)
        assert app.current_run() is not None and app.current_run().name == "runs/increments"
        await pilot.press("c")
        assert isinstance(app.screen, RunPicker)
        await pilot.press("enter")  # the one other run: linear
        compare = app.compare
        assert compare is not None and compare.names == ("runs/increments", "runs/linear")
        # the eval dump beside the runs is both runs' (one pairing rule with `compare`)
        assert compare.paths.eval == app.paths.eval == (folder / "eval/eval.pt").resolve()
        await wait_for(pilot, lambda: 7 in compare.results, timeout=180)
        assert {1, 2} <= compare.shared  # one cache and one feature width: taken from A
        await pilot.press("3")
        await pilot.pause()
        text = screen_text(app)
        assert "Stage 3 · Model architecture   A ✔ pass → B ✘ fail" in text
        assert "3 model       ✔✘ fail" in text  # the stage list: A's mark, B's status
        rows = str(app.query_one("#pane-3").query_one(CompareChecks).render())
        assert "✔ pass → ✘ fail  model.profile_capacity  regressed" in rows
        assert rows.index("regressed") < rows.index("model.load")  # what moved comes first
        labels = [s.label for v in app.query_one("#pane-3").query(PlotView) for s in v.data.series]
        assert "B linear+bound=0.3+no-mask" in labels and "increments" in labels
        # the pane's cursor rests on what is shown: A's and B's figures, not the hidden rows
        pane = app.current_pane()
        assert [getattr(item, "item_title", "") for item in pane.items()] == ["run A", "run B"]
        await pilot.press("tab", "down", "Y")
        assert app.clipboard.startswith("B: linear head") and "padding mass" in app.clipboard
        await pilot.press("5")
        await pilot.pause()
        series = {s.label for v in app.query_one("#pane-5").query(PlotView) for s in v.data.series}
        assert {"real", "A sampled", "B sampled"} <= series  # cache once, each run tagged
        await pilot.press("7")
        await pilot.pause()
        text = screen_text(app)
        assert "Compared A runs/increments → B runs/linear" in text
        assert "regressed: model.profile_capacity" in text
        # the verdicts `timing-tui compare` gives on the same files (test_cli_compare.py)
        assert "A, rule 7 (stage 6 drifts" in text and "B, rule 4 (the architecture" in text
        await pilot.press("c")
        await pilot.pause()
        assert app.compare is None
        text = screen_text(app)
        assert "Compared A" not in text and "3 model       ✔ pass" in text
        await pilot.press("3")
        await pilot.pause()
        assert "A ✔ pass →" not in screen_text(app)
        assert not app.query_one("#pane-3").query_one(CompareChecks).display


async def test_after_an_action_trains_a_run_it_offers_to_compare_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, walks: list[tuple[str, bool]]
) -> None:
    """The linear run's verdict suggests training with increments; the action trains it
    for real, and the app offers to compare the new run with the linear one."""
    folder = project(tmp_path, ("linear",))
    monkeypatch.chdir(folder)
    app = TimingApp(discovering(), cwd=folder)
    async with app.run_test(size=(140, 44), notifications=True) as pilot:
        await settle(pilot, app, timeout=180)
        await pilot.press("c")  # one run only: nothing to compare yet
        assert app.compare is None and not isinstance(app.screen, RunPicker)
        await pilot.press("7", "a")
        assert isinstance(app.screen, ConfirmAction)
        box = app.screen.query_one("#command", Input)
        assert "--profile-head increments" in box.value
        box.value += " --epochs 2"  # edited in the dialog, as a user may: a short run
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareOffer), timeout=300)
        assert ("discover", False) in walks and ("discover", True) not in walks
        await pilot.press("enter")
        compare = app.compare
        assert compare is not None and compare.names == ("runs/linear", "runs/linear-increments")
        await wait_for(pilot, lambda: 7 in compare.results, timeout=180)
        await pilot.press("7")
        await pilot.pause()
        text = screen_text(app)
        assert "Compared A runs/linear → B runs/linear-increments" in text
        assert "fixed: " in text and "model.profile_capacity" in text
