"""The TUI for daily use, through Textual's pilot on real artifacts: a running
action shows where it is and Escape never quits or cancels it, `x` ends its process after
a confirm; y and Y copy; Enter opens a check whole; `/` searches the pane; `E` exports one
stage; the theme is kept; a live update keeps the scroll position; an action's text can be
selected with the mouse.

The real-terminal side (NO_COLOR, ASCII, OSC 52 into tmux, 80x24 and 120x36, and a real
training action cancelled, then run to its end with every artifact kept) is in
test_tui_tmux.py.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import pytest
from test_tui_app import (
    decision_with,
    invocation,
    screen_text,
    settle,
    shown,
    toasts_text,
    wait_for,
    write_cache,
)
from textual.widgets import HelpPanel

from tui_timing.findings import Action, Check, Decision, Plot, Series, StageResult
from tui_timing.stages.catalog import Stage
from tui_timing.tui.app import TimingApp
from tui_timing.tui.main_screen import new_pane
from tui_timing.tui.messages import StageFinished
from tui_timing.tui.panes.action_bar import ActionBar
from tui_timing.tui.panes.checks_view import CheckRow
from tui_timing.tui.panes.decision_pane import DecisionPane
from tui_timing.tui.panes.item_text import check_text
from tui_timing.tui.screens.cancel_screen import ConfirmCancel
from tui_timing.tui.screens.item_screen import ItemScreen
from tui_timing.tui.search_bar import SearchBar
from tui_timing.tui.status import StageState
from tui_timing.tui.themes import PlotPalette

pytestmark = pytest.mark.asyncio


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return write_cache(tmp_path)


def bar_text(app: TimingApp) -> str:
    return str(app.query_one(ActionBar).render())


async def test_enter_opens_a_check_whole_and_Y_copies_it(cache: Path, tmp_path: Path) -> None:
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot, app)
        pane = app.current_pane()
        rows = list(pane.query(CheckRow))
        assert rows, "stage 1 of a cache with no raw summary has checks that do not pass"
        await pilot.press("tab")
        assert app.focused is pane
        for _ in range(len(pane.items())):
            if isinstance(pane.current_item(), CheckRow):
                break
            await pilot.press("down")
        item = pane.current_item()
        assert isinstance(item, CheckRow) and item.has_class("-cursor")
        check = item._check
        await pilot.press("Y")
        assert app.clipboard == check_text(check)
        assert app.clipboard.startswith(f"{check.id}: {check.status}\n{check.message}\n")
        await pilot.press("enter")
        assert isinstance(app.screen, ItemScreen)
        text = await shown(pilot, app, f"check {check.id}")
        assert f"check {check.id}" in text and "measured:" in text and "expected:" in text
        await pilot.press("y")  # copies it from the dialog too, and closes it
        assert not isinstance(app.screen, ItemScreen)
        await pilot.press("enter", "escape")
        assert not isinstance(app.screen, ItemScreen) and app.is_running


async def test_a_long_value_is_whole_in_the_detail_view(cache: Path, tmp_path: Path) -> None:
    quantiles = {f"q{i:02d}": i / 100 + 1e-7 for i in range(1, 40)}
    check = Check("cache.quantiles", "warn", quantiles, {"q01": 0.01}, "Quantiles drift.")
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot, app)
        app.post_message(StageFinished(1, StageResult(1, "cache", checks=[check]), "test"))
        await pilot.pause()
        pane_text = screen_text(app)
        assert "q39" not in pane_text  # cut at the pane's edge ...
        await pilot.press("tab", "enter")
        assert isinstance(app.screen, ItemScreen)
        await pilot.press("y")
        copied = app.clipboard
        assert json.loads(copied.split("measured: ", 1)[1].split("\nexpected:")[0]) == quantiles


async def test_y_copies_the_actions_command(cache: Path, tmp_path: Path) -> None:
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot, app)
        command = "timing-tui train --cache /a/very/long/path/to/datasets/x/train_timing.pt"
        app.post_message(StageFinished(7, decision_with(command), "test"))
        await pilot.pause()
        await pilot.press("2", "y")  # from any stage
        assert app.clipboard == command
        await wait_for(pilot, lambda: "Copied" in toasts_text(app))
        await pilot.press("7", "Y")  # stage 7: the whole action
        assert app.clipboard.startswith("Say hello\n") and app.clipboard.endswith(command + "\n")


async def test_search_finds_marks_steps_and_closes(cache: Path, tmp_path: Path) -> None:
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, app)
        await pilot.press("slash")
        bar = app.query_one(SearchBar)
        assert bar.is_open
        await pilot.press(*"cache.")
        await pilot.pause()
        marked = list(app.current_pane().query(".-match"))
        assert len(marked) >= 3  # several cache.* checks
        count = str(bar.query_one(".search-count").render())
        assert count == f"1/{len(marked)}"
        current = app.current_pane().query_one(".-match-current")
        await pilot.press("enter")
        assert str(bar.query_one(".search-count").render()) == f"2/{len(marked)}"
        assert app.current_pane().query_one(".-match-current") is not current
        await pilot.press("up")
        assert app.current_pane().query_one(".-match-current") is current
        await pilot.press("q", "n")  # typed into the search, not quit nor next stage
        assert app.is_running and app.current_stage == 1
        assert "no match" in str(bar.query_one(".search-count").render())
        await pilot.press("escape")
        assert not bar.is_open and not app.current_pane().query(".-match")
        assert app.is_running


async def test_escape_closes_dialogs_and_the_keys_panel_never_more(
    cache: Path, tmp_path: Path
) -> None:
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, app)
        command = (
            f"{shlex.quote(sys.executable)} -c 'import time; print(1, flush=True); time.sleep(60)'"
        )
        app.post_message(StageFinished(7, decision_with(command), "test"))
        await pilot.pause()
        await pilot.press("a", "enter")
        await wait_for(pilot, lambda: app.runner.running)
        await wait_for(pilot, lambda: "running:" in bar_text(app))
        await pilot.press("escape", "escape", "escape")
        assert app.is_running and app.runner.running
        app.action_show_help_panel()
        await pilot.pause()
        assert app.screen.query(HelpPanel)
        await pilot.press("escape")
        assert not app.screen.query(HelpPanel) and app.runner.running
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmCancel)
        await pilot.press("escape")  # closes the question, keeps the action
        assert not isinstance(app.screen, ConfirmCancel) and app.runner.running
        await pilot.press("x", "n")
        assert app.runner.running
        process = app.runner._process
        assert process is not None and process.poll() is None
        await pilot.press("x", "y")
        await wait_for(pilot, lambda: "cancelled:" in bar_text(app), timeout=60)
        assert process.poll() is not None  # the process was ended
        assert not app.runner.running and app.is_running


async def test_E_exports_the_stage_on_show_into_a_docs_scratchpad(
    cache: Path, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    pad = docs / "task_scratchpad.md"
    kept = "# Tasks\n\n## Notes\n- 2025-10-24: the eval re-normalizes?\n"
    pad.write_text(kept)
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, app)
        await pilot.press("2", "E")
        await wait_for(pilot, lambda: pad.read_text() != kept)
        text = pad.read_text()
        assert text.startswith(kept)
        added = text[len(kept) :]
        assert added.startswith("- ") and "stage 2 dataset: " in added.splitlines()[0]
        assert "stage 1" not in added and "verdict" not in added
        assert not (tmp_path / "scratchpad.md").exists()


async def test_the_theme_is_kept_for_the_next_launch(
    cache: Path, tmp_path: Path, private_config: Path
) -> None:
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    saved = private_config / "timing-tui" / "preferences.json"
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        first = app.theme
        await pilot.press("t")
        chosen = app.theme
        assert chosen != first
        await wait_for(pilot, lambda: saved.is_file())
    assert json.loads(saved.read_text()) == {"theme": chosen}
    assert not list(saved.parent.glob(".*tmp*"))  # written atomically: no temporary left
    again = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with again.run_test(size=(80, 24)):
        assert again.theme == chosen
    given = TimingApp(invocation(cache=cache, theme="timing-dark"), cwd=tmp_path)
    async with given.run_test(size=(80, 24)):
        assert given.theme == "timing-dark"  # --theme still wins
    saved.write_text("{not json")
    broken = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with broken.run_test(size=(80, 24)):
        assert broken.theme in broken.timing_themes  # a bad file is ignored, not fatal


async def test_a_live_update_keeps_the_scroll_position(cache: Path, tmp_path: Path) -> None:
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot, app)
        pane = app.current_pane()
        await pilot.press("tab", "pagedown", "pagedown")
        await pilot.pause()
        before = pane.scroll_y
        assert before > 0
        result = app.states[1].result
        assert result is not None
        extra = Check("cache.extra", "warn", 1.0, 0.0, "One more check that needs attention.")
        changed = StageResult(1, "cache", checks=[*result.checks, extra], plots=result.plots)
        changed.figures = result.figures
        app.post_message(StageFinished(1, changed, "stats.jsonl changed"))
        await pilot.pause()
        await pilot.pause()
        assert pane.scroll_y == before


async def test_ctrl_c_with_nothing_selected_says_how_to_quit_in_plain_text(
    cache: Path, tmp_path: Path
) -> None:
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, app)  # a busy loop could outlast the toast on a loaded machine
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: "Pressqtoquit" in toasts_text(app))
        assert "[b]" not in toasts_text(app) and app.is_running


async def test_charts_have_whole_ticks_own_markers_and_whole_titles(
    cache: Path, tmp_path: Path
) -> None:
    epochs = [float(e) for e in range(1, 31)]
    title = "Logged statistics per epoch for the train and the validation split, both"
    plot = Plot(
        title,
        "line",
        [
            Series("real", epochs, [1 / e for e in epochs]),
            Series("fake", epochs, [1.2 / e for e in epochs]),
        ],
        xlabel="epoch",
    )
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(80, 40), notifications=True) as pilot:
        await settle(pilot, app)
        app.post_message(StageFinished(1, StageResult(1, "cache", plots=[plot]), "test"))
        await pilot.pause()
        text = screen_text(app)
        panes = [line.split("▏", 1)[-1] for line in text.splitlines()]
        assert "Logged statistics per epoch" in text and "split, both" in text  # wrapped
        legend = dict(m.group(2, 1) for m in re.finditer(r"(\S)\S? (real|fake)\b", text))
        assert set(legend) == {"real", "fake"} and legend["real"] != legend["fake"], legend
        # above the chart's frame, not in a corner of the data where it hid the points
        rows = text.splitlines()
        named = next(i for i, line in enumerate(rows) if re.search(r" real\b", line))
        assert "┌" in rows[named + 1] and "fake" in rows[named], rows[named - 1 : named + 2]
        ticks = [line.split() for line in panes if re.fullmatch(r"\s*(\d+\s+)+\d+\s*", line)]
        assert len(ticks) == 1 and len(ticks[0]) >= 3  # one x axis, whole epochs only
        steps = {int(b) - int(a) for a, b in zip(ticks[0], ticks[0][1:], strict=False)}
        assert len(steps) == 1 and int(ticks[0][0]) >= 1 and int(ticks[0][-1]) <= 30


async def test_the_light_themes_divider_shows(cache: Path, tmp_path: Path) -> None:
    app = TimingApp(invocation(cache=cache, theme="timing-light"), cwd=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        panes = app.query_one("#panes")
        _, border = panes.styles.border_left
        background = panes.styles.background
        shown = background + border  # the divider's colour as drawn, beside the list
        assert abs(shown.brightness - background.brightness) > 0.25


async def test_typed_ahead_keys_act_on_the_stage_they_follow(cache: Path, tmp_path: Path) -> None:
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot, app)
        await pilot.press("2", "tab")
        assert app.focused is app.current_pane() and app.current_stage == 2


async def test_an_actions_text_can_be_selected_with_the_mouse(cache: Path, tmp_path: Path) -> None:
    """At 80 columns a long command wraps mid-path on screen, yet dragging over its action
    selects it whole (the list used to give nothing) and ctrl+c copies it; a click puts
    the cursor on the action, so that `y` copies that one's command."""
    long_command = (
        "timing-tui train --cache /home/someone/projects/mouse-diffusion/datasets/balabit/"
        "train_timing.pt --out runs/linear-increments --profile-head increments"
    )
    hello = Action("Say hello", "to show a first action", ["cache.load"], "echo hello", rule=1)
    train = Action("Train it", "the head cannot fit", ["cache.load"], long_command, rule=4)
    decision = Decision("test verdict", 4, actions=[hello, train], path=[])
    result = StageResult(id=7, name="decision", status_override="fail", decision=decision)
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(80, 40), notifications=True) as pilot:
        await settle(pilot, app)
        app.post_message(StageFinished(7, result, "test"))
        await pilot.press("7")
        pane = app.decision_pane()
        await wait_for(pilot, lambda: len(pane.query("#actions PaneItem")) == 2)
        await wait_for(pilot, lambda: "Train it" in screen_text(app))
        assert not any(long_command in line for line in screen_text(app).splitlines())
        item = list(pane.query("#actions PaneItem"))[1]
        await pilot.click(item, offset=(2, 0))
        assert pane.selected_action() == train
        await pilot.press("y")
        assert app.clipboard == long_command
        await pilot.mouse_down(item, offset=(0, 0))
        await pilot.hover(item, offset=(item.size.width - 1, item.size.height - 1))
        await pilot.mouse_up(item, offset=(item.size.width - 1, item.size.height - 1))
        await pilot.pause()
        selected = app.screen.get_selected_text() or ""
        assert "Train it" in selected and long_command in selected
        app.copy_to_clipboard("")
        await pilot.press("ctrl+c")
        assert long_command in app.clipboard


