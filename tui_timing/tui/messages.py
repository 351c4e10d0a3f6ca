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

import rich.repr
from textual.message import Message

from tui_timing.findings import StageResult

if TYPE_CHECKING:
    from tui_timing.artifacts.discovery import Discovered
    from tui_timing.config import ArtifactPaths
    from tui_timing.tui.pipeline import Selection


class Payload(Message):
    """A message whose dataclass fields are its payload. It is an event: compared by
    identity, as Textual's own are, and shown by its fields here, so its dataclass
    generates neither `__eq__` nor `__repr__` (generating them took half of this module's
    import, which a launch pays before its first frame)."""

    def __rich_repr__(self) -> rich.repr.Result:
        yield from vars(self).items()  # the fields: Message keeps its own in slots


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


@dataclass(eq=False, repr=False)
class ArtifactsResolved(Payload):
    """The artifacts a run uses are known (given, discovered, or the bundled sample)."""

    #: The ArtifactPaths in use (raw summary beside the cache included).
    paths: ArtifactPaths
    #: The Discovered lists when the app chose among found artifacts, else None.
    found: Discovered | None
    selection: Selection


@dataclass(eq=False, repr=False)
class ArtifactsLoaded(Payload):
    """Artifacts were (re)loaded; those that cannot be used, as kind -> problem."""

    errors: dict[str, str]


@dataclass(eq=False, repr=False)
class StageStarted(Payload):
    """A stage began running."""

    stage: int
    reason: str


@dataclass(eq=False, repr=False)
class StageProgress(Payload):
    """A running stage's progress; `partial` carries plots filled so far (stage 5)."""

    stage: int
    fraction: float
    message: str
    partial: StageResult | None


@dataclass(eq=False, repr=False)
class StageFinished(Payload):
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


@dataclass(eq=False, repr=False)
class StageInterrupted(Payload):
    """A stage was stopped because newer work superseded it; it is queued again."""

    stage: int


@dataclass(eq=False, repr=False)
class PipelineFailed(Payload):
    """Work outside any one stage failed (discovery, loading); the app stays up."""

    problem: str
    stages: list[int]


@dataclass(eq=False, repr=False)
class PipelineIdle(Payload):
    """All queued work is done, as of the `submits`-th request."""

    submits: int


@dataclass(eq=False, repr=False)
class ActionOutput(Payload):
    """One line of a running action's output."""

    line: str


@dataclass(eq=False, repr=False)
class ActionFinished(Payload):
    """A suggested action's command exited (returncode None: it could not start)."""

    command: str
    returncode: int | None
    problem: str = ""


@dataclass(eq=False, repr=False)
class ActionCancelled(Payload):
    """A suggested action was cancelled and has ended; `removed` lists what it had made
    (and was removed), `problem` what went wrong removing it."""

    command: str
    removed: list[str]
    problem: str = ""


@dataclass(eq=False, repr=False)
class ExportFinished(Payload):
    """The findings summary was appended to the scratchpad."""

    path: str
    summary: str


@dataclass(eq=False, repr=False)
class ExportFailed(Payload):
    """The scratchpad could not be written; it is unchanged."""

    problem: str


@dataclass(eq=False, repr=False)
class CompareStageStarted(Payload):
    """A stage of the second run of a comparison (`c`) began running."""

    generation: int
    stage: int


@dataclass(eq=False, repr=False)
class CompareStageFinished(Payload):
    """A stage of the second run finished, or was taken from the first run (`shared`: its
    inputs are the same, so it was not run again)."""

    generation: int
    stage: int
    result: StageResult
    shared: bool


@dataclass(eq=False, repr=False)
class CompareFailed(Payload):
    """The second run could not be loaded or run (a bug outside any one stage)."""

    generation: int
    problem: str
