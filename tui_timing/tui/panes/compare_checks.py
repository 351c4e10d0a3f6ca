"""A stage's checks in compare mode: each check's status in A and in B, what kind of change
that is, and its key figure in both runs.

What moved comes first (regressed, then fixed, then other changes), what stayed after it,
so the first screen of a pane answers "did the fix fix it, and did it break anything?".
Text from checks goes in as plain text (see safe_text.py), never as markup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.content import Content
from textual.widgets import Static

from tui_timing.tui.safe_text import lines, markup
from tui_timing.tui.status import COLORS, MARKS

if TYPE_CHECKING:
    from tui_timing.report.compare import Change
    from tui_timing.tui.compare_state import ComparedStage

#: The order changes are listed in, and how each kind is drawn.
KIND_ORDER = ("regressed", "fixed", "changed", "same")
KIND_STYLE = {"regressed": "$error", "fixed": "$success", "changed": "$warning", "same": ""}


def status_mark(status: str | None) -> str:
    """`✘ fail` in its colour; `– none` for a check the run does not have."""
    if status is None:
        return "[$text-muted]– none[/]"
    return f"[{COLORS[status]}]{MARKS[status]} {status}[/]"


def change_line(change: Change) -> Content:
    """`✘ fail → ✔ pass  model.profile_capacity  fixed  KL 1.68 → 0.2321`."""
    from tui_timing.report.compare_render import figure_change  # in compare mode only

    style = KIND_STYLE[change.kind]
    kind = f"  [{style}]{change.kind}[/]" if style else ""
    figure = figure_change(change)
    return markup(
        f"{status_mark(change.a)} → {status_mark(change.b)}  [b]$id[/b]{kind}"
        + ("  [$text-muted]$figure[/]" if figure else ""),
        id=change.id,
        figure=figure,
    )


class CompareChecks(Static):
    """Every check of the stage in both runs (hidden outside compare mode)."""

    DEFAULT_CSS = """
    CompareChecks {
        height: auto;
        margin-bottom: 1;
        display: none;
    }
    """

    def show(self, compared: ComparedStage) -> None:
        names = compared.comparison.names
        heading = markup("[b]Checks[/b], A $a → B $b", a=names[0], b=names[1])
        changes = sorted(compared.changes, key=lambda c: KIND_ORDER.index(c.kind))
        rows = [change_line(c) for c in changes]
        if compared.shared:
            rows.append(Content.from_markup("[$text-muted]same inputs: B took A's result[/]"))
        if not changes:
            rows.append(Content.from_markup("[$text-muted]no checks yet[/]"))
        self.update(lines([heading, *rows]))
