"""The diffusion eval dump (docs/artifacts.md#eval-dump): real and generated sequences with their
timing.

Stage 6 and the eval hook (`assert_timing_stats`) both read real/fake pairs through
`parse_side`, so a dump on disk and two dicts handed over in memory are validated by the
same rules. Loading is strict about *usability* only: a dump with no usable step, a side
whose `xy`, `dt` and `mask` disagree in shape, negative or non-finite values on valid steps,
or every Δt zero cannot give a median or a velocity, so it raises ArtifactError naming the
file, the key and the problem. Real and fake may differ in N and L: every statistic is
pooled over valid steps or taken per sequence, and neither needs the two to be paired.

Group names: `real`/`fake`, or the built-in aliases `gt`/`gen`, `target`/`pred`,
`real`/`generated`, or the user's own through `keys.eval` (which also maps field names:
`dt = "delta_t_s"`). A side may also be one [N, T, 3] tensor of (Δx, Δy, Δt) channels,
normalized or not (see eval_channels).

Points or steps (docs/artifacts.md, Eval dump): `xy` holds points [N, L+1, 2] or
per-step displacements [N, L, 2], `dt` per-step Δt [N, L] or per-point Δt [N, L+1] whose
first column is 0 (the time since the previous point: the leading 0 is not a step), and
the mask covers points or steps. The shapes decide where they can (xy one wider than Δt:
points and per-step Δt); xy and Δt of one width are per-step displacements, unless Δt's
first column is 0 in every row, which is the per-point convention: then xy holds points
when its first entries are not all (0, 0), and when they are (points that start at the
origin, or displacements whose first step is 0 in 0 s) nothing in the content decides,
and the side is `undecided`: stage 6 skips what depends on it and asks for
`eval_xy = "points"` or `"steps"` in the table, which settles every case. A side of
unnamed [N, T, 3] channels is undecided the same way when its third channel, about to be
read as per-step Δt, starts at 0 and never decreases in every row, as a time does; there
Δt itself is open (`dt_open`), not only xy. Each reading is an assumption.

This module needs only numpy, so the hook works in an eval loop without importing torch;
torch tensors are accepted by duck typing and the torch loader is imported only to read a
file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from tui_timing.artifacts.eval_channels import (
    channel_order,
    channel_tensor,
    is_point_order,
    looks_like_times,
    read_channels,
    stored_figures,
)
from tui_timing.config import Settings
from tui_timing.errors import ArtifactError
from tui_timing.findings import Assumption

SIDES = ("real", "fake")
#: Group names each side is found under, canonical first (docs/artifacts.md#eval-dump).
GROUP_ALIASES: dict[str, tuple[str, ...]] = {
    "real": ("real", "gt", "target"),
    "fake": ("fake", "gen", "generated", "pred"),
}

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
#: The table line that settles how an eval dump's xy is read.
TABLE = 'eval_xy = "points" or "steps" in [tool.timing-tui]'


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
    #: How xy, Δt and the mask were read (points or steps), and what decided it.
    reading: XyReading | None = None

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

    def moving_dt_median(self) -> float:
        """Median Δt pooled over valid steps with Δt > 0. Real data have steps of Δt = 0
        (duplicate timestamps: 4-46% of steps across Balabit users) that a softmax profile
        never produces, so a median with them measures that share, not the timing."""
        moving = self.dt[self.moving_steps()]
        return float(np.median(moving)) if moving.size else 0.0

    def zero_dt_share(self) -> float:
        """The share of valid steps whose Δt is exactly 0."""
        steps = int(self.mask.sum())
        return self.n_zero_dt() / steps if steps else 0.0

    def vel_p95(self) -> float:
        """95th percentile of |vel| pooled over valid steps with Δt > 0."""
        return float(np.quantile(self.velocities(), 0.95))


@dataclass(frozen=True)
class XyReading:
    """How one side's arrays were read: xy as points or displacements, Δt per step or per
    point (its first column dropped), and the evidence; `question` when nothing decided."""

    xy: str  # "points" or "displacements"
    dt: str  # "per step", "per point" or "from times" (differences of a time channel)
    source: str
    question: str | None = None
    #: Where per-row lengths stand in for a mask: what they count, and why.
    lengths: tuple[str, str] | None = None
    #: The answer to `question` changes Δt itself (a channel read as per-step Δt or as
    #: times), not only xy: then no figure of Δt holds under both readings.
    dt_open: bool = False

    def assumptions(self, side: str) -> list[Assumption]:
        if self.question is not None:
            return [Assumption("eval", f"{side} xy", "undecided", f"{self.question} Set {TABLE}")]
        dt = {
            "per point": "per point (its first column, 0, is not a step)",
            "from times": "differences of consecutive times",
        }.get(self.dt, "per step")
        out = [
            Assumption("eval", f"{side} xy", self.xy, self.source),
            Assumption("eval", f"{side} Δt", dt, self.source),
        ]
        if self.lengths is not None:
            out.append(Assumption("eval", f"{side} length", *self.lengths))
        return out


@dataclass
class EvalDump:
    """A loaded dump: both sides, the durations sampled for the fakes, meta and notes."""

    path: Path | None
    real: EvalSide
    fake: EvalSide
    fake_duration: np.ndarray | None = None  # float64 [N_fake], rows aligned with `fake`
    meta: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: Per side given as normalized channels: its figures denormalized and as stored.
    readings: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def assumptions(self) -> list[Assumption]:
        """How each side's xy and Δt were read (points or steps)."""
        out: list[Assumption] = []
        for side in (self.real, self.fake):
            if side.reading is not None:
                out.extend(side.reading.assumptions(side.name))
        return out

    @property
    def question(self) -> str | None:
        """The question that decides how a side is read, when its content does not."""
        for side in (self.real, self.fake):
            if side.reading is not None and side.reading.question is not None:
                return side.reading.question
        return None

    @property
    def undecided(self) -> str | None:
        """The question with the table line that answers it (None when all is decided)."""
        question = self.question
        return None if question is None else f"{question} Set {TABLE}"

    @property
    def dt_open(self) -> bool:
        """Whether the open question changes Δt itself (not only how xy is read)."""
        sides = (self.real, self.fake)
        return any(s.reading is not None and s.reading.dt_open for s in sides)


