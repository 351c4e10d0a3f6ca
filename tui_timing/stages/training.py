"""Stage 4, the training loop (step 4 of docs/README.md#the-plan): what the `_log_stats` log says
about training.

- `train.log`: the log was read (format, epochs, splits; a half-written last line of a run
  still going is ignored and said so), and has the stats-log columns (docs/artifacts.md#stats-log);
- `train.objective`: the profile is fitted as a distribution (KL or cross-entropy), not with
  a squared error, which barely feels the tiny late bins of a decaying profile (read from
  the checkpoint's config, so it runs with a checkpoint and no log too);
- `train.loss_trend`: train loss falls; val loss does not diverge (rise above its start)
  nor give back much of its improvement (overfitting, reported with its best epoch);
- `train.stats_convergence`: the last logged μ, σ and first/mid/last are near the
  cache's (or still moving toward them);
- `train.collapse`: a flat profile (logged first/mid below `flat_ratio` while the cache's
  is far above) or a collapsing σ (σ falling below `sigma_collapse_ratio` of its value at
  the epoch of best duration NLL), with the first epoch where it shows (`measured.epoch`).

A log with no epoch is read over steps (StatsLog.x_axis): then every message says "step N"
and every measured field named after the epoch is named after the step instead
(`measured.step`, `best_step`), with `x_axis` saying which, so a step is never called an
epoch.

The stage also records whether the model fitted its own training data (`stats["fitted"]`:
its loss flattened over the last epochs), which the decision needs to tell a checkpoint
trained on other data (rule 3) from an undertrained one (rule 6).

Trends and collapse are read from the val split when the log has one (it is what
generalizes). Convergence compares the train split's statistics with the cache's: the
train split is most of the cache, while a small val split's mid and last bins hang on how
many long rows it happened to get.
"""

from __future__ import annotations

import itertools
import math
import re
import statistics
from typing import Any

import torch

from tui_timing.artifacts.cache import TimingCache
from tui_timing.artifacts.stats_log import STAT_KEYS, StatsLog
from tui_timing.config import Tolerances
from tui_timing.findings import Check, Plot, Series, StageResult
from tui_timing.numerics.figures import masked_mean_profile, profile_bins
from tui_timing.numerics.fmt import fmt
from tui_timing.numerics.noise import JUDGE_Z, MIN_SUPPORT
from tui_timing.stages.cache_scan import scan_for
from tui_timing.stages.catalog import Stage
from tui_timing.stages.checks import CheckSpec, PartFigure, StageChecks
from tui_timing.stages.context import StageContext


def _loss_figure(m: dict[str, Any]) -> str | None:
    """The val loss's first and last (the train loss's without a val split)."""
    for split in ("val", "train"):
        trend = m.get(split)
        if isinstance(trend, dict):
            return f"{split} loss {fmt(trend['first'])} → {fmt(trend['last'])}"
    return None


def _first_off(m: dict[str, Any]) -> str | None:
    """The first logged statistic that is off (`profile_first`), None when none is."""
    figures = m.get("figures") or {}
    return next(
        (k for k, f in figures.items() if isinstance(f, dict) and f.get("ok") is False), None
    )


def _convergence_of(m: dict[str, Any], name: str) -> str | None:
    """`profile_first 0.01194 vs the cache's 0.07742`: a logged statistic against the cache."""
    figure = (m.get("figures") or {}).get(name)
    if not isinstance(figure, dict):
        return None
    return f"{name} {fmt(figure['logged'])} vs the cache's {fmt(figure['cache'])}"


#: Stage 4's checks, in report order.
LOG = CheckSpec("train.log", "load")
OBJECTIVE = CheckSpec(
    "train.objective", "structural", figure=lambda m: f"profile loss {m['profile_loss']}"
)
LOSS_TREND = CheckSpec(
    "train.loss_trend", "structural", figure=_loss_figure, tolerances=("val_rise_share",)
)
STATS_CONVERGENCE = CheckSpec(
    "train.stats_convergence",
    "statistic",
    figure=PartFigure(_first_off, _convergence_of),
    tolerances=("stats_converge_rel", "converge_bin_factor", "profile_abs_floor"),
)


def _collapse_figure(m: dict[str, Any]) -> str | None:
    axis = m.get("x_axis", "epoch")
    return f"from {axis} {m[axis]}" if m.get(axis) is not None else None


