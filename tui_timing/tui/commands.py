"""The command palette (ctrl+p): every stage, every suggested action and the app's commands.

The entries come from the app at the moment the palette opens, so the actions listed are
those of the latest decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider


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
            yield DiscoveryHit(entry.title, entry.callback, help=entry.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for entry in self._entries():
            score = matcher.match(entry.title)
            if score > 0:
                yield Hit(score, matcher.highlight(entry.title), entry.callback, help=entry.help)
