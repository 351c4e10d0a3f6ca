"""Renderings of a Comparison (docs/cli.md#compare): text for a terminal, the JSON object, the
markdown report and the scratchpad entry (the format of docs/cli.md#scratchpad, for two runs: a
section, or one dated bullet for a scratchpad kept as dated bullets).

Like the `check` reports, everything goes through `printable`: paths and messages can come
from a hostile folder, and a scratchpad is read in a terminal too.
"""

from __future__ import annotations

import json
from datetime import datetime

from tui_timing.findings import ArtifactRef, Report, StageResult
from tui_timing.report.compare import Change, Comparison
from tui_timing.report.markdown import _cell, sample_mark
from tui_timing.report.text import MARKS, printable, project_line
from tui_timing.stages.catalog import STAGE_BY_ID

ABSENT = "-   "
#: The decision stage: its figures are the verdict, which the report prints on its own.
DECISION = 7


def render_compare_json(comparison: Comparison) -> str:
    """The JSON object (docs/cli.md#compare) as strict JSON (non-finite numbers were already made
    strings)."""
    return json.dumps(comparison.as_dict(), indent=2, allow_nan=False, ensure_ascii=False)


def artifact_groups(comparison: Comparison) -> list[tuple[str, dict[str, ArtifactRef]]]:
    """The artifacts as "A <name>", "B <name>" and "both" (the files the runs share)."""
    refs_a, refs_b = comparison.a.artifacts, comparison.b.artifacts
    both = {k: r for k, r in refs_a.items() if k in refs_b and refs_b[k].path == r.path}
    name_a, name_b = comparison.names
    return [
        (f"A {name_a}", {k: r for k, r in refs_a.items() if k not in both}),
        (f"B {name_b}", {k: r for k, r in refs_b.items() if k not in both}),
        ("both", both),
    ]


def render_compare_text(comparison: Comparison) -> str:
    """Artifacts per run, every stage with each check's status in A and B, verdicts, summary."""
    lines = ["timing-tui compare", ""]
    if comparison.project is not None:
        lines += [project_line(comparison.project), ""]
    for title, refs in artifact_groups(comparison):
        lines.append(f"{title}:")
        lines += [f"  {kind:<12} {ref.path}  [{ref.short_hash}]" for kind, ref in refs.items()]
        if not refs:
            lines.append("  (none)")
    lines += _readings(comparison)
    for stage_id in _stage_ids(comparison):
        lines.append("")
        lines.extend(_stage_lines(comparison, stage_id))
    lines.append("")
    for side, report in _sides(comparison):
        lines.append(_verdict_line(side, report).removeprefix("- "))
        if report.error is not None:
            err = report.error
            where = f"{err['file']}" + (f" [{err['key']}]" if err.get("key") else "")
            lines.append(f"Error {side}: {where}: {err['problem']}")
    lines += ["", comparison.summary, f"Exit code {comparison.exit_code}."]
    return printable("\n".join(lines) + "\n")


def _readings(comparison: Comparison) -> list[str]:
    """Where A's and B's assumptions differ (nothing when they agree)."""
    changed = comparison.readings
    if not changed:
        return []
    return ["Read differently:", *(f"  {r.line()}" for r in changed)]


def _stage_ids(comparison: Comparison) -> list[int]:
    return sorted({s.id for s in comparison.a.stages} | {s.id for s in comparison.b.stages})


def _status(stage: StageResult | None) -> str:
    return stage.status.upper() if stage else "NOT RUN"


def _stage_lines(comparison: Comparison, stage_id: int) -> list[str]:
    stage_a, stage_b = comparison.a.stage(stage_id), comparison.b.stage(stage_id)
    info = STAGE_BY_ID[stage_id]
    note = "  (same inputs: run once)" if stage_id in comparison.shared else ""
    lines = [
        f"Stage {stage_id} {info.name} ({info.title}): A {_status(stage_a)}, "
        f"B {_status(stage_b)}{note}"
    ]
    lines += [f"  {_change_line(c)}" for c in comparison.stage_changes(stage_id)]
    if stage_id == DECISION:
        return lines  # its figures are the verdicts, printed once below
    figures_a = " · ".join(stage_a.figures) if stage_a else ""
    figures_b = " · ".join(stage_b.figures) if stage_b else ""
    if figures_a == figures_b and figures_a:
        lines.append(f"  figures: {figures_a}")
    elif figures_a != figures_b:
        lines += [f"  figures A: {figures_a or 'n/a'}", f"  figures B: {figures_b or 'n/a'}"]
    return lines


def _mark(status: str | None) -> str:
    return MARKS[status] if status else ABSENT


def _change_line(change: Change) -> str:
    marks = f"[{_mark(change.a)}] → [{_mark(change.b)}]"
    kind = "" if change.kind == "same" else change.kind
    return f"{marks} {change.id:<30} {kind:<9} {figure_change(change)}".rstrip()


