"""The diffusion eval dump (SPEC 2.5): real and generated sequences with their timing.

Stage 6 and the eval hook (`assert_timing_stats`) both read real/fake pairs through
`parse_side`, so a dump on disk and two dicts handed over in memory are validated by the
same rules. Loading is strict about *usability* only: a dump with no usable step, a side
whose `xy`, `dt` and `mask` disagree in shape, negative or non-finite values on valid steps,
or every Δt zero cannot give a median or a velocity, so it raises ArtifactError naming the
file, the key and the problem. Real and fake may differ in N and L: every statistic is
pooled over valid steps or taken per sequence, and neither needs the two to be paired.

This module needs only numpy, so the hook works in an eval loop without importing torch;
torch tensors are accepted by duck typing and the torch loader is imported only to read a
file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tui_timing.config import Settings
from tui_timing.errors import ArtifactError

SIDES = ("real", "fake")

#: Names under which each array is accepted, canonical name first.
ALIASES: dict[str, tuple[str, ...]] = {
    "xy": ("xy", "points", "positions", "paths", "coords"),
    "dt": ("dt", "delta_t", "dts", "time_deltas"),
    "mask": ("mask", "masks", "valid", "valid_mask"),
    "length": ("length", "lengths", "lens"),
}
#: Where the durations sampled before Δt were assigned may sit.
FAKE_DURATION_KEYS = ("fake_duration", "fake_durations", "fake/duration", "fake.duration")

_SEPARATORS = ("/", ".", "_")


@dataclass(frozen=True)
class EvalSide:
    """One side (real or fake) of a dump: per-step Δt and displacement, and the valid steps.

    Padding is zero in `dt` and `disp`, so sums over a row are sums over its valid steps.
    """

    name: str
    dt: np.ndarray  # float64 [N, L]
    disp: np.ndarray  # float64 [N, L, 2], Δxy of each step
    mask: np.ndarray  # bool [N, L]
    xy_form: str  # "points" ([N, L+1, 2] as given) or "displacements" ([N, L, 2])
    rows: np.ndarray  # int64 [N], index of each kept row among the rows as given
    given_rows: int  # rows as given, including those without a valid step (left out)

    @property
    def n_rows(self) -> int:
        return int(self.dt.shape[0])

    @property
    def dropped_rows(self) -> int:
        return self.given_rows - self.n_rows

    @property
    def lengths(self) -> np.ndarray:
        """Valid steps per row."""
        return self.mask.sum(axis=1)

    @property
    def durations(self) -> np.ndarray:
        """Sum of each row's Δt over its valid steps."""
        return self.dt.sum(axis=1)

    @property
    def step_lengths(self) -> np.ndarray:
        """|Δxy| of every step, 0 on padding, [N, L]."""
        return np.hypot(self.disp[..., 0], self.disp[..., 1])

    def valid_dt(self) -> np.ndarray:
        """Every valid Δt, pooled."""
        return self.dt[self.mask]

    def n_zero_dt(self) -> int:
        """Valid steps whose Δt is exactly 0 (real in Balabit: duplicate timestamps)."""
        return int(np.count_nonzero(self.mask & (self.dt == 0)))

    def moving_steps(self) -> np.ndarray:
        """Valid steps with Δt > 0: the only ones where a velocity is defined, [N, L] bool."""
        return self.mask & (self.dt > 0)

    def velocities(self) -> np.ndarray:
        """|Δxy| / Δt pooled over valid steps with Δt > 0."""
        moving = self.moving_steps()
        return self.step_lengths[moving] / self.dt[moving]

    def dt_median(self) -> float:
        """Median Δt pooled over valid steps (zeros included: they are real steps)."""
        return float(np.median(self.valid_dt()))

    def vel_p95(self) -> float:
        """95th percentile of |vel| pooled over valid steps with Δt > 0."""
        return float(np.quantile(self.velocities(), 0.95))