COLLAPSE = CheckSpec(
    "train.collapse",
    "structural",
    figure=_collapse_figure,
    tolerances=("flat_ratio", "sigma_collapse_ratio", "profile_abs_floor"),
)
CHECKS = StageChecks(Stage.TRAINING, (LOG, OBJECTIVE, LOSS_TREND, STATS_CONVERGENCE, COLLAPSE))

#: "The cache's first/mid ratio is far above": at least this many times `flat_ratio`.
FAR_ABOVE = 5.0
#: Config keys that may name the profile's loss (the reference head's, and common others).
_OBJECTIVE_KEY = re.compile(r"profile.*(loss|objective|criterion)|(loss|objective).*profile")
#: Loss names that are a squared error on the profile (not a divergence of distributions).
_SQUARED = re.compile(r"mse|l2|squared|sse")
#: Loss names that fit the profile as a distribution.
_DIVERGENCE = re.compile(r"kl|kld|cross|entropy|^ce$|nll|likelihood")
#: A loss has flattened when its last epochs gained at most this share of its total gain.
FLAT_TAIL_SHARE = 0.1


def run(ctx: StageContext) -> StageResult:
    """Stage 4 on the context's stats log (and cache, for the reference values)."""
    result = CHECKS.new_result()
    loaded = ctx.loaded("log")
    objective = _objective_check(ctx)
    if loaded is None:
        if objective.status == "skip":
            return CHECKS.skip_all(result, "no training log given")
        result.checks = [
            LOG.skipped("no training log given"),
            objective,
            *CHECKS.skipped_after(OBJECTIVE, "no training log given"),
        ]
        return result
    if loaded.error is not None:
        return CHECKS.unusable(
            result,
            loaded.error,
            "training log",
            expected="a stats log (JSONL, CSV or Lightning metrics.csv)",
        )
    log: StatsLog = loaded.usable
    tol = ctx.settings.tolerances
    split = "val" if "val" in log.splits else log.splits[0]
    bulk = "train" if "train" in log.splits else log.splits[0]
    cache = ctx.timing_cache()
    reference = _cache_reference(ctx, cache) if cache is not None else None
    support = _bin_support(ctx) if cache is not None else {}
    result.checks = [
        _log_check(log),
        objective,
        _loss_check(log, tol),
        _convergence_check(log, bulk, reference, support, tol, ctx.cache_unavailable_reason()),
        _collapse_check(log, split, reference, tol),
    ]
    result.stats = _stats(log, split, reference, ctx.settings.profile_bins)
    result.stats["fitted"] = fitted(log, split)
    result.figures = _figures(result.stats)
    result.plots = _plots(log, reference)
    return result


def _cache_reference(ctx: StageContext, cache: TimingCache) -> dict[str, float]:
    """What the logged statistics should approach: the cache's log-duration and bins."""
    log_duration = cache.log_duration.double()
    finite = log_duration[torch.isfinite(log_duration)]
    scan = scan_for(ctx, stage=Stage.TRAINING)
    mean = scan.mean_profile
    if ctx.settings.profile_bins == "masked":  # what the log's first/mid/last mean
        mean = masked_mean_profile(mean, scan.lengths)
    bins = profile_bins(mean)
    return {
        "dur_mu": float(finite.mean()),
        "dur_sigma": float(finite.std(unbiased=False)),
        "profile_first": bins["first"],
        "profile_mid": bins["mid"],
        "profile_last": bins["last"],
    }


