"""The seven stages by number, name and title (no torch: the TUI imports this at start-up)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StageInfo:
    """A stage's identity: its number, its id in reports, its title and what it needs."""

    id: int
    name: str
    title: str
    needs: tuple[str, ...]


STAGES: tuple[StageInfo, ...] = (
    StageInfo(1, "cache", "Cache integrity", ("cache",)),
    StageInfo(2, "dataset", "Dataset / dataloader", ("cache",)),
    StageInfo(3, "model", "Model architecture", ("checkpoint",)),
    StageInfo(4, "training", "Training loop", ("log",)),
    StageInfo(5, "sampler", "Sampler", ("checkpoint", "cache")),
    StageInfo(6, "integration", "Diffusion integration", ("eval",)),
    StageInfo(7, "decision", "Decision", ()),
)

STAGE_BY_ID: dict[int, StageInfo] = {s.id: s for s in STAGES}
