"""Contrast of the dark and light themes, measured on what the app draws (WCAG 2 contrast
ratio of each run of text's colour against its background): information (the header,
the stage list with its highlighted row, whether the list or the pane has the focus, the
pane's title, check names and figures) at 4.5:1 or more, muted hints and the scrollbar at
3:1 or more. The ANSI theme draws in the terminal's own colours and is not measured."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.color import Color
from rich.segment import Segment
from test_tui_app import invocation, settle, write_cache
from textual.color import Color as TextualColor

from tui_timing.tui.app import TimingApp

pytestmark = pytest.mark.asyncio

TEXT, MUTED = 4.5, 3.0
#: Columns of the stage list (its right border is a decoration).
LIST_WIDTH = 24


def luminance(color: Color | TextualColor) -> float:
    """WCAG relative luminance."""
    red, green, blue = (
        color.get_truecolor() if isinstance(color, Color) else (color.r, color.g, color.b)
    )

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(red) + 0.7152 * channel(green) + 0.0722 * channel(blue)


def contrast(one: Color | TextualColor, other: Color | TextualColor) -> float:
    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def runs(app: TimingApp, rows: range, columns: range) -> list[tuple[str, float]]:
    """(text, contrast) of every run of visible text drawn in the cells given."""
    strips = app.screen._compositor.render_strips()
    out = []
    for y in rows:
        for segment in strips[y].crop(columns.start, columns.stop):
            assert isinstance(segment, Segment)
            style = segment.style
            if not segment.text.strip() or style is None:
                continue
            assert style.color is not None and style.bgcolor is not None, segment
            out.append((segment.text, contrast(style.color, style.bgcolor)))
    return out


def low(found: list[tuple[str, float]], least: float) -> list[tuple[str, float]]:
    return [(text, round(ratio, 2)) for text, ratio in found if ratio < least]


@pytest.mark.parametrize("theme", ["timing-dark", "timing-light"])
async def test_text_and_decorations_are_readable(theme: str, tmp_path: Path) -> None:
    cache = write_cache(tmp_path)
    app = TimingApp(invocation(cache=cache, theme=theme), cwd=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        width, height = app.size
        for focus in ("list", "pane"):  # the highlighted row, focused then blurred
            shown = app.query_one("#stage-list").region  # a stage may take two lines
            stage_list = runs(app, range(shown.y, shown.bottom), range(0, LIST_WIDTH))
            assert len(stage_list) >= 14 and not low(stage_list, TEXT), (focus, stage_list)
            header = runs(app, range(0, 1), range(0, width))
            assert header and not low(header, TEXT), header
            title = runs(app, range(1, 2), range(LIST_WIDTH + 1, width))
            assert title and not low(title, TEXT), title
            everything = runs(app, range(0, height), range(0, width))
            assert not low(everything, MUTED), low(everything, MUTED)
            await pilot.press("tab")
        variables = app.get_css_variables()
        thumb, track = (
            TextualColor.parse(variables[k]) for k in ("scrollbar", "scrollbar-background")
        )
        behind = TextualColor.parse(variables["background"])
        assert contrast(track + thumb, behind + track) >= MUTED, (thumb, track)
