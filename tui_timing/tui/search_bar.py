"""`/` search in the pane on show: a one-line bar above the footer, as in `less`.

Typing searches as you type; Enter or Down goes to the next match, Up to the previous;
Escape closes the bar (and only the bar). The app finds and marks the matches; this
widget only reads the query and the keys, and says how many matched.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Static

from tui_timing.tui.safe_text import markup


class SearchBar(Horizontal):
    """Made on the first `/`, hidden when closed; posts Changed, Step and Closed."""

    DEFAULT_CSS = """
    SearchBar {
        height: 1;
        background: $boost;
    }
    SearchBar .search-label { width: auto; padding: 0 1; text-style: bold; }
    SearchBar Input { width: 1fr; }
    SearchBar .search-count { width: auto; padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close search", show=False),
        Binding("down", "step(1)", "Next match", show=False),
        Binding("up", "step(-1)", "Previous match", show=False),
    ]

    class Changed(Message):
        """The query changed."""

        def __init__(self, query: str) -> None:
            super().__init__()
            self.query = query

    class Step(Message):
        """Go to the next (1) or previous (-1) match."""

        def __init__(self, step: int) -> None:
            super().__init__()
            self.step = step

    class Closed(Message):
        """The bar was closed."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        # Held, not queried: the bar is mounted while keys arrive, and until its children
        # are composed a query finds nothing (a key in that moment crashed the app).
        self._field = Input(placeholder="search this stage", compact=True, id="search-input")
        self._count = Static(classes="search-count")

    def compose(self) -> ComposeResult:
        yield Static("/", classes="search-label")
        yield self._field
        yield self._count

    def open(self) -> None:
        """Show the bar with the previous query selected, ready to type over."""
        self.display = True
        field = self._field
        # At once, not after a refresh (`focus()`): what is typed right after `/` is the
        # query, not keys for the app (`a` would start an action).
        self.screen.set_focus(field)
        field.select_all()

    def type_ahead(self, character: str) -> bool:
        """Take a character typed before the box had the focus (a key already on its way
        through the app when `/` was handled); False when the box is not taking input."""
        field = self._field
        if not self.display or not field.is_mounted or self.screen.focused is not field:
            return False
        selection = field.selection
        if selection.is_empty:
            field.insert_text_at_cursor(character)
        else:  # the previous query, selected when the box opened: typing replaces it
            field.replace(character, *selection)
        return True

    def close(self) -> None:
        self.display = False

    @property
    def is_open(self) -> bool:
        return bool(self.display)

    @property
    def text(self) -> str:
        """The query as typed."""
        return self._field.value

    def show_count(self, current: int | None, total: int, query: str) -> None:
        """`2/5`, or `no match` (nothing when the query is empty)."""
        label = self._count
        if not query:
            label.update("")
        elif total == 0:
            label.update(markup("[$warning]no match[/]"))
        else:
            label.update(f"{(current or 0) + 1}/{total}")

    @on(Input.Changed, "#search-input")
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Changed(event.value))

    @on(Input.Submitted, "#search-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Step(1))

    def action_step(self, step: int) -> None:
        self.post_message(self.Step(step))

    def action_close(self) -> None:
        self.post_message(self.Closed())
