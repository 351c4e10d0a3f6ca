"""Two runs' reports side by side (docs/cli.md#compare): did the new run fix what the old one
failed, and did it break anything?

Plain data over two Reports: every check's status in A and in B, the kind of change, the
checks' key figures, each run's decision rule, and one line that sums it up. The CLI and
the TUI render a Comparison; neither decides what counts as fixed or regressed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from tui_timing.findings import Check, Report, Status

ChangeKind = Literal["fixed", "regressed", "same", "changed"]

#: A check that ran and did not fail "passed" in the sense of docs/cli.md#exit-codes (a warning is
#: not a failure: `check` exits 0 on it), so pass ↔ warn is a change, not a fix or a regression.
PASSED: frozenset[str] = frozenset({"pass", "warn"})
FAILED: frozenset[str] = frozenset({"fail", "error"})
#: How many check ids the one-line summary names per kind before it says "and N more".
SUMMARY_IDS = 3


def change_kind(a: Status | None, b: Status | None) -> ChangeKind:
    """fixed: A failed, B passes; regressed: A passed, B fails; same: one status; else changed
    (a check that ran in one run only, pass ↔ warn, fail ↔ error)."""
    if a in FAILED and b in PASSED:
        return "fixed"
    if a in PASSED and b in FAILED:
        return "regressed"
    return "same" if a == b else "changed"


def check_figure(check: Check | None) -> str | None:
    """The check's key figure (its stage fills it: "fake/real 0.8168"), None without one."""
    return (check.key_figure or None) if check is not None else None


def paired_figures(a: Check | None, b: Check | None) -> tuple[str | None, str | None]:
    """Both runs' key figures of a check, of the same part where the figure names one (a
    quantile, a profile bin: the part A's figure names, else B's), so that the two sides
    are the same figure."""
    figures = (check_figure(a), check_figure(b))
    if (
        a is None
        or b is None
        or not (isinstance(a.measured, dict) and isinstance(b.measured, dict))
    ):
        return figures
    from tui_timing.stages.checks import PartFigure, declared_checks

    spec = next((s for s in declared_checks() if s.id == a.id), None)
    if spec is None or not isinstance(spec.figure, PartFigure):
        return figures
    paired = spec.figure.pair(a.measured, b.measured)
    if paired is None:
        return figures
    return (paired[0] or figures[0], paired[1] or figures[1])


@dataclass
class Change:
    """One check across the two runs."""

    id: str
    stage: int
    a: Status | None
    b: Status | None
    kind: ChangeKind
    figure_a: str | None
    figure_b: str | None

    def as_dict(self) -> dict[str, Any]:
        """The `changes` entry (docs/cli.md#compare)."""
        return {
            "id": self.id,
            "a": self.a,
            "b": self.b,
            "kind": self.kind,
            "figure_a": self.figure_a,
            "figure_b": self.figure_b,
        }


@dataclass(frozen=True)
class ReadingChange:
    """One fact read differently for the two runs (an assumption that is not the same in
    A and B), or read for one run only (None on the other side)."""

    artifact: str
    what: str
    a: str | None
    b: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"artifact": self.artifact, "what": self.what, "a": self.a, "b": self.b}

    def line(self) -> str:
        """`checkpoint: which checkpoint: A step_1080.pt · B (not assumed)`."""
        shown = [v if v is not None else "(not assumed)" for v in (self.a, self.b)]
        return f"{self.artifact}: {self.what}: A {shown[0]} · B {shown[1]}"


def reading_changes(a: Report, b: Report) -> list[ReadingChange]:
    """Where the two reports' assumptions differ, A's order first: a wrong reading of one
    run is a difference in the comparison that no check shows."""

    def values(report: Report) -> dict[tuple[str, str], str]:
        found: dict[tuple[str, str], str] = {}
        for item in report.assumptions:
            key = (item.artifact, item.what)
            found[key] = f"{found[key]}; {item.value}" if key in found else item.value
        return found

    in_a, in_b = values(a), values(b)
    keys = [*in_a, *(k for k in in_b if k not in in_a)]
    return [
        ReadingChange(artifact, what, in_a.get((artifact, what)), in_b.get((artifact, what)))
        for artifact, what in keys
        if in_a.get((artifact, what)) != in_b.get((artifact, what))
    ]


