"""Stage 5, the sampler (step 5 of docs/README.md#the-plan): do sampled durations and profiles match
real ones?

`--samples` rows are drawn at random (seeded) from the cache and sampled with their own
features and lengths (model/sample.py: the built-in sampler or the user's `--sampler`);
each fake row is compared with its real twin (a user's sampler object that picks its own
rows, model/user_sampler.py, is compared with the whole cache instead):

- `sampler.run`: the sampler ran and gave finite, non-negative durations and profiles;
- `sampler.passthrough`: the samples are not the cache's own rows (a sampler that mixes
  real data in, at a mix of 0, hands them back and every comparison below passes for the
  wrong reason);
- `sampler.duration_ceiling`: sampled durations do not pile up at one hard maximum below
  the real upper tail (a clip at a quantile, which hides a σ that is too wide);
- `sampler.profile_dispersion`: profiles are about as uneven *within* rows as real ones
  (median CV of the step shares, fake over real, below `dispersion_high`, e.g. not a
  Dirichlet draw with a low concentration; warn below `dispersion_low`: flat within rows,
  or below `dispersion_head_real_low` when the head can be run: a deterministic head is
  smoother within rows than real paths), and, when the head can be run, not much flatter
  than the head's own profile (a temperature or logit scaling that spreads each path's
  time evenly);
- `sampler.duration_quantiles`: q05..q95 of fake durations within `quantile_rel` of the
  real ones, and the KS distance below `ks_max`;
- `sampler.profile_bins`: the fake mean profile's first bin within `first_bin_rel`, mid and
  last within `bin_factor` (or both below the floor);
- `sampler.padding_mass`: no mass on steps beyond each row's length;
- `sampler.flat`: the fake mean profile kept its shape (its KL from uniform over L is at
  least `flat_share` of the real one's).

The stage reports progress per chunk with the histograms so far, so a live view fills.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from tui_timing.artifacts.cache import TimingCache
from tui_timing.artifacts.checkpoint import CheckpointArtifact
from tui_timing.config import Tolerances
from tui_timing.findings import Check, Plot, Series, StageResult, Status
from tui_timing.model.sample import SampleStats, predict_rows, sample_chunks
from tui_timing.model.train import resolve_device
from tui_timing.model.user_sampler import SamplerRun, UserSampler, load_user_sampler
from tui_timing.numerics.figures import close, histogram, log_edges, relative_error, within_factor
from tui_timing.numerics.fmt import fmt
from tui_timing.numerics.noise import MIN_SUPPORT, ratio_noise
from tui_timing.stages.catalog import Stage
from tui_timing.stages.checks import PADDING, CheckSpec, PartFigure, StageChecks
from tui_timing.stages.context import StageContext


def _worst_quantile(m: dict[str, Any]) -> str | None:
    """The quantile furthest off for what its noise allows (`q05`), else `KS` where no
    quantile can be compared."""
    fake, real = m.get("fake") or {}, m.get("real") or {}
    pairs = [k for k in fake if real.get(k)]
    if not pairs:
        return "KS" if "ks" in m else None
    allowed = m.get("allowed") or {}
    return max(pairs, key=lambda k: abs(fake[k] / real[k] - 1) / allowed.get(k, 1.0))


def _quantile_of(m: dict[str, Any], name: str) -> str | None:
    """`q05 0.2832 vs 0.437 (95% interval 0.41–0.47)` (fake vs real), or `KS 0.02`."""
    if name == "KS":
        return f"KS {fmt(m['ks'])}" if "ks" in m else None
    fake, real = m.get("fake") or {}, m.get("real") or {}
    if name not in fake or name not in real:
        return None
    text = f"{name} {fmt(fake[name])} vs {fmt(real[name])}"
    interval = (m.get("interval") or {}).get(name)
    if interval:
        text += f" (95% interval {fmt(interval[0])}–{fmt(interval[1])})"
    return text


def _missed_bin(m: dict[str, Any]) -> str | None:
    """The first profile bin that misses (`first`, `mid`, `last`), None when none does."""
    ok = m.get("ok") or {}
    return next((name for name in ("first", "mid", "last") if ok.get(name) is False), None)


def _bin_of(m: dict[str, Any], name: str) -> str | None:
    """`first 0.01195 vs 0.07728`: a profile bin, fake vs real."""
    return f"{name} {fmt(m['fake'][name])} vs {fmt(m['real'][name])}"


#: Stage 5's checks, in report order.
RUN = CheckSpec("sampler.run", "load")
PASSTHROUGH = CheckSpec(
    "sampler.passthrough",
    "structural",
    figure=lambda m: f"{float(m['share']):.0%} of samples are real rows",
    tolerances=("passthrough_share",),
)
DURATION_CEILING = CheckSpec(
    "sampler.duration_ceiling",
    "structural",
    figure=lambda m: f"{float(m['share']):.1%} of durations clipped at {fmt(m['value'])} s",
    tolerances=("ceiling_share",),
)
PROFILE_DISPERSION = CheckSpec(
    "sampler.profile_dispersion",
    "structural",
    figure=lambda m: f"within-row CV {fmt(m['fake'])} vs real {fmt(m['real'])}",
    tolerances=(
        "dispersion_high",
        "dispersion_low",
        "dispersion_head_low",
        "dispersion_head_real_low",
    ),
)
CALIBRATION = CheckSpec(
    "sampler.calibration",
    "structural",
    figure=lambda m: (
        m.get("finding") or f"z mean {m['mean']:+.2f}, sd {fmt(m['sd'])}, lag-1 {m['lag1']:+.2f}"
    ),
)
DURATION_QUANTILES = CheckSpec(
    "sampler.duration_quantiles",
    "statistic",
    figure=PartFigure(_worst_quantile, _quantile_of),
    tolerances=("quantile_rel", "ks_max"),
)
PROFILE_BINS = CheckSpec(
    "sampler.profile_bins",
    "statistic",
    figure=PartFigure(_missed_bin, _bin_of),
    tolerances=("first_bin_rel", "bin_factor", "profile_abs_floor"),
)
PADDING_MASS = CheckSpec(
    "sampler.padding_mass",
    "structural",
    figure=lambda m: f"{float(m['mean']):.0%} of the profile mass on padding",
    tolerances=("padding_mass",),
    roles=frozenset({PADDING}),
)
FLAT = CheckSpec(
    "sampler.flat",
    "structural",
    figure=lambda m: f"keeps {float(m['share']):.0%} of the real profile's shape",
    tolerances=("flat_share",),
)
CHECKS = StageChecks(
    Stage.SAMPLER,
    (
        RUN,
        PASSTHROUGH,
        DURATION_CEILING,
        PROFILE_DISPERSION,
        CALIBRATION,
        DURATION_QUANTILES,
        PROFILE_BINS,
        PADDING_MASS,
        FLAT,
    ),
)
CHUNK_ROWS = 256
HISTOGRAM_BINS = 40


def run(ctx: StageContext) -> StageResult:
    """Stage 5 on the context's checkpoint and cache."""
    result = CHECKS.new_result()
    loaded = ctx.loaded("checkpoint")
    if loaded is None and not ctx.settings.sampler_spec:
        return CHECKS.skip_all(result, "no checkpoint given")
    if loaded is not None and loaded.error is not None:
        return _failed(result, "fail", f"the checkpoint could not be loaded ({loaded.error})")
    cache = ctx.timing_cache()
    if cache is None:
        return CHECKS.skip_all(result, ctx.cache_unavailable_reason())
    ckpt: CheckpointArtifact | None = loaded.value if loaded is not None else None
    try:
        sampler, sampler_name = _sampler(ctx, ckpt, cache)
        device = resolve_device(ctx.settings.device)
    except ValueError as exc:  # a UsageError (`sampler = ...` names nothing) goes on up
        return _failed(result, "error", str(exc))

    stats = SampleStats(max_len=cache.max_len)
    head = ckpt.model if ckpt is not None and ckpt.model is not None else None
    if sampler is not None and sampler.own_rows:
        stats.use_whole_cache(cache)
    edges = log_edges(cache.duration.double().numpy(), HISTOGRAM_BINS)
    total = ctx.settings.samples
    run = SamplerRun(
        model=ckpt.model if ckpt is not None else None,
        cache=cache,
        samples=total,
        seed=ctx.settings.seed,
        temperature=ctx.settings.temperature,
        device=device,
        chunk_size=CHUNK_ROWS,
    )
    start = time.perf_counter()
    try:
        chunks = (
            sampler.chunks(run, checkpoint=ctx.paths.checkpoint, cache_path=cache.path)
            if sampler is not None
            else sample_chunks(
                run.model,
                cache,
                samples=total,
                seed=run.seed,
                temperature=run.temperature,
                device=device,
                chunk_size=CHUNK_ROWS,
            )
        )
        for chunk in chunks:
            stats.add(chunk, cache)
            if head is not None and chunk.rows is not None:
                stats.add_head(predict_rows(head, cache, chunk.rows, device), chunk)
            partial = CHECKS.new_result()
            partial.stats, partial.plots = {"rows": stats.rows}, _plots(stats, edges)
            ctx.tick(
                Stage.SAMPLER, stats.rows / total, f"sampled {stats.rows}/{total} rows", partial
            )
    except (ValueError, RuntimeError, TypeError, IndexError) as exc:
        return _failed(result, "fail", f"the sampler failed: {type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - start
    summary = stats.summary()
    tol = ctx.settings.tolerances
    result.checks = [
        _run_check(summary, sampler_name, device.type, seconds),
        _passthrough_check(summary, tol),
        _ceiling_check(summary, tol),
        _dispersion_check(summary, tol),
        _calibration_check(summary),
        _quantile_check(summary, tol),
        _bins_check(summary, tol),
        _padding_check(summary, tol),
        _flat_check(summary, tol),
    ]
    result.stats = {
        **summary,
        "sampler": sampler_name,
        "device": device.type,
        "seconds": seconds,
        "temperature": ctx.settings.temperature,
        "seed": ctx.settings.seed,
    }
    result.figures = _figures(summary)
    result.plots = _plots(stats, edges)
    return result


def _failed(result: StageResult, status: Status, reason: str) -> StageResult:
    result.checks = [
        RUN.check(
            status,
            measured=reason,
            expected="a sampler that runs on the cache's rows",
            message=f"The sampler could not run: {reason}.",
        ),
        *CHECKS.skipped_after(RUN, "the sampler did not run"),
    ]
    return result


def _sampler(
    ctx: StageContext, ckpt: CheckpointArtifact | None, cache: TimingCache
) -> tuple[UserSampler | None, str]:
    """The user's sampler or the built-in one, after checking the model can take the cache."""
    spec = ctx.settings.sampler_spec
    if spec:
        settings = ctx.settings
        plugin = load_user_sampler(spec, settings.pythonpath, settings.sampler_kwargs)
        how = " (picks its own rows: compared with the whole cache)" if plugin.own_rows else ""
        return plugin, spec + how
    if ckpt is None or ckpt.model is None:
        raise ValueError(
            "there is no model to sample from (the weights were read statically): give "
            "--model module:factory or --sampler module:function"
        )
    if ckpt.cond_dim is not None and ckpt.cond_dim != cache.feature_dim:
        raise ValueError(
            f"the cache's features have {cache.feature_dim} columns but the model takes "
            f"{ckpt.cond_dim} (see model.conditioning)"
        )
    return None, "built-in (log-normal duration, softmax profile)"


def _run_check(summary: dict[str, Any], sampler: str, device: str, seconds: float) -> Check:
    bad = summary["nonfinite"] + summary["negative"]
    measured = {
        "rows": summary["rows"],
        "nonfinite_rows": summary["nonfinite"],
        "negative_rows": summary["negative"],
        "device": device,
        "seconds": seconds,
    }
    expected = "finite, non-negative durations and profiles for every row"
    if bad:
        return RUN.check(
            "fail",
            measured,
            expected,
            f"{summary['nonfinite']} rows with non-finite and {summary['negative']} with "
            "negative durations or profile values.",
        )
    return RUN.check(
        "pass",
        measured,
        expected,
        f"Sampled {summary['rows']} rows in {seconds:.2f} s on the {device} ({sampler}), "
        f"compared with {summary['compared_with']}.",
    )


#: Sampled rows equal to their twin that are coincidence, not copying: a continuous draw
#: lands within 1e-6 of a real duration on a few 1e-5 of rows, so among 2,048 one equal
#: row happens in a few percent of healthy runs and three in about one in a million.
PASSTHROUGH_COINCIDENCES = 2


def _passthrough_check(summary: dict[str, Any], tol: Tolerances) -> Check:
    copies = summary["passthrough"]
    if not copies["rows"]:
        return PASSTHROUGH.skipped("no row was sampled")
    if "against" in copies:
        return _own_rows_passthrough(dict(copies), tol)
    expected = (
        f"fewer than {tol.passthrough_share:.0%} of sampled durations or profiles equal to the "
        "real row's"
    )
    rows = int(copies["rows"])
    equal = round(float(copies["share"]) * rows)
    what = (
        f"{round(copies['duration_share'] * rows):,} of {rows:,} sampled durations and "
        f"{round(copies['profile_share'] * rows):,} of the profiles are exactly the real row's"
    )
    if copies["share"] >= tol.passthrough_share:
        return PASSTHROUGH.check(
            "fail",
            copies,
            expected,
            f"The sampler hands back real rows: {what}. Every comparison with the real rows "
            "passes for the wrong reason; set the sampler to draw from the model (a "
            "profile/duration mix of real data at 0 returns the data).",
        )
    coincidences = equal <= PASSTHROUGH_COINCIDENCES
    return PASSTHROUGH.check(
        "pass" if coincidences else "warn",
        copies,
        expected,
        f"The sampler draws its own values ({what}"
        + (
            f"; up to {PASSTHROUGH_COINCIDENCES} are coincidences of a continuous draw)."
            if coincidences
            else f"): {equal:,} equal rows are more than coincidence."
        ),
    )


def _own_rows_passthrough(copies: dict[str, Any], tol: Tolerances) -> Check:
    """A sampler that picks its own rows: are its durations the cache's own values, and its
    profiles the cache's own rows? Durations land on a cache value by chance too (the more
    so the coarser the cache's dtype), so only what exceeds that chance, by more than its
    sampling noise, counts as copied."""
    n, chance = copies["rows"], copies["chance_share"]
    noise = 3 * math.sqrt(max(chance * (1 - chance), 1 / n) / n)
    excess = copies["duration_share"] - chance
    decides = chance < tol.passthrough_share
    copied = excess if decides and excess > noise else 0.0
    copies["share"] = max(copied, copies["profile_share"])
    expected = (
        f"fewer than {tol.passthrough_share:.0%} of sampled durations the cache's own values "
        "beyond chance, or of sampled profiles the cache's own rows"
    )
    what = (
        f"{copies['duration_share']:.0%} of sampled durations are values of the cache "
        f"({chance:.0%} would be by chance at its precision, ±{copies['tolerance_rel']:.0e} "
        f"relative) and {copies['profile_share']:.0%} of sampled profiles are rows of it"
    )
    if not decides:
        what += "; the durations cannot tell (the cache's values are too dense at its precision)"
    if copies["share"] >= tol.passthrough_share:
        return PASSTHROUGH.check(
            "fail",
            copies,
            expected,
            f"The sampler hands back the cache's own values: {what}. Its rows have no twins, "
            "but every comparison with the cache passes for the wrong reason; set it to draw "
            "from the model (a mix of real data at 0 returns the data).",
        )
    return PASSTHROUGH.check(
        "pass" if copies["share"] == 0 else "warn",
        copies,
        expected,
        f"The sampler draws its own values ({what}).",
    )


def _ceiling_check(summary: dict[str, Any], tol: Tolerances) -> Check:
    top = summary["ceiling"]
    expected = (
        f"fewer than {tol.ceiling_share:.0%} of sampled durations piled at one maximum below "
        "the real upper tail"
    )
    clipped = top["at_ceiling"] >= 5 and top["share"] >= tol.ceiling_share and top["real_above"] > 0
    if clipped:
        return DURATION_CEILING.check(
            "fail",
            top,
            expected,
            f"The sampler clips durations at {fmt(top['value'])} s: {top['share']:.1%} of "
            f"samples ({top['at_ceiling']:,}) sit exactly there while {top['real_above']:.1%} of "
            "real durations are longer. A clip hides a σ that is too wide and cuts the real "
            "tail; remove it.",
        )
    return DURATION_CEILING.check(
        "pass",
        top,
        expected,
        f"No hard maximum: {top['at_ceiling']:,} sample(s) at the largest duration "
        f"{fmt(top['value'])} s.",
    )


def _dispersion_check(summary: dict[str, Any], tol: Tolerances) -> Check:
    spread = summary["dispersion"]
    expected = (
        f"median within-row CV of step shares, fake/real, at most {tol.dispersion_high:g}× "
        f"(warn below {tol.dispersion_low:g}× without a head to run, "
        f"{tol.dispersion_head_real_low:g}× "
        f"with one); fake/head at least {tol.dispersion_head_low:g}× (the sampler keeps the "
        "head's own unevenness), and not the head's profile at a temperature away from 1"
    )
    if not spread["rows"]:
        return PROFILE_DISPERSION.skipped("no sampled row has two or more steps")
    ratio, head = spread["ratio"], spread["head"]
    figures = (
        f"the median coefficient of variation of step shares within a row is {fmt(spread['fake'])}"
        f" sampled vs {fmt(spread['real'])} real ({fmt(ratio)}×)"
        + (f" and {fmt(head)} in the head's own profile" if head is not None else "")
    )
    tempered = _tempered(summary["tempering"])
    if tempered is not None:
        slope = summary["tempering"]["slope"]
        return PROFILE_DISPERSION.check(
            "fail",
            {**spread, "direction": tempered, "temperature": 1 / slope},
            expected,
            f"The sampler {'flattens' if tempered == 'flatter' else 'sharpens'} the head's "
            f"profile: log sampled = {fmt(slope)} × log head + c on every row (median "
            f"correlation {summary['tempering']['corr']:.3f}), the signature of the head's "
            f"logits divided by a temperature of {fmt(1 / slope)}; {figures}. Sample at "
            "temperature 1.",
        )
    if ratio > tol.dispersion_high:
        return PROFILE_DISPERSION.check(
            "fail",
            {**spread, "direction": "noisier"},
            expected,
            f"Sampled profiles are far more uneven within rows than real ones: {figures}. The "
            "mean profile can match while each row is noise, as a Dirichlet draw with a low "
            "concentration gives; raise the concentration or sample the head's profile.",
        )
    head_ratio = spread["head_ratio"]
    if head_ratio is not None and head_ratio < tol.dispersion_head_low and ratio < 1:
        return PROFILE_DISPERSION.check(
            "fail",
            {**spread, "direction": "flatter"},
            expected,
            f"The sampler flattens the head's profile within rows: {figures} "
            f"({fmt(head_ratio)}× the head's). A sampling temperature or logit scaling above "
            "1 spreads each path's time evenly over its steps; sample at temperature 1.",
        )
    floor = tol.dispersion_low if head is None else tol.dispersion_head_real_low
    if ratio < floor:
        return PROFILE_DISPERSION.check(
            "warn",
            {**spread, "direction": "flatter", "floor": floor},
            expected,
            f"Sampled profiles are nearly flat within rows: {figures} (below {floor:g}× "
            + ("real)." if head is None else "real, and the head's own profile with them)."),
        )
    return PROFILE_DISPERSION.check(
        "pass",
        {**spread, "direction": None},
        expected,
        f"Sampled profiles are as even as expected: {figures}.",
    )


#: A sampler whose log profile is this linear in the head's is the head at a temperature.
TEMPER_CORR = 0.99
#: Temperatures within this factor of 1 are not named (1/1.25 to 1.25).
TEMPER_FACTOR = 1.25


def _tempered(t: dict[str, Any]) -> str | None:
    """ "flatter" or "sharper" when the sampled profiles are the head's at a temperature
    away from 1 (a logit scaling), else None."""
    slope, corr = t.get("slope"), t.get("corr")
    if slope is None or corr is None or t["rows"] < 20 or corr < TEMPER_CORR or slope <= 0:
        return None
    if slope < 1 / TEMPER_FACTOR:
        return "flatter"
    if slope > TEMPER_FACTOR:
        return "sharper"
    return None


def _calibration_check(summary: dict[str, Any]) -> Check:
    """Sampled log-durations against the head's own μ and σ for the same rows: the
    standardized residuals of a sampler that draws μ + σ·ε are N(0, 1) and independent."""
    c = summary["calibration"]
    if not c["rows"]:
        return CALIBRATION.skipped(
            "no head to run beside the sampler (give the checkpoint's model), or the sampler "
            "picks its own rows"
        )
    band = c["bands"]
    expected = (
        f"z = (log d − μ) / σ over {c['rows']:,} rows: |mean| ≤ {fmt(band['mean'])}, "
        f"|sd − 1| ≤ {fmt(band['sd'])}, lag-1 correlation ≤ {fmt(band['lag1'])} (noise "
        "at this n at a 1e-4 false-alarm rate each, or a 0.1 effect)"
    )
    figures = (
        f"z mean {c['mean']:+.3f}, sd {fmt(c['sd'])}, lag-1 correlation {c['lag1']:+.3f} over "
        f"{c['rows']:,} rows"
    )
    if not c["off"]:
        return CALIBRATION.check(
            "pass",
            c,
            expected,
            f"Sampled log-durations are the head's μ + σ·ε, ε standard normal and independent "
            f"across rows ({figures}).",
        )
    finding = _miscalibration(c)
    return CALIBRATION.check(
        "fail",
        {**c, "finding": finding},
        expected,
        f"Sampled log-durations are not the head's μ + σ·ε: {finding} ({figures}).",
    )


def _miscalibration(c: dict[str, Any]) -> str:
    """The sampler setting the residuals point at, in the user's terms: a shared ε, a
    spread far from the head's σ (beyond 1.5× either way), else μ of other inputs, else a
    spread somewhat off."""
    if "lag1" in c["off"] or c["sd"] < 0.05:
        return (
            f"one ε shared across rows (consecutive rows' residuals correlate "
            f"{c['lag1']:+.2f}): draw one ε per row"
        )
    spread = (
        f"their spread is {fmt(c['sd'])}× the head's σ: σ is not exp(log σ) (log σ used as "
        "σ?), or a scale or temperature is applied to durations"
    )
    shifted = (
        f"the draws sit {c['mean']:+.2f} σ off the head's μ for their rows: μ of other "
        "inputs (the head run at another length than the row's, e.g. full length for "
        "every row, or on other features)"
    )
    far = "sd" in c["off"] and not 1 / 1.5 <= c["sd"] <= 1.5
    if "mean" in c["off"] and not far:
        return shifted + (f" (and a spread of {fmt(c['sd'])}×)" if "sd" in c["off"] else "")
    return spread


def _quantile_check(summary: dict[str, Any], tol: Tolerances) -> Check:
    """Each quantile within `quantile_rel` of real, or within what the two samples' own
    noise allows at their n (order-statistic intervals), whichever is wider."""
    fake, real = summary["quantiles"]["fake"], summary["quantiles"]["real"]
    noise = summary["quantile_noise"]
    errors = {q: relative_error(fake[q], real[q]) for q in real}
    allowed = {q: max(tol.quantile_rel, noise[q]["judged"]) for q in real}
    ks = summary["ks"]
    measured = {
        "fake": fake,
        "real": real,
        "relative_error": errors,
        "allowed": allowed,
        "interval": {q: noise[q]["interval"] for q in real},
        "ks": ks,
    }
    expected = (
        f"each quantile within {tol.quantile_rel:.0%} or the noise of the two samples at their "
        f"n (order-statistic intervals at a 1e-3 false-alarm rate), KS < {tol.ks_max:g}"
    )
    off = [q for q, e in errors.items() if not e <= allowed[q]]

    def shown(q: str) -> str:
        lo, hi = noise[q]["interval"]
        return f"{q} {fmt(fake[q])} vs {fmt(real[q])} s (95% interval {fmt(lo)}–{fmt(hi)})"

    if off or not ks < tol.ks_max:
        problems = [
            f"{shown(q)}, off by {errors[q]:.0%} where {allowed[q]:.0%} is allowed" for q in off
        ]
        if not ks < tol.ks_max:
            problems.append(f"KS distance {ks:.3f} ≥ {tol.ks_max:g}")
        return DURATION_QUANTILES.check(
            "fail",
            measured,
            expected,
            f"Sampled durations do not match the real ones: {'; '.join(problems)}.",
        )
    return DURATION_QUANTILES.check(
        "pass",
        measured,
        expected,
        f"Duration quantiles match within their noise and KS {ks:.3f} ("
        + ", ".join(shown(q) for q in real)
        + ").",
    )


def _bins_check(summary: dict[str, Any], tol: Tolerances) -> Check:
    """First within `first_bin_rel`, mid and last within `bin_factor`, each widened to what
    the rows' noise allows; a bin reached by fewer than MIN_SUPPORT rows is shown, not
    judged."""
    fake, real = summary["bins"]["fake"], summary["bins"]["real"]
    noise = summary["bin_noise"]
    floor = tol.profile_abs_floor
    ok: dict[str, bool | None] = {}
    allowed: dict[str, float] = {}
    for name in ("first", "mid", "last"):
        n = noise[name]
        if min(n["fake_support"], n["real_support"]) < MIN_SUPPORT:
            ok[name] = None
            continue
        by_noise = ratio_noise(fake[name], n["fake_se"], real[name], n["real_se"])
        if name == "first":
            allowed[name] = max(tol.first_bin_rel, by_noise - 1)
            ok[name] = close(fake[name], real[name], allowed[name], floor)
        else:
            allowed[name] = max(tol.bin_factor, by_noise)
            ok[name] = within_factor(fake[name], real[name], allowed[name], floor)
    measured = {"fake": fake, "real": real, "ok": ok, "allowed": allowed, "noise": noise}
    expected = (
        f"first within {tol.first_bin_rel:.0%}, mid and last within {tol.bin_factor:g}× (or "
        f"both < {floor:g}), each widened to the rows' noise; not judged below {MIN_SUPPORT} "
        "rows reaching the bin"
    )

    def shown(k: str) -> str:
        text = f"{k} {fmt(fake[k])} vs {fmt(real[k])}"
        support = int(min(noise[k]["fake_support"], noise[k]["real_support"]))
        return text + (f" (reached by {support} rows: not judged)" if ok[k] is None else "")

    table = ", ".join(shown(k) for k in ("first", "mid", "last"))
    off = [k for k, good in ok.items() if good is False]
    if off:
        return PROFILE_BINS.check(
            "fail",
            measured,
            expected,
            f"The sampled mean profile misses the real one at {', '.join(off)} ({table}).",
        )
    return PROFILE_BINS.check(
        "pass",
        measured,
        expected,
        f"The sampled mean profile matches the real one ({table}).",
    )


def _padding_check(summary: dict[str, Any], tol: Tolerances) -> Check:
    pad = summary["padding_mass"]
    expected = f"≤ {tol.padding_mass:g} of each row's profile beyond its length"
    if pad["rows"] == 0:
        return PADDING_MASS.check(
            "skip",
            pad,
            expected,
            "Skipped: every sampled profile is NaN or infinite (see sampler.run), so where "
            "its mass goes cannot be measured.",
        )
    if pad["max"] > tol.padding_mass:
        return PADDING_MASS.check(
            "fail",
            pad,
            expected,
            f"Sampled profiles put {pad['mean']:.1%} of their mass beyond the row's length on "
            f"average (up to {pad['max']:.1%}): that time is lost from the real steps.",
        )
    return PADDING_MASS.check(
        "pass",
        pad,
        expected,
        "No sampled mass on steps beyond each row's length.",
    )


def _flat_check(summary: dict[str, Any], tol: Tolerances) -> Check:
    fake, real = summary["divergence"]["fake"], summary["divergence"]["real"]
    share = fake / real if real > 0 else math.inf
    measured = {"fake_kl_from_uniform": fake, "real_kl_from_uniform": real, "share": share}
    expected = f"the fake mean profile keeps ≥ {tol.flat_share:.0%} of the real one's shape"
    if share < tol.flat_share:
        return FLAT.check(
            "fail",
            measured,
            expected,
            f"The sampled mean profile is flat: its KL from uniform is {fmt(fake)} nats, "
            f"{share:.0%} of the real one's {fmt(real)}.",
        )
    return FLAT.check(
        "pass",
        measured,
        expected,
        f"The sampled mean profile keeps its shape ({share:.0%} of the real KL from uniform).",
    )


def _figures(summary: dict[str, Any]) -> list[str]:
    fq, rq = summary["quantiles"]["fake"], summary["quantiles"]["real"]
    fb, rb = summary["bins"]["fake"], summary["bins"]["real"]
    return [
        f"{summary['rows']} rows sampled",
        f"median duration {fmt(fq['q50'])} s vs {fmt(rq['q50'])} s, KS {summary['ks']:.3f}",
        f"first/mid/last {fmt(fb['first'])}/{fmt(fb['mid'])}/{fmt(fb['last'])} vs "
        f"{fmt(rb['first'])}/{fmt(rb['mid'])}/{fmt(rb['last'])}",
    ]


def _plots(stats: SampleStats, edges: np.ndarray) -> list[Plot]:
    """Histograms over the cache's duration range (sampled values beyond it land in the
    end bins, so every row is counted), mean profiles, and first/mid/last bars."""
    fake_d, real_d = stats.durations()
    fake_d = np.clip(fake_d, edges[0], edges[-1])
    fake_p, real_p = stats.mean_profiles()
    steps = [float(i) for i in range(stats.max_len)]
    names = ("first", "mid", "last")
    picks = (0, stats.max_len // 2, stats.max_len - 1)
    return [
        Plot(
            "Durations: real vs sampled",
            "hist",
            [histogram("real", real_d, edges), histogram("sampled", fake_d, edges)],
            xlabel="duration (s)",
            ylabel="rows",
            log_x=True,
        ),
        Plot(
            "Mean profile: real vs sampled",
            "line",
            [Series("real", steps, real_p.tolist()), Series("sampled", steps, fake_p.tolist())],
            xlabel="step",
            ylabel="mean profile",
            log_y=True,
        ),
        Plot(
            "First / mid / last bins: real vs sampled",
            "bar",
            [
                Series("real", [0.0, 1.0, 2.0], [float(real_p[i]) for i in picks]),
                Series("sampled", [0.0, 1.0, 2.0], [float(fake_p[i]) for i in picks]),
            ],
            xlabel="profile bin",
            ylabel="mean profile",
            log_y=True,
            xticks=[(float(i), name) for i, name in enumerate(names)],
        ),
    ]
