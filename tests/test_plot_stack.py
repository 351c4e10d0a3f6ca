"""A stage's charts as its results grow: a running stage's partial result (stage 1's
durations histogram, sent ahead of its scan) grows into the result without the chart on
show being drawn again; a new set of charts replaces the old one."""

from __future__ import annotations

import time

import pytest
from textual.app import App, ComposeResult

from tui_timing.findings import Plot, Series
from tui_timing.tui.panes.plot_stack import PlotStack
from tui_timing.tui.panes.plot_view import PlotView
from tui_timing.tui.themes import PlotPalette

pytestmark = pytest.mark.asyncio


def chart(title: str, top: float = 3.0) -> Plot:
    return Plot(title=title, kind="line", series=[Series("s", [0.0, 1.0, 2.0], [1.0, 2.0, top])])


class Charts(App[None]):
    def compose(self) -> ComposeResult:
        yield PlotStack()


async def views_once(pilot, app: Charts, count: int) -> list[PlotView]:  # type: ignore[no-untyped-def]
    """The stack's charts once there are `count` of them (the rest mount a frame later)."""
    deadline = time.monotonic() + 60
    while len(views := list(app.query(PlotView))) != count:
        assert time.monotonic() < deadline, f"{len(views)} charts, not {count}"
        await pilot.pause(0.02)
    return views


async def test_a_partial_result_grows_into_the_result_without_drawing_again() -> None:
    app = Charts()
    async with app.run_test(size=(80, 60)) as pilot:
        stack = app.query_one(PlotStack)
        first = chart("Segment duration (s)")
        stack.show([first], PlotPalette(), False)
        (shown,) = await views_once(pilot, app, 1)
        # the result: the same histogram (an equal object), then two more charts
        stack.show([chart("Segment duration (s)"), chart("b"), chart("c")], PlotPalette(), False)
        views = await views_once(pilot, app, 3)
        assert views[0] is shown and views[0].data is first  # kept, its data not replaced
        assert [v.data.title for v in views if v.data] == ["Segment duration (s)", "b", "c"]
        # new numbers under the same title are drawn: the data is replaced
        changed = chart("Segment duration (s)", top=9.0)
        stack.show([changed, chart("b"), chart("c")], PlotPalette(), False)
        await pilot.pause()
        assert app.query(PlotView).first().data is changed
        # another set of charts replaces them all
        stack.show([chart("x")], PlotPalette(), False)
        (other,) = await views_once(pilot, app, 1)
        assert other is not shown and other.data is not None and other.data.title == "x"
