"""After an action trained a new run: compare it with the run it came from? (Enter: yes,
Escape: not now.) A = the run the action came from, B = the new one."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Static

from tui_timing.tui.dialog import Dialog
from tui_timing.tui.safe_text import markup


class CompareOffer(Dialog[bool]):
    """Dismissed with True to compare, False to leave it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "answer(True)", "Compare"),
        Binding("escape", "answer(False)", "Not now"),
    ]

    def __init__(self, new: str, origin: str) -> None:
        super().__init__(id="compare-offer")
        self._new = new
        self._origin = origin

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(
                markup(
                    "[b]The action trained $new.[/b]\nCompare it with $origin, the run it came "
                    "from? Every pane then shows both (A $origin, B $new).",
                    new=self._new,
                    origin=self._origin,
                )
            )
            yield Static("[$text-muted]Enter: compare · Escape: not now · c later: pick any run[/]")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
