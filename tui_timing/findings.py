"""The structured results every stage returns and every renderer reads.

The diagnostic core produces these plain dataclasses; the text, JSON and markdown reports,
the scratchpad export and the TUI only render them. Values in `measured`, `expected` and
`stats` are JSON-ready Python values (numbers, strings, lists, dicts): no tensors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["pass", "warn", "fail", "skip", "error"]

#: How bad each status is; a stage shows its worst check.
SEVERITY: dict[str, int] = {"skip": 0, "pass": 1, "warn": 2, "fail": 3, "error": 4}


@dataclass
class Check:
    """One named verification: what was measured, what was expected, and what it means."""

    id: str
    status: Status
    measured: Any
    expected: Any
    message: str
    #: The one figure that says how far off the check is ("fake/real 0.75"), filled by
    #: the stage's CheckSpec; the decision quotes it. Not part of the JSON report.
    key_figure: str = ""

    @classmethod
    def skipped(cls, check_id: str, reason: str) -> Check:
        """A check that did not run because its input is absent (the reason says which)."""
        return cls(check_id, "skip", None, None, f"Skipped: {reason}.")

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "measured": json_ready(self.measured),
            "expected": json_ready(self.expected),
            "message": self.message,
        }


@dataclass
class Series:
    """One line, set of bars or histogram on a plot: x positions and their values."""

    label: str
    x: Sequence[float]
    y: Sequence[float]


@dataclass
class Plot:
    """Everything a renderer needs to draw one small chart, already binned.

    `kind` is "line", "bar" or "hist" (bars over bin centres). `hlines` are labelled
    reference values (a cache statistic a training curve should approach, say).
    """

    title: str
    kind: Literal["line", "bar", "hist"]
    series: list[Series]
    xlabel: str = ""
    ylabel: str = ""
    log_x: bool = False
    log_y: bool = False
    hlines: list[tuple[str, float]] = field(default_factory=list)
    #: Bar plots: which bar label to mark (the checkpoint's configuration, say).
    highlight: str | None = None
    #: Named positions on the x axis (x, label): categories such as first / mid / last.
    xticks: list[tuple[float, str]] = field(default_factory=list)


@dataclass
class StageResult:
    """The outcome of one stage: its checks, key figures and plot data."""

    id: int
    name: str
    checks: list[Check] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    plots: list[Plot] = field(default_factory=list)
    #: A few short human-readable key figures ("72,700 rows, L = 128") for summaries.
    figures: list[str] = field(default_factory=list)
    #: Set when the whole stage could not run (its inputs are absent).
    skip_reason: str | None = None
    #: Stage 7 has no checks of its own; its status comes from the verdict.
    status_override: Status | None = None
    #: Stage 7 only: the walk through the decision tree.
    decision: Decision | None = None

    @property
    def status(self) -> Status:
        if self.status_override is not None:
            return self.status_override
        ran = [c.status for c in self.checks if c.status != "skip"]
        if not ran:
            return "skip"
        return max(ran, key=lambda s: SEVERITY[s])

    def check(self, check_id: str) -> Check | None:
        """The check with this id, if the stage produced one."""
        return next((c for c in self.checks if c.id == check_id), None)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "checks": [c.as_dict() for c in self.checks],
            "stats": json_ready(self.stats),
        }
        if self.skip_reason:
            out["skip_reason"] = self.skip_reason
        return out


@dataclass
class Action:
    """A next step the decision tree recommends, with the evidence that led to it."""

    title: str
    why: str
    evidence: list[str]
    command: str | None = None
    rule: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "why": self.why,
            "evidence": list(self.evidence),
            "command": self.command,
        }


@dataclass
class RuleOutcome:
    """One node of the decision tree as evaluated: did it match, and on what evidence."""

    rule: int
    name: str
    matched: bool
    reason: str


@dataclass
class Decision:
    """Stage 7: the verdict (first matching rule), every matching rule's actions, the path."""

    verdict: str
    rule: int
    actions: list[Action] = field(default_factory=list)
    path: list[RuleOutcome] = field(default_factory=list)
    #: Stages 1-6 whose checks could look at their input, and those that could not
    #: (skipped, unusable input, or most checks skipped): only with every stage assessed
    #: may a verdict call the head consistent.
    assessed: list[int] = field(default_factory=list)
    not_assessed: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "rule": self.rule,
            "assessed": list(self.assessed),
            "not_assessed": list(self.not_assessed),
            "actions": [a.as_dict() for a in self.actions],
        }


@dataclass
class ArtifactRef:
    """An input as the report names it: where it is and what exactly it contained."""

    path: str
    sha256: str | None

    @property
    def short_hash(self) -> str:
        return self.sha256[:12] if self.sha256 else "-"


@dataclass
class Report:
    """A whole run: the artifacts, the stages in order and the decision."""

    artifacts: dict[str, ArtifactRef]
    stages: list[StageResult]
    decision: Decision | None = None
    #: The first artifact that could not be used at all (SPEC 5 `error`); exit code 2.
    error: dict[str, str | None] | None = None
    #: The pyproject.toml whose `[tool.timing-tui]` configured the run (None: no table):
    #: its table can run code and set tolerances, so the report always says which it was.
    project: str | None = None

    def stage(self, stage_id: int) -> StageResult | None:
        return next((s for s in self.stages if s.id == stage_id), None)

    @property
    def exit_code(self) -> int:
        """SPEC 5: 2 for an unusable artifact, 1 for any fail or error, else 0."""
        if self.error is not None:
            return 2
        worst = max((SEVERITY[c.status] for s in self.stages for c in s.checks), default=0)
        return 1 if worst >= SEVERITY["fail"] else 0

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": 1,
            "artifacts": {
                name: {"path": ref.path, "sha256": ref.sha256}
                for name, ref in self.artifacts.items()
            },
            "stages": [s.as_dict() for s in self.stages],
            "decision": self.decision.as_dict() if self.decision else None,
            "project": self.project,
        }
        if self.error is not None:
            out["error"] = dict(self.error)
        return out


def json_ready(value: Any) -> Any:
    """Turn numbers and containers into strict-JSON values (NaN/inf become strings)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return json_ready(value.item())
    if hasattr(value, "tolist"):
        return json_ready(value.tolist())
    return str(value)
