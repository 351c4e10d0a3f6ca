"""Small numeric helpers the stages share: tolerant comparison, quantiles, histograms.

Everything here returns plain Python floats and lists, ready for a Check or a Plot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tui_timing.findings import Series

QUANTILES: tuple[float, ...] = (0.05, 0.25, 0.50, 0.75, 0.95)


def close(measured: float, expected: float, rel: float, abs_floor: float = 0.0) -> bool:
    """Whether `measured` is within `rel` of `expected`, or both within `abs_floor` of 0...

    ...which is what "within 5% or 1e-6" means for values that can legitimately be 0.
    """
    if not (math.isfinite(measured) and math.isfinite(expected)):
        return False
    if abs(measured - expected) <= rel * abs(expected):
        return True
    return abs(measured) <= abs_floor and abs(expected) <= abs_floor


def within_factor(measured: float, expected: float, factor: float, abs_floor: float) -> bool:
    """Whether two positive figures are within a multiplicative `factor` (or both tiny)."""
    if not (math.isfinite(measured) and math.isfinite(expected)):
        return False
    if abs(measured) <= abs_floor and abs(expected) <= abs_floor:
        return True
    if measured <= 0 or expected <= 0:
        return False
    return max(measured / expected, expected / measured) <= factor


def relative_error(measured: float, expected: float) -> float:
    """|measured − expected| / |expected| (inf when expected is 0 and measured is not)."""
    if expected == 0:
        return 0.0 if measured == 0 else math.inf
    return abs(measured - expected) / abs(expected)


def quantile_dict(values: np.ndarray, qs: Sequence[float] = QUANTILES) -> dict[str, float]:
    """{"q05": …, "q25": …} of a 1-D array (NaN-free input expected)."""
    if values.size == 0:
        return {f"q{round(q * 100):02d}": math.nan for q in qs}
    found = np.quantile(values, qs)
    return {f"q{round(q * 100):02d}": float(v) for q, v in zip(qs, found, strict=True)}


def profile_bins(mean_profile: Sequence[float] | np.ndarray) -> dict[str, float]:
    """First, mid and last bins (0, L // 2, L − 1) of a padded mean profile (docs/checks.md)."""
    length = len(mean_profile)
    return {
        "first": float(mean_profile[0]),
        "mid": float(mean_profile[length // 2]),
        "last": float(mean_profile[length - 1]),
    }


def masked_mean_profile(padded_mean: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The mean over the rows valid at each step (`profile_bins = "masked"`,
    docs/artifacts.md#stats-log) from the padded mean (over all rows, padding as 0): bin j times N
    over the rows longer than j. A step no row reaches is 0."""
    steps = np.arange(len(padded_mean))
    valid = len(lengths) - np.searchsorted(np.sort(lengths), steps, side="right")
    return np.where(valid > 0, padded_mean * len(lengths) / np.maximum(valid, 1), 0.0)


#: Share of the positive values left beyond each end of `log_edges` (counted in the end
#: bins by `histogram`).
EDGE_TAIL = 0.005


def log_edges(values: np.ndarray, bins: int) -> np.ndarray:
    """Log-spaced bin edges over the positive values, from their EDGE_TAIL to their
    1 - EDGE_TAIL quantile (one bin when those are equal): a few values decades away from
    the rest (a Δt of 1e-7 s, a pause of minutes) would otherwise squeeze the bulk, and the
    shift between two of them, into two bins."""
    positive = values[np.isfinite(values) & (values > 0)]
    if positive.size == 0:
        return np.array([0.0, 1.0])
    low, high = (float(q) for q in np.quantile(positive, [EDGE_TAIL, 1 - EDGE_TAIL]))
    if high <= low:
        return np.array([low * 0.9, high * 1.1])
    return np.geomspace(low, high, bins + 1)


def histogram(label: str, values: np.ndarray, edges: np.ndarray) -> Series:
    """Counts of `values` in `edges`, as a Series over the bin centres (geometric if log);
    values beyond the ends are counted in the end bins."""
    finite = np.clip(values[np.isfinite(values)], edges[0], edges[-1])
    counts, _ = np.histogram(finite, bins=edges)
    if edges[0] > 0 and edges[-1] / edges[0] > 100:
        centres = np.sqrt(edges[:-1] * edges[1:])
    else:
        centres = (edges[:-1] + edges[1:]) / 2
    return Series(label=label, x=centres.tolist(), y=counts.astype(float).tolist())


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov–Smirnov statistic: the largest gap between the two ECDFs."""
    if a.size == 0 or b.size == 0:
        return math.nan
    a = np.sort(a)
    b = np.sort(b)
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / a.size
    cdf_b = np.searchsorted(b, grid, side="right") / b.size
    return float(np.max(np.abs(cdf_a - cdf_b)))