def load_eval_dump(path: str | Path, settings: Settings | None = None) -> EvalDump:
    """Read and validate an eval dump (.pt or .npz; nested dicts, flat `real/xy` keys, or
    sides as [N, T, 3] channels). Raises ArtifactError when the dump is unusable."""
    from tui_timing.artifacts.safe_load import load_container

    path = Path(path)
    keys = dict(settings.keys.get("eval", {})) if settings is not None else {}
    eval_xy = settings.eval_xy if settings is not None else None
    container = load_container(path)
    if not isinstance(container, Mapping):
        raise ArtifactError(
            str(path),
            None,
            f"expected a dict with 'real' and 'fake', found {type(container).__name__}",
        )
    notes: list[str] = []
    meta = _meta(container, notes)
    sides: dict[str, EvalSide] = {}
    readings: dict[str, dict[str, Any]] = {}
    objects: dict[str, Any] = {}
    for name in SIDES:
        group, obj = objects[name] = _side_mapping(container, name, str(path), keys)
        if group != name:
            notes.append(f"{name} read from {group!r}")
        sides[name], stored = _parse(obj, name, str(path), keys, {**meta, **container}, eval_xy)
        if stored is not None:
            readings[name] = stored
    for name, stored in readings.items():
        notes.append(_reading_note(name, stored, sides))
    fake_duration = _fake_duration(container, objects["fake"][1], sides["fake"], str(path))
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
        readings=readings,
    )


