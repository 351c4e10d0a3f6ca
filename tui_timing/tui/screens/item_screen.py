"""A check or a figure whole: the pane cuts long values at its edge, this shows all of it
(measured and expected values as JSON), scrollable, and `y` copies it."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui_timing.tui.safe_text import markup, styled
from tui_timing.tui.screens.dialog import Dialog


class ItemScreen(Dialog[bool]):
    """Dismissed with True when the user asked to copy the text, else False."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q", "close(False)", "Close"),
        Binding("y,Y", "close(True)", "Copy"),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__(id="item-screen")
        self._title = title
        self._text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):
            yield Static(markup("[b]$title[/b]", title=self._title))
            yield Static(styled(self._text.rstrip("\n")), classes="item-text")
            yield Static("[$text-muted]y: copy it · Escape or Enter: close[/]")

    def action_close(self, copy: bool) -> None:
        self.dismiss(copy)
