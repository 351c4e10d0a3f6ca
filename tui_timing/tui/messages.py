"""Every message the background threads send the app, in one place.

The pipeline thread (stages), the action thread (a suggested command) and the export
thread never touch a widget: they post these, and the app updates the screen on its own
thread. Payloads are the core's plain results, never tensors. Each message is a small
dataclass: its fields are its payload (Textual initialises a dataclass Message itself).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from textual.message import Message

from tui_timing.findings import StageResult

if TYPE_CHECKING:
    from tui_timing.artifacts.discovery import Discovered
    from tui_timing.config import ArtifactPaths
    from tui_timing.tui.pipeline import Selection


class _Running(Protocol):
    @property
    def is_running(self) -> bool: ...


A = TypeVar("A", bound=_Running)
M = TypeVar("M", bound=Message)


def while_running(handler: Callable[[A, M], None]) -> Callable[[A, M], None]:
    """Handle the message only while the app runs. A message posted just before the app
    quit is handled after its screen is gone (Textual closes the screens first): there is
    nothing left to draw it on, and querying a widget would raise."""

    @functools.wraps(handler)
    def handle(app: A, message: M) -> None:
        if app.is_running:
            handler(app, message)

    return handle


@dataclass
class ArtifactsResolved(Message):
    """The artifacts a run uses are known (given, discovered, or the bundled sample)."""

    #: The ArtifactPaths in use (raw summary beside the cache included).
    paths: ArtifactPaths
    #: The Discovered lists when the app chose among found artifacts, else None.
    found: Discovered | None
    selection: Selection


@dataclass
class ArtifactsLoaded(Message):
    """Artifacts were (re)loaded; those that cannot be used, as kind -> problem."""

    errors: dict[str, str]


@dataclass
class StageStarted(Message):
    """A stage began running."""

    stage: int
    reason: str


@dataclass
class StageProgress(Message):
    """A running stage's progress; `partial` carries plots filled so far (stage 5)."""

    stage: int
    fraction: float
    message: str
    partial: StageResult | None


@dataclass
class StageFinished(Message):
    """A stage finished with this result (or it came from the results cache: `computed`
    says when it was computed)."""

    stage: int
    result: StageResult
    reason: str
    #: When a result from the results cache was computed (ISO 8601); None: computed now.
    computed: str | None = None
    #: What the user's code printed for it: (while doing what, the text), e.g.
    #: ("loading the checkpoint", "..."), ("running", "...").
    printed: tuple[tuple[str, str], ...] = ()


@dataclass
class StageInterrupted(Message):
    """A stage was stopped because newer work superseded it; it is queued again."""

    stage: int


@dataclass
class PipelineFailed(Message):
    """Work outside any one stage failed (discovery, loading); the app stays up."""

    problem: str
    stages: list[int]


@dataclass
class PipelineIdle(Message):
    """All queued work is done, as of the `submits`-th request."""

    submits: int


@dataclass
class ActionOutput(Message):
    """One line of a running action's output."""

    line: str


@dataclass
class ActionFinished(Message):
    """A suggested action's command exited (returncode None: it could not start)."""

    command: str
    returncode: int | None
    problem: str = ""


@dataclass
class ActionCancelled(Message):
    """A suggested action was cancelled and has ended; `removed` lists what it had made
    (and was removed), `problem` what went wrong removing it."""

    command: str
    removed: list[str]
    problem: str = ""


@dataclass
class ExportFinished(Message):
    """The findings summary was appended to the scratchpad."""

    path: str
    summary: str


@dataclass
class ExportFailed(Message):
    """The scratchpad could not be written; it is unchanged."""

    problem: str


@dataclass
class CompareStageStarted(Message):
    """A stage of the second run of a comparison (`c`) began running."""

    generation: int
    stage: int


@dataclass
class CompareStageFinished(Message):
    """A stage of the second run finished, or was taken from the first run (`shared`: its
    inputs are the same, so it was not run again)."""

    generation: int
    stage: int
    result: StageResult
    shared: bool


@dataclass
class CompareFailed(Message):
    """The second run could not be loaded or run (a bug outside any one stage)."""

    generation: int
    problem: str
