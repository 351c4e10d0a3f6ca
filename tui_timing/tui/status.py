"""What the UI knows about each stage between runs, and how a status is shown.

A status is always spelled out as a word beside its mark and colour, so it reads the same
in a 16-colour terminal, without colour (NO_COLOR) and on a screen reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tui_timing.findings import StageResult

#: A check status, or where a stage is in its run.
DisplayStatus = Literal["pending", "running", "pass", "warn", "fail", "skip", "error"]

MARKS: dict[str, str] = {
    "pending": "·",
    "running": "…",
    "pass": "✔",
    "warn": "▲",
    "fail": "✘",
    "skip": "–",
    "error": "!",
}

#: The theme variable each status is drawn in (Textual resolves it for the current theme).
COLORS: dict[str, str] = {
    "pending": "$text-muted",
    "running": "$accent",
    "pass": "$success",
    "warn": "$warning",
    "fail": "$error",
    "skip": "$text-muted",
    "error": "$error",
}


def status_markup(status: str, width: int = 0) -> str:
    """`✔ pass` in its theme colour, as Textual content markup, padded to `width`."""
    label = f"{MARKS[status]} {status}".ljust(width)
    return f"[{COLORS[status]}]{label}[/]"


def ran_note(result: StageResult | None, brief: bool = False) -> str:
    """Beside the status of a stage most of whose checks skipped (the decision does not
    count it as assessed): `1/6 ran: not assessed` (`not assessed` when none ran) under it
    in the stage list, `1 of 6 checks ran: not assessed` in its pane; "" otherwise."""
    if result is None or result.assessed:
        return ""
    ran, total = result.checks_ran, len(result.checks)
    if brief:
        return f"{ran}/{total} ran: not assessed" if ran else "not assessed"
    return f"{ran} of {total} checks ran: not assessed"


@dataclass
class StageState:
    """One stage as the UI shows it: its last result, and whether it is running now."""

    id: int
    phase: Literal["pending", "running", "done"] = "pending"
    fraction: float = 0.0
    message: str = ""
    result: StageResult | None = None
    #: While running: what the stage has produced so far (the sampler's filling histograms).
    partial: StageResult | None = None
    #: Why the stage last (re-)ran: "start", "re-run", "stats.jsonl changed", ...
    reason: str = ""
    #: Wall-clock time ("12:03:07") the result was last replaced.
    updated: str = ""
    #: When the result shown was computed, if it came from the results cache (ISO 8601).
    cached_at: str = ""
    runs: int = 0
    #: Artifact problems this stage depends on: kind -> "file [key]: problem".
    artifact_errors: dict[str, str] = field(default_factory=dict)
    #: What the user's code printed for the last result: (while doing what, the text).
    printed: tuple[tuple[str, str], ...] = ()

    @property
    def status(self) -> DisplayStatus:
        if self.phase == "running":
            return "running"
        if self.phase == "pending" or self.result is None:
            return "pending"
        return self.result.status

    @property
    def shown_result(self) -> StageResult | None:
        """What the pane draws: the partial result while running, else the last result."""
        if self.phase == "running" and self.partial is not None:
            return self.partial
        return self.result
