"""The footer composes its keys again only when they change: an update of the screen's
bindings that leaves the same keys on show (three of them at each launch) costs no
recompose, and one that changes a key (disabled, hidden, shown) is drawn."""

from __future__ import annotations

import time
from typing import ClassVar

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from tui_timing.tui.key_footer import KeyFooter

pytestmark = pytest.mark.asyncio


class Keys(App[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "alpha", "alpha"),
        Binding("b", "beta", "beta"),
    ]

    def __init__(self) -> None:
        super().__init__()
        #: beta's state as check_action answers it (None: shown disabled).
        self.beta: bool | None = True
        #: How often the footer composed its keys, and how often it was asked to.
        self.composed = 0
        self.asked = 0

    def compose(self) -> ComposeResult:
        yield Static("keys")
        yield CountingFooter(show_command_palette=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.beta if action == "beta" else True

    def action_alpha(self) -> None: ...

    def action_beta(self) -> None: ...


class CountingFooter(KeyFooter):
    def compose(self) -> ComposeResult:
        self.app.composed += 1  # type: ignore[attr-defined]
        yield from super().compose()

    async def recompose(self) -> None:
        self.app.asked += 1  # type: ignore[attr-defined]
        await super().recompose()


async def keys_once(pilot, app: Keys, wanted: dict[str, bool]) -> None:  # type: ignore[no-untyped-def]
    """Wait until the footer shows these keys (key: enabled), in order."""
    deadline = time.monotonic() + 60
    while (shown := {k.key: not k.has_class("-disabled") for k in app.query(FooterKey)}) != wanted:
        assert time.monotonic() < deadline, f"the footer shows {shown}, not {wanted}"
        await pilot.pause(0.02)


async def test_the_same_keys_are_not_composed_again_and_changed_ones_are() -> None:
    app = Keys()
    async with app.run_test(size=(80, 10)) as pilot:
        await keys_once(pilot, app, {"a": True, "b": True})
        composed, asked = app.composed, app.asked
        for _ in range(3):  # bindings updated, the same keys: asked, not composed
            app.screen.refresh_bindings()
        deadline = time.monotonic() + 60
        while app.asked < asked + 3:
            assert time.monotonic() < deadline, "the footer was not asked to recompose"
            await pilot.pause(0.02)
        assert app.composed == composed
        app.beta = None  # beta disabled: drawn dim
        app.screen.refresh_bindings()
        await keys_once(pilot, app, {"a": True, "b": False})
        assert app.composed == composed + 1
        app.beta = False  # beta hidden
        app.screen.refresh_bindings()
        await keys_once(pilot, app, {"a": True})
        app.beta = True
        app.screen.refresh_bindings()
        await keys_once(pilot, app, {"a": True, "b": True})
        assert app.composed == composed + 3
