"""The conditioning vector of each segment: neuromotor features of its path
(docs/artifacts.md#building-a-cache).

The features describe *where* the cursor went, not *when*: Δt statistics would hand the
timing head its own target, so they exist only behind `dt_features`. Every feature is
defined for degenerate paths (a cursor that never moved), so no NaN reaches a model.
Computed per step over all segments at once and reduced per segment with bincount/reduceat.
"""

from __future__ import annotations

import numpy as np

from tui_timing.data.segments import Events, Segments, expand_ranges, step_layout

PATH_FEATURES = (
    "path_length",
    "log_path_length",
    "straight_distance",
    "straightness",
    "dir_sin",
    "dir_cos",
    "mean_abs_turning",
    "n_points",
    "bbox_width",
    "bbox_height",
)
DT_FEATURES = ("dt_mean", "dt_std", "dt_zero_share")


def feature_names(dt_features: bool) -> list[str]:
    """The names of the feature columns, in order."""
    return list(PATH_FEATURES + (DT_FEATURES if dt_features else ()))


def compute_features(events: Events, segments: Segments, dt_features: bool) -> np.ndarray:
    """float64 [N, D] features, columns named by `feature_names(dt_features)`."""
    n = segments.n_segments
    start, steps = segments.start, segments.steps
    end = start + steps
    step, owner = step_layout(start, steps)
    dx = events.x[step] - events.x[step - 1]
    dy = events.y[step] - events.y[step - 1]
    step_len = np.hypot(dx, dy)

    path = np.bincount(owner, weights=step_len, minlength=n)
    ex = events.x[end] - events.x[start]
    ey = events.y[end] - events.y[start]
    straight = np.hypot(ex, ey)
    moved = straight > 0
    columns = [
        path,
        np.log1p(path),
        straight,
        np.where(path > 0, np.minimum(straight / np.where(path > 0, path, 1.0), 1.0), 1.0),
        np.where(moved, ey / np.where(moved, straight, 1.0), 0.0),
        np.where(moved, ex / np.where(moved, straight, 1.0), 0.0),
        _mean_abs_turning(dx, dy, owner, steps),
        (steps + 1).astype(np.float64),
        *_bbox(events, start, steps),
    ]
    if dt_features:
        columns.extend(_dt_statistics(events, step, owner, steps))
    return np.stack(columns, axis=1)


def _mean_abs_turning(
    dx: np.ndarray, dy: np.ndarray, owner: np.ndarray, steps: np.ndarray
) -> np.ndarray:
    """Mean |angle| between consecutive non-zero displacements of each segment (0 if none).

    Zero displacements (the cursor reported twice at one place) have no direction, so each
    non-zero step is compared with the previous non-zero step of the same segment.
    """
    n = steps.shape[0]
    position = np.arange(dx.shape[0])
    nonzero = (dx != 0) | (dy != 0)
    last_nonzero = np.maximum.accumulate(np.where(nonzero, position, -1))
    previous = np.concatenate(([-1], last_nonzero[:-1]))
    first_of_owner = (np.cumsum(steps) - steps)[owner]
    turn = nonzero & (previous >= first_of_owner)
    angle = np.arctan2(dy, dx)
    delta = angle - angle[np.where(turn, previous, position)]
    wrapped = np.abs((delta + np.pi) % (2 * np.pi) - np.pi)
    total = np.bincount(owner, weights=np.where(turn, wrapped, 0.0), minlength=n)
    count = np.bincount(owner, weights=turn, minlength=n)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def _bbox(events: Events, start: np.ndarray, steps: np.ndarray) -> list[np.ndarray]:
    """Width and height of the box around each segment's points (shared end points too)."""
    points = expand_ranges(start, steps + 1)
    offsets = np.cumsum(steps + 1) - (steps + 1)
    extents = []
    for coord in (events.x[points], events.y[points]):
        extents.append(np.maximum.reduceat(coord, offsets) - np.minimum.reduceat(coord, offsets))
    return extents


def _dt_statistics(
    events: Events, step: np.ndarray, owner: np.ndarray, steps: np.ndarray
) -> list[np.ndarray]:
    """Mean, population std and zero share of Δt per segment (they leak the target)."""
    n = steps.shape[0]
    dt = events.t[step] - events.t[step - 1]
    mean = np.bincount(owner, weights=dt, minlength=n) / steps
    var = np.bincount(owner, weights=(dt - mean[owner]) ** 2, minlength=n) / steps
    zero = np.bincount(owner, weights=dt == 0, minlength=n) / steps
    return [mean, np.sqrt(var), zero]
