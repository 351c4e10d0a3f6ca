"""What one run of `timing-tui compare A B` is: a run folder or a checkpoint, resolved to the
checkpoint, the stats log and the eval dump that belong to it (docs/cli.md).

A run is named the way researchers point at runs: the folder the trainer wrote
(`runs/exp3/`) or the checkpoint file itself. Its log and eval dump are the ones discovery
groups with it (by content, Lightning's sibling folders included); the cache is not the
run's (both runs are compared on one cache), so it is found separately by `cache_near`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tui_timing.artifacts.checkpoint_folder import checkpoint_folder
from tui_timing.artifacts.discovery import Discovered, Run, discover
from tui_timing.artifacts.run_members import checkpoint_unit, run_folder
from tui_timing.config import Settings
from tui_timing.errors import UsageError
from tui_timing.findings import Assumption


@dataclass(frozen=True)
class RunInputs:
    """One side of a comparison: the name the user gave, the run's folder and the files
    found for it, and what discovery assumed in finding them."""

    label: str
    checkpoint: Path
    folder: Path
    log: Path | None = None
    eval: Path | None = None
    assumptions: tuple[Assumption, ...] = ()


def resolve_run(given: Path, side: str, settings: Settings | None = None) -> RunInputs:
    """The checkpoint, log and eval dump of the run named `given` (`side` is "A" or "B").

    Discovery decides what a run is (a checkpoint's folder with its Lightning siblings,
    `ckpt/` and `version_0/` included): a folder names the one run in it, a checkpoint file
    the run it belongs to. Raises UsageError saying what to name instead when a folder holds
    no checkpoint or several runs.
    """
    if given.is_file() or checkpoint_folder(given) is not None:
        # a checkpoint (a file, or an HF-style folder) stands for its run with that checkpoint
        folder = run_folder(Path(given.resolve().anchor), given)
        found = discover(folder, settings)
        run = _run_of(found, checkpoint_unit(given.resolve()))
        named = Assumption(
            "checkpoint", "which checkpoint", given.name, f"named as {side} on the command line"
        )
        kept = [a for a in (run.assumptions if run else []) if a.what != named.what]
        evaluation, said = _run_eval(found, run)
        return RunInputs(
            label=str(given),
            checkpoint=given,
            folder=folder,
            log=_as_given(run.log if run else None, folder),
            eval=_as_given(evaluation, folder),
            assumptions=(*kept, named, *said),
        )
    if not given.is_dir():
        raise UsageError(f"{side}: {given} does not exist; name a run folder or a checkpoint file")
    found = discover(given, settings)
    runs = [run for run in found.runs if run.checkpoint is not None]
    if not runs:
        passed = "; ".join(f"{p.path.name}: {p.reason}" for p in found.passed_over[:3])
        raise UsageError(
            f"{side}: no checkpoint found in {given}"
            + (f" (passed over: {passed})" if passed else "")
            + "; name the checkpoint file instead"
        )
    here = [run for run in runs if run.folder == found.root]
    if len(runs) > 1 and not here:
        names = ", ".join(run.name for run in runs[:4])
        more = f" and {len(runs) - 4} more" if len(runs) > 4 else ""
        raise UsageError(
            f"{side}: {given} holds several runs ({names}{more}); name one run's folder or "
            "checkpoint file"
        )
    run = here[0] if here else runs[0]
    assert run.checkpoint is not None and run.folder is not None
    evaluation, said = _run_eval(found, run)
    return RunInputs(
        label=str(given),
        checkpoint=given / run.checkpoint.relative_to(found.root),
        folder=given / run.folder.relative_to(found.root),
        log=_as_given(run.log, given),
        eval=_as_given(evaluation, given),
        assumptions=(*run.assumptions, *said),
    )


def _run_eval(found: Discovered, run: Run | None) -> tuple[Path | None, list[Assumption]]:
    """The run's eval dump. Discovery gives a run at the top of the searched folder only the
    dumps beside it or in log folders (a checkpoint at a repository's top does not own the
    repository); but the folder named here is the run, so a dump anywhere below it that no
    other run holds (`samples/`, `eval/`) is its own: the first, said, with the others."""
    if run is None or run.eval is not None or run.folder != found.root:
        return (run.eval if run else None), []
    loose = found.loose_evals
    if not loose:
        return None, []
    others = f"; the others: {', '.join(p.name for p in loose[1:4])}" if len(loose) > 1 else ""
    said = Assumption(
        "eval",
        "which eval dump",
        str(loose[0].relative_to(found.root)),
        f"the eval dump below run {run.name}'s folder{others}; name another with --eval PATH, "
        'or eval = "PATH" in [tool.timing-tui]',
    )
    return loose[0], [said]


def _run_of(found: Discovered, checkpoint: Path) -> Run | None:
    """The run a checkpoint file belongs to, else the run of the folder it is in."""
    for run in found.runs:
        if checkpoint == run.checkpoint or checkpoint in run.others:
            return run
    return next((run for run in found.runs if run.folder == found.root), None)


def _as_given(found: Path | None, folder: Path) -> Path | None:
    """A found path spelled from the folder as the user gave it (discovery resolves paths;
    the report should say `runs/exp3/stats.jsonl` when the user said `runs/exp3`)."""
    if found is None:
        return None
    try:
        return folder / found.relative_to(folder.resolve())
    except ValueError:  # found above the folder (a checkpoint in `ckpt/`, its log beside it)
        return found


def found_near(
    runs: list[RunInputs], settings: Settings | None = None, levels: int = 2
) -> Discovered | None:
    """What discovery finds around the runs: the nearest folder, from each run's own up to
    `levels` folders above it (a repo keeps `datasets/` and `eval/` beside `runs/`), that
    holds a timing cache; None when none does. The walk stops there: a run's whereabouts,
    not the whole disk, say which cache (and which loose eval dump) it goes with."""
    for run in runs:
        folder = run.folder.resolve()
        for _ in range(levels + 1):
            found = discover(folder, settings)
            if found.caches:
                return found
            if folder.parent == folder:
                break
            folder = folder.parent
    return None
