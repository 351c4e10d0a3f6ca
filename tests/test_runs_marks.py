"""The runs table's stage marks read a stage as the decision does: one whose checkpoint did
not load (its load check `fail`, the rest skipped) is `E`, not assessed, not a fault found
(a Hydra repo's row read `✔✔✘✘✘·` beside rule 9, "nothing failed")."""

from __future__ import annotations

from tui_timing.findings import Report, StageResult
from tui_timing.report.runs import stage_marks
from tui_timing.stages.catalog import DIAGNOSTIC, STAGE_BY_ID
from tui_timing.stages.checks import checks_of


def _report(failing: dict[str, str]) -> Report:
    """Every check of stages 1-6 passing but those named (id -> status), as the stage
    would make them."""
    stages = []
    for sid in DIAGNOSTIC:
        checks = [
            spec.check(failing.get(spec.id, "pass"), {}, None, f"{spec.id}.")
            for spec in checks_of(sid).specs
        ]
        stages.append(StageResult(id=sid, name=STAGE_BY_ID[sid].name, checks=checks))
    return Report(artifacts={}, stages=stages)


def test_a_stage_whose_input_could_not_be_used_is_marked_error() -> None:
    marks = stage_marks(_report({"model.load": "fail"}))
    assert marks == ["pass", "pass", "error", "pass", "pass", "pass"]


def test_a_fault_found_is_still_a_fail() -> None:
    marks = stage_marks(_report({"model.load": "fail", "model.duration_head": "fail"}))
    assert marks[2] == "fail"
    assert stage_marks(_report({"dataset.instantiate": "fail"}))[1] == "fail"  # upstream
