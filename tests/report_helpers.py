"""The shapes the stage tests share: run one stage as `check` does, read its statuses.

Each stage test used to write these for itself; one copy keeps them reading a result the
same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tui_timing.config import ArtifactPaths, Settings
from tui_timing.findings import StageResult
from tui_timing.stages.runner import load_artifacts, run_stage


def run_one(stage: int, settings: Settings | None = None, **paths: Path | None) -> StageResult:
    """Stage `stage` on these artifacts (kinds as keywords), loaded as `check` loads them."""
    return run_stage(load_artifacts(ArtifactPaths(**paths), settings or Settings()), stage)


def statuses(result: StageResult) -> dict[str, str]:
    """Check id -> status, in report order."""
    return {c.id: c.status for c in result.checks}


def measured(result: StageResult, check_id: str) -> Any:
    """The `measured` value of one check, which must be in the result."""
    check = result.check(check_id)
    assert check is not None, f"{check_id} is not in stage {result.id}'s result"
    return check.measured
