"""Run the second run of a comparison (`c`) beside the first, on its own thread.

The pipeline thread owns the first run's context. The second run's stages run here, in a
context that reads the first run's loaded files (the cache with its scan, the probe's fits,
the eval dump when it is the same file) and takes the first run's results for the stages
whose inputs are the same (stages/pair.py): a comparison costs the second run's own stages
only. Results go to the app as messages, tagged with the comparison they belong to, so
that a comparison left or replaced meanwhile is ignored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from textual.message import Message

from tui_timing.tui.messages import CompareFailed, CompareStageFinished, CompareStageStarted

if TYPE_CHECKING:
    from tui_timing.findings import Assumption
    from tui_timing.stages.context import ArtifactPaths, StageContext


class CompareRunner:
    """At most one second run at a time; `start` replaces it, `stop` ends it."""

    def __init__(self, post: Callable[[Message], object]) -> None:
        self._post = post
        self._stop = threading.Event()
        self.generation = 0

    def start(
        self, first: StageContext, paths: ArtifactPaths, assumptions: Sequence[Assumption] = ()
    ) -> int:
        """Run the stages of `paths` beside `first` (a snapshot of the first run's context,
        its results so far included); returns the comparison's generation."""
        self.stop()
        self._stop = threading.Event()
        self.generation += 1
        thread = threading.Thread(
            target=self._run,
            args=(first, paths, list(assumptions), self.generation, self._stop),
            name="timing-tui-compare",
            daemon=True,
        )
        thread.start()
        return self.generation

    def stop(self) -> None:
        """End the running comparison at its next progress tick (its results are dropped)."""
        self._stop.set()

    def _run(
        self,
        first: StageContext,
        paths: ArtifactPaths,
        assumptions: list[Assumption],
        generation: int,
        stop: threading.Event,
    ) -> None:
        try:
            self._stages(first, paths, assumptions, generation, stop)
        except Exception as exc:  # the thread must outlive any bug, and say what it was
            self._post(CompareFailed(generation, f"{type(exc).__name__}: {exc}"))

    def _stages(
        self,
        first: StageContext,
        paths: ArtifactPaths,
        assumptions: list[Assumption],
        generation: int,
        stop: threading.Event,
    ) -> None:
        from tui_timing.stages.catalog import ALL_STAGES
        from tui_timing.stages.context import StageCancelled
        from tui_timing.stages.pair import context_beside, shared_stages
        from tui_timing.stages.runner import run_stage

        second = context_beside(first, paths, assumptions)
        second.should_stop = stop.is_set
        shared = shared_stages(first, second)
        for stage in ALL_STAGES:
            if stop.is_set():
                return
            taken = first.results.get(stage) if stage in shared else None
            if taken is not None:
                second.results[stage] = taken
            else:
                self._post(CompareStageStarted(generation, stage))
                try:
                    taken = run_stage(second, stage)
                except StageCancelled:
                    return
            self._post(CompareStageFinished(generation, stage, taken, shared=stage in shared))