def parse_side(obj: Any, name: str, file: str, eval_xy: str | None = None) -> EvalSide:
    """Validate one side's `xy`, `dt` and `mask` (or `length`), or its [N, T, 3] channels,
    and build its EvalSide; a side whose reading nothing decides is refused (a caller with
    no table to ask has no way to skip)."""
    side = _parse(obj, name, file, {}, {}, eval_xy)[0]
    if side.reading is not None and side.reading.question is not None:
        raise ArtifactError(
            file,
            f"{name}.xy",
            f'{side.reading.question} Pass eval_xy="points" or eval_xy="steps".',
        )
    return side


def _parse(
    obj: Any,
    name: str,
    file: str,
    keys: Mapping[str, str],
    shared: Mapping[str, Any],
    eval_xy: str | None = None,
) -> tuple[EvalSide, dict[str, Any] | None]:
    """The side, and its figures as stored when it was denormalized (else None)."""
    channels = channel_tensor(obj)
    if channels is not None:
        return _parse_channels(channels, obj, name, file, keys, shared, eval_xy)
    if not isinstance(obj, Mapping):
        raise ArtifactError(
            file,
            name,
            f"expected a dict with xy, dt and mask or a [N, T, 3] tensor of (dx, dy, dt), "
            f"found {_describe(obj)}",
        )
    dt = _numeric(_pick(obj, "dt", name, file, keys), f"{name}.dt", file)
    if dt.ndim != 2 or dt.shape[0] == 0 or dt.shape[1] == 0:
        raise ArtifactError(
            file, f"{name}.dt", f"expected [N, L] with N, L >= 1, found {list(dt.shape)}"
        )
    xy = _numeric(_pick(obj, "xy", name, file, keys), f"{name}.xy", file)
    reading = _xy_reading(xy, dt, obj, name, file, keys, eval_xy)
    per_point = reading.dt == "per point"
    if per_point:
        dt = dt[:, 1:]  # the leading 0 is the time before the first point: not a step
    counts = _length_counts(obj, keys, dt, per_point)
    if counts is not None:
        reading = replace(reading, lengths=counts)
    points = counts is not None and counts[0] == "counts points"
    mask = _mask(obj, name, dt.shape, file, keys, lengths_count_points=points)
    disp, xy_form = _displacements(xy, name, dt.shape, file)
    return _side(name, dt, disp, mask, xy_form, file, reading), None


def _parse_channels(
    tensor: Any,
    obj: Any,
    name: str,
    file: str,
    keys: Mapping[str, str],
    shared: Mapping[str, Any],
    eval_xy: str | None,
) -> tuple[EvalSide, dict[str, Any] | None]:
    """A side given as [N, T, 3]: its mask, channel order and normalization are looked
    up in the side's own entries first, then at the top of the dump and in its meta. With
    (x, y, t) channels the T entries are points, and a mask or lengths count points."""
    own = obj if isinstance(obj, Mapping) else {}
    data = _numeric(tensor, f"{name} channels", file)
    stored_type = np.asarray(_to_numpy(tensor)).dtype
    eps = float(np.finfo(stored_type).eps) if stored_type.kind == "f" else 0.0
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise ArtifactError(
            file, name, f"expected [N, T, 3] with N, T >= 1, found {list(data.shape)}"
        )

    def lookup(canonical: str) -> Any:
        for where in (own, shared):
            found = _find(where, canonical, keys) if canonical in ALIASES else None
            if found is None:
                found = where.get(keys.get(canonical, canonical))
            if found is not None:
                return found
        return None

    named = [keys.get("channels"), lookup("channels")]
    order = channel_order(named, file, f"{name}.channels", eval_xy)
    points = is_point_order(order)
    mean, std = lookup("mean"), lookup("std")
    read = read_channels(
        data,
        order,
        None if mean is None else _numeric(mean, f"{name}.mean", file),
        None if std is None else _numeric(std, f"{name}.std", file),
        file,
        name,
        eps,
    )
    mask_source = {k: v for k in ("mask", "length") if (v := lookup(k)) is not None}
    if mask_source:
        mask = _mask(mask_source, name, read.dt.shape, file, {}, lengths_count_points=points)
    else:
        mask = np.ones(read.dt.shape, dtype=bool)
    channels = f"channels ({', '.join(order)})"
    if points:
        reading = XyReading(
            "points",
            "from times",
            f"a [N, T, 3] tensor read as points and their time, {channels}: steps are the "
            "differences between consecutive points; the order is set with keys.eval "
            'channels = "x,y,t" (or "dx,dy,dt" for per-step channels)',
        )
    elif eval_xy is None and named == [None, None] and looks_like_times(read.dt, mask):
        reading = XyReading(
            "displacements",
            "per step",
            "",
            question=(
                f"{name}: a [N, T, 3] tensor with unnamed channels whose third starts at 0 "
                "and never decreases along every row, as a time does: (x, y, t) points and "
                "their time, or per-step (dx, dy, dt)?"
            ),
            dt_open=True,
        )
    else:
        reading = XyReading(
            "displacements",
            "per step",
            f"a [N, T, 3] tensor read as per-step {channels}; the order is set with keys.eval "
            'channels = "dx,dy,dt" (or "x,y,t" for points and their time, or eval_xy = '
            '"points" in [tool.timing-tui])',
        )
    side = _side(name, read.dt, read.disp, mask, channels, file, reading)
    if read.stored is None:
        return side, None
    stored = stored_figures(read.stored[0], read.stored[1], mask)
    figures = {
        "as_stored": stored,
        "denormalized": {"dt_median": side.dt_median(), "vel_p95": side.vel_p95()},
    }
    return side, figures


