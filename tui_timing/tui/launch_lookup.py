"""What the results cache holds for the artifacts a launch opens, asked before Textual is
imported.

A warm launch has nothing left to compute: when the results cache holds the results of the
artifacts the app opens first, asking it here (stamps only, nothing hashed, neither torch
nor numpy imported) lets the app's first frame show them, with no child process forked to
find out the same and no wait for the stages' thread. On a miss, the child that computes
stage 1 (stage_one_ahead.py) is forked after this and starts from what was found here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui_timing.config import ArtifactPaths, Invocation
    from tui_timing.report.results_cache import CachedRun

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LaunchLookup:
    """The artifacts a launch opens and what the results cache holds for them."""

    #: None when finding them failed here (the pipeline finds them again and says why).
    paths: ArtifactPaths | None = None
    #: The cached results for them; None on a miss, or when the cache was not asked.
    cached: CachedRun | None = None
    #: The results cache was asked (a miss need not be asked again).
    asked: bool = False

    def holds(self, stage: int) -> bool:
        return self.cached is not None and stage in self.cached.stages


def look_up(invocation: Invocation) -> LaunchLookup:
    """Find the artifacts the launch opens and ask the results cache for them; nothing
    under `--no-cache` (the launch computes everything, and the child finds the artifacts
    on its own core)."""
    if invocation.no_cache:
        return LaunchLookup()
    from tui_timing.artifacts.raw_summary import resolve_paths
    from tui_timing.report.results_cache import ResultsCache

    try:
        paths = resolve_paths(launch_paths(invocation))
        cached = ResultsCache().lookup(paths, invocation.settings)
    except Exception as exc:  # the pipeline meets the same problem and shows it
        log.info("the results cache was not asked before the app started: %s", exc)
        return LaunchLookup()
    return LaunchLookup(paths=paths, cached=cached, asked=True)


def launch_paths(invocation: Invocation) -> ArtifactPaths:
    """The artifacts a launch opens: those given, else the first of each kind found (the
    pipeline's first selection), else the sample."""
    if invocation.any_artifact:
        return invocation.paths
    from tui_timing.artifacts.discovery import discover_or_sample

    found = discover_or_sample(settings=invocation.settings)
    return found.paths(cache=0, run=0, eval_dump=0)
