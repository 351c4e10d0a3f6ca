"""Eval dumps made from real Balabit sessions: real segments against controlled fakes.

A diffusion eval dump (docs/artifacts.md#eval-dump) pairs real sequences with generated ones. To
know what stage 6 must say, the fakes here are real segments with one known fault planted, the two
faults steps 6 and 7 of docs/README.md#the-plan are about: Δt re-scaled after they were assigned (a
sequence re-normalized after the timing head ran), and paths left in normalized units. Two disjoint
halves of the same real segments are the no-fault case. The tests and the sample-data
script both build their dumps here, from the cache builder's own session reader and
segmenter, so the real side is exactly what a cache built from those sessions holds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tui_timing.artifacts.atomic import atomic_open, atomic_torch_save
from tui_timing.data.segments import concatenate, segment
from tui_timing.data.sessions import read_sessions
from tui_timing.errors import ArtifactError


@dataclass(frozen=True)
class Sequences:
    """Padded sequences: points (the last one repeated on padding), Δt and valid steps."""

    xy: np.ndarray  # float64 [N, L+1, 2]
    dt: np.ndarray  # float64 [N, L], 0 on padding
    mask: np.ndarray  # bool [N, L], a prefix per row

    @property
    def n_rows(self) -> int:
        return int(self.dt.shape[0])

    @property
    def durations(self) -> np.ndarray:
        return self.dt.sum(axis=1)

    def take(self, rows: np.ndarray) -> Sequences:
        return Sequences(self.xy[rows], self.dt[rows], self.mask[rows])

    def trimmed(self) -> Sequences:
        """The same rows with L cut to the longest row (a smaller file, the same content)."""
        steps = int(self.mask.sum(axis=1).max())
        return Sequences(self.xy[:, : steps + 1], self.dt[:, :steps], self.mask[:, :steps])

    def as_tensors(self) -> dict[str, torch.Tensor]:
        """The docs/artifacts.md#eval-dump side dict: float32 points and Δt, bool mask."""
        return {
            "xy": torch.from_numpy(self.xy.astype(np.float32)),
            "dt": torch.from_numpy(self.dt.astype(np.float32)),
            "mask": torch.from_numpy(self.mask.copy()),
        }


def real_sequences(
    session_files: Sequence[Path], pause: float = 0.5, max_len: int = 128, min_points: int = 4
) -> Sequences:
    """Every segment of the sessions, cut exactly as `timing-tui build-cache` cuts them."""
    events = concatenate(list(read_sessions([Path(p) for p in session_files])))
    segments = segment(events, pause, max_len, min_points)
    if segments.n_segments == 0:
        raise ArtifactError(
            ", ".join(str(p) for p in session_files), None, "no segments in these sessions"
        )
    lane = np.arange(max_len + 1)
    index = segments.start[:, None] + np.minimum(lane[None, :], segments.steps[:, None])
    xy = np.stack([events.x[index], events.y[index]], axis=-1)
    return Sequences(
        xy=xy,
        dt=np.diff(events.t[index], axis=1),
        mask=lane[None, :-1] < segments.steps[:, None],
    )


def disjoint_halves(seqs: Sequences, seed: int) -> tuple[Sequences, Sequences]:
    """Two halves of the rows drawn at random without overlap (the no-difference case)."""
    order = np.random.default_rng(seed).permutation(seqs.n_rows)
    half = seqs.n_rows // 2
    return seqs.take(np.sort(order[:half])), seqs.take(np.sort(order[half : 2 * half]))


def scale_dt(seqs: Sequences, factor: float) -> Sequences:
    """Every Δt multiplied by `factor` after assignment: what re-normalizing time does."""
    return replace(seqs, dt=seqs.dt * factor)


def scale_paths(seqs: Sequences, factor: float) -> Sequences:
    """Every coordinate multiplied by `factor`: paths left in normalized units."""
    return replace(seqs, xy=seqs.xy * factor)


def write_eval_dump(
    path: Path,
    real: Sequences,
    fake: Sequences,
    fake_duration: np.ndarray | None = None,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write a dump atomically: nested dicts in a `.pt`, flat `real/xy` keys in a `.npz`."""
    path = Path(path)
    dump: dict[str, Any] = {"real": real.as_tensors(), "fake": fake.as_tensors()}
    if fake_duration is not None:
        dump["fake_duration"] = torch.from_numpy(np.asarray(fake_duration, dtype=np.float32))
    if meta is not None:
        dump["meta"] = meta
    if path.suffix == ".npz":
        arrays = {
            f"{side}/{key}": value.numpy()
            for side in ("real", "fake")
            for key, value in dump[side].items()
        }
        if fake_duration is not None:
            arrays["fake_duration"] = dump["fake_duration"].numpy()
        if meta is not None:
            arrays["meta"] = np.array(json.dumps(meta))
        with atomic_open(path, "wb") as handle:
            np.savez(handle, **arrays)
    else:
        atomic_torch_save(path, dump)
    return path


def renormalized_eval_dump(
    path: Path, session_files: Sequence[Path], seed: int, rows: int, max_len: int = 128
) -> Path:
    """The sample dump (docs/artifacts.md#sample-data): real segments against fakes re-normalized
    after assignment.

    The fakes are the other half of the same sessions' segments whose Δt, once assigned,
    were divided by the real mean duration: a time normalization applied a second time.
    `fake_duration` keeps the durations as sampled, so the sums no longer match them.
    """
    real, fake = disjoint_halves(real_sequences(session_files, max_len=max_len), seed)
    pick = np.random.default_rng(seed + 1)
    real = real.take(np.sort(pick.permutation(real.n_rows)[:rows])).trimmed()
    fake = fake.take(np.sort(pick.permutation(fake.n_rows)[:rows])).trimmed()
    scale = 1.0 / float(real.durations.mean())
    return write_eval_dump(
        path,
        real,
        scale_dt(fake, scale),
        fake_duration=fake.durations,
        meta={
            "source": "balabit sessions: " + ", ".join(Path(p).name for p in session_files),
            "fault": f"fake Δt divided by the real mean duration after assignment (x{scale:.4g})",
            "seed": seed,
        },
    )
