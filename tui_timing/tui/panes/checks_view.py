"""The checks of a stage, in two places of its pane.

`ChecksView` comes right after the key figures: the count by status, then each check that
is not `pass` as a row: status, id, the sentence, measured against expected. Each row is a
status column beside a body, so a long sentence wraps under its own text (not under the
status) in a pane 50 columns wide as well as 200. The measured/expected line never wraps:
it is cut at the pane's edge, so a dict of quantiles costs one line (the sentence already
states the figures that matter; `check --format json` has them all).

`PassedChecks` comes after the charts: the passing checks, one line each, cut at the edge.
What needs attention is on the first screen; what holds is still listed, below.

Every check is an item the pane's cursor rests on: Enter opens it whole, `Y` copies it.

All text from a check goes in as plain text (see safe_text.py), never as markup.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Static

from tui_timing.findings import Check
from tui_timing.tui.panes.formatting import format_value
from tui_timing.tui.panes.item_text import check_text as full_check_text
from tui_timing.tui.panes.pane_item import PaneItem
from tui_timing.tui.safe_text import markup
from tui_timing.tui.status import COLORS, MARKS, status_markup

STATUS_WIDTH = 7


def check_text(check: Check) -> Content:
    """The check's id and its sentence."""
    return markup("[b]$id[/b]  $message", id=check.id, message=check.message)


def check_figures(check: Check) -> Content:
    """What was measured against what was expected."""
    return markup(
        "[$text-muted]measured[/] $measured [$text-muted]· expected[/] $expected",
        measured=format_value(check.measured),
        expected=format_value(check.expected),
    )


def passed_line(check: Check) -> Content:
    """`✔ cache.load  The cache loads with weights_only=True.` on one line."""
    mark = f"[{COLORS[check.status]}]{MARKS[check.status]}[/]"
    return markup(
        mark + " [b]$id[/b]  [$text-muted]$message[/]", id=check.id, message=check.message
    )


def summary_markup(checks: list[Check]) -> str:
    """`Checks: 10 pass · 1 warn`, worst last, so the eye lands on what needs attention."""
    counts: dict[str, int] = {}
    for check in checks:
        counts[check.status] = counts.get(check.status, 0) + 1
    order = ("pass", "skip", "warn", "fail", "error")
    parts = [f"{counts[s]} {status_markup(s)}" for s in order if s in counts]
    return "[b]Checks[/b]: " + " · ".join(parts)


def needs_attention(checks: list[Check]) -> list[Check]:
    """The checks that are not `pass`, in the order the stage reported them."""
    return [c for c in checks if c.status != "pass"]


class CheckRow(Horizontal):
    """One check: its status on the left, the rest wrapping on the right."""

    def __init__(self, check: Check) -> None:
        super().__init__(classes="check-row item")
        self._check = check
        self.item_text = full_check_text(check)
        self.item_title = f"check {check.id}"
        # Held from the start, so that `show` can update a row whose children are not
        # mounted yet (a row mounted in this frame composes later).
        self._status = Static(status_markup(check.status), classes="check-status")
        self._text = Static(check_text(check), classes="check-text")
        self._figures = Static(check_figures(check), classes="check-figures")

    def compose(self) -> ComposeResult:
        yield self._status
        with Vertical(classes="check-body"):
            yield self._text
            yield self._figures

    def show(self, check: Check) -> None:
        """Show another check in this row (cheaper than a new row when the count is equal)."""
        self._check = check
        self.item_text = full_check_text(check)
        self.item_title = f"check {check.id}"
        self._status.update(status_markup(check.status))
        self._text.update(check_text(check))
        self._figures.update(check_figures(check))


class ChecksView(Vertical):
    """The count of a stage's checks by status, and a row for each one that is not `pass`."""

    DEFAULT_CSS = f"""
    ChecksView {{ height: auto; }}
    ChecksView .checks-summary {{ height: auto; }}
    ChecksView.-rows .checks-summary {{ margin-bottom: 1; }}
    ChecksView .check-row {{ height: auto; }}
    ChecksView .check-status {{ width: {STATUS_WIDTH + 1}; }}
    ChecksView .check-body {{ width: 1fr; height: auto; }}
    ChecksView .check-figures {{ text-wrap: nowrap; text-overflow: ellipsis; }}
    ChecksView.-shown {{ margin-bottom: 1; }}
    """

    def compose(self) -> ComposeResult:
        yield Static(classes="checks-summary")

    def show(self, checks: list[Check]) -> None:
        """Replace the rows, reusing them when the number of rows has not changed."""
        summary = self.query_one(".checks-summary", Static)
        summary.display = bool(checks)
        self.set_class(bool(checks), "-shown")
        summary.update(summary_markup(checks) if checks else "")
        shown = needs_attention(checks)
        self.set_class(bool(shown), "-rows")
        rows = list(self.query(CheckRow))
        if not rows and not shown:
            return
        if len(rows) == len(shown):
            for row, check in zip(rows, shown, strict=True):
                row.show(check)
            return
        for row in rows:
            row.remove()
        self.mount_all([CheckRow(check) for check in shown])


class PassedChecks(Vertical):
    """The passing checks of a stage, one line each (after the charts)."""

    DEFAULT_CSS = """
    PassedChecks {
        height: auto;
        margin-bottom: 1;
    }
    PassedChecks PaneItem {
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def compose(self) -> ComposeResult:
        yield Static(classes="passed-heading")

    def show(self, checks: list[Check]) -> None:
        """Replace the lines, reusing them when their number is unchanged."""
        passed = [c for c in checks if c.status == "pass"]
        self.display = bool(passed)
        heading = Content.from_markup(f"[b]Passing checks[/b] ({len(passed)})")
        self.query_one(".passed-heading", Static).update(heading)
        items = [(passed_line(c), full_check_text(c), f"check {c.id}") for c in passed]
        lines = list(self.query(PaneItem))
        if len(lines) == len(items):
            for line, item in zip(lines, items, strict=True):
                line.show(*item)
            return
        for line in lines:
            line.remove()
        if items:
            self.mount_all([PaneItem(*item) for item in items])
