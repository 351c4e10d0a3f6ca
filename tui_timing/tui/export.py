"""Append the findings summary (SPEC 6) to the scratchpad from the results so far.

Runs on a worker thread: building the report hashes every artifact, which for a large
cache takes seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tui_timing.stages.catalog import ALL_STAGES

if TYPE_CHECKING:
    from tui_timing.stages.context import StageContext


def export_findings(ctx: StageContext, scratchpad: Path) -> tuple[Path, str]:
    """Append the entry; return where it went and a one-line summary of what it said.

    Raises ArtifactError (the scratchpad is then unchanged).
    """
    from tui_timing.report.markdown import findings_markdown
    from tui_timing.report.scratchpad import append_entry
    from tui_timing.stages.runner import build_report

    report = build_report(ctx, ALL_STAGES)
    written = append_entry(scratchpad, findings_markdown(report))
    done = len(report.stages)
    summary = f"{done} of {len(ALL_STAGES)} stages"
    if report.decision is not None:
        summary += f", verdict: {report.decision.verdict}"
    elif done < len(ALL_STAGES):
        summary += " (the others had not finished)"
    return written, summary
