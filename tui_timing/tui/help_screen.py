"""The key reference, built from the app's own bindings so it can never go out of date."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Static

EXTRA_KEYS: tuple[tuple[str, str], ...] = (
    ("up/down", "move in the stage list, or scroll the pane"),
    ("tab", "move between the stage list and the pane"),
    ("enter", "in the decision pane's action list: highlight an action for a"),
)


def help_markup(bindings: list[Binding]) -> str:
    """Every key with what it does, one per line."""
    lines = ["[b]timing-tui keys[/b]", ""]
    for binding in bindings:
        keys = binding.key_display or binding.key
        text = binding.tooltip or binding.description
        lines.append(f"[b $accent]{escape(keys.replace(',', ' ')):>10}[/]  {escape(text)}")
    for keys, description in EXTRA_KEYS:
        lines.append(f"[b $accent]{escape(keys):>10}[/]  {escape(description)}")
    lines += ["", "[$text-muted]Escape, q or ? closes this help.[/]"]
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    """A scrollable list of every key."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
        Binding("question_mark", "close", "Close", show=False),
    ]

    def __init__(self, bindings: list[Binding]) -> None:
        super().__init__(id="help")
        self._keys = bindings

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):
            yield Static(help_markup(self._keys))

    def action_close(self) -> None:
        self.dismiss(None)
