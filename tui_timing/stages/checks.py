"""How a stage declares its checks, once: id, kind, key figure and tolerances.

Each stage module holds `CHECKS`, a StageChecks of CheckSpecs in report order, and makes
every result through its spec (`SHAPES.check("fail", ...)`), so that:
- the ids and their order are written once, and a stage that ends early skips "every
  check after this one" by name, never by position;
- each result carries its key figure ("fake/real 0.75"), filled by the stage that knows
  its `measured` dict, for the decision's one-line reasons;
- the decision's groupings come from the declarations: `kind` says whether a failure is a
  statistic that is off (rule 8), a structural fault, or an artifact that could not be
  used at all (`load`); `roles` name the checks rules 4 and 7 ask about.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from tui_timing.errors import ArtifactError
from tui_timing.findings import Check, StageResult, Status
from tui_timing.numerics.fmt import fmt
from tui_timing.stages.catalog import DIAGNOSTIC, STAGE_BY_ID, Stage

#: load: the check reads the artifact itself (failing means the input was unusable);
#: structural: a property that holds or not; statistic: the model's output distributions
#: against the data (off by a degree).
CheckKind = Literal["load", "structural", "statistic"]
#: The ±10% gates of stage 6 (rule 7 asks which of them fail).
GATE = "gate"
#: Checks of profile mass on padded steps (rule 4 blames the architecture for it).
PADDING = "padding"

KeyFigure = Callable[[dict[str, Any]], "str | None"]


@dataclass(frozen=True)
class PartFigure:
    """A key figure about one part of what was measured (a quantile, a profile bin): the
    part it picks (`choose`, the one furthest off) and the figure of any part (`of`), so
    that two runs' figures can name the same part (a comparison shows A's q95 beside B's
    q95, never beside B's q05)."""

    choose: Callable[[dict[str, Any]], str | None]
    of: Callable[[dict[str, Any], str], str | None]

    def __call__(self, measured: dict[str, Any]) -> str | None:
        part = self.choose(measured)
        return self.of(measured, part) if part is not None else None

    def pair(self, a: dict[str, Any], b: dict[str, Any]) -> tuple[str | None, str | None] | None:
        """Both runs' figures of one part (the part A's figure names, else B's); None when
        neither names a part or a figure of it cannot be made."""
        try:
            part = self.choose(a) or self.choose(b)
            if part is None:
                return None
            return self.of(a, part), self.of(b, part)
        except (KeyError, TypeError, ZeroDivisionError):
            return None


@dataclass(frozen=True)
class CheckSpec:
    """One check as declared by its stage."""

    id: str
    kind: CheckKind
    #: The one figure that says how far off the check is, from its `measured` dict (None,
    #: or a KeyError, where the dict does not have it); else the first numbers of `measured`.
    figure: KeyFigure | None = None
    #: The Tolerances fields the check reads (config.py; `--tol NAME=VALUE`).
    tolerances: tuple[str, ...] = ()
    roles: frozenset[str] = field(default_factory=frozenset)

    def check(self, status: Status, measured: Any, expected: Any, message: str) -> Check:
        """This check's result, with its key figure."""
        return Check(
            self.id,
            status,
            measured,
            expected,
            message,
            key_figure=key_figure(self.figure, status, measured),
        )

    def skipped(self, reason: str) -> Check:
        """Did not run because its input is absent (the reason says which)."""
        return Check.skipped(self.id, reason)

    def errored(self, reason: str) -> Check:
        """Its input exists but could not be used."""
        return self.check("error", reason, None, f"Could not be checked: {reason}.")


def key_figure(figure: KeyFigure | None, status: str, measured: Any) -> str:
    """The check's own figure, else a generic one: what was measured, in a few words."""
    data = measured if isinstance(measured, dict) else {}
    if figure is not None and data:
        try:
            text = figure(data)
        except KeyError:  # a result without the figure's keys (the check ended early)
            text = None
        if text:
            return text
    if status == "error":
        return "its input could not be used"
    if isinstance(measured, (int, float)) and not isinstance(measured, bool):
        return fmt(float(measured))
    scalars = [
        f"{key.replace('_', ' ')} {_number(value)}"
        for key, value in data.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value != 0
    ]
    return ", ".join(scalars[:2])


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else fmt(float(value))


@dataclass(frozen=True)
class StageChecks:
    """A stage's checks in report order, and the ways a stage ends early."""

    stage: Stage
    specs: tuple[CheckSpec, ...]

    def __post_init__(self) -> None:
        ids = [s.id for s in self.specs]
        if len(set(ids)) != len(ids):
            raise ValueError(f"stage {self.stage}: a check id is declared twice: {ids}")

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.specs)

    def new_result(self) -> StageResult:
        """An empty result of this stage, to fill with checks."""
        return StageResult(id=int(self.stage), name=STAGE_BY_ID[self.stage].name)

    def after(self, spec: CheckSpec) -> tuple[CheckSpec, ...]:
        """The checks declared after `spec`."""
        return self.specs[self.specs.index(spec) + 1 :]

    def skipped_after(self, spec: CheckSpec, reason: str) -> list[Check]:
        """Every check after `spec`, skipped for one reason."""
        return [s.skipped(reason) for s in self.after(spec)]

    def errored_after(self, spec: CheckSpec, reason: str) -> list[Check]:
        """Every check after `spec`, not checkable for one reason."""
        return [s.errored(reason) for s in self.after(spec)]

    def skip_all(self, result: StageResult, reason: str) -> StageResult:
        """The stage's artifact was not given: every check skipped with the reason."""
        result.skip_reason = reason
        result.checks = [s.skipped(reason) for s in self.specs]
        return result

    def unusable(
        self, result: StageResult, error: ArtifactError, what: str, expected: str
    ) -> StageResult:
        """The artifact was given but cannot be used: the load check fails with the
        loader's problem (file, key, what is wrong) and the rest are skipped, so the root
        cause is reported once."""
        load = self.specs[0]
        result.checks = [
            load.check("fail", error.problem, expected, f"The {what} cannot be used: {error}."),
            *self.skipped_after(load, f"the {what} could not be loaded"),
        ]
        return result


def checks_of(stage: Stage) -> StageChecks:
    """A diagnostic stage's declared checks (imports its module)."""
    module = importlib.import_module(f"tui_timing.stages.{STAGE_BY_ID[stage].module}")
    checks: StageChecks = module.CHECKS
    return checks


def declared_checks() -> tuple[CheckSpec, ...]:
    """Every diagnostic stage's checks, in stage and report order (imports the stages)."""
    return tuple(spec for stage in DIAGNOSTIC for spec in checks_of(stage).specs)
