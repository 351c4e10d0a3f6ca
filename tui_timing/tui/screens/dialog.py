"""The base of the app's dialogs: each is closed once, whatever arrives after.

Two answers can be on their way before the first is handled (Enter twice on a list, or
Escape then Enter, typed within a frame). Textual's `dismiss` pops whatever screen is on
top, so a second one would close the screen below, or fail on the last one and crash the
app; here it is dropped.
"""

from __future__ import annotations

from typing import TypeVar

from textual.await_complete import AwaitComplete
from textual.screen import ModalScreen

ResultType = TypeVar("ResultType")


class Dialog(ModalScreen[ResultType]):
    """A modal screen whose `dismiss` acts only while it is the screen on top."""

    def dismiss(self, result: ResultType | None = None) -> AwaitComplete:
        if not self.is_active:
            return AwaitComplete.nothing()
        return super().dismiss(result)
