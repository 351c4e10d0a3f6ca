"""Stage 1, cache integrity (step 1 of docs/README.md#the-plan): is the timing cache what the raw
data says?

Every later stage trusts the cache, so this stage checks the invariants of
docs/artifacts.md#timing-cache row by row (finite, positive durations, prefix masks that match the
lengths, zero padding, rows that sum to 1, consistent log-durations), then what the rows mean:
durations in seconds (`cache.units`, with or without a raw summary) and rows whose profile, mask and
length still belong to their duration and features (`cache.row_alignment`); last it compares the
cache's statistics with the raw summary the builder computed independently, and with known
figures for Balabit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tui_timing.artifacts.cache import CacheArrays, RawCache, shape_problems
from tui_timing.artifacts.raw_summary import summary_beside, summary_value
from tui_timing.config import Tolerances
from tui_timing.findings import Assumption, Check, Plot, Series, StageResult
from tui_timing.numerics.figures import (
    close,
    histogram,
    log_edges,
    profile_bins,
    quantile_dict,
    within_factor,
)
from tui_timing.numerics.fmt import fmt
from tui_timing.numerics.row_checks import Alignment, count_features, duration_units, row_alignment
from tui_timing.stages.cache_scan import CacheScan, scan_for
from tui_timing.stages.catalog import Stage
from tui_timing.stages.checks import CheckSpec, StageChecks
from tui_timing.stages.context import StageContext

#: Stage 1's checks, in report order.
LOAD = CheckSpec("cache.load", "load")
SHAPES = CheckSpec("cache.shapes", "structural")
FINITE = CheckSpec("cache.finite", "structural")
NONNEGATIVE = CheckSpec("cache.nonnegative", "structural")
MASK_PREFIX = CheckSpec("cache.mask_prefix", "structural")
MASK_LENGTH = CheckSpec("cache.mask_length", "structural")
PADDING_ZERO = CheckSpec("cache.padding_zero", "structural")
PROFILE_NORMALIZED = CheckSpec(
    "cache.profile_normalized", "structural", tolerances=("profile_row_sum", "profile_mean_sum")
)
LOG_DURATION = CheckSpec("cache.log_duration", "structural", tolerances=("log_duration_abs",))
UNITS = CheckSpec(
    "cache.units",
    "structural",
    figure=lambda m: (
        (
            f"{m['share_off']:.1%} of rows at median {fmt(m['median_off'])} s"
            if m.get("mixed")
            else f"median duration {fmt(m['median'])} s"
        )
        + (f" (×{m['factor']:g}: {m['unit']}?)" if m.get("unit") else "")
    ),
    tolerances=("units_min_s", "units_max_s"),
)
ROW_ALIGNMENT = CheckSpec(
    "cache.row_alignment",
    "structural",
    figure=lambda m: f"{m['feature']} disagrees with length on {m['rows_off']:,} rows",
)
VS_RAW = CheckSpec(
    "cache.vs_raw",
    "structural",
    tolerances=("raw_duration_rel", "raw_profile_rel", "profile_abs_floor"),
)
PRESET = CheckSpec("cache.preset", "structural", tolerances=("preset_factor", "profile_abs_floor"))
CHECKS = StageChecks(
    Stage.CACHE,
    (
        LOAD,
        SHAPES,
        FINITE,
        NONNEGATIVE,
        MASK_PREFIX,
        MASK_LENGTH,
        PADDING_ZERO,
        PROFILE_NORMALIZED,
        LOG_DURATION,
        UNITS,
        ROW_ALIGNMENT,
        VS_RAW,
        PRESET,
    ),
)

#: Known mean-profile figures (first, mid, last bins at max_len 128), step 5 of
#: docs/README.md#the-plan.
BALABIT_REFERENCE = {"first": 0.12, "mid": 5e-4, "last": 2e-5}
BALABIT_MAX_LEN = 128


def run(ctx: StageContext) -> StageResult:
    """Stage 1 on the context's cache.

    NaN, inf and huge values are findings here (cache.finite and the others report them),
    so numpy's overflow and invalid-value warnings about them are silenced: on the user's
    stderr they would only look like a crash.
    """
    with np.errstate(all="ignore"):
        return _run(ctx)


def _run(ctx: StageContext) -> StageResult:
    result = CHECKS.new_result()
    loaded = ctx.loaded("cache")
    if loaded is None:
        return CHECKS.skip_all(result, "no cache given")
    if loaded.error is not None:
        return CHECKS.unusable(
            result,
            loaded.error,
            "cache",
            expected="a loadable dict of tensors (docs/artifacts.md#timing-cache)",
        )
    raw: RawCache = loaded.usable
    result.assumptions += _summary_pairing(ctx)
    result.checks.append(_load_check(raw))
    problems = shape_problems(raw)
    result.checks.append(_shapes_check(problems))
    cache = ctx.cache_arrays()
    if problems or cache is None:
        result.checks += CHECKS.skipped_after(SHAPES, "cache.shapes failed")
        return result
    tol = ctx.settings.tolerances
    # The durations' histogram needs the read, not the scan: shown while the scan runs
    durations = _duration_plot(cache.duration.astype(np.float64))
    shown_early = CHECKS.new_result()
    shown_early.plots = [durations]
    ctx.tick(Stage.CACHE, 0.0, "scanning the cache", shown_early)
    scan = scan_for(ctx, stage=Stage.CACHE)
    bins = profile_bins(scan.mean_profile)
    result.checks += [
        _finite_check(scan),
        _nonnegative_check(scan),
        _mask_prefix_check(scan),
        _mask_length_check(scan),
        _padding_check(scan),
        _normalized_check(scan, tol),
        _log_duration_check(scan, cache, tol),
        _units_check(scan, tol),
        _row_alignment_check(cache),
        _vs_raw_check(ctx, cache, scan, bins, tol),
        _preset_check(cache, bins, tol),
    ]
    result.stats = _stats(cache, scan, bins)
    result.figures = _key_figures(result.stats)
    if cache.stats:
        shown = {k: v for k, v in cache.stats.items() if _number(v)}
        result.stats["own_stats"] = shown
        result.figures.append(
            "the cache's own stats: "
            + ", ".join(f"{k} {fmt(float(v))}" for k, v in list(shown.items())[:6])
        )
    result.plots = [durations, *_plots(scan)]
    return result


def _load_check(raw: RawCache) -> Check:
    notes = "; ".join(raw.notes)
    return LOAD.check(
        "pass",
        measured={"keys": sorted(raw.values), "derived": list(raw.derived)},
        expected="a loadable dict of tensors (docs/artifacts.md#timing-cache)",
        message="The cache loads with weights_only=True" + (f" ({notes})." if notes else "."),
    )


def _shapes_check(problems: list[str]) -> Check:
    if problems:
        return SHAPES.check(
            "fail",
            measured=problems,
            expected="duration/log_duration/length [N], profile/mask [N, L], features [N, D], "
            "meta a dict, L = meta.max_len",
            message="The cache's keys do not have the shapes and types of a timing cache: "
            + "; ".join(problems)
            + ".",
        )
    return SHAPES.check(
        "pass",
        measured="consistent",
        expected="the timing-cache shapes (docs/artifacts.md#timing-cache)",
        message="Every key has the expected rank, dtype and row count.",
    )


def _finite_check(scan: CacheScan) -> Check:
    bad = {k: v for k, v in scan.nonfinite.items() if v}
    return FINITE.check(
        "fail" if bad else "pass",
        measured=scan.nonfinite,
        expected="0 NaN/inf values in every key",
        message=(
            "NaN or infinite values in " + ", ".join(f"{k} ({v})" for k, v in bad.items()) + "."
            if bad
            else "No NaN or infinite values."
        ),
    )


def _nonnegative_check(scan: CacheScan) -> Check:
    ok = scan.nonpositive_duration == 0 and scan.negative_profile == 0
    return NONNEGATIVE.check(
        "pass" if ok else "fail",
        measured={
            "durations_not_positive": scan.nonpositive_duration,
            "negative_profile_values": scan.negative_profile,
        },
        expected="durations > 0, profile ≥ 0",
        message=(
            "All durations are positive and no profile value is negative."
            if ok
            else f"{scan.nonpositive_duration} durations ≤ 0 and {scan.negative_profile} "
            "negative profile values: a negative Δt means time went backwards in the source."
        ),
    )


def _mask_prefix_check(scan: CacheScan) -> Check:
    ok = scan.mask_not_binary == 0 and scan.mask_not_prefix == 0
    return MASK_PREFIX.check(
        "pass" if ok else "fail",
        measured={
            "non_binary_values": scan.mask_not_binary,
            "rows_not_prefix": scan.mask_not_prefix,
        },
        expected="mask values 0/1, each row 1…1 0…0 starting with 1",
        message=(
            "Every mask is a 0/1 prefix of valid steps."
            if ok
            else f"{scan.mask_not_prefix} rows whose mask is not a prefix of valid steps and "
            f"{scan.mask_not_binary} mask values other than 0/1."
        ),
    )


def _mask_length_check(scan: CacheScan) -> Check:
    ok = scan.mask_length_mismatch == 0 and scan.length_out_of_range == 0
    return MASK_LENGTH.check(
        "pass" if ok else "fail",
        measured={
            "rows_mask_sum_differs": scan.mask_length_mismatch,
            "lengths_out_of_range": scan.length_out_of_range,
        },
        expected=f"mask.sum(1) == length, 1 ≤ length ≤ {scan.max_len}",
        message=(
            "Mask sums equal the lengths."
            if ok
            else f"{scan.mask_length_mismatch} rows whose mask sum differs from length, "
            f"{scan.length_out_of_range} lengths outside 1..{scan.max_len}."
        ),
    )


def _padding_check(scan: CacheScan) -> Check:
    ok = scan.padding_nonzero_rows == 0
    return PADDING_ZERO.check(
        "pass" if ok else "fail",
        measured={"rows": scan.padding_nonzero_rows, "max_abs": scan.padding_max_abs},
        expected="profile == 0 on every padded step",
        message=(
            "The profile is zero on every padded step."
            if ok
            else f"{scan.padding_nonzero_rows} rows carry profile mass on padded steps "
            f"(largest {fmt(scan.padding_max_abs)}): the model would learn from padding."
        ),
    )


def _normalized_check(scan: CacheScan, tol: Tolerances) -> Check:
    mean_sum = float(scan.mean_profile.sum())
    rows_ok = scan.rows_not_normalized == 0
    mean_ok = abs(mean_sum - 1.0) <= tol.profile_mean_sum + scan.profile_rounding
    return PROFILE_NORMALIZED.check(
        "pass" if rows_ok and mean_ok else "fail",
        measured={
            "rows_off": scan.rows_not_normalized,
            "max_row_deviation": scan.max_row_deviation,
            "mean_profile_sum": mean_sum,
        },
        expected=f"each row sums to 1 ± {tol.profile_row_sum + scan.profile_rounding:g}; "
        f"the mean profile to 1 ± {tol.profile_mean_sum + scan.profile_rounding:g}"
        + (" (widened to the profile's stored precision)" if scan.profile_rounding else ""),
        message=(
            f"Every row sums to 1 (largest deviation {fmt(scan.max_row_deviation)}); "
            f"the mean profile sums to {mean_sum:.6f}."
            if rows_ok and mean_ok
            else f"{scan.rows_not_normalized} rows do not sum to 1 (largest deviation "
            f"{fmt(scan.max_row_deviation)}); the mean profile sums to {mean_sum:.6f}."
        ),
    )


def _log_duration_check(scan: CacheScan, cache: CacheArrays, tol: Tolerances) -> Check:
    if "log_duration" in cache.derived:
        return LOG_DURATION.skipped("log_duration is absent and was derived from duration")
    ok = scan.log_duration_bad_rows == 0
    return LOG_DURATION.check(
        "pass" if ok else "fail",
        measured={"rows_off": scan.log_duration_bad_rows, "max_abs_dev": scan.log_duration_max_dev},
        expected=f"|log_duration − log(duration)| ≤ "
        f"{tol.log_duration_abs + scan.log_duration_rounding:g}"
        + (" (widened to the keys' stored precision)" if scan.log_duration_rounding else ""),
        message=(
            "log_duration equals log(duration)."
            if ok
            else f"{scan.log_duration_bad_rows} rows where log_duration ≠ log(duration) "
            f"(largest gap {fmt(scan.log_duration_max_dev)}): another log base or a stale key?"
        ),
    )


#: A movement's mean Δt per step above this many seconds is no human movement in seconds
#: (Balabit's rows stay below 0.5 s per step: the builder cuts at pauses).
UNITS_MAX_STEP_S = 10.0
#: Rows in another unit beyond this share fail `cache.units` (fewer warn).
UNITS_ROW_SHARE = 0.01


def _units_check(scan: CacheScan, tol: Tolerances) -> Check:
    """Durations are human movements in seconds: a median far outside the plausible range
    is another unit, named with the factor that brings it back; and so is any share of rows
    that are not (a mixture of scales: some sessions written in milliseconds)."""
    keep = np.isfinite(scan.durations) & (scan.durations > 0)
    durations = scan.durations[keep]
    median = float(np.median(durations)) if durations.size else float("nan")
    units = duration_units(median, tol.units_min_s, tol.units_max_s)
    measured: dict[str, Any] = {"median": median, "factor": units.factor, "unit": units.unit}
    expected = (
        f"median duration within {fmt(tol.units_min_s)}-{fmt(tol.units_max_s)} s (a human "
        f"movement, in seconds), and no row above {fmt(tol.units_max_s)} s or "
        f"{fmt(UNITS_MAX_STEP_S)} s per step ({UNITS_ROW_SHARE:.0%} of rows fail)"
    )
    if units.plausible:
        steps = np.maximum(scan.lengths[keep], 1) if scan.lengths.size == keep.size else 1
        odd = (durations > tol.units_max_s) | (durations / steps > UNITS_MAX_STEP_S)
        if not odd.any():
            return UNITS.check(
                "pass", measured, expected, f"Durations are in seconds (median {fmt(median)} s)."
            )
        return _mixed_units(durations, odd, measured, expected, tol)
    if units.factor is None:
        return UNITS.check(
            "fail",
            measured,
            expected,
            f"The median duration is {fmt(median)} s, not a human movement in seconds, and no "
            "common unit explains it: check how durations are computed.",
        )
    return UNITS.check(
        "fail",
        measured,
        expected,
        f"The median duration is {fmt(median)} s per movement: durations look like "
        f"{units.unit} (×{units.factor:g}). Divide them by {units.factor:g} (and recompute "
        "log_duration) when the cache is built.",
    )


def _mixed_units(
    durations: np.ndarray,
    odd: np.ndarray,
    measured: dict[str, Any],
    expected: str,
    tol: Tolerances,
) -> Check:
    """Some rows are in another unit than the rest: their share and the factor."""
    share = float(odd.mean())
    theirs = float(np.median(durations[odd]))
    ours = float(np.median(durations[~odd])) if (~odd).any() else float("nan")
    units = duration_units(theirs, tol.units_min_s, tol.units_max_s)
    measured = {
        **measured,
        "rows_off": int(odd.sum()),
        "share_off": share,
        "median_off": theirs,
        "factor": units.factor,
        "unit": units.unit,
        "mixed": True,
    }
    what = f"{units.unit} (×{units.factor:g})" if units.unit else "another unit"
    return UNITS.check(
        "fail" if share >= UNITS_ROW_SHARE else "warn",
        measured,
        expected,
        f"{int(odd.sum()):,} rows ({share:.1%}) are no human movement in seconds: their median "
        f"is {fmt(theirs)} s against {fmt(ours)} s for the others, so they look like {what}. "
        "Some of the data were written in another unit: convert those rows (and recompute "
        "log_duration) when the cache is built.",
    )


def _row_alignment_check(cache: CacheArrays) -> Check:
    """A feature that counts the row's points (the builder's `n_points` = length + 1)
    must agree with `length` on every row, up to the affine map features are scaled by."""
    columns = count_features(cache.feature_names)
    expected = "every count feature (n_points, ...) = a·length + b on every row"
    if not columns:
        return ROW_ALIGNMENT.skipped(
            "no feature counts the row's points or steps (a name like n_points or n_steps)"
        )
    length = cache.length
    checked = [
        row_alignment(cache.features[:, i].astype(np.float64), length, i, cache.feature_names[i])
        for i in columns
    ]
    worst: Alignment = max(checked, key=lambda a: a.rows_off)
    measured = worst.as_dict()
    relation = f"{worst.name} = {fmt(worst.slope)}·length + {fmt(worst.intercept)}"
    if worst.rows_off == 0:
        return ROW_ALIGNMENT.check(
            "pass",
            measured,
            expected,
            f"{worst.name} agrees with length on every row ({relation}): each row's profile, "
            "mask and length belong to its duration and features.",
        )
    return ROW_ALIGNMENT.check(
        "fail",
        measured,
        expected,
        f"{worst.name} disagrees with length on {worst.rows_off:,} of {worst.rows:,} rows "
        f"({worst.share_off:.0%}; the rows give {relation}): the profile/mask/length of those "
        "rows were shuffled or sorted against their duration and features.",
    )


def _summary_pairing(ctx: StageContext) -> list[Assumption]:
    """The raw summary taken for a cache named otherwise (the one `*_summary.json` beside
    it): an inference, shown with how to name another."""
    cache, summary = ctx.paths.cache, ctx.paths.raw_summary
    if cache is None or summary is None:
        return []
    beside = summary_beside(cache)
    if beside.path != summary or not beside.note:
        return []  # named, or named after the cache as the convention has it
    return [
        Assumption(
            "cache",
            "raw summary",
            str(summary),
            f"the only *_summary.json beside {cache.name}, whose name does not follow "
            "<split>_timing.pt; name another with --raw-summary PATH",
        )
    ]


def _vs_raw_check(
    ctx: StageContext,
    cache: CacheArrays,
    scan: CacheScan,
    bins: dict[str, float],
    tol: Tolerances,
) -> Check:
    loaded = ctx.loaded("raw_summary")
    own = own_stats_summary(cache.stats) if loaded is None else None
    if loaded is None and own is None:
        cache_path = ctx.paths.cache
        why = summary_beside(cache_path).note if cache_path is not None else ""
        return VS_RAW.skipped(why or "no raw summary beside the cache (<split>_summary.json)")
    if loaded is not None and loaded.error is not None:
        return VS_RAW.check(
            "error",
            measured=loaded.error.problem,
            expected="a readable raw summary",
            message=f"The raw summary cannot be used: {loaded.error}.",
        )
    summary: dict[str, Any] = (loaded.value if loaded is not None else own) or {}
    durations = scan.durations
    cache_figures = {
        "n_segments": cache.n_rows,
        "duration.mean": float(durations.mean()),
        "duration.std": float(durations.std()),
        **{f"profile_{k}": v for k, v in bins.items()},
    }
    rows: dict[str, dict[str, Any]] = {}
    off: list[str] = []
    for key, mine in cache_figures.items():
        value = summary_value(summary, key)
        if value is None:  # the cache's own stats may hold only some of the figures
            continue
        theirs = float(value)
        if key == "n_segments":
            ok = int(theirs) == mine
            limit = "equal"
        elif key.startswith("duration"):
            ok = close(mine, theirs, tol.raw_duration_rel)
            limit = f"±{tol.raw_duration_rel:.0%}"
        else:
            ok = close(mine, theirs, tol.raw_profile_rel, tol.profile_abs_floor)
            limit = f"±{tol.raw_profile_rel:.0%} or ≤{tol.profile_abs_floor:g}"
        rows[key] = {"cache": mine, "raw": theirs, "tolerance": limit, "ok": ok}
        if not ok:
            off.append(f"{key} {fmt(mine)} vs raw {fmt(theirs)}")
    raw_profile = summary.get("profile_mean")
    if isinstance(raw_profile, list) and len(raw_profile) != cache.max_len:
        off.append(
            f"the raw summary has {len(raw_profile)} profile bins, the cache {cache.max_len}"
        )
    if own is not None:
        return VS_RAW.check(
            "fail" if off else "pass",
            measured={**rows, "source": "the cache's own stats (not independent of it)"},
            expected="cache statistics equal the stats stored in the cache",
            message=(
                "No raw summary: compared with the cache's own stats instead, which its "
                "builder computed from the same tensors, so they are not independent "
                "evidence that the cache matches the raw events. "
                + (
                    "They agree."
                    if not off
                    else "Even they disagree with the tensors: " + "; ".join(off) + "."
                )
            ),
        )
    return VS_RAW.check(
        "fail" if off else "pass",
        measured=rows,
        expected="cache statistics equal the raw summary",
        message=(
            "The cache's statistics match the raw summary computed from the events."
            if not off
            else "The cache drifted from its raw data: " + "; ".join(off) + "."
        ),
    )


#: A cache's own `stats` under the names builders use -> the raw summary's names.
_OWN_STATS = {
    "n_segments": ("n_segments", "count", "n", "n_rows"),
    "duration.mean": ("duration_mean", "mean_duration"),
    "duration.std": ("duration_std", "std_duration"),
}


def own_stats_summary(stats: dict[str, Any] | None) -> dict[str, Any] | None:
    """The figures of a cache's own `stats` that the raw summary also has, in its layout
    (first/mid/last from `profile_mean`); None when there are none."""
    if not isinstance(stats, dict):
        return None
    out: dict[str, Any] = {}
    for key, names in _OWN_STATS.items():
        nested = summary_value(stats, key)
        value = (
            nested if nested is not None else next((stats[n] for n in names if n in stats), None)
        )
        if _number(value):
            head, _, tail = key.partition(".")
            if tail:
                out.setdefault(head, {})[tail] = value
            else:
                out[head] = value
    mean = stats.get("profile_mean")
    if isinstance(mean, list) and mean and all(_number(v) for v in mean):
        out["profile_mean"] = mean
        for name, value in profile_bins(np.asarray(mean, dtype=np.float64)).items():
            out[f"profile_{name}"] = value
    return out or None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _preset_check(cache: CacheArrays, bins: dict[str, float], tol: Tolerances) -> Check:
    source = f"{cache.meta.get('source', '')} {cache.meta.get('dataset_id', '')}".lower()
    if "balabit" not in source:
        return PRESET.skipped("no reference figures known for this dataset")
    if cache.max_len != BALABIT_MAX_LEN:
        return PRESET.skipped(
            f"the Balabit reference figures are for max_len {BALABIT_MAX_LEN}, "
            f"this cache has {cache.max_len}",
        )
    # Only the first bin is judged: mid and last depend on how long the segments are
    # (users of Balabit's slow clock have ~11-step segments, so their mid bin is ~2e-5
    # where the fast clock's is ~5e-4), so they are shown, never warned about.
    shown = ", ".join(f"{k} {fmt(bins[k])} (≈{fmt(ref)})" for k, ref in BALABIT_REFERENCE.items())
    first_ok = within_factor(
        bins["first"], BALABIT_REFERENCE["first"], tol.preset_factor, tol.profile_abs_floor
    )
    return PRESET.check(
        "pass" if first_ok else "warn",
        measured=bins,
        expected={
            **BALABIT_REFERENCE,
            "within": f"{tol.preset_factor:g}× for the first bin (mid and last: shown only)",
        },
        message=(
            f"The mean profile's first bin is in the range known for Balabit ({shown}; mid "
            "and last depend on the segment lengths and are not judged)."
            if first_ok
            else f"Unlike known Balabit figures (a warning only): the first bin is "
            f"{fmt(bins['first'])}, more than {tol.preset_factor:g}× from ≈"
            f"{fmt(BALABIT_REFERENCE['first'])} ({shown})."
        ),
    )


def _stats(cache: CacheArrays, scan: CacheScan, bins: dict[str, float]) -> dict[str, Any]:
    d = scan.durations
    finite = d[np.isfinite(d)]
    return {
        "rows": cache.n_rows,
        "max_len": cache.max_len,
        "feature_dim": cache.feature_dim,
        "feature_names": cache.feature_names,
        "duration": {
            "mean": float(finite.mean()) if finite.size else None,
            "std": float(finite.std()) if finite.size else None,
            **quantile_dict(finite),
        },
        "length": {"mean": float(scan.lengths.mean()), "max": int(scan.lengths.max())},
        "profile": bins,
        "zero_dt_share": scan.zero_dt_steps / max(scan.valid_steps, 1),
        "derived": list(cache.derived),
    }


def _key_figures(stats: dict[str, Any]) -> list[str]:
    duration, profile = stats["duration"], stats["profile"]
    return [
        f"{stats['rows']:,} rows, L {stats['max_len']}, D {stats['feature_dim']}",
        f"duration mean {_fmt(duration['mean'])} s, median {_fmt(duration['q50'])} s",
        f"length mean {stats['length']['mean']:.1f}",
        f"profile first/mid/last {fmt(profile['first'])} / {fmt(profile['mid'])} / "
        f"{fmt(profile['last'])}",
        f"Δt = 0 on {stats['zero_dt_share']:.0%} of steps",
    ]


def _fmt(value: float | None) -> str:
    """`fmt`, and "n/a" where no figure exists (every duration NaN or infinite)."""
    return "n/a" if value is None else fmt(value)


def _duration_plot(durations: np.ndarray) -> Plot:
    """The histogram of every row's duration (float64), on log bins."""
    return Plot(
        title="Segment duration (s)",
        kind="hist",
        series=[histogram("cache", durations, log_edges(durations, 40))],
        xlabel="duration (s)",
        ylabel="rows",
        log_x=True,
    )


def _plots(scan: CacheScan) -> list[Plot]:
    """The charts after the durations' histogram: the mean profile and the lengths."""
    lengths = scan.lengths.astype(float)
    length_edges = np.linspace(0.5, scan.max_len + 0.5, min(scan.max_len, 32) + 1)
    mean_profile = scan.mean_profile
    return [
        Plot(
            title="Mean profile per step",
            kind="line",
            series=[
                Series(
                    "mean profile",
                    list(range(len(mean_profile))),
                    mean_profile.tolist(),
                )
            ],
            xlabel="step",
            ylabel="share of duration",
            log_y=True,
        ),
        Plot(
            title="Segment length (steps)",
            kind="hist",
            series=[histogram("cache", lengths, length_edges)],
            xlabel="steps",
            ylabel="rows",
        ),
    ]
