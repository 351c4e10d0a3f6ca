"""The key reference. The list comes from the command table (command_table.py), as the
bindings do, so it cannot go out of date; this screen only lays it out."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from tui_timing.tui.safe_text import lines, markup
from tui_timing.tui.screens.dialog import Dialog

#: Keys handled by the focused widget rather than by an app binding.
EXTRA_KEYS: tuple[tuple[str, str], ...] = (
    ("up down", "move in the stage list; in a pane, from figure to check (scrolling to it)"),
    ("enter", "in a pane: open the check or figure under the cursor whole"),
    ("pgup pgdn", "scroll the pane by a page (home, end: to its top, bottom)"),
    ("tab", "move between the stage list, the pane and stage 7's actions"),
)
#: The mouse, and every way to copy (over SSH too: y and Y use the terminal's clipboard).
MOUSE: tuple[tuple[str, str], ...] = (
    ("click", "a stage, an action, or a pane to move its cursor there"),
    ("drag", "select text in a pane, an action included; ctrl+c copies it"),
    ("shift+drag", "your terminal's own selection: it spans the stage list too"),
    (
        "copy",
        "y: the highlighted action's command, whole; Y: the check or figure under the "
        "cursor, with its full values (OSC 52: works over SSH and in tmux with set-clipboard on)",
    ),
)


def help_markup(keys: list[tuple[str, str]]) -> Content:
    """Every key with what it does, one per line."""
    # said first: in a short terminal the list runs past the dialog's bottom edge
    scroll = "[$text-muted]↑ ↓ pgup pgdn scroll this list; Escape, q or ? closes it.[/]"
    parts = [
        Content.from_markup("[b]timing-tui keys[/b]"),
        Content.from_markup(scroll),
        Content(""),
    ]
    for key, text in [*keys, *EXTRA_KEYS]:
        parts.append(markup("[b $accent]$key[/]  $text", key=f"{key:>10}", text=text))
    parts += [Content(""), Content.from_markup("[b]Mouse and copying[/b]"), Content("")]
    for key, text in MOUSE:
        parts.append(markup("[b $accent]$key[/]  $text", key=f"{key:>10}", text=text))
    parts += [Content(""), Content.from_markup("[$text-muted]Escape, q or ? closes this help.[/]")]
    return lines(parts)


class HelpScreen(Dialog[None]):
    """A scrollable list of every key."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
        Binding("question_mark", "close", "Close", show=False),
    ]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__(id="help")
        self._keys = keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):
            yield Static(help_markup(self._keys))

    def action_close(self) -> None:
        self.dismiss(None)
