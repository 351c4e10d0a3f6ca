"""The header's line about where the artifacts came from (docs/cli.md: say so for the sample).

Which source, which run, which cache, and how many others `s` can switch to; with
shorter wordings for a narrow terminal (the header shows the longest that fits).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tui_timing.artifacts.run_members import log_only_run, run_folder
from tui_timing.tui.pipeline import Selection

if TYPE_CHECKING:
    from tui_timing.artifacts.discovery import Discovered
    from tui_timing.config import ArtifactPaths


def describe_artifacts(
    paths: ArtifactPaths, found: Discovered | None, selection: Selection, cwd: Path
) -> str:
    """`SAMPLE DATA · run linear (1 of 2, s switches) · cache sample/train`, or the like."""
    if found is None:
        parts = ["given artifacts"]
    elif found.is_sample:
        parts = ["SAMPLE DATA"]
    else:
        parts = ["found here" if found.root == cwd.resolve() else f"found in {found.root}"]
    runs = found.runs if found is not None else []
    if runs:
        parts.append(f"run {runs[selection.run].name.split('/')[-1]}" + _of(selection.run, runs))
    elif paths.checkpoint is not None:  # its run's folder, above ckpt/ or step_500/
        parts.append(f"run {run_folder(cwd.resolve(), paths.checkpoint.resolve()).name}")
    elif paths.log is not None:
        parts.append(f"run {log_only_run(cwd.resolve(), paths.log.resolve()).name}")
    if paths.cache is not None:
        split = paths.cache.name.removesuffix(paths.cache.suffix).removesuffix("_timing")
        caches = found.caches if found is not None else []
        parts.append(f"cache {paths.cache.parent.name}/{split}" + _of(selection.cache, caches))
    if paths.eval is not None:
        evals = found.evals if found is not None else []
        parts.append(f"eval {paths.eval.name}" + _of(selection.eval_dump, evals))
    if not paths.given():
        parts.append("no artifacts")
    return " · ".join(parts)


def shorter(description: str) -> list[str]:
    """Shorter wordings of a description, longest first: the counts without the `s` hint
    (the footer has it), then `SAMPLE` for `SAMPLE DATA`."""
    compact = description.replace(", s switches)", ")")
    return [compact, compact.replace("SAMPLE DATA", "SAMPLE", 1)]


def _of(index: int, items: Sequence[object]) -> str:
    """` (2 of 3, s switches)` when there is a choice, else nothing."""
    return f" ({index + 1} of {len(items)}, s switches)" if len(items) > 1 else ""
