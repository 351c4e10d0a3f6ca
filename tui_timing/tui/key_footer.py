"""The footer's key line: Textual's footer, composed again only when its keys change.

Textual's footer composes all its keys again on every update of the screen's bindings. In
a traced launch it did so three times within 60 ms of the first frame, with the same keys
each time: 7-10 ms of the UI thread each, just while stage 1's first chart was on its way
(BENCHMARKS.md). A key that changes (shown, hidden, enabled or not) is still drawn.
"""

from __future__ import annotations

from textual.widgets import Footer


class KeyFooter(Footer):
    """A `Footer` that skips a recompose that would show the very same keys."""

    #: What the last compose showed (None: nothing composed from the bindings yet).
    _composed: tuple[object, ...] | None = None

    def _shown(self) -> tuple[object, ...]:
        """Everything of the screen's bindings that the footer's compose reads."""
        app = self.app
        keys = [
            (key, binding, enabled, tooltip, app.get_key_display(binding))
            for key, (_, binding, enabled, tooltip) in self.screen.active_bindings.items()
            if binding.show or key == app.COMMAND_PALETTE_BINDING
        ]
        palette = self.show_command_palette and app.ENABLE_COMMAND_PALETTE
        return (self._bindings_ready, palette, tuple(keys))

    async def recompose(self) -> None:
        """Compose again, unless the keys to show are those on show (or the footer has
        left its screen meanwhile, as Textual's own recompose checks: a dialog closed)."""
        if not self.is_attached:
            return
        shown = self._shown()
        if shown == self._composed:
            return
        self._composed = shown
        await super().recompose()
