"""The header's one line about where the artifacts came from (SPEC 5: say so for the sample)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tui_timing.tui.pipeline import Selection


def describe_artifacts(paths: Any, found: Any, selection: Selection) -> str:
    """`sample data (nothing found in /x) · run linear · 2 runs: s switches`, or the like."""
    parts: list[str] = []
    if found is None:
        parts.append("given artifacts")
    elif found.is_sample:
        parts.append(f"bundled SAMPLE DATA (no artifacts found in {Path.cwd()})")
    else:
        parts.append(f"found in {found.root}")
    if found is not None and found.runs:
        parts.append(f"run {found.runs[selection.run].name.split('/')[-1]}")
    elif paths.checkpoint is not None or paths.log is not None:
        chosen = paths.checkpoint or paths.log
        parts.append(f"run {chosen.parent.name}")
    if paths.cache is not None:
        parts.append(f"cache {paths.cache.parent.name}/{paths.cache.name}")
    if found is not None:
        choices = [
            f"{len(items)} {label}"
            for items, label in (
                (found.runs, "runs"),
                (found.caches, "caches"),
                (found.evals, "evals"),
            )
            if len(items) > 1
        ]
        if choices:
            parts.append(f"{', '.join(choices)}: s switches")
    if not paths.given():
        parts.append("no artifacts")
    return " · ".join(parts)