@dataclass
class EvalDump:
    """A loaded dump: both sides, the durations sampled for the fakes, meta and notes."""

    path: Path | None
    real: EvalSide
    fake: EvalSide
    fake_duration: np.ndarray | None = None  # float64 [N_fake], rows aligned with `fake`
    meta: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def load_eval_dump(path: str | Path, settings: Settings | None = None) -> EvalDump:
    """Read and validate an eval dump (.pt or .npz; nested dicts or flat `real/xy` keys).

    `settings` is part of the loader interface every artifact kind shares; eval dumps have
    no key mapping, so it is not consulted. Raises ArtifactError when the dump is unusable.
    """
    from tui_timing.artifacts.safe_load import load_container

    path = Path(path)
    container = load_container(path)
    if not isinstance(container, Mapping):
        raise ArtifactError(
            str(path),
            None,
            f"expected a dict with 'real' and 'fake' (SPEC 2.5), found {type(container).__name__}",
        )
    notes: list[str] = []
    sides = {
        name: parse_side(_side_mapping(container, name, str(path)), name, str(path))
        for name in SIDES
    }
    fake_duration = _fake_duration(container, sides["fake"], str(path))
    meta = _meta(container, notes)
    for side in sides.values():
        if side.dropped_rows:
            notes.append(f"{side.dropped_rows} {side.name} rows without a valid step left out")
    return EvalDump(
        path=path,
        real=sides["real"],
        fake=sides["fake"],
        fake_duration=fake_duration,
        meta=meta,
        notes=notes,
    )


def parse_side(obj: Any, name: str, file: str) -> EvalSide:
    """Validate one side's `xy`, `dt` and `mask` (or `length`) and build its EvalSide."""
    if not isinstance(obj, Mapping):
        raise ArtifactError(
            file, name, f"expected a dict with xy, dt and mask, found {type(obj).__name__}"
        )
    dt = _numeric(_pick(obj, "dt", name, file), f"{name}.dt", file)
    if dt.ndim != 2 or dt.shape[0] == 0 or dt.shape[1] == 0:
        raise ArtifactError(
            file, f"{name}.dt", f"expected [N, L] with N, L >= 1, found {list(dt.shape)}"
        )
    mask = _mask(obj, name, dt.shape, file)
    disp, xy_form = _displacements(_pick(obj, "xy", name, file), name, dt.shape, file)
    keep = mask.any(axis=1)
    if not keep.any():
        raise ArtifactError(file, f"{name}.mask", "no valid step in any row")
    _check_valid_values(dt, disp, mask, name, file)
    return EvalSide(
        name=name,
        dt=np.where(mask, dt, 0.0)[keep],
        disp=np.where(mask[..., None], disp, 0.0)[keep],
        mask=mask[keep],
        xy_form=xy_form,
        rows=np.flatnonzero(keep),
        given_rows=int(keep.shape[0]),
    )


def _side_mapping(container: Mapping[str, Any], side: str, file: str) -> Any:
    """A side as a dict: `container[side]`, or the flat keys `side/xy`, `side.xy`, `side_xy`."""
    if side in container:
        return container[side]
    flat: dict[str, Any] = {}
    for key, value in container.items():
        for sep in _SEPARATORS:
            prefix = f"{side}{sep}"
            if isinstance(key, str) and key.startswith(prefix):
                flat[key[len(prefix) :]] = value
    if not flat:
        raise ArtifactError(
            file, side, f"missing: a dump holds '{SIDES[0]}' and '{SIDES[1]}' (SPEC 2.5)"
        )
    return flat


def _find(obj: Mapping[str, Any], canonical: str) -> Any:
    for alias in ALIASES[canonical]:
        if alias in obj:
            return obj[alias]
    return None


def _pick(obj: Mapping[str, Any], canonical: str, side: str, file: str) -> Any:
    value = _find(obj, canonical)
    if value is None:
        known = ", ".join(ALIASES[canonical])
        raise ArtifactError(file, f"{side}.{canonical}", f"missing (accepted names: {known})")
    return value


