"""Markdown renderings: the findings summary (docs/cli.md#scratchpad) and the full `--format
markdown` report.

Both pass through `printable`: the scratchpad is read in a terminal too (`cat notes.md`).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from tui_timing.findings import Action, ArtifactRef, Report, StageResult
from tui_timing.report.text import printable, printable_name, project_line
from tui_timing.resources import sample_data_dir
from tui_timing.stages.catalog import STAGE_BY_ID, Stage

#: How an entry made from the bundled sample data is marked, so that it is never read, in
#: the user's own scratchpad, as a finding about the user's model.
SAMPLE_MARK = " (bundled sample data)"


def sample_mark(*artifacts: dict[str, ArtifactRef]) -> str:
    """SAMPLE_MARK when any artifact is a file of the bundled sample data, else ""."""
    sample = sample_data_dir().resolve()
    for refs in artifacts:
        for ref in refs.values():
            if sample in Path(ref.path).resolve().parents:
                return SAMPLE_MARK
    return ""


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def findings_markdown(
    report: Report, when: datetime | None = None, stage: int | None = None
) -> str:
    """The scratchpad entry: heading, artifacts, per-stage table, verdict and actions.

    With `stage`, the entry is that stage's alone (the plan logs findings after each
    stage): its row, then each check that does not pass with its sentence; the verdict
    only for stage 7.
    """
    when = when or datetime.now().astimezone()
    heading = f"## timing-tui findings {when.isoformat(timespec='seconds')}"
    heading += sample_mark(report.artifacts)
    shown = _stage(report, stage)
    if stage is not None:
        heading += f" (stage {stage}{' ' + shown.name if shown else ''})"
    lines = [heading, ""]
    lines.append("Artifacts:")
    if not report.artifacts:
        lines.append("- (none)")
    for kind, ref in report.artifacts.items():
        lines.append(f"- {kind}: `{printable_name(ref.path)}` ({ref.short_hash})")
    lines += ["", "| stage | status | key figures |", "| --- | --- | --- |"]
    for row in report.stages if stage is None else [shown] if shown else []:
        lines.append(f"| {row.id} {row.name} | {row.status} | {_cell(_key_figures(row))} |")
    lines.append("")
    if stage is not None and stage != Stage.DECISION:
        lines += [f"- {line}" for line in _not_passing(shown)] or ["- every check passes"]
    elif report.decision is not None:
        lines.append(f"Verdict of {report.decision.rule_label}: {report.decision.verdict}")
        lines += [f"- {_action_line(action)}" for action in report.decision.actions]
    else:
        lines.append("Verdict: not reached (the decision stage did not run)")
    if report.error is not None:
        lines.append(f"- Error: {_error_line(report.error)}")
    return printable("\n".join(lines) + "\n")


def findings_bullet(report: Report, when: datetime | None = None, stage: int | None = None) -> str:
    """The same findings as one dated bullet with nested lines, for a scratchpad kept as
    dated bullets (`- 2025-10-24: ...`): the date, what was exported and the outcome on
    the first line; artifacts, stages, checks, actions nested under it."""
    when = when or datetime.now().astimezone()
    shown = _stage(report, stage)
    decision = report.decision
    if stage is not None and stage != Stage.DECISION:
        what = f"stage {stage} {shown.name}: {shown.status}" if shown else f"stage {stage}: not run"
    elif decision is not None:
        what = f"verdict of {decision.rule_label}: {decision.verdict}"
    else:
        what = "verdict not reached (the decision stage did not run)"
    at = f"timing-tui findings at {when.strftime('%H:%M')}{sample_mark(report.artifacts)}"
    first = f"- {when.date().isoformat()}: {at}, {what}"
    nested = [
        f"artifacts: {kind} `{printable_name(ref.path)}` ({ref.short_hash})"
        for kind, ref in report.artifacts.items()
    ]
    rows = report.stages if stage is None else [shown] if shown else []
    nested += [
        f"stage {row.id} {row.name}: {row.status}; {_key_figures(row)}"
        for row in rows
        if row.id != Stage.DECISION  # its verdict is the first line
    ]
    if stage is not None and stage != Stage.DECISION:
        nested += _not_passing(shown)
    elif decision is not None:
        nested += [f"action: {_action_line(action)}" for action in decision.actions]
    if report.error is not None:
        nested.append(f"error: {_error_line(report.error)}")
    text = "\n".join([first, *(f"  - {line}" for line in nested)])
    return printable(text + "\n")


def _stage(report: Report, stage: int | None) -> StageResult | None:
    return next((s for s in report.stages if s.id == stage), None) if stage else None


def _not_passing(stage: StageResult | None) -> list[str]:
    """`id (status): sentence` for each check of the stage that does not pass."""
    if stage is None:
        return []
    return [
        f"{c.id} ({c.status}): {c.message}".replace("\n", " ")
        for c in stage.checks
        if c.status != "pass"
    ]


def _action_line(action: Action) -> str:
    line = f"{action.title}: {action.why}"
    if action.evidence:
        line += f" [evidence: {', '.join(action.evidence)}]"
    if action.command:
        line += f" `{action.command}`"
    return line.replace("\n", " ")


def _error_line(err: dict[str, str | None]) -> str:
    where = str(err["file"]) + (f" [{err['key']}]" if err.get("key") else "")
    return printable_name(f"{where}: {err['problem']}")


def _key_figures(stage: StageResult) -> str:
    if stage.skip_reason:
        return f"skipped: {stage.skip_reason}"
    failing = [c.id for c in stage.checks if c.status in ("fail", "error", "warn")]
    parts = list(stage.figures)
    if failing:
        parts.append("not passing: " + ", ".join(failing))
    return printable_name("; ".join(parts) or "-")


def full_markdown(report: Report, when: datetime | None = None) -> str:
    """The findings summary followed by every check of every stage."""
    lines = [findings_markdown(report, when)]
    if report.project is not None:
        lines += [project_line(report.project), ""]
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
