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


@dataclass(frozen=True)
class Assumption:
    """A fact inferred about the user's files, with where it came from.

    Researchers' artifacts follow conventions the tool cannot always tell apart (which
    config built the model, which split a logged value belongs to, whether an eval dump
    holds points or steps). Every such reading is shown with its source, so a wrong one is
    seen and corrected (a table line) instead of silently turning into a pass or a fail.
    """

    #: The artifact kind the fact is about ("checkpoint", "log", "eval", "cache", "run").
    artifact: str
    #: What was decided ("model config", "conditioning width", "x axis").
    what: str
    #: The reading taken ("config.json beside the weights", "128", "step").
    value: str
    #: How it was decided, and where the user overrides it ("tensor shapes; set
    #: `[tool.timing-tui] ...` to change it").
    source: str

    def as_dict(self) -> dict[str, str]:
        return {
            "artifact": self.artifact,
            "what": self.what,
            "value": self.value,
            "source": self.source,
        }

    def line(self) -> str:
        """One line for the text report and the panes: `checkpoint: x axis = step (...)`."""
        return f"{self.artifact}: {self.what} = {self.value} ({self.source})"


def merge_assumptions(*groups: Sequence[Assumption]) -> list[Assumption]:
    """The assumptions of several sources in order, each once."""
    seen: dict[Assumption, None] = {}
    for group in groups:
        for item in group:
            seen.setdefault(item, None)
    return list(seen)


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
    #: What was inferred about the artifacts this stage read (shown in its pane).
    assumptions: list[Assumption] = field(default_factory=list)

    @property
    def status(self) -> Status:
        if self.status_override is not None:
            return self.status_override
        ran = [c.status for c in self.checks if c.status != "skip"]
        if not ran:
            return "skip"
        return max(ran, key=lambda s: SEVERITY[s])

    @property
    def checks_ran(self) -> int:
        """How many of its checks ran (did not skip)."""
        return sum(c.status != "skip" for c in self.checks)

    @property
    def assessed(self) -> bool:
        """Whether enough of its checks ran to judge the stage: not when most of them (or
        all) skipped, whatever the few that ran say. The decision names such a stage as
        not assessed, and every view says so beside its status."""
        return 2 * (len(self.checks) - self.checks_ran) <= len(self.checks)

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


def rule_label(number: int, name: str | None) -> str:
    """A decision rule as shown: its number with its name (the question it asks)."""
    return f"rule {number} ({name})" if name else f"rule {number}"


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

    @property
    def rule_label(self) -> str:
        """`rule 4 (the architecture cannot fit the profile)`: the verdict's rule number with
        the question it answered, so that a number is never shown without its meaning."""
        return rule_label(self.rule, next((o.name for o in self.path if o.rule == self.rule), None))

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
    #: The first artifact that could not be used at all (the JSON `error`, docs/cli.md#json-report);
    #: exit code 2.
    error: dict[str, str | None] | None = None
    #: The pyproject.toml whose `[tool.timing-tui]` configured the run (None: no table):
    #: its table can run code and set tolerances, so the report always says which it was.
    project: str | None = None
    #: Facts inferred about the artifacts that no stage owns (which files make the run,
    #: which checkpoint of it was taken); the stages' own are added by `assumptions`.
    run_assumptions: list[Assumption] = field(default_factory=list)

    @property
    def assumptions(self) -> list[Assumption]:
        """Everything inferred about the user's files, each once: the run's, then the
        stages' in order."""
        return merge_assumptions(self.run_assumptions, *(s.assumptions for s in self.stages))

    def stage(self, stage_id: int) -> StageResult | None:
        return next((s for s in self.stages if s.id == stage_id), None)

    @property
    def exit_code(self) -> int:
        """docs/cli.md: 2 for an unusable artifact, 1 for any fail or error, else 0."""
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
            "assumptions": [a.as_dict() for a in self.assumptions],
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
