"""What every stage receives: the loaded artifacts, the settings and earlier results.

Artifacts are loaded once per run by `load_artifacts`; a stage never opens a file itself.
An artifact that could not be loaded is kept as its ArtifactError, so the stages that need
it can say why they were skipped and the report can carry the JSON `error` object
(docs/cli.md#json-report).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from tui_timing.config import ArtifactPaths, Settings
from tui_timing.errors import ArtifactError
from tui_timing.findings import Assumption, StageResult, merge_assumptions

if TYPE_CHECKING:
    from tui_timing.artifacts.cache import CacheArrays, RawCache, TimingCache

T = TypeVar("T")


@dataclass
class Loaded(Generic[T]):
    """The outcome of loading one artifact: its value, or why it cannot be used."""

    path: Path
    value: T | None = None
    error: ArtifactError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.value is not None

    @property
    def usable(self) -> T:
        """The value of a load that succeeded (callers look at `error` first)."""
        if self.value is None:
            raise RuntimeError(f"{self.path}: used although it was not loaded ({self.error})")
        return self.value


#: At most this often a live display takes a running stage's progress (the TUI over a slow
#: SSH link; the stage-1 child's pipe to the TUI).
PROGRESS_INTERVAL_S = 0.25


@dataclass
class ProgressEvent:
    """A stage's progress, for live displays: a fraction, a line of text, partial results."""

    stage: int
    fraction: float
    message: str
    partial: StageResult | None = None


class StageCancelled(Exception):
    """Raised inside a stage when its caller asked it to stop (a re-run superseded it)."""


@dataclass
class StageContext:
    """Inputs of the stages. Artifacts are `Loaded` outcomes; `results` fills as stages run."""

    paths: ArtifactPaths
    settings: Settings = field(default_factory=Settings)
    artifacts: dict[str, Loaded[Any]] = field(default_factory=dict)
    results: dict[int, StageResult] = field(default_factory=dict)
    on_progress: Callable[[ProgressEvent], None] | None = None
    should_stop: Callable[[], bool] = lambda: False
    #: Figures several stages need, computed once per context (see stages.cache_scan).
    memo: dict[Any, Any] = field(default_factory=dict)
    #: Exceptions the user's own code raised while a stage ran (exit 2, reported as theirs).
    user_errors: list[ArtifactError] = field(default_factory=list)
    #: Facts inferred about the artifacts before loading them (which files make the run,
    #: which of its checkpoints was taken); a loaded value's own are its `assumptions`.
    assumptions: list[Assumption] = field(default_factory=list)
    _cache_arrays: CacheArrays | None = field(default=None, repr=False)
    _cache_view: TimingCache | None = field(default=None, repr=False)

    def loaded(self, kind: str) -> Loaded[Any] | None:
        """The load outcome of an artifact kind, or None when no such artifact was given."""
        return self.artifacts.get(kind)

    def value(self, kind: str) -> Any:
        """The loaded value of an artifact kind, or None when absent or unusable."""
        outcome = self.artifacts.get(kind)
        return outcome.value if outcome is not None and outcome.ok else None

    def assumptions_about(self, kinds: Iterable[str]) -> list[Assumption]:
        """What was inferred about these artifact kinds: noted before loading, then each
        loaded value's own (a loader that reads a convention lists its readings in an
        `assumptions` attribute)."""
        wanted = tuple(kinds)
        noted = [a for a in self.assumptions if a.artifact in wanted]
        loaded = [list(getattr(self.value(kind), "assumptions", None) or ()) for kind in wanted]
        return merge_assumptions(noted, *loaded)

    def cache_arrays(self) -> CacheArrays | None:
        """The validated cache as numpy arrays (no torch: stage 1 runs on these before torch
        is imported), or None when absent, unusable or badly shaped."""
        from tui_timing.artifacts.cache import as_cache_arrays, shape_problems

        if self._cache_arrays is None:
            raw: RawCache | None = self.value("cache")
            if raw is not None and not shape_problems(raw):
                self._cache_arrays = as_cache_arrays(raw)
        return self._cache_arrays

    def timing_cache(self) -> TimingCache | None:
        """The same cache as torch tensors over the arrays' memory (imports torch)."""
        from tui_timing.artifacts.cache import as_timing_cache

        if self._cache_view is None:
            arrays = self.cache_arrays()
            if arrays is not None:
                self._cache_view = as_timing_cache(arrays)
        return self._cache_view

    def share_inputs(self, other: StageContext, kinds: set[str]) -> None:
        """Use `other`'s loaded artifacts of these kinds instead of loading them again; for the
        cache also its validated view and memo (the cache scan), so that two runs compared
        on one cache (docs/cli.md#compare) read and scan it once."""
        for kind in kinds & other.artifacts.keys():
            self.artifacts[kind] = other.artifacts[kind]
        if "cache" in kinds:
            self._cache_arrays = other.cache_arrays()
            self._cache_view = other.timing_cache()
            self.memo = other.memo

    def cache_unavailable_reason(self) -> str:
        """Why `timing_cache()` is None, in words a skip message can use."""
        outcome = self.artifacts.get("cache")
        if outcome is None:
            return "no cache given"
        if outcome.error is not None:
            return f"the cache could not be loaded ({outcome.error.problem})"
        return "the cache is malformed (see cache.shapes)"

    def tick(
        self, stage: int, fraction: float, message: str, partial: StageResult | None = None
    ) -> None:
        """Report progress; raise StageCancelled when the caller asked the stage to stop."""
        if self.should_stop():
            raise StageCancelled(f"stage {stage} cancelled")
        if self.on_progress is not None:
            self.on_progress(ProgressEvent(stage, fraction, message, partial))
