"""The commands the decision suggests: each one does what its action says, on these files.

Every command is built from the run's own paths (and the cache's meta), quoted for a
shell, and never writes over the run being diagnosed: a retrained head goes to a new
folder under `./runs/`.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from tui_timing.stages.catalog import Stage
from tui_timing.stages.context import StageContext


def quote(path: Path | str) -> str:
    """A path as one shell word."""
    return shlex.quote(str(path))


def build_cache_command(ctx: StageContext) -> str:
    """The build-cache line that recreates this cache, from its meta where it says enough."""
    raw = ctx.value("cache")
    meta = raw.values.get("meta") if raw is not None else None
    meta = meta if isinstance(meta, dict) else {}
    source = str(meta.get("source") or "")
    raw_dir = source.split(":", 1)[1] if source.startswith("balabit:") else "RAW_DIR"
    cache = ctx.paths.cache
    if cache is not None and not cache.parent.name:  # `x_timing.pt`: its folder has a name
        cache = cache.absolute()
    if cache is not None and (meta.get("split") or cache.name.endswith("_timing.pt")):
        root: str = str(cache.parent.parent)  # build-cache writes OUT/ID/SPLIT_timing.pt
        dataset_id = str(meta.get("dataset_id") or cache.parent.name)
        split = str(meta.get("split") or cache.name.removesuffix("_timing.pt"))
    else:  # a cache not laid out as build-cache lays it out: say what to fill in
        root, dataset_id, split = "DIR", "ID", "SPLIT"
    parts = [
        "timing-tui build-cache",
        quote(raw_dir) if raw_dir != "RAW_DIR" else raw_dir,
        f"--out {quote(root)} --id {quote(dataset_id)} --split {quote(split)}",
    ]
    for key, option in (
        ("pause", "--pause"),
        ("max_len", "--max-len"),
        ("min_points", "--min-points"),
    ):
        if isinstance(meta.get(key), (int, float)) and not isinstance(meta.get(key), bool):
            parts.append(f"{option} {meta[key]:g}")
    return " ".join(parts)


def train_command(ctx: StageContext, head: Any, label: str) -> str | None:
    """`timing-tui train` with this profile head, into a new folder under `./runs/`.

    The folder is named after the checkpoint's run and the change (`linear-increments`), so
    following the advice never overwrites the run being diagnosed or any other; it is
    relative to the working directory, never inside the checkpoint's folder (which may be
    the bundled sample data in site-packages).
    """
    cache = ctx.paths.cache
    if cache is None:
        return None
    checkpoint = ctx.paths.checkpoint
    name = f"{checkpoint.parent.name}-{label}" if checkpoint is not None else label
    out = Path("runs") / name
    return f"timing-tui train --cache {quote(cache)} --out {quote(out)} --profile-head {head}"


def sample_command(ctx: StageContext) -> str | None:
    """`timing-tui sample` at a lower temperature, on this checkpoint and cache."""
    cache, checkpoint = ctx.paths.cache, ctx.paths.checkpoint
    if cache is None or checkpoint is None:
        return None
    return (
        f"timing-tui sample --checkpoint {quote(checkpoint)} --cache {quote(cache)} "
        "--temperature 0.5"
    )


def check_command(ctx: StageContext) -> str:
    """`timing-tui check` of the standalone sampler (stage 5) on this cache and checkpoint."""
    parts = [f"timing-tui check --stage {Stage.SAMPLER}"]
    parts.append(f"--cache {quote(ctx.paths.cache)}" if ctx.paths.cache else "--cache CACHE")
    parts.append(
        f"--checkpoint {quote(ctx.paths.checkpoint)}"
        if ctx.paths.checkpoint
        else "--checkpoint CHECKPOINT"
    )
    return " ".join(parts)
