"""Build a timing cache and its raw summary from raw Balabit-format sessions
(docs/artifacts.md#timing-cache and #building-a-cache).

This module only orchestrates: find and parse the files (`sessions`), cut segments
(`segments`), compute features (`features`) and the raw summary (`raw_summary`), then lay
the padded tensors out and write both files atomically under `out_root/<id>/`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tui_timing.artifacts.atomic import atomic_open, atomic_write_json
from tui_timing.artifacts.budget import require_memory
from tui_timing.artifacts.raw_summary import summary_path_for
from tui_timing.data.features import compute_features, feature_names
from tui_timing.data.raw_summary import summarize_raw
from tui_timing.data.segments import Events, Segments, concatenate, segment, step_layout
from tui_timing.data.sessions import discover_session_files, read_sessions
from tui_timing.errors import ArtifactError, UsageError

FORMAT_VERSION = 1
SOURCE_PREFIX = "balabit:"


@dataclass(frozen=True)
class SegmentationParams:
    """How events become segments; recorded in the cache's meta so a cache explains itself."""

    pause: float = 0.5  # seconds: a step longer than this ends a segment
    max_len: int = 128  # steps per chunk (L of the cache)
    min_points: int = 4  # chunks with fewer points are dropped
    dt_features: bool = False  # add Δt statistics to the features (they leak the target)

    def __post_init__(self) -> None:
        if not (isinstance(self.pause, (int, float)) and math.isfinite(self.pause)):
            raise UsageError(f"--pause must be a finite number of seconds, got {self.pause!r}")
        if self.pause <= 0:
            raise UsageError(f"--pause must be > 0 seconds, got {self.pause}")
        for option, value in (("--max-len", self.max_len), ("--min-points", self.min_points)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsageError(f"{option} must be a positive integer, got {value!r}")

    def as_meta(self) -> dict[str, Any]:
        """The parameters as plain Python values (the cache must load with weights_only)."""
        return {
            "pause": float(self.pause),
            "max_len": int(self.max_len),
            "min_points": int(self.min_points),
            "dt_features": bool(self.dt_features),
        }


@dataclass(frozen=True)
class BuildResult:
    """Where the cache and its summary landed, and how much data went in."""

    cache_path: Path
    summary_path: Path
    n_files: int
    n_events: int
    n_segments: int
    n_negative_dt: int  # steps where client time went backwards (treated as breaks)


def build_cache(
    raw_dir: Path,
    out_root: Path,
    dataset_id: str,
    split: str,
    params: SegmentationParams = SegmentationParams(),
    progress: Callable[[int, int, str], None] | None = None,
    files: list[Path] | None = None,
) -> BuildResult:
    """Write `out_root/<dataset_id>/<split>_timing.pt` and `<split>_summary.json`.

    `files`, when given, replaces the discovery of session files under `raw_dir`.
    `progress(done, total, name)` is called once per file, after it has been read.
    Raises ArtifactError for unreadable or malformed input, never a bare traceback.
    """
    raw_dir, out_root = Path(raw_dir), Path(out_root)
    for option, name in (("--id", dataset_id), ("--split", split)):
        _check_name(option, name)
    paths = _session_files(raw_dir, files)
    sessions = []
    for done, session in enumerate(read_sessions(paths), start=1):
        sessions.append(session)
        if progress is not None:
            progress(done, len(paths), _display_name(session.path, raw_dir))
    events = concatenate(sessions)
    segments = segment(events, params.pause, params.max_len, params.min_points)
    if segments.n_segments == 0:
        raise ArtifactError(
            str(raw_dir),
            None,
            f"no segments: {len(paths)} files, {events.n_events} events, "
            f"{int(events.motion.sum())} motion events, none forming a run of at least "
            f"{params.min_points} points with steps of at most {params.pause} s",
        )
    meta = {
        "dataset_id": dataset_id,
        "split": split,
        "max_len": params.max_len,
        "feature_names": feature_names(params.dt_features),
        **params.as_meta(),
        "source": f"{SOURCE_PREFIX}{raw_dir}",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "format_version": FORMAT_VERSION,
        "n_files": len(paths),
        "n_events": events.n_events,
        "n_negative_dt": segments.n_negative_dt,
    }
    # the padded profile (float32) and mask (bool): --max-len sets their width
    cells = segments.n_segments * params.max_len
    require_memory(
        raw_dir, None, cells * 5, f"a cache of {segments.n_segments} rows of L = {params.max_len}"
    )
    cache = _cache_tensors(events, segments, params)
    cache["meta"] = meta
    summary = summarize_raw(
        events.t, events.x, events.y, segments.start, segments.steps, params.max_len
    )
    summary.update(n_files=len(paths), n_events=events.n_events)

    cache_path = out_root / dataset_id / f"{split}_timing.pt"
    summary_path = summary_path_for(cache_path)
    _save_together(cache_path, cache, summary_path, summary)
    return BuildResult(
        cache_path=cache_path,
        summary_path=summary_path,
        n_files=len(paths),
        n_events=events.n_events,
        n_segments=segments.n_segments,
        n_negative_dt=segments.n_negative_dt,
    )


def _check_name(option: str, name: str) -> None:
    """Ids and splits become path components: keep them inside `out_root`."""
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise UsageError(f"{option} must be a plain name (no path separators), got {name!r}")


def _session_files(raw_dir: Path, files: list[Path] | None) -> list[Path]:
    if files is None:
        paths = discover_session_files(raw_dir)
    else:
        paths = sorted({Path(f) for f in files})
        for path in paths:
            if not path.is_file():
                raise ArtifactError(str(path), None, "not a readable regular file")
    if not paths:
        raise ArtifactError(
            str(raw_dir), None, "no session files (non-hidden regular files, searched recursively)"
        )
    return paths


def _display_name(path: Path, raw_dir: Path) -> str:
    try:
        return str(path.relative_to(raw_dir))
    except ValueError:
        return str(path)


def _cache_tensors(
    events: Events, segments: Segments, params: SegmentationParams
) -> dict[str, Any]:
    """The docs/artifacts.md#timing-cache tensors: padded profile and mask, duration, length and
    features."""
    n, start, steps = segments.n_segments, segments.start, segments.steps
    step, owner = step_layout(start, steps)
    duration = events.t[start + steps] - events.t[start]
    share = (events.t[step] - events.t[step - 1]) / duration[owner]
    # Δt sum to the duration up to float64 rounding; renormalising makes rows sum to 1 as
    # closely as float32 allows.
    share /= np.bincount(owner, weights=share, minlength=n)[owner]
    profile = np.zeros((n, params.max_len), dtype=np.float32)
    profile[owner, step - (start + 1)[owner]] = share
    mask = np.arange(params.max_len)[None, :] < steps[:, None]
    return {
        "duration": torch.from_numpy(duration.astype(np.float32)),
        "log_duration": torch.from_numpy(np.log(duration).astype(np.float32)),
        "profile": torch.from_numpy(profile),
        "mask": torch.from_numpy(mask),
        "length": torch.from_numpy(segments.steps.astype(np.int64)),
        "features": torch.from_numpy(
            compute_features(events, segments, params.dt_features).astype(np.float32)
        ),
    }


def _save_together(
    cache_path: Path, cache: dict[str, Any], summary_path: Path, summary: dict[str, Any]
) -> None:
    """Write both files; the cache is renamed into place only once its summary is there.

    The summary is part of the cache (docs/artifacts.md#timing-cache): a build that fails while
    writing it must not leave a new cache beside a missing or stale summary, which stage 1 would
    report as drift from the raw data.
    """
    with atomic_open(cache_path, "wb") as handle:
        torch.save(cache, handle)
        atomic_write_json(summary_path, summary)
