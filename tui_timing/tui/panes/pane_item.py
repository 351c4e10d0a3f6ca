"""A line of a pane that the cursor can rest on: a key figure or a passing check.

What is shown may be cut at the pane's edge; the item keeps its whole text, which `Y`
copies and Enter opens (see item_text.py).
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static


class PaneItem(Static):
    """A one-line item: what is shown, and the whole text behind it."""

    DEFAULT_CSS = """
    PaneItem {
        height: auto;
    }
    """

    def __init__(self, shown: Content, text: str, title: str) -> None:
        super().__init__(shown, classes="item")
        self.item_text = text
        self.item_title = title

    def show(self, shown: Content, text: str, title: str) -> None:
        """Show another item in this line."""
        self.item_text, self.item_title = text, title
        self.update(shown)
