"""The plain-text report of `timing-tui check --format text` (for a terminal or a log)."""

from __future__ import annotations

import re
from typing import Any

from tui_timing.findings import Check, Decision, Report, StageResult
from tui_timing.stages.catalog import STAGE_BY_ID

MARKS = {"pass": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "skip", "error": "ERR "}

#: Control characters but tab and newline (C0, DEL, C1), zero-width and bidi controls
#: (the Arabic letter mark is one), and the line and paragraph separators.
#: Lone surrogates stand for the bytes of a file name that is not UTF-8 (surrogateescape):
#: they cannot be encoded for a terminal or a file, so they are shown escaped too.
_UNPRINTABLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)
#: The same and newline and tab: a name is one line.
_UNPRINTABLE_IN_NAME = re.compile(f"[\t\n{_UNPRINTABLE.pattern[1:-1]}]")


def printable(text: str) -> str:
    """`text` with control characters shown as escapes (`\\x1b`, `\\u202e`).

    Key names, paths and messages can come from a hostile file: a raw ESC in them would
    drive the user's terminal (retitle it, clear it, write the clipboard), and a bidi
    override would make a line read as something else.
    """
    return _UNPRINTABLE.sub(_escape, text)


def printable_name(name: object) -> str:
    """A file or folder name (or a path) for one line: `printable`, and its newlines and
    tabs escaped too, so that a name holding a newline cannot start a line of its own (a
    forged finding on screen, a key line in a file the export appends to)."""
    return _UNPRINTABLE_IN_NAME.sub(_escape, str(name))


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def project_line(project: str) -> str:
    """Which pyproject.toml's table configured the run (it can run code and set
    tolerances), as every report of `check` and `compare` says it."""
    return f"Project table: [tool.timing-tui] of {printable_name(project)}"


def render_text(report: Report) -> str:
    """The whole report: artifacts, each stage with its checks and figures, the decision."""
    lines: list[str] = ["timing-tui check", ""]
    if report.project is not None:
        lines += [project_line(report.project), ""]
    lines.append("Artifacts:")
    if not report.artifacts:
        lines.append("  (none)")
    for kind, ref in report.artifacts.items():
        lines.append(f"  {kind:<12} {printable_name(ref.path)}  [{ref.short_hash}]")
    if report.assumptions:
        lines += ["", "Read as (inferred; a table line or option overrides each):"]
        lines.extend(f"  {a.line()}" for a in report.assumptions)
    for stage in report.stages:
        lines.append("")
        lines.extend(_stage_lines(stage))
    if report.decision is not None:
        lines.append("")
        lines.extend(decision_lines(report.decision))
    if report.error is not None:
        lines += ["", f"Error: {error_line(report.error)}"]
    lines += ["", f"Exit code {report.exit_code}."]
    return printable("\n".join(lines) + "\n")


def error_line(error: dict[str, Any]) -> str:
    """A report's error as one line: the file, the key where one is named, the problem."""
    key = f" [{error['key']}]" if error.get("key") else ""
    return f"{error['file']}{key}: {error['problem']}"


def _stage_lines(stage: StageResult) -> list[str]:
    title = STAGE_BY_ID[stage.id].title
    status = stage.status.upper()
    if not stage.assessed:
        status += f", not assessed ({stage.checks_ran} of {len(stage.checks)} checks ran)"
    lines = [f"Stage {stage.id} {stage.name} ({title}): {status}"]
    if stage.skip_reason:
        lines.append(f"  skipped: {stage.skip_reason}")
        return lines
    lines.extend(f"  {_check_line(c)}" for c in stage.checks)
    if stage.figures:
        lines.append("  figures: " + " · ".join(stage.figures))
    return lines


def _check_line(check: Check) -> str:
    return f"[{MARKS[check.status]}] {check.id:<30} {check.message}"


def decision_lines(decision: Decision) -> list[str]:
    """The verdict and the numbered actions, each with its evidence and command."""
    lines = [f"Verdict of {decision.rule_label}: {decision.verdict}"]
    for number, action in enumerate(decision.actions, start=1):
        lines.append(f"  {number}. {action.title}")
        lines.append(f"     why: {action.why}")
        if action.evidence:
            lines.append(f"     evidence: {', '.join(action.evidence)}")
        if action.command:
            lines.append(f"     $ {action.command}")
    return lines
