"""Pick the second run of a comparison (`c`): the runs the app knows but the one on show.

The list holds the runs found under the working folder, those the app was given or
switched to, and the run an action just trained; Enter compares, Escape cancels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui_timing.tui.safe_text import styled
from tui_timing.tui.screens.dialog import Dialog

if TYPE_CHECKING:
    from tui_timing.artifacts.discovery import Run


class RunPicker(Dialog["Run | None"]):
    """Dismissed with the chosen run, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, runs: list[Run], current: str) -> None:
        super().__init__(id="run-picker")
        self._runs = runs
        self._current = current

    def compose(self) -> ComposeResult:
        options = [
            Option(styled(f"{run.name}  ({run.checkpoint or run.log})"), id=str(index))
            for index, run in enumerate(self._runs)
        ]
        with Vertical(classes="dialog"):
            yield Static(
                "[b]Compare with another run[/b] [$text-muted](Enter: compare · Escape: cancel)[/]"
            )
            yield Static(styled(f"A: {self._current}; the run you pick is B."))
            yield OptionList(*options, id="run-picker-list")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self._runs[int(event.option.id or 0)])

    def action_cancel(self) -> None:
        self.dismiss(None)
