"""Eval-dump sides kept as one [N, T, 3] tensor of channels (docs/artifacts.md#eval-dump).

Diffusion code often stores a trajectory as per-step (Δx, Δy, Δt), normalized per channel,
or as its points with their time, (x, y, t) over T = L+1 points. Such a side is read with
its channel order (`channels` in the dump, its `meta`, or `keys.eval`): names dx, dy, dt
are steps, names x, y, t are points and times (the steps are their differences); without
names, `eval_xy = "points"` in the table means (x, y, t), else (dx, dy, dt) is taken,
unless the third channel looks like each row's time (`looks_like_times`): then the side is
undecided, as eval_dump says, and stage 6 asks for `eval_xy`. When
the dump carries them, the per-channel `mean` and `std` it was normalized with are undone
before any statistic.

Whether the stored values still need that is exactly what can go wrong in an eval
pipeline, so both readings are kept: the denormalized one feeds stage 6, and the figures
as stored are reported beside it, with which of the two is nearer the real side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tui_timing.errors import ArtifactError

#: Names under which a side's [N, T, 3] tensor may sit inside its group.
TENSOR_KEYS = ("seq", "seqs", "sequences", "x", "data", "traj", "trajectories", "samples")
#: Channel names of a side kept as per-step displacements and Δt.
STEP_NAMES = {"dx": "dx", "delta_x": "dx", "dy": "dy", "delta_y": "dy", "dt": "dt", "delta_t": "dt"}
#: Channel names of a side kept as points and their time (since the row's start, or any
#: origin: only differences are used).
POINT_NAMES = {"x": "x", "y": "y", "t": "t", "time": "t", "timestamp": "t"}
DEFAULT_ORDER = ("dx", "dy", "dt")
POINT_ORDER = ("x", "y", "t")


@dataclass(frozen=True)
class ChannelSide:
    """A side's per-step arrays taken from its channels, denormalized where the dump says."""

    dt: np.ndarray  # [N, T] steps, or [N, T - 1] from T points
    disp: np.ndarray  # [N, T, 2], or [N, T - 1, 2]
    order: tuple[str, ...]
    #: (dt, disp) as stored, when mean/std were applied (the other reading), else None.
    stored: tuple[np.ndarray, np.ndarray] | None


def is_channel_tensor(value: Any) -> bool:
    """A [N, T, 3] array or tensor (by shape; nothing is converted)."""
    shape = getattr(value, "shape", None)
    return shape is not None and len(shape) == 3 and int(shape[-1]) == 3


def channel_tensor(side: Any) -> Any:
    """The [N, T, 3] tensor of a side given that way (the side itself, or inside its dict
    under one of TENSOR_KEYS when it has no `dt`), else None."""
    if is_channel_tensor(side):
        return side
    if isinstance(side, Mapping) and not any(k in side for k in ("dt", "delta_t", "dts")):
        for key in TENSOR_KEYS:
            if key in side and is_channel_tensor(side[key]):
                return side[key]
    return None


def is_point_order(order: tuple[str, ...]) -> bool:
    """Whether `order` names points and times (x, y, t) rather than steps (dx, dy, dt)."""
    return "t" in order


def channel_order(
    sources: list[Any], file: str, key: str, eval_xy: str | None = None
) -> tuple[str, ...]:
    """The channel order: the first `channels` given (a list of names or "dx,dy,dt"), all
    of one kind (steps or points); without names, (x, y, t) when the table says
    `eval_xy = "points"`, else (dx, dy, dt)."""
    for given in sources:
        if given is None:
            continue
        names = [
            str(n).strip().lower() for n in (given.split(",") if isinstance(given, str) else given)
        ]
        order: tuple[str, ...] = ()
        for family, canonical in ((STEP_NAMES, DEFAULT_ORDER), (POINT_NAMES, POINT_ORDER)):
            if all(n in family for n in names):
                mapped = tuple(family[n] for n in names)
                if sorted(mapped) == sorted(canonical):
                    order = mapped
        if not order:
            raise ArtifactError(
                file,
                key,
                f"channels {given!r} must name dx, dy and dt (steps) or x, y and t (points "
                'and their time) once each (e.g. channels = "dt,dx,dy" in '
                "[tool.timing-tui.keys.eval])",
            )
        expected = "points" if is_point_order(order) else "steps"
        if eval_xy is not None and eval_xy != expected:
            raise ArtifactError(
                file,
                key,
                f'channels {given!r} hold {expected}, but eval_xy = "{eval_xy}" in '
                f'[tool.timing-tui]: set eval_xy = "{expected}" or remove it',
            )
        return order
    return POINT_ORDER if eval_xy == "points" else DEFAULT_ORDER


