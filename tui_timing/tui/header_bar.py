"""The top line: the app's name and where its artifacts came from, fitted to the width.

In a narrow terminal the name goes first (the terminal's title bar has it), then the
description takes a shorter wording: what matters is which data are on show, whole.
"""

from __future__ import annotations

from textual.app import RenderResult
from textual.widgets import Static

from tui_timing.tui.safe_text import markup


class HeaderBar(Static):
    """One line, left-aligned, so the important start survives a narrow terminal."""

    DEFAULT_CSS = """
    HeaderBar {
        dock: top;
        height: 1;
        width: 1fr;
        padding: 0 1;
        background: $panel;
        color: $foreground;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self) -> None:
        super().__init__(id="header-bar")
        self.description = ""
        self._shorter: tuple[str, ...] = ()

    def show(self, description: str, *shorter: str) -> None:
        """Show the artifacts' description after the app's name, or the first of the
        shorter wordings that fits, or the shortest cut at the edge."""
        self.description, self._shorter = description, shorter
        self.refresh()

    def render(self) -> RenderResult:
        room = self.size.width - 2
        full = markup("[b]timing-tui[/b] · $description", description=self.description)
        if room <= 0 or len(full) <= room:
            return full
        wordings = [self.description, *self._shorter]
        fits = next((w for w in wordings if len(w) <= room), wordings[-1])
        return markup("$description", description=fits)
