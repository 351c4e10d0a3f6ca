"""One chunked pass over a cache that gathers every figure stage 1 (and later stages) need.

Walking a 1M-row cache once, a block of rows at a time, keeps the temporaries bounded
and reads the arrays once however many checks look at them. The scan is memoised on the
StageContext, so stage 2 and stage 4 reuse stage 1's figures. It reads the cache's numpy
arrays: stage 1 runs before torch is imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tui_timing.artifacts.cache import CacheArrays
from tui_timing.stages.context import StageContext

MEMO_KEY = "cache_scan"


@dataclass
class CacheScan:
    """Counts of each kind of defect, and the distributions of the cache."""

    n_rows: int
    max_len: int
    nonfinite: dict[str, int] = field(default_factory=dict)
    nonpositive_duration: int = 0
    negative_profile: int = 0
    mask_not_binary: int = 0
    mask_not_prefix: int = 0
    mask_length_mismatch: int = 0
    length_out_of_range: int = 0
    padding_nonzero_rows: int = 0
    padding_max_abs: float = 0.0
    rows_not_normalized: int = 0
    max_row_deviation: float = 0.0
    log_duration_max_dev: float = 0.0
    log_duration_bad_rows: int = 0
    zero_dt_steps: int = 0
    valid_steps: int = 0
    mean_profile: np.ndarray = field(default_factory=lambda: np.zeros(0))
    durations: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lengths: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: What rounding to the profile's stored dtype can move a row sum by (0 for float32
    #: and wider), added to the sum tolerances: a float16 row normalized before the cast
    #: is off by up to half its epsilon, more than the 1e-4 a float32 row is held to.
    profile_rounding: float = 0.0
    #: The same for log(duration) against log_duration, from both keys' dtypes.
    log_duration_rounding: float = 0.0


def rounding(dtype: np.dtype[Any]) -> float:
    """The epsilon of a half-precision float dtype (the most a sum of values whose
    magnitudes add to 1 moves from rounding them), else 0: float32 and float64 caches are
    held to the tolerances as written."""
    return float(np.finfo(dtype).eps) if dtype.kind == "f" and dtype.itemsize <= 2 else 0.0


def scan_for(ctx: StageContext, stage: int) -> CacheScan:
    """The scan of the context's cache under the run's tolerances, computed once per
    context (call only when `ctx.cache_arrays()` is not None)."""
    cache = ctx.cache_arrays()
    assert cache is not None, "scan_for needs a well-formed cache"
    tol = ctx.settings.tolerances
    key = (MEMO_KEY, id(cache), tol.profile_row_sum, tol.log_duration_abs)
    found = ctx.memo.get(key)
    if found is None:
        found = scan_cache(
            cache, row_tol=tol.profile_row_sum, log_tol=tol.log_duration_abs, ctx=ctx, stage=stage
        )
        ctx.memo[key] = found
    return found


def scan_cache(
    cache: CacheArrays,
    row_tol: float,
    log_tol: float,
    ctx: StageContext | None = None,
    stage: int = 1,
) -> CacheScan:
    """Walk the cache block by block; counts are exact, sums are accumulated in float64.

    NaN and inf are what several counts look for, so numpy's warnings about them are off.
    """
    with np.errstate(all="ignore"):
        return _scan(cache, row_tol, log_tol, ctx, stage)


def _scan(
    cache: CacheArrays, row_tol: float, log_tol: float, ctx: StageContext | None, stage: int
) -> CacheScan:
    scan = CacheScan(n_rows=cache.n_rows, max_len=cache.max_len)
    scan.profile_rounding = rounding(cache.profile.dtype)
    # log_duration holds values of a few units: its rounding scales with them
    scan.log_duration_rounding = rounding(cache.duration.dtype) + 8 * rounding(
        cache.log_duration.dtype
    )
    row_tol += scan.profile_rounding
    log_tol += scan.log_duration_rounding
    nonfinite = dict.fromkeys(("duration", "log_duration", "profile", "features"), 0)
    profile_sum = np.zeros(cache.max_len, dtype=np.float64)
    durations: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    steps = np.arange(cache.max_len)
    for rows in cache.row_chunks():
        if ctx is not None:
            ctx.tick(stage, rows.start / max(cache.n_rows, 1), "scanning the cache")
        d = cache.duration[rows].astype(np.float64)
        ld = cache.log_duration[rows].astype(np.float64)
        # Comparisons are made on the stored dtype (any float converts to float64 exactly, so
        # they count the same), sums on float64.
        stored = cache.profile[rows]
        p = stored.astype(np.float64)
        raw_mask = cache.mask[rows]
        length = cache.length[rows].astype(np.int64)
        m = raw_mask if raw_mask.dtype == np.bool_ else raw_mask != 0
        row_sums = p.sum(axis=1)
        # NaN or inf anywhere in a row makes its sum non-finite; a finite sum can only hide
        # them when float64 values overflow, which makes it non-finite as well. So the slow
        # elementwise counts below run only for chunks that have something to count.
        finite = bool(np.isfinite(row_sums).all())

        nonfinite["duration"] += int((~np.isfinite(d)).sum())
        nonfinite["log_duration"] += int((~np.isfinite(ld)).sum())
        nonfinite["profile"] += 0 if finite else int((~np.isfinite(stored)).sum())
        nonfinite["features"] += int((~np.isfinite(cache.features[rows])).sum())
        scan.nonpositive_duration += int((d <= 0).sum())
        if not (finite and (stored.size == 0 or float(stored.min()) >= 0)):
            scan.negative_profile += int((stored < 0).sum())

        if raw_mask.dtype != np.bool_:
            scan.mask_not_binary += int(((raw_mask != 0) & (raw_mask != 1)).sum())
        in_range = length.clip(0, cache.max_len)
        valid = steps[None, :] < in_range[:, None]
        if np.array_equal(m, valid):
            # the usual case, each mask the prefix its length says: a mask is then not a
            # prefix only when it is empty, and its sum differs from a length out of range
            scan.mask_not_prefix += int((in_range == 0).sum())
            scan.mask_length_mismatch += int((in_range != length).sum())
        else:
            holes = m[:, 1:] & ~m[:, :-1]
            scan.mask_not_prefix += int((holes.any(axis=1) | ~m[:, 0]).sum())
            scan.mask_length_mismatch += int((m.sum(axis=1) != length).sum())
        scan.length_out_of_range += int(((length < 1) | (length > cache.max_len)).sum())

        if np.count_nonzero(np.where(m, 0, stored)):  # NaN counts as nonzero too
            on_padding = np.where(m, 0.0, p)
            scan.padding_nonzero_rows += int((on_padding != 0).any(axis=1).sum())
            scan.padding_max_abs = max(
                scan.padding_max_abs, float(np.nan_to_num(np.abs(on_padding), nan=np.inf).max())
            )

        deviation = np.abs(row_sums - 1.0)
        scan.rows_not_normalized += int((~(deviation <= row_tol)).sum())
        if deviation.size:
            scan.max_row_deviation = max(
                scan.max_row_deviation, float(np.nan_to_num(deviation, nan=np.inf).max())
            )

        positive = d > 0
        dev = np.abs(ld[positive] - np.log(d[positive]))
        scan.log_duration_bad_rows += int((~(dev <= log_tol)).sum())
        if dev.size:
            scan.log_duration_max_dev = max(
                scan.log_duration_max_dev, float(np.nan_to_num(dev, nan=np.inf).max())
            )

        scan.zero_dt_steps += int(((stored == 0) & valid).sum())
        scan.valid_steps += int(in_range.sum())
        profile_sum += p.sum(axis=0) if finite else np.nan_to_num(p, nan=0.0).sum(axis=0)
        durations.append(d)
        lengths.append(length)
    scan.nonfinite = nonfinite
    scan.mean_profile = profile_sum / max(cache.n_rows, 1)
    scan.durations = np.concatenate(durations) if durations else np.zeros(0)
    scan.lengths = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
    return scan
