"""Find text in a stage pane (`/`): which lines match, marked for the eye, in reading order.

A pane is made of small text widgets (the heading lines, each figure, each check, each
rule of the decision path, each action, each chart's title). Each is searched as the
plain text it shows, case-insensitively; a match marks the whole widget, and the current
match is scrolled into view.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.widget import Widget
from textual.widgets import Static

MATCH = "-match"
CURRENT = "-match-current"


@dataclass(frozen=True)
class Match:
    """A widget whose text matches."""

    widget: Widget


def unit_text(widget: Widget) -> str:
    """The plain text a widget shows (a container: its text widgets' texts, joined)."""
    from tui_timing.tui.panes.plot_view import PlotView

    if isinstance(widget, PlotView):
        return widget.data.title if widget.data is not None else ""
    if isinstance(widget, Static):
        return str(widget.render())
    return " ".join(str(s.render()) for s in widget.query(Static))


def _units(pane: Widget) -> list[Widget]:
    """The searchable widgets of a pane in reading order: `.item` and `.rule` rows whole,
    other text widgets one by one, charts by their title."""
    from tui_timing.tui.panes.plot_view import PlotView

    units: list[Widget] = []
    inside: set[Widget] = set()  # rows taken whole, and hidden widgets
    for widget in pane.query("*"):
        if not widget.display:
            inside.add(widget)
        if widget in inside or any(a in inside for a in widget.ancestors):
            continue
        if widget.has_class("item") or widget.has_class("rule"):
            units.append(widget)
            inside.add(widget)
        elif isinstance(widget, (Static, PlotView)):
            units.append(widget)
    return units


def find_matches(pane: Widget, query: str) -> list[Match]:
    """Every match of `query` in the pane, top to bottom (none for an empty query)."""
    needle = query.casefold().strip()
    if not needle:
        return []
    return [Match(unit) for unit in _units(pane) if needle in unit_text(unit).casefold()]


def clear_marks(root: Widget) -> None:
    """Remove every match mark under `root`."""
    for widget in root.query(f".{MATCH}, .{CURRENT}"):
        widget.remove_class(MATCH, CURRENT)


def mark(matches: list[Match], current: int | None) -> None:
    """Mark the matching widgets, the current one apart, and bring it into view."""
    for index, match in enumerate(matches):
        match.widget.add_class(MATCH)
        match.widget.set_class(index == current, CURRENT)
    if current is not None and matches:
        matches[current].widget.scroll_visible(animate=False, immediate=True)
