"""Many checkpoints on one cache (`timing-tui runs`): each diagnosed, every stage whose
inputs an earlier one had computed only once.

A sweep's runs share the cache (stage 1, and stage 2 for every checkpoint of one
conditioning width) and often the eval dump (stage 6); the checkpoints differ. So a stage
result is kept under what it read (`pair.stage_inputs`: the files, or the part of a file
the stage reads) and handed to every later checkpoint with the same inputs, the way
`compare` hands A's to B. Nothing else is kept between checkpoints: a checkpoint's
context (its weights, its model) is dropped once its report is built, so a sweep of
hundreds of checkpoints holds one model at a time. The user's own plug-ins are shared the
same way: they run once per launch for each distinct input, never once per checkpoint.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tui_timing.config import ArtifactPaths, Settings
from tui_timing.findings import Report, StageResult
from tui_timing.stages.catalog import ALL_STAGES, Stage
from tui_timing.stages.context import StageContext
from tui_timing.stages.pair import context_beside, stage_inputs
from tui_timing.stages.runner import build_report, load_artifacts, reused_result, run_stage

#: (stage, what it read) -> its result.
SharedKey = tuple[Stage, tuple[object, ...]]


@dataclass
class Sweep:
    """The shared part of a sweep: the cache loaded once and the results other checkpoints
    may reuse. `diagnose` is called once per checkpoint, in any order."""

    cache_paths: ArtifactPaths
    settings: Settings
    _base: StageContext | None = None
    #: Each shared result with the context it was computed in (whose readings it carries).
    _shared: dict[SharedKey, tuple[StageResult, StageContext]] = field(default_factory=dict)
    #: Stages computed and stages reused so far (the benchmark and the tests read them).
    computed: int = 0
    reused: int = 0

    @property
    def base(self) -> StageContext:
        """The context holding the shared files (the cache, its summary, a shared eval)."""
        if self._base is None:
            self._base = load_artifacts(self.cache_paths, self.settings)
        return self._base

    def diagnose(
        self, paths: ArtifactPaths, on_stage: Callable[[int], None] | None = None
    ) -> tuple[Report, StageContext]:
        """One checkpoint's report (every stage), reusing the results whose inputs an
        earlier checkpoint had; also its context (for the results cache to store)."""
        ctx = context_beside(self.base, paths)
        for stage in ALL_STAGES:
            inputs = stage_inputs(ctx, stage)
            key = (stage, _with_versions(inputs)) if inputs is not None else None
            if key is not None and key in self._shared:
                result, source = self._shared[key]
                ctx.results[stage] = reused_result(result, source, ctx, stage)
                self.reused += 1
                continue
            if on_stage is not None:
                on_stage(int(stage))
            result = run_stage(ctx, stage)
            self.computed += 1
            if key is not None:
                self._shared[key] = (result, ctx)
        return build_report(ctx, ALL_STAGES), ctx


def _with_versions(inputs: tuple[object, ...]) -> tuple[object, ...]:
    """The inputs with each file's (inode, size, mtime): a checkpoint rewritten in place
    (Lightning's `last.ckpt` every epoch) is a new input under the same path."""
    return tuple((item, _version(item)) if isinstance(item, Path) else item for item in inputs)


def _version(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)
