"""The runs table as text, markdown, one JSON object, or one JSON line per row.

A row reads left to right the way a sweep is scanned: which run and checkpoint, how old,
each stage's status, the rule it ends at, the figures that rank runs (the duration fit's
gap in nats per row, σ against the residual spread, fake/real Δt median), and what
changed since the run's previous checkpoint.
"""

from __future__ import annotations

import json
import time
from typing import Any

from tui_timing.findings import json_ready
from tui_timing.report.runs import RunRow, stage_marks
from tui_timing.report.text import printable

#: One character per stage status, readable without colour.
MARK = {"pass": "✔", "warn": "!", "fail": "✘", "error": "E", "skip": "·"}
ASCII_MARK = {"pass": "+", "warn": "!", "fail": "x", "error": "E", "skip": "."}
HEADER = (
    "run",
    "checkpoint",
    "step",
    "age",
    "stages 1-6",
    "rule",
    "fit gap",
    "σ/resid",
    "Δt f/r",
    "vs previous",
)


def row_cells(row: RunRow, ascii_only: bool = False, now: float | None = None) -> list[str]:
    """The row's cells, in HEADER order (names escaped: they come from folder names)."""
    marks = ASCII_MARK if ascii_only else MARK
    figures = row.figures()
    decision = row.report.decision
    return [
        printable(row.target.run),
        printable(row.target.checkpoint.name) if row.target.checkpoint else "-",
        str(row.target.step) if row.target.step is not None else "-",
        _age(row.age_s(now)),
        "".join(marks[s] for s in stage_marks(row.report)),
        str(decision.rule) if decision is not None else "-",
        _fmt(figures["fit_gap_nats"], "{:+.3f}"),
        _fmt(figures["sigma_ratio"], "{:.2f}×"),
        _fmt(figures["dt_median_ratio"], "{:.3f}"),
        vs_previous(row),
    ]


def vs_previous(row: RunRow) -> str:
    """`fixed 2 · regressed 1` against the run's previous checkpoint, `same`, or `first`."""
    comparison = row.comparison
    if comparison is None:
        return "first" if row.target.checkpoint is not None else "-"
    parts = [
        f"{kind} {len(comparison.of_kind(kind))}"
        for kind in ("fixed", "regressed")
        if comparison.of_kind(kind)
    ]
    return " · ".join(parts) or "same"


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(seconds, 0.0)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def _fmt(value: float | None, pattern: str) -> str:
    return pattern.format(value) if value is not None else "-"


def render_runs_text(rows: list[RunRow], ascii_only: bool = False) -> str:
    """The table with aligned columns, and a legend."""
    now = time.time()
    table = [list(HEADER), *(row_cells(r, ascii_only, now) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in table
    ]
    marks = ASCII_MARK if ascii_only else MARK
    legend = ", ".join(f"{m} {s}" for s, m in marks.items())
    if not rows:
        lines.append("(no runs found)")
    lines += ["", f"stages: {legend}; rule: the decision's rule (9: nothing failed)"]
    return "\n".join(lines) + "\n"


def text_row(row: RunRow, ascii_only: bool = False) -> str:
    """One row on its own line (`--follow` prints rows as they land)."""
    return "  ".join(row_cells(row, ascii_only))


def render_runs_markdown(rows: list[RunRow]) -> str:
    """A markdown table of the rows."""
    now = time.time()
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for row in rows:
        cells = [c.replace("|", "\\|") for c in row_cells(row, False, now)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render_runs_json(rows: list[RunRow]) -> str:
    """The docs/cli.md object: `{"version": 1, "runs": [...]}`."""
    return _dumps({"version": 1, "runs": [row.as_dict() for row in rows]}, indent=2)


def json_line(row: RunRow) -> str:
    """One row as one line of JSON (`--format jsonl`)."""
    return _dumps({"version": 1, **row.as_dict()}, indent=None)


def _dumps(value: Any, indent: int | None) -> str:
    return json.dumps(json_ready(value), indent=indent, allow_nan=False, ensure_ascii=False)
