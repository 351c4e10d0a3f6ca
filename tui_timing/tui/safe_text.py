"""Text that came from files, shown safely.

Key names, paths, messages that quote them, run names and a command's output can come
from a hostile or broken file. Two things go wrong when such text is put on screen as is:

- markup: Textual's `escape()` leaves a `[` with no `]` alone, so `profile[` opens a tag
  that the app's own markup after it closes (MarkupError, and the app exits);
- the terminal: a raw ESC, a C1 control or a bidi override reaches it (`ESC ] 0 ; …`
  retitles the window, OSC 52 writes the clipboard, U+202E makes a line read backwards).

So the app's own markup is a template, and text from files only ever goes in as a
template value (`markup`) or as styled plain text (`styled`): never parsed as markup, and
always through `printable`, which shows control characters as escapes (`\\x1b`). The one
place that accepts nothing but a markup string (the command palette's help line) gets
`escape_markup`, which escapes every `[`.
"""

from __future__ import annotations

from textual.content import Content

from tui_timing.report.text import printable


def clean(value: object) -> str:
    """`value` as text, its control characters shown as escapes."""
    return printable(str(value))


def styled(value: object, style: str = "") -> Content:
    """`value` as plain text (no markup) in one style."""
    return Content.styled(clean(value), style)


def markup(template: str, **values: object) -> Content:
    """The app's own markup `template` with each `$name` replaced by a value as plain text.

    Example: `markup("[b]$id[/b]  $message", id=check.id, message=check.message)`.
    """
    return Content.from_markup(template, **{name: clean(v) for name, v in values.items()})


def lines(parts: list[Content]) -> Content:
    """Contents one per line."""
    return Content("\n").join(parts)


def escape_markup(value: object) -> str:
    """`value` for a place that parses markup from a string: every `[` escaped."""
    return clean(value).replace("[", "\\[")
