"""The command palette (ctrl+p): every stage, every suggested action and the app's commands.

The entries come from the app at the moment the palette opens, so the actions listed are
those of the latest decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher

from tui_timing.tui.safe_text import clean, escape_markup


@dataclass(frozen=True)
class PaletteEntry:
    """One palette command: what it is called, what it does, and a line of help."""

    title: str
    callback: Callable[[], object]
    help: str


class HasPaletteEntries(Protocol):
    def palette_entries(self) -> list[PaletteEntry]: ...


class TimingCommands(Provider):
    """Offers the app's palette entries, fuzzy-matched on their titles."""

    def _entries(self) -> list[PaletteEntry]:
        return cast(HasPaletteEntries, self.app).palette_entries()

    async def discover(self) -> Hits:
        for entry in self._entries():
            title = clean(entry.title)
            yield DiscoveryHit(
                Content(title), entry.callback, text=title, help=escape_markup(entry.help)
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for entry in self._entries():
            title = clean(entry.title)
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score,
                    highlight(matcher, title),
                    entry.callback,
                    text=title,
                    help=escape_markup(entry.help),
                )


def highlight(matcher: Matcher, title: str) -> Content:
    """The title as plain text with the matched letters highlighted.

    `Matcher.highlight` parses the title as markup: an action's title can quote a key or a
    path from a file, and a `[` in it would break the palette.
    """
    content = Content(title)
    score, offsets = matcher.fuzzy_search.match(matcher.query, title)
    if not score:
        return content
    for offset in offsets:
        if not title[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content
