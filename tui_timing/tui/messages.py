"""Every message the background threads send the app, in one place.

The pipeline thread (stages), the action thread (a suggested command) and the export
thread never touch a widget: they post these, and the app updates the screen on its own
thread. Payloads are the core's plain results, never tensors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

from tui_timing.findings import StageResult

if TYPE_CHECKING:
    from tui_timing.artifacts.discovery import Discovered
    from tui_timing.config import ArtifactPaths
    from tui_timing.tui.pipeline import Selection


class ArtifactsResolved(Message):
    """The artifacts a run uses are known (given, discovered, or the bundled sample)."""

    def __init__(
        self, paths: ArtifactPaths, found: Discovered | None, selection: Selection
    ) -> None:
        super().__init__()
        #: The ArtifactPaths in use (raw summary beside the cache included).
        self.paths = paths
        #: The Discovered lists when the app chose among found artifacts, else None.
        self.found = found
        self.selection = selection


class ArtifactsLoaded(Message):
    """Artifacts were (re)loaded; those that cannot be used, as kind -> problem."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__()
        self.errors = errors


class StageStarted(Message):
    """A stage began running."""

    def __init__(self, stage: int, reason: str) -> None:
        super().__init__()
        self.stage = stage
        self.reason = reason


class StageProgress(Message):
    """A running stage's progress; `partial` carries plots filled so far (stage 5)."""

    def __init__(
        self, stage: int, fraction: float, message: str, partial: StageResult | None
    ) -> None:
        super().__init__()
        self.stage = stage
        self.fraction = fraction
        self.message = message
        self.partial = partial


class StageFinished(Message):
    """A stage finished with this result."""

    def __init__(self, stage: int, result: StageResult, reason: str) -> None:
        super().__init__()
        self.stage = stage
        self.result = result
        self.reason = reason


class StageInterrupted(Message):
    """A stage was stopped because newer work superseded it; it is queued again."""

    def __init__(self, stage: int) -> None:
        super().__init__()
        self.stage = stage


class PipelineFailed(Message):
    """Work outside any one stage failed (discovery, loading); the app stays up."""

    def __init__(self, problem: str, stages: list[int]) -> None:
        super().__init__()
        self.problem = problem
        self.stages = stages


class PipelineIdle(Message):
    """All queued work is done, as of the `submits`-th request."""

    def __init__(self, submits: int) -> None:
        super().__init__()
        self.submits = submits


class ActionOutput(Message):
    """One line of a running action's output."""

    def __init__(self, line: str) -> None:
        super().__init__()
        self.line = line


class ActionFinished(Message):
    """A suggested action's command exited (returncode None: it could not start)."""

    def __init__(self, command: str, returncode: int | None, problem: str = "") -> None:
        super().__init__()
        self.command = command
        self.returncode = returncode
        self.problem = problem


class ExportFinished(Message):
    """The findings summary was appended to the scratchpad."""

    def __init__(self, path: str, summary: str) -> None:
        super().__init__()
        self.path = path
        self.summary = summary


class ExportFailed(Message):
    """The scratchpad could not be written; it is unchanged."""

    def __init__(self, problem: str) -> None:
        super().__init__()
        self.problem = problem


class CompareStageStarted(Message):
    """A stage of the second run of a comparison (`c`) began running."""

    def __init__(self, generation: int, stage: int) -> None:
        super().__init__()
        self.generation = generation
        self.stage = stage


class CompareStageFinished(Message):
    """A stage of the second run finished, or was taken from the first run (`shared`: its
    inputs are the same, so it was not run again)."""

    def __init__(self, generation: int, stage: int, result: StageResult, shared: bool) -> None:
        super().__init__()
        self.generation = generation
        self.stage = stage
        self.result = result
        self.shared = shared


class CompareFailed(Message):
    """The second run could not be loaded or run (a bug outside any one stage)."""

    def __init__(self, generation: int, problem: str) -> None:
        super().__init__()
        self.generation = generation
        self.problem = problem