def _reading_note(name: str, figures: dict[str, Any], sides: dict[str, EvalSide]) -> str:
    """Both readings of a normalized side, and which is nearer the other side's Δt."""
    other = sides["real" if name == "fake" else "fake"]
    target = other.dt_median()
    denorm = figures["denormalized"]["dt_median"]
    stored = figures["as_stored"]["dt_median"]
    figures["other_side_dt_median"] = target

    def distance(value: float) -> float:
        if not (value > 0 and target > 0):
            return float("inf")
        return abs(float(np.log(value / target)))

    nearer = "denormalized" if distance(denorm) <= distance(stored) else "as stored"
    figures["nearer"] = nearer
    return (
        f"{name} is [N, T, 3] channels with the dump's mean/std: Δt median {denorm:.4g} "
        f"denormalized (used), {stored:.4g} as stored; {other.name}'s is {target:.4g}, "
        f"nearer the {nearer} reading"
        + ("" if nearer == "denormalized" else ": was the dump written already denormalized?")
    )


def _xy_reading(
    xy: np.ndarray,
    dt: np.ndarray,
    obj: Mapping[str, Any],
    side: str,
    file: str,
    keys: Mapping[str, str],
    eval_xy: str | None,
) -> XyReading:
    """Points or steps, per-step or per-point Δt: from `eval_xy`, the shapes, or Δt's
    leading zeros (see the module's docstring); `question` set when nothing decides."""
    if xy.ndim != 3 or xy.shape[0] != dt.shape[0] or xy.shape[2] != 2:
        return XyReading("points", "per step", "shape")  # refused by _displacements
    width, steps = xy.shape[1], dt.shape[1]
    if width == steps + 1:
        if eval_xy == "steps":
            raise ArtifactError(
                file,
                f"{side}.xy",
                f'eval_xy = "steps", but xy {list(xy.shape)} has one more entry than dt '
                f'{list(dt.shape)}: it holds points; remove eval_xy or set eval_xy = "points"',
            )
        return XyReading(
            "points",
            "per step",
            f"shapes: xy {list(xy.shape)} is one wider than dt {list(dt.shape)}",
        )
    if width != steps:
        return XyReading("points", "per step", "shape")  # refused by _displacements
    rows = _first_valid(obj, dt.shape[0], keys)
    said = f'eval_xy = "{eval_xy}" in [tool.timing-tui], xy and dt both {width} wide'
    if eval_xy == "points":
        nonzero = int(np.count_nonzero(dt[rows, 0]))
        dropped = f"; dt's first column, not a step, is not 0 in {nonzero} rows" if nonzero else ""
        return XyReading("points", "per point", said + dropped)
    if eval_xy == "steps":
        return XyReading("displacements", "per step", said)
    leading_zero = steps > 1 and bool(np.all(dt[rows, 0] == 0))
    if not leading_zero:
        return XyReading(
            "displacements",
            "per step",
            f"xy and dt both {width} wide, dt's first column not all 0: per-step "
            f"displacements; {TABLE} to change it",
        )
    starts_at_origin = bool(np.all(xy[rows, 0] == 0))
    if starts_at_origin:
        return XyReading(
            "points",
            "per point",
            "",
            question=(
                f"{side}: xy and dt are both {width} wide, dt's first column is 0 in every "
                "row and so is xy's first entry: points that start at (0, 0) with Δt per "
                "point, or per-step displacements whose first step is (0, 0) in 0 s?"
            ),
        )
    return XyReading(
        "points",
        "per point",
        f"xy and dt both {width} wide, dt's first column 0 in every row (the time since "
        f"the previous point) and xy's first entries not (0, 0): points; {TABLE} to "
        "change it",
    )


