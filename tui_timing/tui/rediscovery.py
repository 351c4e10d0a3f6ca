"""Looking for artifacts again without losing the ones in use.

After an action (a training run in `./runs/`) or `R`, the folder is walked again. A fresh
discovery alone would forget what the app was showing: run from the bundled sample data,
the new run would be all it finds (no cache, no eval dump). So the new lists keep every
artifact found before that is still on disk and add what is new; the run or cache an
action made is then selected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from tui_timing.tui.action_outputs import ActionOutputs

if TYPE_CHECKING:
    from tui_timing.artifacts.discovery import Discovered, Run
    from tui_timing.config import ArtifactPaths
    from tui_timing.tui.pipeline import Selection

T = TypeVar("T")


def merge_found(previous: Discovered, fresh: Discovered) -> Discovered:
    """What `fresh` found plus what `previous` had that is still on disk.

    Found under the same folder, the fresh order leads (a new run takes its sorted
    place); otherwise (the sample data before, the working folder now) the previous
    artifacts stay first and the new ones follow.
    """
    if fresh.root == previous.root:
        first, then = fresh, previous
    else:
        first, then = previous, fresh
    return replace(
        previous,
        caches=_merge(first.caches, then.caches, _same_path),
        runs=_merge(first.runs, then.runs, _run_folder),
        evals=_merge(first.evals, then.evals, _same_path),
    )


def with_outputs(found: Discovered, outputs: ActionOutputs) -> Discovered:
    """`found` with the action's run and cache added where discovery missed them (an
    `--out` outside the working directory, or deeper than the walk goes)."""
    from tui_timing.artifacts.discovery import discover

    runs, caches = list(found.runs), list(found.caches)
    if outputs.run_dir is not None and outputs.run_dir.is_dir():
        folders = {_run_folder(run) for run in runs}
        made = discover(outputs.run_dir).runs
        if outputs.run_dir.resolve() not in folders and made:
            runs.append(replace(made[0], name=str(outputs.run_dir), folder=outputs.run_dir))
    cache = outputs.cache
    known = {c.resolve() for c in caches}
    if cache is not None and cache.is_file() and cache.resolve() not in known:
        caches.append(cache)
    return replace(found, runs=runs, caches=caches)


def select_outputs(found: Discovered, selection: Selection, outputs: ActionOutputs) -> Selection:
    """`selection` moved to the action's run and cache where `found` has them."""
    if outputs.run_dir is not None:
        folders = [_run_folder(run) for run in found.runs]
        if outputs.run_dir.resolve() in folders:
            selection = replace(selection, run=folders.index(outputs.run_dir.resolve()))
    if outputs.cache is not None:
        caches = [cache.resolve() for cache in found.caches]
        if outputs.cache.resolve() in caches:
            selection = replace(selection, cache=caches.index(outputs.cache.resolve()))
    return selection


def given_with_outputs(paths: ArtifactPaths, outputs: ActionOutputs) -> ArtifactPaths:
    """Artifacts given on the command line, with the action's new run or cache in place of
    the ones it replaces (the others stay)."""
    from tui_timing.artifacts.discovery import discover

    if outputs.run_dir is not None and outputs.run_dir.is_dir():
        runs = discover(outputs.run_dir).runs
        if runs:
            paths = replace(paths, checkpoint=runs[0].checkpoint, log=runs[0].log)
    if outputs.cache is not None and outputs.cache.is_file():
        paths = replace(paths, cache=outputs.cache, raw_summary=None)
    return paths


def _merge(first: Sequence[T], then: Sequence[T], key: Callable[[T], Path]) -> list[T]:
    """The items of `first`, then those of `then` not among them; only what is on disk."""
    seen: set[Path] = set()
    merged: list[T] = []
    for item in [*first, *then]:
        place = key(item)
        if place not in seen and place.exists():
            seen.add(place)
            merged.append(item)
    return merged


def _same_path(path: Path) -> Path:
    return path.resolve()


def _run_folder(run: Run) -> Path:
    """A run is its folder (its checkpoint or its log may appear later)."""
    if run.folder is not None:
        return run.folder.resolve()
    first = run.checkpoint or run.log
    return first.parent.resolve() if first is not None else Path(run.name).resolve()