async def test_a_long_output_line_wraps_in_the_action_log(cache: Path, tmp_path: Path) -> None:
    """At 100 columns the log cut a training line at its edge: `3.939e-05` read as
    `3.939`. Each line now fits the log, and the figure is there whole."""
    from textual.widgets import Log

    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, app)
        said = "epoch 3/400 " + "train loss 0.5123 " * 4 + "val loss 0.6 lr 3.939e-05"
        command = f"{shlex.quote(sys.executable)} -c {shlex.quote(f'print({said!r})')}"
        app.post_message(StageFinished(7, decision_with(command), "test"))
        await pilot.pause()
        await pilot.press("7", "a", "enter")  # from stage 7, where the action is shown
        log = app.decision_pane().query_one("#action-log", Log)
        await wait_for(pilot, lambda: "exit status 0" in log.lines, timeout=60)
        width = log.scrollable_content_region.width
        assert all(len(line) <= width for line in log.lines), (width, log.lines)
        assert any(line.rstrip().endswith("3.939e-05") for line in log.lines), log.lines


async def test_the_bar_of_an_ended_action_goes_at_the_next_key(cache: Path, tmp_path: Path) -> None:
    """`cancelled: ...` or `finished: ...` stayed on every stage; once read (a key is
    pressed), it goes."""
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, app)
        command = f"{shlex.quote(sys.executable)} -c 'print(1)'"
        app.post_message(StageFinished(7, decision_with(command), "test"))
        await pilot.pause()
        await pilot.press("a", "enter")
        bar = app.query_one(ActionBar)
        await wait_for(pilot, lambda: "finished:" in bar_text(app) or "failed:" in bar_text(app))
        assert bar.display
        await pilot.press("3")
        assert not bar.display and app.current_stage == 3


