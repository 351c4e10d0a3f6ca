"""What one run of `timing-tui compare A B` is: a run folder or a checkpoint, resolved to the
checkpoint, the stats log and the eval dump that belong to it (SPEC 5).

A run is named the way researchers point at runs: the folder the trainer wrote
(`runs/exp3/`) or the checkpoint file itself. Its log and eval dump are the ones found
beside it, by the same names discovery looks for; the cache is not the run's (both runs
are compared on one cache), so it is found separately by `cache_near`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tui_timing.artifacts.discovery import Discovered, discover
from tui_timing.errors import UsageError


@dataclass(frozen=True)
class RunInputs:
    """One side of a comparison: the name the user gave and the files found for it."""

    label: str
    checkpoint: Path
    log: Path | None = None
    eval: Path | None = None

    @property
    def folder(self) -> Path:
        """The run's folder: where its checkpoint lives."""
        return self.checkpoint.parent


def resolve_run(given: Path, side: str) -> RunInputs:
    """The checkpoint, log and eval dump of the run named `given` (`side` is "A" or "B").

    A folder's checkpoint, log and eval dump are those directly in it, else the only one
    found below it (a Lightning run keeps `ckpt/last.ckpt` and `version_0/metrics.csv`);
    a checkpoint file's log and eval dump are those beside it. Raises UsageError saying
    what to name instead when there is no checkpoint or more than one candidate.
    """
    if given.is_file():
        beside = discover(given.parent)
        evals = [p for p in _candidates(beside, "eval") if p != given.resolve()]
        return RunInputs(
            label=str(given),
            checkpoint=given,
            log=_as_given(_direct(beside, given.parent, "log"), given.parent),
            eval=_as_given(next((p for p in evals if p.parent == beside.root), None), given.parent),
        )
    if not given.is_dir():
        raise UsageError(f"{side}: {given} does not exist; name a run folder or a checkpoint file")
    found = discover(given)
    checkpoint = _direct(found, given, "checkpoint") or _only(found, given, "checkpoint", side)
    if checkpoint is None:
        raise UsageError(
            f"{side}: no checkpoint found in {given} (no file there holds a model's weights); "
            "name the checkpoint file instead"
        )
    log = _direct(found, given, "log") or _only(found, given, "log", side)
    eval_dump = _direct(found, given, "eval") or _only(found, given, "eval", side)
    return RunInputs(
        label=str(given),
        checkpoint=given / checkpoint.relative_to(given.resolve()),
        log=_as_given(log, given),
        eval=_as_given(eval_dump, given),
    )


def _as_given(found: Path | None, folder: Path) -> Path | None:
    """A found path spelled from the folder as the user gave it (discovery resolves paths;
    the report should say `runs/exp3/stats.jsonl` when the user said `runs/exp3`)."""
    return folder / found.relative_to(folder.resolve()) if found is not None else None


def _candidates(found: Discovered, kind: str) -> list[Path]:
    if kind == "checkpoint":
        return [run.checkpoint for run in found.runs if run.checkpoint is not None]
    if kind == "log":
        return [run.log for run in found.runs if run.log is not None]
    return list(found.evals)


def _direct(found: Discovered, folder: Path, kind: str) -> Path | None:
    """The first file of this kind directly in `folder` (not in a subfolder)."""
    here = folder.resolve()
    return next((p for p in _candidates(found, kind) if p.parent == here), None)


def _only(found: Discovered, folder: Path, kind: str, side: str) -> Path | None:
    """The one file of this kind below `folder`; a UsageError when there are several."""
    paths = _candidates(found, kind)
    if len(paths) > 1:
        names = ", ".join(str(p.relative_to(found.root)) for p in paths[:4])
        more = f" and {len(paths) - 4} more" if len(paths) > 4 else ""
        remedy = (
            "give --eval PATH"
            if kind == "eval"
            else "name the run's checkpoint file instead (its log is then the one beside it)"
        )
        raise UsageError(f"{side}: {folder} holds several {kind} files ({names}{more}); {remedy}")
    return paths[0] if paths else None


def cache_near(runs: list[RunInputs], levels: int = 2) -> list[Path]:
    """Timing caches found around the runs when no cache was given: in each run's folder or
    up to `levels` folders above it (a repo keeps `datasets/` beside `runs/`), nearest first.
    The walk stops there: a run's whereabouts, not the whole disk, say which cache it used."""
    for run in runs:
        folder = run.folder.resolve()
        for _ in range(levels + 1):
            caches = discover(folder).caches
            if caches:
                return caches
            if folder.parent == folder:
                break
            folder = folder.parent
    return []