def looks_like_times(values: np.ndarray, mask: np.ndarray) -> bool:
    """Whether a channel about to be read as per-step Δt looks like each row's time
    instead: in every row that is not all zeros it starts at 0 and never decreases over
    the valid entries (zeros after the last nonzero one are padding), and some row holds
    at least three such entries. Per-step Δt whose first step is 0 s in every row and that
    never shrink are as unlikely as times, so the content does not decide."""
    width = values.shape[1]
    nonzero = mask & (values != 0)
    rows = nonzero.any(axis=1)
    if not rows.any():
        return False
    last = width - 1 - np.argmax(nonzero[:, ::-1], axis=1)
    kept = mask & (np.arange(width) <= last[:, None]) & rows[:, None]
    first = np.argmax(kept, axis=1)
    if np.any(values[rows, first[rows]] != 0):
        return False
    with np.errstate(invalid="ignore"):
        highest = np.maximum.accumulate(np.where(kept, values, -np.inf), axis=1)
        before = np.concatenate([np.full((len(values), 1), -np.inf), highest[:, :-1]], axis=1)
        never_decreases = bool(np.all(~kept | (values >= before)))
    return never_decreases and bool(np.any(kept.sum(axis=1) >= 3))


def read_channels(
    data: np.ndarray,
    order: tuple[str, ...],
    mean: np.ndarray | None,
    std: np.ndarray | None,
    file: str,
    key: str,
    eps: float,
) -> ChannelSide:
    """Split [N, T, 3] into Δt and Δxy by `order`, denormalizing with mean/std if given.

    `eps` is the stored dtype's machine epsilon: a value that was 0 before normalization
    comes back within a few rounding errors of 0 (float32 leaves ±2e-9 s where Balabit's
    duplicate timestamps were), and is set back to 0, so that zero Δt steps stay zero
    and a rounding error does not become a negative Δt or an infinite velocity.
    """
    stored = data
    if mean is not None or std is not None:
        scale = _per_channel(std, 1.0, file, f"{key} std")
        shift = _per_channel(mean, 0.0, file, f"{key} mean")
        data = data * scale + shift
        rounding = 8 * eps * (np.abs(shift) + np.abs(scale) * np.abs(stored))
        if not is_point_order(order):
            data = np.where(np.abs(data) <= rounding, 0.0, data)
    else:
        rounding = np.zeros_like(data)
    points = is_point_order(order)
    dt_i, dx_i, dy_i = (order.index(c) for c in (("t", "x", "y") if points else ("dt", "dx", "dy")))

    def split(values: np.ndarray, slack: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xy = np.stack([values[..., dx_i], values[..., dy_i]], axis=-1)
        if not points:
            return values[..., dt_i], xy
        # Steps between consecutive points; a difference within the two times' rounding
        # was a repeated timestamp (a real Δt = 0) before normalization.
        dt = np.diff(values[..., dt_i], axis=1)
        dt = np.where(np.abs(dt) <= slack[:, 1:, dt_i] + slack[:, :-1, dt_i], 0.0, dt)
        return dt, np.diff(xy, axis=1)

    dt, disp = split(data, rounding)
    return ChannelSide(
        dt=dt,
        disp=disp,
        order=order,
        stored=split(stored, np.zeros_like(stored)) if stored is not data else None,
    )


def _per_channel(value: np.ndarray | None, default: float, file: str, key: str) -> np.ndarray:
    if value is None:
        return np.full(3, default)
    flat = np.asarray(value, dtype=np.float64).reshape(-1)
    if flat.shape != (3,) or not np.all(np.isfinite(flat)):
        raise ArtifactError(
            file, key, f"expected 3 finite per-channel values, found {flat.tolist()[:6]}"
        )
    return flat


def stored_figures(dt: np.ndarray, disp: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Δt median and |vel| p95 of a side as stored (Δt may be negative: still normalized)."""
    valid_dt = dt[mask]
    moving = mask & (dt > 0)
    speeds = np.hypot(disp[..., 0], disp[..., 1])[moving] / dt[moving]
    return {
        "dt_median": float(np.median(valid_dt)) if valid_dt.size else float("nan"),
        "vel_p95": float(np.quantile(speeds, 0.95)) if speeds.size else float("nan"),
        "negative_dt_share": float(np.mean(valid_dt < 0)) if valid_dt.size else float("nan"),
    }