def _bin_support(ctx: StageContext) -> dict[str, int]:
    """How many cache rows reach the mid and last bins (the rows whose length passes them):
    a bin a few rows reach moves by their noise alone, so it is shown, not judged, below
    MIN_SUPPORT rows."""
    scan = scan_for(ctx, stage=Stage.TRAINING)
    width = int(scan.mean_profile.shape[0])
    return {
        "profile_mid": int((scan.lengths > width // 2).sum()),
        "profile_last": int((scan.lengths >= width).sum()),
    }


def _objective_check(ctx: StageContext) -> Check:
    """The profile loss named by the checkpoint's config: KL/cross-entropy, not MSE."""
    checkpoint = ctx.value("checkpoint")
    config: dict[str, Any] = getattr(checkpoint, "config", None) or {}
    named = {
        key: value
        for key, value in config.items()
        if isinstance(value, str) and _OBJECTIVE_KEY.search(str(key).lower())
    }
    expected = "the profile fitted as a distribution (KL or cross-entropy)"
    if not named:
        return OBJECTIVE.skipped("no checkpoint config names the profile loss")
    key, value = next(iter(named.items()))
    measured = {"profile_loss": value, "key": key}
    if _SQUARED.search(value.lower()):
        return OBJECTIVE.check(
            "fail",
            measured,
            expected,
            f"The profile is fitted with a squared error ({key} = {value!r}): MSE barely feels "
            "the tiny late bins of a sharply decaying profile, so the fit flattens them. "
            "Switch the profile loss to KL(target ‖ profile).",
        )
    if _DIVERGENCE.search(value.lower()):
        return OBJECTIVE.check(
            "pass",
            measured,
            expected,
            f"The profile is fitted as a distribution ({key} = {value!r}).",
        )
    return OBJECTIVE.skipped(f"the profile loss {key} = {value!r} is not one timing-tui knows")


def fitted(log: StatsLog, split: str) -> dict[str, Any]:
    """Whether the model fitted its own training data: its duration NLL (else its loss)
    flattened over the last epochs, or rose from its best (it fitted, then overfitted).

    `flattened` is None when the log has too few positions to say (fewer than 4). The
    count is under `epochs` or `steps` (the log's x axis, also given as `x_axis`).
    """
    key = "duration_nll" if log.series(split, "duration_nll")[0] else "loss"
    _, values = log.series(split, key)
    finite = [v for v in values if math.isfinite(v)]
    out: dict[str, Any] = {
        "split": split,
        "figure": key,
        "x_axis": log.x_axis,
        f"{log.x_axis}s": len(values),
    }
    if len(finite) < 4 or len(finite) != len(values):
        out["flattened"] = None
        return out
    tail = max(2, len(values) // 4)
    gained = values[0] - min(values)
    recent = values[-tail - 1] - values[-1]
    out["total_gain"] = gained
    out["tail_gain"] = recent
    out[f"tail_{log.x_axis}s"] = tail
    out["flattened"] = bool(gained <= 0 or recent <= FLAT_TAIL_SHARE * gained)
    return out


def _log_check(log: StatsLog) -> Check:
    positions = log.positions
    missing = [k for k in STAT_KEYS if k not in log.columns]
    measured = {
        "format": log.format,
        "x_axis": log.x_axis,
        f"{log.x_axis}s": len(positions),
        "splits": log.splits,
        "missing_columns": missing,
        "ignored_last_line": log.ignored_last_line,
    }
    text = (
        f"Read {len(positions)} {log.x_axis}s ({positions[0]}–{positions[-1]}) of "
        f"{', '.join(log.splits)} from a {log.format} log"
    )
    if log.ignored_last_line:
        text += f"; {log.ignored_last_line}, so it was ignored"
    notes = "".join(f"; {note}" for note in log.notes)
    if missing:
        unread = list(log.reading.unread)
        measured["unread_fields"] = unread
        hint = (
            f" Fields it holds that were read as none of them: {', '.join(unread[:12])}; if "
            f"some are, name them in [tool.timing-tui.keys.log], one line each: "
            f'{missing[0]} = "FIELD".'
            if unread
            else ""
        )
        return LOG.check(
            "warn",
            measured,
            "the stats-log columns (docs/artifacts.md#stats-log)",
            f"{text}{notes}; it lacks {', '.join(missing)}, so the checks that need them "
            f"are skipped.{hint}",
        )
    return LOG.check(
        "pass", measured, "the stats-log columns (docs/artifacts.md#stats-log)", f"{text}{notes}."
    )


def _trend(axis: str, positions: list[int], values: list[float]) -> dict[str, Any]:
    best = min(range(len(values)), key=lambda i: values[i])
    return {
        "first": values[0],
        "last": values[-1],
        "best": values[best],
        f"best_{axis}": positions[best],
        f"{axis}s": len(values),
        "noise": _epoch_noise(values),
    }


def _epoch_noise(values: list[float]) -> float:
    """The loss's epoch-to-epoch noise: the spread of its changes over the second half of
    the epochs (where the trend has flattened), divided by √2 since each change holds two
    noisy epochs; 0 with fewer than four epochs there."""
    half = values[len(values) // 2 :]
    changes = [b - a for a, b in itertools.pairwise(half)]
    if len(changes) < 3:
        return 0.0
    return statistics.pstdev(changes) / math.sqrt(2)


def _noise_band(trend: dict[str, Any]) -> float:
    """How far the last epoch may sit above another by noise alone (1e-3 false alarms)."""
    return JUDGE_Z * math.sqrt(2) * float(trend.get("noise", 0.0))


def _loss_check(log: StatsLog, tol: Tolerances) -> Check:
    expected = (
        f"train loss falls; val loss ends below its start, having given back at most "
        f"{tol.val_rise_share:.0%} of its improvement or its epoch-to-epoch noise"
    )
    axis = log.x_axis
    series = {s: log.series(s, "loss") for s in log.splits if log.series(s, "loss")[0]}
    if not series:
        return LOSS_TREND.skipped("the log has no loss column")
    for split, (positions, values) in series.items():
        bad = next(
            (e for e, v in zip(positions, values, strict=True) if not math.isfinite(v)), None
        )
        if bad is not None:
            return LOSS_TREND.check(
                "fail",
                {"split": split, axis: bad, "x_axis": axis},
                expected,
                f"The {split} loss is not finite from {axis} {bad} on: training diverged.",
            )
    if max(len(e) for e, _ in series.values()) < 2:
        return LOSS_TREND.skipped(f"the log has fewer than two {axis}s")
    measured: dict[str, Any] = {
        s: _trend(axis, e, v) for s, (e, v) in series.items() if len(e) >= 2
    }
    measured["x_axis"] = axis
    train = measured.get("train")
    if train is not None and not train["last"] < train["first"]:
        return LOSS_TREND.check(
            "fail",
            measured,
            expected,
            f"The train loss did not fall ({fmt(train['first'])} at the first {axis}, "
            f"{fmt(train['last'])} at the last): the model is not learning.",
        )
    val = measured.get("val")
    if val is not None:
        band = _noise_band(val)
        if val["last"] > val["first"] + band:
            return LOSS_TREND.check(
                "fail",
                measured,
                expected,
                f"The val loss diverged: best {fmt(val['best'])} at {axis} "
                f"{val[f'best_{axis}']}, now {fmt(val['last'])}, above where it started "
                f"({fmt(val['first'])}).",
            )
        gained = val["first"] - val["best"]
        given_back = val["last"] - val["best"]
        if gained > 0 and given_back > max(tol.val_rise_share * gained, band):
            return LOSS_TREND.check(
                "warn",
                measured,
                expected,
                f"The val loss has risen since {axis} {val[f'best_{axis}']} (best "
                f"{fmt(val['best'])}, now {fmt(val['last'])}), giving back "
                f"{given_back / gained:.0%} of its improvement, beyond its {axis}-to-{axis} "
                f"noise (sd {fmt(val['noise'])}): overfitting.",
            )
    parts = [
        f"{s} loss {fmt(m['first'])} → {fmt(m['last'])}"
        for s, m in measured.items()
        if isinstance(m, dict)
    ]
    return LOSS_TREND.check(
        "pass",
        measured,
        expected,
        "Losses trend down: " + "; ".join(parts) + ".",
    )


def _distance(key: str, logged: float, want: float, ref_sd: float, floor: float) -> float:
    """How far a logged figure is from the cache's, in the units its tolerance uses."""
    if not math.isfinite(logged):
        return math.inf
    if key == "dur_mu":
        return abs(logged - want) / max(ref_sd, 1e-12)
    if key == "dur_sigma":
        return max(0.0, logged / max(ref_sd, 1e-12) - 1.0)
    if key == "profile_first":
        return abs(logged - want) / max(want, floor)
    if logged <= floor and want <= floor:
        return 0.0
    return abs(math.log(max(logged, floor) / max(want, floor)))


def _convergence_check(
    log: StatsLog,
    split: str,
    reference: dict[str, float] | None,
    support: dict[str, int],
    tol: Tolerances,
    no_cache: str,
) -> Check:
    expected = (
        f"μ within {tol.stats_converge_rel:g} SD of the cache's mean log-duration; σ at most "
        f"{1 + tol.stats_converge_rel:g} × its SD; first bin within "
        f"{tol.stats_converge_rel:.0%}; mid/last within {tol.converge_bin_factor:g}× (not "
        f"judged when fewer than {MIN_SUPPORT} cache rows reach the bin)"
    )
    if reference is None:
        return STATS_CONVERGENCE.skipped(f"{no_cache}, so there is nothing to converge to")
    keys = [k for k in reference if log.series(split, k)[0]]
    if not keys:
        return STATS_CONVERGENCE.skipped("the log has no μ, σ or profile columns")
    limit = {
        "dur_mu": tol.stats_converge_rel,
        "dur_sigma": tol.stats_converge_rel,
        "profile_first": tol.stats_converge_rel,
        "profile_mid": math.log(tol.converge_bin_factor),
        "profile_last": math.log(tol.converge_bin_factor),
    }
    figures: dict[str, dict[str, Any]] = {}
    for key in keys:
        _, values = log.series(split, key)
        first, last = (
            _distance(key, v, reference[key], reference["dur_sigma"], tol.profile_abs_floor)
            for v in (values[0], values[-1])
        )
        judged = support.get(key, MIN_SUPPORT) >= MIN_SUPPORT
        figures[key] = {
            "logged": values[-1],
            "cache": reference[key],
            "ok": last <= limit[key] or not judged,
            "approaching": last <= 0.5 * first,
        }
        if not judged:
            figures[key]["support"] = support[key]
    off = [k for k, f in figures.items() if not f["ok"]]
    measured = {"split": split, "figures": figures}
    if not off:
        return STATS_CONVERGENCE.check(
            "pass",
            measured,
            expected,
            f"The logged statistics ({split}) agree with the cache's: "
            + ", ".join(
                (
                    f"{k} {fmt(f['logged'])}, at most the cache's SD {fmt(f['cache'])} (the "
                    "spread the features leave is below the whole spread)"
                    if k == "dur_sigma"
                    else f"{k} {fmt(f['logged'])} vs {fmt(f['cache'])}"
                )
                + (f" (reached by {f['support']} rows: not judged)" if "support" in f else "")
                for k, f in figures.items()
            )
            + ".",
        )
    described = ", ".join(
        f"{k} {fmt(figures[k]['logged'])} vs the cache's {fmt(figures[k]['cache'])}" for k in off
    )
    stuck = [k for k in off if not figures[k]["approaching"]]
    if not stuck:
        return STATS_CONVERGENCE.check(
            "warn",
            measured,
            expected,
            f"Still converging ({split}): {described}; each has covered more than half the "
            f"distance since the first {log.x_axis}.",
        )
    return STATS_CONVERGENCE.check(
        "fail",
        measured,
        expected,
        f"The logged statistics ({split}) do not converge to the cache's: {described}; "
        f"{', '.join(stuck)} did not get even halfway there.",
    )


def _first_mid(first: float, mid: float, floor: float) -> float:
    return math.inf if mid <= floor else first / mid


def _collapse_check(
    log: StatsLog, split: str, reference: dict[str, float] | None, tol: Tolerances
) -> Check:
    axis = log.x_axis
    expected = (
        f"logged first/mid ≥ {tol.flat_ratio:g} while the cache's is far above; σ never "
        f"below {tol.sigma_collapse_ratio:g} × its value at the best duration-NLL {axis}"
    )
    measured: dict[str, Any] = {axis: None, "x_axis": axis, "split": split}
    findings: list[tuple[int, str]] = []
    floor = tol.profile_abs_floor
    epochs_f, first = log.series(split, "profile_first")
    epochs_m, mid = log.series(split, "profile_mid")
    cache_ratio = (
        _first_mid(reference["profile_first"], reference["profile_mid"], floor)
        if reference is not None
        else None
    )
    measured["cache_first_mid"] = cache_ratio
    if epochs_f and epochs_f == epochs_m:
        ratios = [_first_mid(f, m, floor) for f, m in zip(first, mid, strict=True)]
        measured["first_mid_last"] = ratios[-1]
        sharp_cache = cache_ratio is None or cache_ratio >= FAR_ABOVE * tol.flat_ratio
        flat = next((e for e, r in zip(epochs_f, ratios, strict=True) if r < tol.flat_ratio), None)
        if flat is not None and sharp_cache:
            measured[f"flat_{axis}"] = flat
            against = (
                f"while the cache's is {fmt(cache_ratio)}"
                if cache_ratio is not None
                else "(no cache given to confirm the real profile is sharper)"
            )
            findings.append(
                (
                    flat,
                    f"the profile is flat from {axis} {flat} (first/mid "
                    f"{fmt(ratios[epochs_f.index(flat)])} {against}; last {axis} "
                    f"{fmt(ratios[-1])})",
                )
            )
    epochs_s, sigma = log.series(split, "dur_sigma")
    epochs_n, nll = log.series(split, "duration_nll")
    if epochs_s and epochs_s == epochs_n:
        finite = [i for i, v in enumerate(nll) if math.isfinite(v)]
        if finite:
            best = min(finite, key=lambda i: nll[i])
            collapsed = next(
                (
                    i
                    for i in range(best + 1, len(sigma))
                    if sigma[i] < tol.sigma_collapse_ratio * sigma[best]
                ),
                None,
            )
            if collapsed is not None:
                measured[f"sigma_{axis}"] = epochs_s[collapsed]
                findings.append(
                    (
                        epochs_s[collapsed],
                        f"σ collapses from {axis} {epochs_s[collapsed]} "
                        f"({fmt(sigma[collapsed])}, below {tol.sigma_collapse_ratio:g} × its "
                        f"{fmt(sigma[best])} at {axis} {epochs_s[best]}, the best duration NLL; "
                        f"last {fmt(sigma[-1])})",
                    )
                )
    if not epochs_f and not epochs_s:
        return COLLAPSE.skipped("the log has no profile or σ columns")
    if not findings:
        return COLLAPSE.check(
            "pass",
            measured,
            expected,
            f"No collapse ({split}): the profile keeps its shape and σ holds.",
        )
    findings.sort()
    measured[axis] = findings[0][0]
    confirmed = cache_ratio is not None or f"sigma_{axis}" in measured
    return COLLAPSE.check(
        "fail" if confirmed else "warn",
        measured,
        expected,
        f"Collapse ({split}): " + "; ".join(text for _, text in findings) + ".",
    )


def _stats(
    log: StatsLog, split: str, reference: dict[str, float] | None, profile_bins_setting: str
) -> dict[str, Any]:
    last = {s: log.last(s) for s in log.splits}
    return {
        "format": log.format,
        "x_axis": log.x_axis,
        # the count of epochs, null when the log is read over steps
        "epochs": len(log.positions) if log.x_axis == "epoch" else None,
        "positions": len(log.positions),
        "splits": log.splits,
        "figures_split": split,
        "last": last,
        "cache": reference,
        "profile_bins": profile_bins_setting,
        "ignored_last_line": log.ignored_last_line,
    }


def _figures(stats: dict[str, Any]) -> list[str]:
    split = stats["figures_split"]
    axis = stats["x_axis"]
    last = stats["last"].get(split, {})
    figures = [f"{stats['positions']} {axis}s, {'/'.join(stats['splits'])} ({stats['format']})"]
    if "loss" in last:
        figures.append(f"{split} loss {fmt(last['loss'])} at {axis} {last[axis]}")
    if "dur_mu" in last and "dur_sigma" in last:
        figures.append(f"μ {fmt(last['dur_mu'])}, σ {fmt(last['dur_sigma'])}")
    if all(k in last for k in ("profile_first", "profile_mid", "profile_last")):
        figures.append(
            f"first/mid/last {fmt(last['profile_first'])}/{fmt(last['profile_mid'])}/"
            f"{fmt(last['profile_last'])}"
        )
    return figures


def _line(log: StatsLog, key: str, label: str = "") -> list[Series]:
    out = []
    for split in log.splits:
        epochs, values = log.series(split, key)
        if epochs:
            name = f"{split} {label}".strip()
            out.append(Series(name, [float(e) for e in epochs], [float(v) for v in values]))
    return out


def _plots(log: StatsLog, reference: dict[str, float] | None) -> list[Plot]:
    ref = reference or {}
    axis = log.x_axis
    plots = [
        Plot(f"Loss per {axis}", "line", _line(log, "loss"), xlabel=axis, ylabel="loss"),
        Plot(
            "Logged μ of log-duration",
            "line",
            _line(log, "dur_mu"),
            xlabel=axis,
            ylabel="μ",
            hlines=[("cache mean log-duration", ref["dur_mu"])] if "dur_mu" in ref else [],
        ),
        Plot(
            "Logged σ of log-duration",
            "line",
            _line(log, "dur_sigma"),
            xlabel=axis,
            ylabel="σ",
            hlines=[("cache SD of log-duration", ref["dur_sigma"])] if "dur_sigma" in ref else [],
        ),
    ]
    # One small chart per bin, each with the cache's value as its target line: the three
    # share no scale (first ~0.1, last ~1e-4), and nine legend entries on one chart cover it.
    for key, label, where in (
        ("profile_first", "first", "0"),
        ("profile_mid", "mid", "L // 2"),
        ("profile_last", "last", "L - 1"),
    ):
        target = ref.get(key)
        plots.append(
            Plot(
                f"Mean profile: {label} bin ({where})",
                "line",
                _line(log, key),
                xlabel=axis,
                ylabel=label,
                log_y=True,
                hlines=[(f"cache {label}", target)] if target is not None and target > 0 else [],
            )
        )
    return [p for p in plots if p.series]
