"""The stage table: every fact about a stage that is not its checks, in one place.

The runner (which module to run), the TUI (its list, panes, keys and which stages an
edited artifact re-runs), the `--stage` option, the reports' order and the tests all read
this table; a stage's checks are declared in its own module (`CHECKS`, see checks.py).
No torch here: the TUI imports this module at start-up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum


class Stage(IntEnum):
    """The stages by number, for code that means one stage in particular."""

    CACHE = 1
    DATASET = 2
    MODEL = 3
    TRAINING = 4
    SAMPLER = 5
    INTEGRATION = 6
    DECISION = 7

    def __str__(self) -> str:  # "3", as on Python 3.11+, also on 3.10
        return str(int(self))


@dataclass(frozen=True)
class StageInfo:
    """A stage's identity and inputs."""

    id: Stage
    #: The stage's id in reports ("cache") and the prefix of its checks' ids.
    name: str
    title: str
    #: The module under tui_timing.stages holding `run(ctx) -> StageResult` and `CHECKS`.
    module: str
    #: The artifact kinds the stage reads: a change to one re-runs it, and their load
    #: errors show in its pane. The decision reads the other stages' results instead.
    reads: tuple[str, ...]


STAGES: tuple[StageInfo, ...] = (
    StageInfo(Stage.CACHE, "cache", "Cache integrity", "cache", ("cache", "raw_summary")),
    StageInfo(Stage.DATASET, "dataset", "Dataset / dataloader", "dataset", ("cache", "checkpoint")),
    StageInfo(Stage.MODEL, "model", "Model architecture", "model", ("checkpoint", "cache")),
    StageInfo(
        Stage.TRAINING, "training", "Training loop", "training", ("log", "cache", "checkpoint")
    ),
    StageInfo(Stage.SAMPLER, "sampler", "Sampler", "sampler", ("checkpoint", "cache")),
    StageInfo(
        Stage.INTEGRATION, "integration", "Diffusion integration", "integration", ("eval", "cache")
    ),
    StageInfo(Stage.DECISION, "decision", "Decision", "decision", ()),
)

STAGE_BY_ID: dict[int, StageInfo] = {s.id: s for s in STAGES}
#: Every stage id in order.
ALL_STAGES: tuple[Stage, ...] = tuple(s.id for s in STAGES)
#: The stages that diagnose (all but the decision, which reads their results).
DIAGNOSTIC: tuple[Stage, ...] = tuple(s for s in ALL_STAGES if s != Stage.DECISION)


def readers_of(kinds: Iterable[str]) -> set[Stage]:
    """The stages that read any of these artifact kinds (a change to one re-runs them)."""
    wanted = set(kinds)
    return {s.id for s in STAGES if wanted & set(s.reads)}
