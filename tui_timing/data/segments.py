"""Cutting the events of all sessions into timing segments (docs/artifacts.md#building-a-cache),
without a per-event loop.

All sessions are concatenated into one event array, with a flag at the first event of each
file so that no segment crosses files. A segment is then a maximal run of *good steps*:
steps between two consecutive motion events of the same file whose Δt lies in [0, pause].
A negative Δt (time going backwards) breaks the run like a pause and is counted, because
it is a sign of broken data that the user should hear about.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tui_timing.data.sessions import Session


@dataclass(frozen=True)
class Events:
    """The events of every session, end to end."""

    t: np.ndarray  # float64 [n], client time in seconds
    x: np.ndarray  # float64 [n]
    y: np.ndarray  # float64 [n]
    motion: np.ndarray  # bool [n]
    file_start: np.ndarray  # bool [n], True at the first event of each file

    @property
    def n_events(self) -> int:
        return int(self.t.shape[0])


@dataclass(frozen=True)
class Segments:
    """Segment boundaries: segment i spans events start[i] .. start[i] + steps[i]."""

    start: np.ndarray  # int64 [N], index of the first point in Events
    steps: np.ndarray  # int64 [N], number of steps (points - 1), 1..max_len
    n_negative_dt: int  # steps of any kind, within a file, where client time went back

    @property
    def n_segments(self) -> int:
        return int(self.start.shape[0])


def concatenate(sessions: Sequence[Session]) -> Events:
    """Join the sessions' events, remembering where each file begins."""
    sizes = np.array([s.n_events for s in sessions], dtype=np.int64)
    file_start = np.zeros(int(sizes.sum()), dtype=bool)
    file_start[(np.cumsum(sizes) - sizes)[sizes > 0]] = True
    return Events(
        t=np.concatenate([s.t for s in sessions]),
        x=np.concatenate([s.x for s in sessions]),
        y=np.concatenate([s.y for s in sessions]),
        motion=np.concatenate([s.motion for s in sessions]),
        file_start=file_start,
    )


def segment(events: Events, pause: float, max_len: int, min_points: int) -> Segments:
    """Runs of good steps, cut into chunks of at most `max_len` steps sharing end points.

    Chunks with fewer than `min_points` points or zero duration are dropped.
    """
    dt = np.diff(events.t)  # dt[k] is the step from event k to event k + 1
    same_file = ~events.file_start[1:]
    good = events.motion[:-1] & events.motion[1:] & same_file & (dt >= 0) & (dt <= pause)
    edges = np.diff(np.concatenate(([0], good.astype(np.int8), [0])))
    run_first = np.flatnonzero(edges == 1)  # first step of the run = its first point
    run_steps = np.flatnonzero(edges == -1) - run_first

    n_chunks = -(-run_steps // max_len)
    run_of_chunk = np.repeat(np.arange(run_first.shape[0]), n_chunks)
    index_in_run = expand_ranges(np.zeros_like(n_chunks), n_chunks)
    start = run_first[run_of_chunk] + index_in_run * max_len
    steps = np.minimum(max_len, run_steps[run_of_chunk] - index_in_run * max_len)
    duration = events.t[start + steps] - events.t[start]
    keep = (steps + 1 >= min_points) & (duration > 0)
    return Segments(
        start=start[keep].astype(np.int64),
        steps=steps[keep].astype(np.int64),
        n_negative_dt=int(np.count_nonzero(same_file & (dt < 0))),
    )


def step_layout(start: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every step of every segment, in order: (event index at its end, owning segment)."""
    return expand_ranges(start + 1, steps), np.repeat(np.arange(start.shape[0]), steps)


def expand_ranges(first: np.ndarray, count: np.ndarray) -> np.ndarray:
    """The concatenation of `arange(first[i], first[i] + count[i])` over i, vectorised."""
    total = int(count.sum())
    offsets = np.repeat(first - (np.cumsum(count) - count), count)
    return np.arange(total, dtype=np.int64) + offsets
