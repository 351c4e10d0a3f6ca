"""Compare something new with what is on show? (Enter: yes, Escape: not now.) Asked after an
action trained a new run (A = the run it came from, B = the new one) and when a new
checkpoint of the run on show lands (A = the checkpoint on show, B = the new one)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Static

from tui_timing.tui.safe_text import markup
from tui_timing.tui.screens.dialog import Dialog


class CompareOffer(Dialog[bool]):
    """Dismissed with True to compare, False to leave it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "answer(True)", "Compare"),
        Binding("escape", "answer(False)", "Not now"),
    ]

    #: What was made, and what it is compared with: an action's new run (the default), or
    #: a new checkpoint of the run on show.
    ACTION_RUN = (
        "[b]The action trained $new.[/b]\nCompare it with $origin, the run it came from? "
        "Every pane then shows both (A $origin, B $new)."
    )
    NEW_CHECKPOINT = (
        "[b]A new checkpoint landed: $new.[/b]\nCompare it with $origin, the one on show? "
        "Every pane then shows both (A $origin, B $new)."
    )

    def __init__(self, new: str, origin: str, wording: str = ACTION_RUN) -> None:
        super().__init__(id="compare-offer")
        self._new = new
        self._origin = origin
        self._wording = wording

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(markup(self._wording, new=self._new, origin=self._origin))
            yield Static("[$text-muted]Enter: compare · Escape: not now · c later: pick any run[/]")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
