"""The two ways a stage ends early, worded the same in every stage.

A stage whose artifact was not given skips every check with the reason; a stage whose
artifact was given but cannot be used fails its load check with the loader's problem
(file, key, what is wrong) and skips the rest, so the root cause is reported once.
"""

from __future__ import annotations

from collections.abc import Sequence

from tui_timing.errors import ArtifactError
from tui_timing.report.results import Check, StageResult


def skip_stage(result: StageResult, check_ids: Sequence[str], reason: str) -> StageResult:
    """Every check skipped for one reason ("no checkpoint given")."""
    result.skip_reason = reason
    result.checks = [Check.skipped(cid, reason) for cid in check_ids]
    return result


def unusable_artifact(
    result: StageResult,
    check_ids: Sequence[str],
    error: ArtifactError,
    what: str,
    expected: str,
) -> StageResult:
    """The first (load) check fails with the loader's problem; the others are skipped."""
    result.checks = [
        Check(
            check_ids[0],
            "fail",
            measured=error.problem,
            expected=expected,
            message=f"The {what} cannot be used: {error}.",
        ),
        *(Check.skipped(cid, f"the {what} could not be loaded") for cid in check_ids[1:]),
    ]
    return result