def _length_counts(
    obj: Mapping[str, Any], keys: Mapping[str, str], dt: np.ndarray, per_point: bool
) -> tuple[str, str] | None:
    """What per-row lengths count when they stand in for a mask: points where the arrays
    are per point, or where a length exceeds the steps Δt holds, or where the last step
    each would count has Δt = 0 in every row (a length of points read as steps adds one
    padded step per row); else steps. None when a mask is given (or the lengths are
    unusable: `_mask` says why)."""
    if _find(obj, "mask", keys) is not None:
        return None
    raw = _find(obj, "length", keys)
    if raw is None:
        return None
    lengths = np.asarray(_to_numpy(raw))
    if lengths.dtype.kind not in "biuf" or lengths.reshape(-1).shape[0] != dt.shape[0]:
        return None
    lengths = lengths.reshape(-1).astype(np.int64)
    width = dt.shape[1]
    if per_point:
        return "counts points", "the arrays are per point, so each length counts points"
    if lengths.max() > width:
        return (
            "counts points",
            f"a length of {lengths.max()} exceeds the {width} steps Δt holds",
        )
    counted = (lengths >= 1) & (lengths <= width)
    if counted.any():
        last = dt[np.flatnonzero(counted), lengths[counted] - 1]
        if np.all(last == 0):
            return (
                "counts points",
                "the last step each length would count has Δt = 0 in every row",
            )
    return (
        "counts steps",
        f"no length exceeds the {width} steps Δt holds, and not every row's last "
        "counted step has Δt = 0",
    )


def _first_valid(obj: Mapping[str, Any], n: int, keys: Mapping[str, str]) -> np.ndarray:
    """The rows whose first entry is valid by the mask (every row without a usable one)."""
    raw = _find(obj, "mask", keys)
    mask = np.asarray(_to_numpy(raw)) if raw is not None else None
    if mask is None or mask.ndim != 2 or mask.shape[0] != n or mask.dtype.kind not in "biuf":
        return np.ones(n, dtype=bool)
    first = mask[:, 0] != 0
    return first if first.any() else np.ones(n, dtype=bool)


def _side(
    name: str,
    dt: np.ndarray,
    disp: np.ndarray,
    mask: np.ndarray,
    xy_form: str,
    file: str,
    reading: XyReading | None = None,
) -> EvalSide:
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
        reading=reading,
    )


def _describe(obj: Any) -> str:
    shape = getattr(obj, "shape", None)
    return f"shape {list(shape)}" if shape is not None else type(obj).__name__


