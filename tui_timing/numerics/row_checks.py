"""Pure figures for three checks that look at what the rows *mean*, not their format.

- `duration_units`: Balabit-style durations are human movements in seconds; a median far
  outside 0.01-60 s is another unit, and the power of ten (or 60) that brings it back is
  named (×1000: milliseconds), with or without a raw summary to compare with;
- `row_alignment`: a feature derived from the row's own length (the builder's `n_points`
  is length + 1) agrees with `length` on every row up to an affine map, unless the rows'
  profile/mask/length were shuffled against their duration/features;
- `real_vs_cache`: the eval dump's *real* sequences against the cache they should come
  from (Δt median, share of Δt = 0 steps, lengths): an eval whose real data were cut or
  cleaned differently makes every gate compare the wrong things.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from tui_timing.numerics.figures import ks_distance

#: Plausible median durations of a human movement, in seconds (docs/checks.md#stage-1-cache,
#: cache.units).
UNITS_RANGE = (0.01, 60.0)
#: Units a duration column is often written in, as the factor from seconds.
UNIT_FACTORS = (
    (1e3, "milliseconds"),
    (1e6, "microseconds"),
    (1e9, "nanoseconds"),
    (1 / 60, "minutes"),
)


@dataclass(frozen=True)
class Units:
    """The median duration, whether it is plausible seconds, and the likely unit if not."""

    median: float
    plausible: bool
    factor: float | None
    unit: str | None


def duration_units(
    median: float, low: float = UNITS_RANGE[0], high: float = UNITS_RANGE[1]
) -> Units:
    """Whether a median duration is plausible in seconds; if not, the factor that explains it.

    The factor is the listed unit whose conversion brings the median closest to 1 s (the
    middle of the plausible range on a log scale), among those that make it plausible.
    """
    if not math.isfinite(median) or median <= 0:
        return Units(median, False, None, None)
    if low <= median <= high:
        return Units(median, True, None, None)
    fitting = [(f, name) for f, name in UNIT_FACTORS if low <= median / f <= high]
    if not fitting:
        return Units(median, False, None, None)
    factor, name = min(fitting, key=lambda p: abs(math.log(median / p[0])))
    return Units(median, False, factor, name)


#: Feature names that count steps or points of the row itself (not a path's length in px).
_COUNT_NAME = re.compile(
    r"^(n_?points|num_?points|point_?count|n_?steps|num_?steps|steps|n_?events|"
    r"seq_?len|seq_?length|sequence_?length|length|len|lengths|n_?steps_?valid)$"
)


def count_features(names: list[str] | None) -> list[int]:
    """Columns whose name says they count the row's points or steps."""
    if not names:
        return []
    return [i for i, name in enumerate(names) if _COUNT_NAME.match(str(name).strip().lower())]


@dataclass(frozen=True)
class Alignment:
    """One count feature against `length`: the affine map read from the rows, and how many
    rows it misses."""

    column: int
    name: str
    slope: float
    intercept: float
    rows_off: int
    rows: int

    @property
    def share_off(self) -> float:
        return self.rows_off / max(self.rows, 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "feature": self.name,
            "slope": self.slope,
            "intercept": self.intercept,
            "rows_off": self.rows_off,
            "rows": self.rows,
            "share_off": self.share_off,
        }


def row_alignment(feature: np.ndarray, length: np.ndarray, column: int, name: str) -> Alignment:
    """Read feature ≈ slope · length + intercept from the rows, robustly, and count misses.

    The map is taken from the medians of the feature at the two most common lengths, so
    that a shuffled minority of rows cannot bend it; a row misses when the length it
    implies is more than half a step from its own. When every row has the same length the
    slope cannot be read, and the feature is compared with that one value.
    """
    feature = np.asarray(feature, dtype=np.float64)
    length = np.asarray(length, dtype=np.float64)
    values, counts = np.unique(length, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    if values.size < 2:
        centre = float(np.median(feature))
        off = int(np.sum(~np.isclose(feature, centre, rtol=1e-4, atol=1e-6)))
        return Alignment(column, name, 0.0, centre, off, int(feature.size))
    l1, l2 = float(values[order[0]]), float(values[order[1]])  # plain floats, as reported
    m1 = float(np.median(feature[length == l1]))
    m2 = float(np.median(feature[length == l2]))
    slope = (m2 - m1) / (l2 - l1)
    intercept = m1 - slope * l1
    if not math.isfinite(slope) or abs(slope) < 1e-12:
        return Alignment(column, name, slope, intercept, int(feature.size), int(feature.size))
    implied = (feature - intercept) / slope
    off = int(np.sum(~(np.abs(implied - length) <= 0.5)))
    return Alignment(column, name, slope, intercept, off, int(feature.size))


@dataclass(frozen=True)
class RealVsCache:
    """The eval's real sequences beside the cache: pooled Δt median, share of Δt = 0
    steps, and mean length, each side."""

    dt_median: tuple[float, float]
    zero_share: tuple[float, float]
    length_mean: tuple[float, float]
    length_ks: float

    def findings(
        self, dt_rel: float, zero_factor: float, zero_points: float, ks_max: float
    ) -> list[str]:
        """What differs, in words (empty when the eval's real side looks like the cache)."""
        out: list[str] = []
        (eval_dt, cache_dt), (eval_zero, cache_zero) = self.dt_median, self.zero_share
        if cache_dt > 0 and not abs(eval_dt / cache_dt - 1) <= dt_rel:
            out.append(
                f"Δt median {eval_dt:.4g} s in the eval's real sequences vs {cache_dt:.4g} s "
                "in the cache"
            )
        high, low = max(eval_zero, cache_zero), min(eval_zero, cache_zero)
        if high - low > zero_points and high > zero_factor * low:
            out.append(
                f"Δt = 0 on {eval_zero:.0%} of the eval's real steps vs {cache_zero:.0%} "
                "in the cache"
            )
        if self.length_ks > ks_max:
            out.append(
                f"lengths differ (mean {self.length_mean[0]:.1f} vs {self.length_mean[1]:.1f} "
                f"steps, KS {self.length_ks:.2f})"
            )
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "dt_median": {"eval_real": self.dt_median[0], "cache": self.dt_median[1]},
            "zero_dt_share": {"eval_real": self.zero_share[0], "cache": self.zero_share[1]},
            "length_mean": {"eval_real": self.length_mean[0], "cache": self.length_mean[1]},
            "length_ks": self.length_ks,
        }


def real_vs_cache(
    eval_dt: np.ndarray, eval_length: np.ndarray, cache_dt: np.ndarray, cache_length: np.ndarray
) -> RealVsCache:
    """Compare pooled valid-step Δt and per-row lengths of the eval's real side and the cache."""

    def median(values: np.ndarray) -> float:
        return float(np.median(values)) if values.size else float("nan")

    def zeros(values: np.ndarray) -> float:
        return float(np.mean(values == 0)) if values.size else float("nan")

    return RealVsCache(
        dt_median=(median(eval_dt), median(cache_dt)),
        zero_share=(zeros(eval_dt), zeros(cache_dt)),
        length_mean=(float(np.mean(eval_length)), float(np.mean(cache_length))),
        length_ks=ks_distance(np.asarray(eval_length, float), np.asarray(cache_length, float)),
    )