def figure_change(change: Change) -> str:
    """The key figure as it moved ("KL 1.68 → 0.2321"), once when it did not move; "n/a"
    for the side that has none."""
    if change.figure_a == change.figure_b:
        return change.figure_a or ""
    return f"{change.figure_a or 'n/a'} → {change.figure_b or 'n/a'}"


def comparison_entry(comparison: Comparison, when: datetime | None = None) -> str:
    """The scratchpad entry: heading, artifacts with short hashes, a per-stage table of both
    statuses and what changed, both verdicts and the one-line summary (docs/cli.md#scratchpad)."""
    when = when or datetime.now().astimezone()
    mark = sample_mark(comparison.a.artifacts, comparison.b.artifacts)
    lines = [f"## timing-tui comparison {when.isoformat(timespec='seconds')}{mark}", ""]
    for title, refs in artifact_groups(comparison):
        listed = ", ".join(f"{k} `{r.path}` ({r.short_hash})" for k, r in refs.items())
        lines.append(f"- {title}: {listed or '(none)'}")
    lines += ["", "| stage | A | B | what changed |", "| --- | --- | --- | --- |"]
    for stage_id in _stage_ids(comparison):
        stage_a, stage_b = comparison.a.stage(stage_id), comparison.b.stage(stage_id)
        what = _what_changed(comparison, stage_id)
        lines.append(
            f"| {stage_id} {STAGE_BY_ID[stage_id].name} | {_status(stage_a).lower()} | "
            f"{_status(stage_b).lower()} | {_cell(what)} |"
        )
    lines.append("")
    for side, report in _sides(comparison):
        lines.append(_verdict_line(side, report))
    lines.append(f"- {comparison.summary}")
    return printable("\n".join(lines) + "\n")


def comparison_bullet(comparison: Comparison, when: datetime | None = None) -> str:
    """The same entry as one dated bullet with nested lines, for a scratchpad kept as dated
    bullets (`- 2025-10-24: ...`): the date and the summary first, then the artifacts,
    each stage's two statuses and what changed, and both verdicts nested under it."""
    when = when or datetime.now().astimezone()
    mark = sample_mark(comparison.a.artifacts, comparison.b.artifacts)
    first = (
        f"- {when.date().isoformat()}: timing-tui comparison at {when.strftime('%H:%M')}{mark}, "
        f"{comparison.summary}"
    )
    nested = []
    for title, refs in artifact_groups(comparison):
        listed = ", ".join(f"{k} `{r.path}` ({r.short_hash})" for k, r in refs.items())
        nested.append(f"{title}: {listed or '(none)'}")
    for stage_id in _stage_ids(comparison):
        stage_a, stage_b = comparison.a.stage(stage_id), comparison.b.stage(stage_id)
        nested.append(
            f"stage {stage_id} {STAGE_BY_ID[stage_id].name}: A {_status(stage_a).lower()}, "
            f"B {_status(stage_b).lower()}; {_what_changed(comparison, stage_id)}"
        )
    nested += [_verdict_line(side, r).removeprefix("- ") for side, r in _sides(comparison)]
    text = "\n".join(
        [first.replace("\n", " "), *(f"  - {line}".replace("\n", " ") for line in nested)]
    )
    return printable(text + "\n")


def _sides(comparison: Comparison) -> list[tuple[str, Report]]:
    return [("A", comparison.a), ("B", comparison.b)]


def _what_changed(comparison: Comparison, stage_id: int) -> str:
    moved = [c for c in comparison.stage_changes(stage_id) if c.kind != "same"]
    if not moved:
        return "same inputs, run once" if stage_id in comparison.shared else "no check changed"
    return "; ".join(
        f"{c.kind} `{c.id}`" + (f" ({figure})" if (figure := figure_change(c)) else "")
        for c in moved
    )


def _verdict_line(side: str, report: Report) -> str:
    if report.decision is None:
        return f"- Verdict {side}: not reached (the decision stage did not run)"
    return f"- Verdict {side}, {report.decision.rule_label}: {report.decision.verdict}"


def compare_markdown(comparison: Comparison, when: datetime | None = None) -> str:
    """The scratchpad entry followed by every check's status and key figure in A and B."""
    lines = [comparison_entry(comparison, when)]
    if comparison.project is not None:
        lines += [project_line(comparison.project), ""]
    readings = comparison.readings
    if readings:
        lines += ["### Read differently", "", *(f"- {_cell(r.line())}" for r in readings), ""]
    for stage_id in _stage_ids(comparison):
        lines += [f"### Stage {stage_id}: {STAGE_BY_ID[stage_id].title}", ""]
        changes = comparison.stage_changes(stage_id)
        if not changes:
            lines += ["_no checks_", ""]
            continue
        lines += ["| check | A | B | change | key figure |", "| --- | --- | --- | --- | --- |"]
        lines += [
            f"| `{c.id}` | {c.a or 'n/a'} | {c.b or 'n/a'} | {c.kind} | {_cell(figure_change(c))} |"
            for c in changes
        ]
        lines.append("")
    return printable("\n".join(lines))