@dataclass
class Comparison:
    """Run A (the one a change started from) against run B (the new one)."""

    a: Report
    b: Report
    changes: list[Change]
    #: Stages B took from A because their inputs are the same (run once).
    shared: frozenset[int] = field(default_factory=frozenset)
    #: What the user called each run (the folder or checkpoint named on the command line).
    names: tuple[str, str] = ("A", "B")

    @property
    def project(self) -> str | None:
        """The pyproject.toml whose `[tool.timing-tui]` configured both runs (one table
        for the one command), None without one."""
        return self.a.project

    @property
    def readings(self) -> list[ReadingChange]:
        """Where A's and B's assumptions differ."""
        return reading_changes(self.a, self.b)

    def of_kind(self, kind: ChangeKind) -> list[Change]:
        return [c for c in self.changes if c.kind == kind]

    def change(self, check_id: str) -> Change | None:
        return next((c for c in self.changes if c.id == check_id), None)

    def stage_changes(self, stage_id: int) -> list[Change]:
        return [c for c in self.changes if c.stage == stage_id]

    @property
    def rules(self) -> tuple[int | None, int | None]:
        """The decision rule (docs/decision.md) each run ends at, None where stage 7 did not run."""
        return (
            self.a.decision.rule if self.a.decision else None,
            self.b.decision.rule if self.b.decision else None,
        )

    @property
    def exit_code(self) -> int:
        """docs/cli.md: 2 when either run has an artifact that cannot be used at all, 1 when B
        fails a check that A passed, else 0."""
        if self.a.error is not None or self.b.error is not None:
            return 2
        return 1 if self.of_kind("regressed") else 0

    @property
    def summary(self) -> str:
        """One line: what B fixed and regressed (named), how many changed or stayed, and the
        rule each run ends at ("B against A: fixed 2 (…), regressed 0, …; rule 4 (…) →
        rule 7 (…)")."""
        counts = []
        for kind in ("fixed", "regressed", "changed", "same"):
            found = [c for c in self.changes if c.kind == kind]
            named = kind in ("fixed", "regressed") and found
            counts.append(f"{kind} {len(found)}" + (f" ({_names(found)})" if named else ""))
        rule_a, rule_b = (_rule(report) for report in (self.a, self.b))
        rules = f"{rule_a} → {rule_b}" if rule_a != rule_b else f"both end at {rule_a}"
        return f"B against A: {', '.join(counts)}; {rules}"

    def as_dict(self) -> dict[str, Any]:
        """The JSON object (docs/cli.md#json-report) of `compare --format json`."""
        return {
            "version": 1,
            "a": self.a.as_dict(),
            "b": self.b.as_dict(),
            "changes": [c.as_dict() for c in self.changes],
            "assumptions_differ": [r.as_dict() for r in self.readings],
            "summary": self.summary,
            "project": self.project,
        }


def _names(changes: list[Change]) -> str:
    shown = ", ".join(c.id for c in changes[:SUMMARY_IDS])
    more = len(changes) - SUMMARY_IDS
    return shown + (f" and {more} more" if more > 0 else "")


def _rule(report: Report) -> str:
    """The rule a run ends at, with its name; "no verdict" where stage 7 did not run."""
    return report.decision.rule_label if report.decision is not None else "no verdict"


def compare_reports(
    a: Report,
    b: Report,
    shared: frozenset[int] = frozenset(),
    names: tuple[str, str] = ("A", "B"),
) -> Comparison:
    """Every check of either report, in stage order (A's check order, then B's own)."""
    stage_ids = sorted({s.id for s in a.stages} | {s.id for s in b.stages})
    changes: list[Change] = []
    for stage_id in stage_ids:
        stage_a, stage_b = a.stage(stage_id), b.stage(stage_id)
        checks_a = {c.id: c for c in stage_a.checks} if stage_a else {}
        checks_b = {c.id: c for c in stage_b.checks} if stage_b else {}
        for check_id in [*checks_a, *(i for i in checks_b if i not in checks_a)]:
            check_a, check_b = checks_a.get(check_id), checks_b.get(check_id)
            status_a = check_a.status if check_a else None
            status_b = check_b.status if check_b else None
            figure_a, figure_b = paired_figures(check_a, check_b)
            changes.append(
                Change(
                    id=check_id,
                    stage=stage_id,
                    a=status_a,
                    b=status_b,
                    kind=change_kind(status_a, status_b),
                    figure_a=figure_a,
                    figure_b=figure_b,
                )
            )
    return Comparison(a=a, b=b, changes=changes, shared=shared, names=names)
