"""Input at any moment of the app's life, through Textual's pilot: keys that arrive while
the search bar is being mounted, a burst of keys handled before the messages of the
first ones, a dialog answered twice, a toast made after its notification ran out.

Each case here once crashed the app, froze it, or sent the keys typed after it nowhere;
test_tui_tmux.py types, resizes and pastes through a real start-up in a real terminal.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_tui_app import invocation, screen_text, settle, wait_for, write_cache
from textual import events
from textual.widgets import Input
from textual.widgets._toast import Toast, ToastHolder, ToastRack

from tui_timing.tui.app import TimingApp
from tui_timing.tui.notification import MIN_TOAST_S, TimedNotification
from tui_timing.tui.screens.help_screen import HelpScreen

pytestmark = pytest.mark.asyncio


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return write_cache(tmp_path)


@pytest.fixture
def hang_guard() -> Iterator[None]:
    """Fails the test instead of hanging it when the event loop never yields again (a
    generous limit: a guard against a hang, not a measure of time)."""

    def hung(signum: int, frame: object) -> None:
        raise TimeoutError("the app stopped answering: its event loop never yielded")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def burst(app: TimingApp, *keys: str) -> None:
    """Keys as a fast typist sends them: all queued before the app handles the first, so
    each one's own messages (a highlight moved, a screen pushed) come after the others."""
    assert app._driver is not None
    for key in keys:
        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(app)
        app._driver.send_message(event)


async def test_a_key_while_the_search_bar_is_mounted_is_not_a_crash(
    cache: Path, tmp_path: Path
) -> None:
    """The bar is mounted once the stages are shown; a key in the moment before its box
    exists raised NoMatches from `on_key` and the app exited (with status 0)."""
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        bar = app._mount_search_bar()
        app.on_key(events.Key("k", "k"))  # before the bar's children are composed
        await settle(pilot, app)
        assert app.search_bar() is bar and not bar.is_open
        await pilot.press("slash", "k")
        assert bar.is_open and bar.text == "k"


async def test_a_burst_of_keys_is_handled_in_order(cache: Path, tmp_path: Path) -> None:
    """`3 4 / k` typed at once: the highlight moved by `3` was handled after the search
    opened, showed stage 3 again and closed the search, leaving the focus in the hidden box
    (every key after went there: the app looked frozen)."""
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        burst(app, "3", "4", "slash", "k")
        await wait_for(pilot, lambda: app.search_bar() is not None and app.search_bar().text)
        await pilot.pause()
        bar = app.search_bar()
        assert bar is not None and bar.is_open and bar.text == "k"
        assert app.current_stage == 4 and isinstance(app.focused, Input)


async def test_closing_the_search_from_elsewhere_gives_the_focus_to_the_pane(
    cache: Path, tmp_path: Path
) -> None:
    """A stage picked in the list (a click) while the search is open closes it; its box
    kept the focus, hidden, and took every key after."""
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("slash", "k")
        app.query_one("#stage-list").highlighted = 4  # as a click on stage 5 does
        await pilot.pause()
        assert app.current_stage == 5 and app.focused is app.current_pane()
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)


async def test_a_dialog_answered_twice_closes_once(cache: Path, tmp_path: Path) -> None:
    """Enter twice on the run picker (or Escape then Enter) before the first is handled:
    the second dismiss popped the main screen and crashed the app."""
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("question_mark")
        dialog = app.screen
        assert isinstance(dialog, HelpScreen)
        dialog.dismiss(None)
        dialog.dismiss(None)
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen) and app.is_running
        await pilot.press("3")
        assert "Stage 3 · Model architecture" in screen_text(app)


async def test_a_toast_made_after_its_notification_ran_out_goes_away(
    cache: Path, tmp_path: Path, hang_guard: None
) -> None:
    """Textual checks that a notification has time left, then makes its toast with the
    time left then: on a busy machine it could be negative, and a timer with a negative
    interval spins without yielding (the app froze, keys and all)."""
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot, app)
        app.notify("made through the app")
        await wait_for(pilot, lambda: bool(app.screen.query(Toast)))
        assert all(isinstance(n, TimedNotification) for n in app._notifications)
        late = TimedNotification("late", timeout=1.0, raised_at=time.time() - 5)
        assert late.has_expired and late.time_left == MIN_TOAST_S
        await app.screen.query_one(ToastRack).mount(ToastHolder(Toast(late)))
        await wait_for(pilot, lambda: "late" not in screen_text(app), timeout=60)
        await pilot.press("3")
        assert app.current_stage == 3


async def test_page_keys_scroll_the_pane_while_the_list_has_the_focus(
    cache: Path, tmp_path: Path
) -> None:
    """At launch the stage list has the focus; PgDn, End, PgUp and Home scroll the pane as
    the help says (they moved between stages)."""
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        pane = app.current_pane()
        assert app.focused is app.query_one("#stage-list") and pane.max_scroll_y > 0
        await pilot.press("pagedown")
        await wait_for(pilot, lambda: pane.scroll_y > 0)
        await pilot.press("end")
        await wait_for(pilot, lambda: pane.scroll_y == pane.max_scroll_y)
        await pilot.press("pageup", "home")
        await wait_for(pilot, lambda: pane.scroll_y == 0)
        assert app.current_stage == 1


async def test_page_keys_on_a_pane_too_short_to_scroll_are_not_a_crash(
    cache: Path, tmp_path: Path
) -> None:
    """Home, End and the page keys pressed in the stage list scroll the pane on show; a
    pane with nothing to scroll raised SkipAction outside Textual's dispatch, and the app
    stopped on it (found by the typing tmux test)."""
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(200, 60)) as pilot:
        await settle(pilot, app)
        for stage in ("2", "4", "6", "7"):
            await pilot.press(stage, "home", "end", "pageup", "pagedown")
        await pilot.pause()
        assert app.is_running and app.return_code is None
