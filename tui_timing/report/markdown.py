"""Markdown renderings: the findings summary (SPEC 6) and the full `--format markdown` report.

Both pass through `printable`: the scratchpad is read in a terminal too (`cat notes.md`).
"""

from __future__ import annotations

from datetime import datetime

from tui_timing.findings import Report, StageResult
from tui_timing.report.text import printable
from tui_timing.stages.catalog import STAGE_BY_ID


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def findings_markdown(report: Report, when: datetime | None = None) -> str:
    """The scratchpad entry: heading, artifacts, per-stage table, verdict and actions."""
    when = when or datetime.now().astimezone()
    lines = [f"## timing-tui findings {when.isoformat(timespec='seconds')}", ""]
    lines.append("Artifacts:")
    if not report.artifacts:
        lines.append("- (none)")
    for kind, ref in report.artifacts.items():
        lines.append(f"- {kind}: `{ref.path}` ({ref.short_hash})")
    lines += ["", "| stage | status | key figures |", "| --- | --- | --- |"]
    for stage in report.stages:
        lines.append(f"| {stage.id} {stage.name} | {stage.status} | {_cell(_key_figures(stage))} |")
    lines.append("")
    if report.decision is not None:
        lines.append(f"Verdict: {report.decision.verdict} (rule {report.decision.rule})")
        for action in report.decision.actions:
            line = f"- {action.title}: {action.why}"
            if action.evidence:
                line += f" [evidence: {', '.join(action.evidence)}]"
            if action.command:
                line += f" `{action.command}`"
            lines.append(line)
    else:
        lines.append("Verdict: not reached (the decision stage did not run)")
    if report.error is not None:
        err = report.error
        where = f"{err['file']}" + (f" [{err['key']}]" if err.get("key") else "")
        lines.append(f"- Error: {where}: {err['problem']}")
    return printable("\n".join(lines) + "\n")


def _key_figures(stage: StageResult) -> str:
    if stage.skip_reason:
        return f"skipped: {stage.skip_reason}"
    failing = [c.id for c in stage.checks if c.status in ("fail", "error", "warn")]
    parts = list(stage.figures)
    if failing:
        parts.append("not passing: " + ", ".join(failing))
    return "; ".join(parts) or "-"


def full_markdown(report: Report, when: datetime | None = None) -> str:
    """The findings summary followed by every check of every stage."""
    lines = [findings_markdown(report, when)]
    for stage in report.stages:
        title = STAGE_BY_ID[stage.id].title
        lines += [f"### Stage {stage.id}: {title} ({stage.status})", ""]
        if not stage.checks:
            lines.append(f"_{stage.skip_reason or 'no checks'}_\n")
            continue
        lines += ["| check | status | message |", "| --- | --- | --- |"]
        lines += [f"| `{c.id}` | {c.status} | {_cell(c.message)} |" for c in stage.checks]
        lines.append("")
    return printable("\n".join(lines))
