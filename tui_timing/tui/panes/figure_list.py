"""A stage's key figures, one item per figure (the cursor rests on each, `Y` copies it)."""

from __future__ import annotations

from textual.containers import Vertical
from textual.content import Content

from tui_timing.tui.panes.pane_item import PaneItem
from tui_timing.tui.safe_text import markup


class FigureList(Vertical):
    """`• 2,581 rows, L 128, D 10`, one line each; hidden when there are none."""

    DEFAULT_CSS = """
    FigureList { height: auto; margin-bottom: 1; }
    """

    def show(self, figures: list[str]) -> None:
        """Show a result's figures, one bulleted line each."""
        self.show_items([(markup("• $figure", figure=f), f, "key figure") for f in figures])

    def show_items(self, items: list[tuple[Content, str, str]]) -> None:
        """Replace the lines (shown, whole text, title), reusing them when their number is
        unchanged (compare mode shows one line of figures per run)."""
        self.display = bool(items)
        lines = list(self.query(PaneItem))
        if len(lines) == len(items):
            for line, item in zip(lines, items, strict=True):
                line.show(*item)
            return
        self.remove_children()
        if items:
            self.mount_all([PaneItem(*item) for item in items])
