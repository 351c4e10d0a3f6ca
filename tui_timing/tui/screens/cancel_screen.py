"""Ask before cancelling the running action: it may have run for minutes.

`y` or Enter cancels it; `n` or Escape closes the dialog and leaves it running (Escape
never cancels anything, here or anywhere in the app).
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Static

from tui_timing.tui.safe_text import markup
from tui_timing.tui.screens.dialog import Dialog


class ConfirmCancel(Dialog[bool]):
    """Dismissed with True to cancel the action, False to keep it running."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "Cancel it"),
        Binding("n,escape", "answer(False)", "Keep it running"),
    ]

    def __init__(self, command: str, elapsed: str) -> None:
        super().__init__(id="confirm-cancel")
        self._command = command
        self._elapsed = elapsed

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(
                markup("[b]Cancel the running action?[/b] (running for $t)", t=self._elapsed)
            )
            yield Static(markup("[$accent]$ $command[/]", command=self._command))
            yield Static(
                "Its processes are ended and what it has written so far is removed.\n\n"
                "[b]y[/b] or Enter: cancel it · [b]n[/b] or Escape: keep it running"
            )

    def action_answer(self, cancel: bool) -> None:
        self.dismiss(cancel)
