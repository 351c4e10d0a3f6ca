"""The top line: the app's name and where its artifacts came from, cut at the right edge."""

from __future__ import annotations

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

    def show(self, description: str) -> None:
        """Show the artifacts' description after the app's name."""
        self.update(markup("[b]timing-tui[/b] · $description", description=description))
