"""Ask before running a suggested action: show its command, editable, and what it is for.

Commands may name placeholders (a raw data folder only the user knows), so the command is
an input the user can correct; Enter runs it, Escape cancels.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Static

from tui_timing.findings import Action
from tui_timing.tui.safe_text import clean, markup
from tui_timing.tui.screens.dialog import Dialog


class ConfirmAction(Dialog[str | None]):
    """Dismissed with the command to run, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, action: Action) -> None:
        super().__init__(id="confirm-action")
        self._action = action

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            command = clean(self._action.command or "")
            yield Static(markup("[b]Run this action?[/b]\n$title", title=self._action.title))
            yield Static(markup("[$accent]$ $command[/]", command=command))
            # Control characters in a path would reach the terminal from the box too: the
            # box shows them escaped (a command holding one then fails rather than runs).
            yield Input(command, id="command", select_on_focus=False)
            yield Static(
                "[$text-muted]Enter runs the command in the box (edit it first if you like); "
                "Escape cancels. Its output streams into stage 7.[/]"
            )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        command = event.value.strip()
        self.dismiss(command or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
