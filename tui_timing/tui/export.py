"""Append the findings summary (docs/cli.md#scratchpad) to the scratchpad from the results so far:
the whole diagnosis (`e`) or the stage on show alone (`E`).

Runs on a worker thread: building the report hashes every artifact, which for a large
cache takes seconds.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tui_timing.stages.catalog import ALL_STAGES

if TYPE_CHECKING:
    from tui_timing.stages.context import StageContext


def export_findings(
    ctx: StageContext, scratchpad: Path, stage: int | None = None, within: Path | None = None
) -> tuple[Path, str]:
    """Append the entry (of one stage when `stage` is given); return where it went and a
    one-line summary of what it said. `within`: the project folder the scratchpad must be
    in (when it was not named on the command line).

    Raises ArtifactError (the scratchpad is then unchanged).
    """
    from tui_timing.report.markdown import findings_bullet, findings_markdown
    from tui_timing.report.scratchpad import append_entry
    from tui_timing.stages.runner import build_report

    report = build_report(ctx, ALL_STAGES if stage is None else (stage,))
    when = datetime.now().astimezone()
    written = append_entry(
        scratchpad,
        findings_markdown(report, when, stage),
        bullet=findings_bullet(report, when, stage),
        within=within,
    )
    if stage is not None:
        shown = next((s for s in report.stages if s.id == stage), None)
        return written, f"stage {stage}: {shown.status}" if shown else f"stage {stage} has not run"
    done = len(report.stages)
    summary = f"{done} of {len(ALL_STAGES)} stages"
    if report.decision is not None:
        summary += f", verdict: {report.decision.rule_label}"
    elif done < len(ALL_STAGES):
        summary += " (the others had not finished)"
    return written, summary


def default_scratchpad(cwd: Path) -> Path:
    """docs/cli.md#scratchpad: `./scratchpad.md` if it exists, else the first
    `docs/*scratchpad*.md`, else `./scratchpad.md` (created by the export)."""
    here = cwd / "scratchpad.md"
    if here.is_file():
        return here
    found = sorted(p for p in (cwd / "docs").glob("*scratchpad*.md") if p.is_file())
    return found[0] if found else here
