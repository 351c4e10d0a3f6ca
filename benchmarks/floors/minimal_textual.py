"""The first-paint floor: the smallest Textual app that shows a line of text and a footer.

Its first frame has what timing-tui's first frame has at its simplest (a text and a footer
with the `q quit` key), so both are timed to the same marker on the screen.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Static


class Minimal(App[None]):
    """One Static and a footer."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "quit", "quit")]

    def compose(self) -> ComposeResult:
        yield Static("minimal textual app")
        yield Footer(compact=True)


if __name__ == "__main__":
    Minimal().run()
