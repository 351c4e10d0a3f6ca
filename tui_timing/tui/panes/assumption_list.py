"""What was inferred about the artifacts a stage read, one line each ("read as").

A reading the tool was not sure of is shown beside the evidence it produced, with its
source, so a wrong reading is seen on the screen that relies on it (and the table line
that corrects it is one `Enter` away).
"""

from __future__ import annotations

from textual.containers import Vertical

from tui_timing.findings import Assumption
from tui_timing.tui.panes.pane_item import PaneItem
from tui_timing.tui.safe_text import markup


class AssumptionList(Vertical):
    """`read as · checkpoint: model config = config.json (beside the weights)`."""

    DEFAULT_CSS = """
    AssumptionList { height: auto; margin-bottom: 1; }
    """

    def show(self, assumptions: list[Assumption]) -> None:
        """Replace the lines with these assumptions (hidden when there are none)."""
        self.display = bool(assumptions)
        self.remove_children()
        if assumptions:
            self.mount_all(
                [
                    PaneItem(markup("[dim]read as[/] $line", line=a.line()), a.line(), "read as")
                    for a in assumptions
                ]
            )