def _side_mapping(
    container: Mapping[str, Any], side: str, file: str, keys: Mapping[str, str]
) -> tuple[str, Any]:
    """(group name, side) of one side: `container[group]` (a dict or a [N, T, 3] tensor,
    with the group's flat entries such as `gt_mask` beside a tensor), or the flat keys
    `group/xy`, `group.xy`, `group_xy` as a dict."""
    groups = (keys[side],) if side in keys else GROUP_ALIASES[side]
    for group in groups:
        flat = _flat_entries(container, group)
        if group in container:
            value = container[group]
            if isinstance(value, Mapping):
                return group, value
            return group, {"seq": value, **flat} if channel_tensor(value) is not None else value
        if flat:
            return group, flat
    mapped = f"keys.eval maps {side} to {groups[0]!r}, which" if side in keys else "no group"
    raise ArtifactError(
        file,
        side,
        f"missing: {mapped} is not in the dump (a dump holds real and fake, also named "
        f"gt/gen, target/pred or real/generated; found keys: {_key_list(container)}). Name "
        f'yours in [tool.timing-tui.keys.eval], e.g. {side} = "...", or --key eval.{side}=NAME',
    )


def _flat_entries(container: Mapping[str, Any], group: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in container.items():
        for sep in _SEPARATORS:
            prefix = f"{group}{sep}"
            if isinstance(key, str) and key.startswith(prefix):
                flat[key[len(prefix) :]] = value
    return flat


def _key_list(container: Mapping[Any, Any], limit: int = 20) -> str:
    names = [str(k)[:60] for k in list(container)[:limit]]
    return (", ".join(names) or "none") + (
        f", … ({len(container)})" if len(container) > limit else ""
    )


def _find(obj: Mapping[str, Any], canonical: str, keys: Mapping[str, str] | None = None) -> Any:
    names = (keys[canonical],) if keys and canonical in keys else ALIASES[canonical]
    for alias in names:
        if alias in obj:
            return obj[alias]
    return None


def _pick(
    obj: Mapping[str, Any], canonical: str, side: str, file: str, keys: Mapping[str, str]
) -> Any:
    value = _find(obj, canonical, keys)
    if value is None:
        if canonical in keys:
            known = f"keys.eval maps it to {keys[canonical]!r}, which is not there"
        else:
            known = f"accepted names: {', '.join(ALIASES[canonical])}"
        found = ", ".join(str(k)[:60] for k in list(obj)[:20])
        raise ArtifactError(
            file, f"{side}.{canonical}", f"missing ({known}; the side holds {found or 'nothing'})"
        )
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


def _mask(
    obj: Mapping[str, Any],
    side: str,
    shape: tuple[int, ...],
    file: str,
    keys: Mapping[str, str],
    *,
    lengths_count_points: bool = False,
) -> np.ndarray:
    """The boolean step mask, from `mask` (bool or 0/1) or else per-row `length` (a prefix:
    of steps, or of points where the arrays are per point).

    A mask over the L+1 points is accepted too: a step is valid when both its points are.
    """
    raw = _find(obj, "mask", keys)
    if raw is None:
        lengths = _find(obj, "length", keys)
        if lengths is None:
            raise ArtifactError(
                file, f"{side}.mask", "missing (give a [N, L] mask or per-row lengths)"
            )
        lengths = _numeric(lengths, f"{side}.length", file).reshape(-1)
        if lengths.shape[0] != shape[0]:
            raise ArtifactError(
                file, f"{side}.length", f"{lengths.shape[0]} rows, but dt has {shape[0]}"
            )
        if lengths_count_points:
            lengths = lengths - 1
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
    xy: np.ndarray, side: str, shape: tuple[int, ...], file: str
) -> tuple[np.ndarray, str]:
    """Per-step Δxy [N, L, 2] from points [N, L+1, 2] or displacements [N, L, 2] (per-point
    Δt have lost their leading column by now, so the widths tell)."""
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


def _fake_duration(
    container: Mapping[str, Any], side: Any, fake: EvalSide, file: str
) -> np.ndarray | None:
    """The fakes' sampled durations, aligned with the kept fake rows (None when absent)."""
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