def _to_numpy(value: Any) -> Any:
    """A numpy view of a tensor or array (torch tensors by duck typing: no torch import)."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu()
        if str(getattr(value, "dtype", "")) == "torch.bfloat16":
            value = value.float()
        return value.numpy()
    return value


def _numeric(value: Any, key: str, file: str) -> np.ndarray:
    array = np.asarray(_to_numpy(value))
    if array.dtype.kind not in "biuf":
        raise ArtifactError(file, key, f"expected numbers, found dtype {array.dtype}")
    return array.astype(np.float64)


def _mask(obj: Mapping[str, Any], side: str, shape: tuple[int, ...], file: str) -> np.ndarray:
    """The boolean step mask, from `mask` (bool or 0/1) or else per-row `length` (a prefix).

    A mask over the L+1 points is accepted too: a step is valid when both its points are.
    """
    raw = _find(obj, "mask")
    if raw is None:
        lengths = _find(obj, "length")
        if lengths is None:
            raise ArtifactError(
                file, f"{side}.mask", "missing (give a [N, L] mask or per-row lengths)"
            )
        lengths = _numeric(lengths, f"{side}.length", file).reshape(-1)
        if lengths.shape[0] != shape[0]:
            raise ArtifactError(
                file, f"{side}.length", f"{lengths.shape[0]} rows, but dt has {shape[0]}"
            )
        return np.arange(shape[1])[None, :] < lengths[:, None]
    mask = np.asarray(_to_numpy(raw))
    per_point = (shape[0], shape[1] + 1)
    if mask.shape not in (shape, per_point):
        raise ArtifactError(
            file,
            f"{side}.mask",
            f"shape {list(mask.shape)} does not match dt {list(shape)} (a mask over steps) "
            f"or {list(per_point)} (over points)",
        )
    if mask.dtype != np.bool_:
        if mask.dtype.kind not in "biuf" or not np.isin(mask, (0, 1)).all():
            raise ArtifactError(file, f"{side}.mask", "values other than 0 and 1")
        mask = mask.astype(bool)
    if mask.shape == per_point:
        return mask[:, 1:] & mask[:, :-1]
    return mask


def _displacements(
    value: Any, side: str, shape: tuple[int, ...], file: str
) -> tuple[np.ndarray, str]:
    """Per-step Δxy [N, L, 2] from points [N, L+1, 2] or displacements [N, L, 2]."""
    xy = _numeric(value, f"{side}.xy", file)
    n, steps = shape
    if (
        xy.ndim != 3
        or xy.shape[0] != n
        or xy.shape[2] != 2
        or xy.shape[1] not in (steps, steps + 1)
    ):
        raise ArtifactError(
            file,
            f"{side}.xy",
            f"shape {list(xy.shape)} fits neither points [{n}, {steps + 1}, 2] nor "
            f"displacements [{n}, {steps}, 2] for dt {list(shape)}",
        )
    if xy.shape[1] == steps + 1:
        # inf - inf is nan and huge - -huge overflows: both are refused by
        # _check_valid_values with the key, so numpy's warnings would only be noise.
        with np.errstate(invalid="ignore", over="ignore"):
            return np.diff(xy, axis=1), "points"
    return xy, "displacements"


def _check_valid_values(
    dt: np.ndarray, disp: np.ndarray, mask: np.ndarray, side: str, file: str
) -> None:
    valid_dt = dt[mask]
    bad = int(np.count_nonzero(~np.isfinite(valid_dt)))
    if bad:
        raise ArtifactError(file, f"{side}.dt", f"{bad} non-finite values on valid steps")
    negative = int(np.count_nonzero(valid_dt < 0))
    if negative:
        raise ArtifactError(file, f"{side}.dt", f"{negative} negative values on valid steps")
    if not np.any(valid_dt > 0):
        raise ArtifactError(
            file, f"{side}.dt", "every Δt on valid steps is 0: no duration, no velocity"
        )
    bad_xy = int(np.count_nonzero(~np.isfinite(disp[mask])))
    if bad_xy:
        raise ArtifactError(file, f"{side}.xy", f"{bad_xy} non-finite coordinates on valid steps")


def _fake_duration(container: Mapping[str, Any], fake: EvalSide, file: str) -> np.ndarray | None:
    """The fakes' sampled durations, aligned with the kept fake rows (None when absent)."""
    side = container.get("fake")
    candidates: list[tuple[str, Any]] = [
        (key, container[key]) for key in FAKE_DURATION_KEYS if key in container
    ]
    if isinstance(side, Mapping):
        candidates += [(f"fake.{k}", side[k]) for k in ("duration", "fake_duration") if k in side]
    if not candidates:
        return None
    key, value = candidates[0]
    durations = _numeric(value, key, file).reshape(-1)
    if durations.shape[0] != fake.given_rows:
        raise ArtifactError(
            file, key, f"{durations.shape[0]} values, but fake has {fake.given_rows} rows"
        )
    durations = durations[fake.rows]
    if not np.all(np.isfinite(durations)) or np.any(durations <= 0):
        raise ArtifactError(file, key, "durations must be finite and > 0")
    return durations


def _meta(container: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    meta = container.get("meta")
    if meta is None:
        return {}
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except (ValueError, RecursionError):  # JSONDecodeError, or nesting past the limit
            notes.append("meta is text, not a dict: ignored")
            return {}
    if not isinstance(meta, Mapping):
        notes.append(f"meta is a {type(meta).__name__}, not a dict: ignored")
        return {}
    return dict(meta)