async def test_a_histograms_y_axis_starts_at_zero(cache: Path, tmp_path: Path) -> None:
    """Stage 1's count histogram started its y axis at its lowest bar (5.0)."""
    counts = Plot("Rows per length", "hist", [Series("rows", [2.0, 3.0, 4.0], [5.0, 12.0, 20.0])])
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(80, 40), notifications=True) as pilot:
        await settle(pilot, app)
        app.post_message(StageFinished(1, StageResult(1, "cache", plots=[counts]), "test"))
        await pilot.pause()
        ticks = re.findall(r"(\d+(?:\.\d+)?)┤", screen_text(app))
        assert ticks and float(ticks[-1]) == 0.0, ticks


async def test_y_copies_what_is_shown_escaped(cache: Path, tmp_path: Path) -> None:
    """A check quoting a file name with an OSC 52 write and a right-to-left override: `y`
    copied the raw bytes, which reach the terminal the user pastes into."""
    hostile = "runs/\x1b]52;c;ZXZpbA==\x07evil\u202egnp.pt"
    check = Check("cache.load", "error", None, None, f"Cannot read {hostile}.")
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot, app)
        app.post_message(StageFinished(1, StageResult(1, "cache", checks=[check]), "test"))
        await pilot.pause()
        await pilot.press("tab", "Y")
        copied = app.clipboard
        assert "\x1b" not in copied and "\x07" not in copied and "\u202e" not in copied
        assert "runs/\\x1b]52;c;ZXZpbA==\\x07evil\\u202egnp.pt" in copied


async def test_the_decision_pane_answers_from_its_result_before_it_is_drawn() -> None:
    """`7 Tab a` typed as a warm launch's first frame showed the verdict: `7` mounts the
    decision pane and hands it its result, and `a` came before the pane drew it, so it said
    "No action to run" (the tmux action test failed on it, 1 launch in 3)."""
    pane = new_pane(Stage.DECISION)
    assert isinstance(pane, DecisionPane) and not pane.is_mounted
    result = decision_with("echo hello")
    pane.show(StageState(7, phase="done", result=result), PlotPalette(), False)
    action = pane.selected_action()
    assert action is not None and action.command == "echo hello"
