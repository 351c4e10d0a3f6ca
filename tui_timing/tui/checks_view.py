"""The checks of a stage, one row each: status, id, the sentence, measured against expected.

Each row is a status column beside a body, so a long sentence wraps under its own text
(not under the status) in a pane 50 columns wide as well as 200. The measured/expected
line never wraps: it is cut at the pane's edge, so a dict of quantiles costs one line and
the charts stay within reach at 80x24 (the sentence already states the figures that matter;
`check --format json` has them all).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.widgets import Static

from tui_timing.report.results import Check
from tui_timing.tui.formatting import format_value
from tui_timing.tui.status import status_markup

STATUS_WIDTH = 7


def check_text(check: Check) -> str:
    """The check's id and its sentence."""
    return f"[b]{escape(check.id)}[/b]  {escape(check.message)}"


def check_figures(check: Check) -> str:
    """What was measured against what was expected."""
    measured = escape(format_value(check.measured))
    expected = escape(format_value(check.expected))
    return f"[$text-muted]measured[/] {measured} [$text-muted]· expected[/] {expected}"


def summary_markup(checks: list[Check]) -> str:
    """`Checks: 10 pass · 1 warn`, worst last, so the eye lands on what needs attention."""
    counts: dict[str, int] = {}
    for check in checks:
        counts[check.status] = counts.get(check.status, 0) + 1
    order = ("pass", "skip", "warn", "fail", "error")
    parts = [f"{counts[s]} {status_markup(s)}" for s in order if s in counts]
    return "[b]Checks[/b]: " + " · ".join(parts)


class CheckRow(Horizontal):
    """One check: its status on the left, the rest wrapping on the right."""

    def __init__(self, check: Check) -> None:
        super().__init__(classes="check-row")
        self._check = check

    def compose(self) -> ComposeResult:
        yield Static(status_markup(self._check.status), classes="check-status")
        with Vertical(classes="check-body"):
            yield Static(check_text(self._check), classes="check-text")
            yield Static(check_figures(self._check), classes="check-figures")

    def show(self, check: Check) -> None:
        """Show another check in this row (cheaper than a new row when the count is equal)."""
        self._check = check
        self.query_one(".check-status", Static).update(status_markup(check.status))
        self.query_one(".check-text", Static).update(check_text(check))
        self.query_one(".check-figures", Static).update(check_figures(check))


class ChecksView(Vertical):
    """All checks of a stage, in the order the stage reported them."""

    DEFAULT_CSS = f"""
    ChecksView {{ height: auto; }}
    ChecksView .checks-summary {{ height: auto; margin-bottom: 1; }}
    ChecksView .check-row {{ height: auto; }}
    ChecksView .check-status {{ width: {STATUS_WIDTH + 1}; }}
    ChecksView .check-body {{ width: 1fr; height: auto; }}
    ChecksView .check-figures {{ text-wrap: nowrap; text-overflow: ellipsis; }}
    """

    def compose(self) -> ComposeResult:
        yield Static(classes="checks-summary")

    def show(self, checks: list[Check]) -> None:
        """Replace the rows, reusing them when the number of checks has not changed."""
        summary = self.query_one(".checks-summary", Static)
        summary.display = bool(checks)
        summary.update(summary_markup(checks) if checks else "")
        rows = list(self.query(CheckRow))
        if not rows and not checks:
            return
        if len(rows) == len(checks):
            for row, check in zip(rows, checks, strict=True):
                row.show(check)
            return
        for row in rows:
            row.remove()
        self.mount_all([CheckRow(check) for check in checks])
