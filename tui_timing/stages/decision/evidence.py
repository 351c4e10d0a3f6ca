"""What the rules look at: the checks of stages 1-6 by id, and how they are grouped.

The groupings come from the checks' declarations in their stage modules (CheckSpec kind
and roles), so a new check is classified where it is written:
- a check of kind `load` that fails means its artifact could not be used: in stages 3-6
  that stage is *not assessed*, not faulty (in stages 1 and 2 any failure or error is a
  finding, since nothing downstream of an unusable cache or dataset is trustworthy);
- a check of kind `statistic` compares the model's output distributions with the data:
  rule 8 ("a statistic is off") needs one, and needs every other kind to hold.
"""

from __future__ import annotations

from typing import Any

from tui_timing.findings import Check, StageResult
from tui_timing.stages.catalog import DIAGNOSTIC, Stage
from tui_timing.stages.checks import GATE, PADDING, declared_checks

_SPECS = declared_checks()
#: Checks comparing the model's output distributions with the data: "a statistic is off".
STATISTICS = frozenset(s.id for s in _SPECS if s.kind == "statistic")
#: Checks whose failure means the artifact itself could not be used.
UNUSABLE = frozenset(s.id for s in _SPECS if s.kind == "load")
#: Stage 6's ±10% gates, in report order.
GATES = tuple(s.id for s in _SPECS if GATE in s.roles)
#: Checks of profile mass on padded steps, in report order.
PADDING_CHECKS = tuple(s.id for s in _SPECS if PADDING in s.roles)
#: Stages whose every failure or error is a finding (they feed everything downstream).
UPSTREAM = (Stage.CACHE, Stage.DATASET)


class Evidence:
    """The checks of stages 1-6 by id, with the groupings the rules ask about."""

    def __init__(self, results: dict[int, StageResult]) -> None:
        self.stages = {sid: r for sid, r in results.items() if sid != Stage.DECISION}
        self.checks: dict[str, Check] = {c.id: c for r in self.stages.values() for c in r.checks}

    def get(self, check_id: str) -> Check | None:
        return self.checks.get(check_id)

    def status(self, check_id: str) -> str | None:
        check = self.checks.get(check_id)
        return check.status if check is not None else None

    def failed(self, check_id: str) -> bool:
        return self.status(check_id) == "fail"

    def stage_checks(self, stage_id: int) -> list[Check]:
        result = self.stages.get(stage_id)
        return list(result.checks) if result is not None else []

    def unusable(self, check: Check) -> bool:
        """The check could not look at its input (only meaningful for stages 3-6)."""
        return check.status == "error" or (check.id in UNUSABLE and check.status == "fail")

    def failures(self, stage_id: int) -> list[Check]:
        """Findings of a stage: failures, and in stages 1-2 errors too."""
        if stage_id in UPSTREAM:
            return [c for c in self.stage_checks(stage_id) if c.status in ("fail", "error")]
        return [
            c for c in self.stage_checks(stage_id) if c.status == "fail" and not self.unusable(c)
        ]

    def not_assessed(self) -> dict[int, list[Check]]:
        """Stages 3-6 with checks that could not use their input, by stage."""
        out: dict[int, list[Check]] = {}
        for sid in DIAGNOSTIC:
            if sid in UPSTREAM:
                continue
            bad = [c for c in self.stage_checks(sid) if self.unusable(c)]
            if bad:
                out[sid] = bad
        return out

    def skipped(self) -> dict[int, str]:
        """Stages 1-6 that did not run at all (or were not run), with the reason."""
        out: dict[int, str] = {}
        for sid in DIAGNOSTIC:
            result = self.stages.get(sid)
            if result is None:
                out[sid] = "not run"
            elif result.status == "skip":
                out[sid] = result.skip_reason or _first_skip_reason(result)
        return out

    def not_assessed_why(self) -> dict[int, str]:
        """Stages 1-6 that were not assessed, with why: skipped, an input that could not be
        used, or most of their checks skipped (a checkpoint read only statically, a log
        missing but a config that names the loss)."""
        out: dict[int, str] = dict(self.skipped())
        for sid, bad in self.not_assessed().items():
            out.setdefault(sid, bad[0].message.rstrip("."))
        for sid in DIAGNOSTIC:
            checks = self.stage_checks(sid)
            skipped = [c for c in checks if c.status == "skip"]
            if sid not in out and checks and 2 * len(skipped) > len(checks):
                out[sid] = skipped[0].message.removeprefix("Skipped: ").rstrip(".")
        return {sid: out[sid] for sid in sorted(out)}

    def failing(self) -> list[Check]:
        """Every failing check that looked at its input (unusable inputs are not findings)."""
        return [
            c
            for sid in DIAGNOSTIC
            for c in self.stage_checks(sid)
            if (c.status == "fail" and not self.unusable(c))
            or (sid in UPSTREAM and c.status == "error")
        ]

    def structural_failures(self) -> list[Check]:
        """Failing or erring checks that are not output statistics (rule 8 excludes them)."""
        return [
            c
            for sid in DIAGNOSTIC
            for c in self.stage_checks(sid)
            if c.status in ("fail", "error") and c.id not in STATISTICS
        ]

    def statistics_off(self) -> list[Check]:
        return [
            c for c in self.checks.values() if c.id in STATISTICS and c.status in ("warn", "fail")
        ]

    def measured(self, check_id: str, key: str) -> Any:
        check = self.checks.get(check_id)
        if check is None or not isinstance(check.measured, dict):
            return None
        return check.measured.get(key)

    def nonfinite_rows(self) -> int:
        """Rows on which stage 3 saw the model output NaN or ±inf (μ, log σ or profile)."""
        counts = [
            self.measured(check_id, "nonfinite_rows")
            for check_id in ("model.duration_head", "model.length_masking")
        ]
        return max((int(c) for c in counts if isinstance(c, (int, float))), default=0)

    def stats(self, stage_id: int) -> dict[str, Any]:
        result = self.stages.get(stage_id)
        return result.stats if result is not None else {}


def _first_skip_reason(result: StageResult) -> str:
    check = next((c for c in result.checks if c.status == "skip"), None)
    return check.message.removeprefix("Skipped: ").rstrip(".") if check else "skipped"
