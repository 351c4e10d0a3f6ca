"""Stage 6, diffusion integration (step 6 of docs/README.md#the-plan): does the eval see what the
sampler made?

A timing head can be right in isolation and still reach the diffusion eval wrong: Δt
re-normalized after they were assigned, or paths left in the model's normalized units.
Both show as a *constant factor* between fake and real, so besides the ±10% gates on the
Δt median and the |vel| p95, this stage estimates that factor (from the log-quantile
shifts of the two distributions) and asks whether it explains the whole difference (the
KS distance after dividing it out). Attribution follows: a velocity factor that equals the
step-length factor while Δt agree means the paths are in other units; one that follows
from a Δt factor means time was re-scaled. Only when both gates hold is the final score,
a classifier two-sample test, computed: on sequences with a units bug it would measure the
bug, not the model. And since every gate compares the eval's real side with its fake side,
`integration.real_vs_cache` (a warning) first asks whether that real side looks like the
cache at all (Δt median, share of Δt = 0 steps, lengths): an eval that cut or cleaned its
real sequences differently compares the wrong things everywhere. Two faults keep every
pooled distribution and so pass the gates: a fake side that is real data (the eval's own
real rows, or the cache's: `integration.fake_generated`), and fake Δt shifted one step
against their points (`integration.dt_pairing`, from how step lengths and Δt go together
over lags).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from tui_timing.artifacts.cache import CacheArrays
from tui_timing.artifacts.eval_dump import EvalDump
from tui_timing.config import Tolerances
from tui_timing.findings import Check, Plot, StageResult, Status
from tui_timing.hook import Gate, timing_gates
from tui_timing.model.sample import draw_rows
from tui_timing.numerics.figures import histogram, ks_distance, log_edges
from tui_timing.numerics.fmt import fmt
from tui_timing.numerics.noise import MIN_SUPPORT
from tui_timing.numerics.pairing import Pairing, lag_parts, pairing
from tui_timing.numerics.row_checks import real_vs_cache
from tui_timing.stages import c2st
from tui_timing.stages.catalog import Stage
from tui_timing.stages.checks import GATE, CheckSpec, StageChecks
from tui_timing.stages.context import StageContext
from tui_timing.stages.copies import COPY_RESOLUTION_S, keys_in_cache, row_keys

#: Stage 6's checks, in report order.
DT_MEDIAN = CheckSpec(
    "integration.dt_median",
    "statistic",
    figure=lambda m: f"fake/real {fmt(m['ratio'])}",
    tolerances=("gate_rel",),
    roles=frozenset({GATE}),
)
VEL_P95 = CheckSpec(
    "integration.vel_p95",
    "statistic",
    figure=lambda m: f"fake/real {fmt(m['ratio'])}",
    tolerances=("gate_rel", "scale_fit_ks", "scale_factor_rel"),
    roles=frozenset({GATE}),
)
RENORMALIZATION = CheckSpec(
    "integration.renormalization",
    "structural",
    figure=lambda m: f"fake Δt ≈ {fmt(m['dt_factor']['factor'])} × real",
    tolerances=("dt_sum_rel", "scale_fit_ks", "scale_factor_rel"),
)
LOG_DT_KS = CheckSpec(
    "integration.log_dt_ks",
    "statistic",
    figure=lambda m: f"KS {fmt(m['ks'])}",
    tolerances=("ks_warn",),
)
LENGTH_KS = CheckSpec(
    "integration.length_ks",
    "statistic",
    figure=lambda m: f"KS {fmt(m['ks'])}",
    tolerances=("ks_warn",),
)
C2ST = CheckSpec(
    "integration.c2st",
    "statistic",
    figure=lambda m: f"accuracy {fmt(m['accuracy'])}, p {fmt(m['p_value'])}",
    tolerances=("c2st_alpha", "gate_rel"),
)
REAL_VS_CACHE = CheckSpec(
    "integration.real_vs_cache",
    "structural",
    figure=lambda m: (
        f"Δt = 0 on {m['zero_dt_share']['eval_real']:.0%} of the eval's real steps vs "
        f"{m['zero_dt_share']['cache']:.0%} in the cache"
    ),
    tolerances=(
        "real_cache_dt_rel",
        "real_cache_zero_factor",
        "real_cache_zero_points",
        "real_cache_length_ks",
    ),
)
FAKE_GENERATED = CheckSpec(
    "integration.fake_generated",
    "structural",
    figure=lambda m: f"{float(m['share']):.0%} of fake sequences are copies of real rows",
)
DT_PAIRING = CheckSpec(
    "integration.dt_pairing",
    "structural",
    figure=lambda m: f"shift {m['shift']:+d}: gain {fmt(m['gain'])} ± {fmt(m['gain_se'])}",
)
CHECKS = StageChecks(
    Stage.INTEGRATION,
    (
        DT_MEDIAN,
        VEL_P95,
        RENORMALIZATION,
        FAKE_GENERATED,
        DT_PAIRING,
        REAL_VS_CACHE,
        LOG_DT_KS,
        LENGTH_KS,
        C2ST,
    ),
)
#: Fake sequences that are copies of real rows from this share fail, and warn from
#: COPY_SHARE_WARN: below it they are coincidences (a disjoint half of a Balabit user's
#: segments shares 0.5-7% of its rows with the other half, short ones on a clock's
#: lattice; a generated fake side shares none).
COPY_SHARE_FAIL = 0.5
COPY_SHARE_WARN = 0.1
#: A one-step shift of Δt against the points is a finding when it brings the fake side's
#: Δt-step coupling closer to the real one's than no shift does by this many bootstrap
#: standard errors (a one-sided 1e-4), by at least PAIRING_MIN_GAIN (in correlation), and
#: explains at least half of the gap (the distance left once shifted ≤ half the unshifted).
PAIRING_Z = 3.72
PAIRING_MIN_GAIN = 0.01
#: Rows with this many valid steps or more carry the coupling (a within-row correlation
#: needs a few pairs at every lag compared).
PAIRING_MIN_STEPS = 5
#: Cache rows read to compare the eval's real side with (seeded; the figures are medians
#: and shares, which this many rows pin down).
REAL_VS_CACHE_ROWS = 4096
#: Quantiles whose log-shifts estimate a constant factor between two distributions.
_SHIFT_QUANTILES = np.linspace(0.1, 0.9, 9)
#: How far (relative) a value may move and still count as the same in `ScaleFit`.
_SLACK = 0.05
#: Fake rows off their sampled duration beyond this share make re-normalization a failure.
_ROWS_OFF_FAIL = 0.01
#: Row sums whose relative spread is below this are "all the same total".
_FIXED_TOTAL_SPREAD = 1e-3


@dataclass(frozen=True)
class ScaleFit:
    """fake ≈ factor · real, and whether that one factor explains the whole difference.

    The factor is the median of the log-shifts between the deciles of the two samples:
    exact on data that sit on a clock's lattice (Balabit Δt come in steps of about 1 ms
    around 15-16 ms), where a mean of logs would blur it. Whether it explains everything is
    the KS distance left once it is divided out, measured with a horizontal slack of
    `_SLACK` (relative), so that two lattices a hair apart do not count as a difference.
    """

    factor: float
    ks_after: float
    max_ks: float

    @property
    def constant(self) -> bool:
        """The factor explains the distributions: after dividing it out they agree."""
        return math.isfinite(self.factor) and self.ks_after <= self.max_ks

    def off(self, rel: float) -> bool:
        """A constant factor that is not 1 (outside ±rel)."""
        return self.constant and abs(self.factor - 1.0) > rel

    def as_dict(self) -> dict[str, float]:
        return {"factor": self.factor, "ks_after": self.ks_after}


def fit_scale(real: np.ndarray, fake: np.ndarray, max_ks: float) -> ScaleFit:
    """Estimate a constant factor between the positive values of two samples."""
    real = np.log(real[real > 0])
    fake = np.log(fake[fake > 0])
    if real.size == 0 or fake.size == 0:
        return ScaleFit(math.nan, math.nan, max_ks)
    shift = float(
        np.median(np.quantile(fake, _SHIFT_QUANTILES) - np.quantile(real, _SHIFT_QUANTILES))
    )
    return ScaleFit(
        factor=math.exp(shift),
        ks_after=slack_ks(real, fake - shift, math.log1p(_SLACK)),
        max_ks=max_ks,
    )


def slack_ks(a: np.ndarray, b: np.ndarray, slack: float) -> float:
    """KS distance allowing each value to move by up to `slack` (a Lévy-type distance).

    max over x of F_b(x) − F_a(x + slack) and F_a(x) − F_b(x + slack): 0 for two samples
    that differ only by shifts smaller than `slack`, the plain KS distance when slack is 0.
    """
    a = np.sort(a)
    b = np.sort(b)
    grid = np.concatenate([a, b])

    def cdf(sample: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.searchsorted(sample, x, side="right") / sample.size

    return float(
        max(
            np.max(cdf(b, grid) - cdf(a, grid + slack)),
            np.max(cdf(a, grid) - cdf(b, grid + slack)),
        )
    )


def run(ctx: StageContext) -> StageResult:
    """Stage 6 on the context's eval dump."""
    result = CHECKS.new_result()
    loaded = ctx.loaded("eval")
    if loaded is None:
        return CHECKS.skip_all(result, "no eval dump given")
    if not loaded.ok:
        problem = str(loaded.error) if loaded.error is not None else "empty eval dump"
        result.checks = [
            spec.check(
                "error",
                measured=problem,
                expected="a usable eval dump (docs/artifacts.md#eval-dump)",
                message=f"The eval dump cannot be used: {problem}.",
            )
            for spec in CHECKS.specs
        ]
        return result
    dump: EvalDump = loaded.usable
    tol = ctx.settings.tolerances
    if dump.undecided is not None:
        return _undecided(result, dump, dump.undecided, tol, ctx.cache_arrays())
    ctx.tick(Stage.INTEGRATION, 0.1, "pooled Δt and velocity statistics")
    dt_gate, vel_gate = timing_gates(dump.real, dump.fake, tol.gate_rel)
    dt_fit = fit_scale(dump.real.valid_dt(), dump.fake.valid_dt(), tol.scale_fit_ks)
    step_fit = fit_scale(
        dump.real.step_lengths[dump.real.mask],
        dump.fake.step_lengths[dump.fake.mask],
        tol.scale_fit_ks,
    )
    vel_fit = fit_scale(dump.real.velocities(), dump.fake.velocities(), tol.scale_fit_ks)
    result.checks = [
        _dt_median_check(dt_gate, dump),
        _vel_check(vel_gate, vel_fit, dt_fit, step_fit, tol),
        _renormalization_check(dump, dt_fit, tol),
        _fake_generated_check(dump, ctx.cache_arrays()),
        _dt_pairing_check(dump, ctx.settings.seed),
        _real_vs_cache_check(ctx, dump, tol),
        _log_dt_ks_check(dump, tol),
        _length_ks_check(dump, tol),
    ]
    ctx.tick(Stage.INTEGRATION, 0.4, "classifier two-sample test")
    c2st_check, c2st_figures = _c2st_check(dump, (dt_gate, vel_gate), ctx.settings.seed, tol)
    result.checks.append(c2st_check)
    result.stats = _stats(dump, dt_gate, vel_gate, dt_fit, step_fit, vel_fit, c2st_figures)
    result.figures = _key_figures(dt_gate, vel_gate, c2st_figures)
    result.figures += [  # a side given normalized: both readings (docs/artifacts.md#eval-dump)
        f"{side} Δt median {fmt(r['denormalized']['dt_median'])} denormalized, "
        f"{fmt(r['as_stored']['dt_median'])} as stored (nearer: {r['nearer']})"
        for side, r in dump.readings.items()
    ]
    result.plots = _plots(dump)
    return result


def _undecided(
    result: StageResult,
    dump: EvalDump,
    question: str,
    tol: Tolerances,
    cache: CacheArrays | None,
) -> StageResult:
    """A side that may hold points or steps: the checks that read its steps (Δt median and
    zeros, velocities, lengths, and C2ST behind them) skip with the question; what the two
    readings share is still checked: whether fake rows copy real ones (both sides are read
    the same way, and a copy is one either way), and, where only xy is open, each row's Δt
    sum and the positive Δt (re-normalization). Where Δt itself is open (a channel of
    per-step Δt or of times), no figure of Δt is the same under both readings."""
    reason = f"how to read the eval dump is open: {question}"
    shared = {FAKE_GENERATED.id: _fake_generated_check(dump, cache)}
    if not dump.dt_open:
        dt_fit = fit_scale(dump.real.valid_dt(), dump.fake.valid_dt(), tol.scale_fit_ks)
        shared[RENORMALIZATION.id] = _renormalization_check(dump, dt_fit, tol)
    result.checks = [shared.get(spec.id) or spec.skipped(reason) for spec in CHECKS.specs]
    result.stats = {
        "rows": {"real": dump.real.n_rows, "fake": dump.fake.n_rows},
        "undecided": question,
        "fake_duration_given": dump.fake_duration is not None,
    }
    return result


def _dt_median_check(gate: Gate, dump: EvalDump) -> Check:
    """The gate over steps with Δt > 0; the zero-Δt steps are their own finding."""
    zeros = {"real": dump.real.n_zero_dt(), "fake": dump.fake.n_zero_dt()}
    steps = {"real": int(dump.real.mask.sum()), "fake": int(dump.fake.mask.sum())}
    shares = {"real": dump.real.zero_dt_share(), "fake": dump.fake.zero_dt_share()}
    zero_text = (
        f"Δt = 0 on {shares['real']:.0%} of real steps ({zeros['real']:,} of {steps['real']:,})"
        f" and {shares['fake']:.0%} of fake steps ({zeros['fake']:,} of {steps['fake']:,})"
    )
    if shares["real"] > 0 and shares["fake"] == 0:
        zero_text += (
            ": real timestamps repeat (duplicate events) and a profile head never gives a "
            "step exactly 0, so the gate compares steps with Δt > 0 and expects fake steps "
            f"{fmt(gate.expected)}× real (the same durations over more steps)"
        )
    verdict = "within" if gate.passed else "outside"
    return DT_MEDIAN.check(
        "pass" if gate.passed else "fail",
        measured={**gate.as_dict(), "zero_dt": zeros, "steps": steps, "zero_share": shares},
        expected=f"fake within ±{fmt(gate.tol * 100)}% of real, over steps with Δt > 0",
        message=f"Fake {gate.describe()}: {verdict} the gate; {zero_text}.",
    )


def _vel_check(gate: Gate, vel: ScaleFit, dt: ScaleFit, step: ScaleFit, tol: Tolerances) -> Check:
    # a constant factor is one the gate's own figure shows too: the deciles' factor beside
    # a p95 ratio far from it is no constant factor, whatever the KS left
    constant = (
        vel.off(tol.scale_factor_rel)
        and gate.ratio > 0
        and abs(math.log(gate.ratio / vel.factor)) <= math.log1p(tol.scale_factor_rel)
    )
    cause = _velocity_cause(vel, dt, step, tol) if constant else None
    measured: dict[str, Any] = {**gate.as_dict(), "factor": vel.as_dict(), "cause": cause}
    sentence = f"Fake {gate.describe()}"
    if constant:
        sentence += f"; fake velocities are a constant {fmt(vel.factor)}× real"
        if cause == "paths":
            sentence += (
                f": the fake step lengths are {fmt(step.factor)}× real while Δt agree, so the "
                "paths look left in normalized units"
            )
        elif cause == "dt":
            sentence += (
                f", which follows from the fake Δt being {fmt(dt.factor)}× real (see "
                "integration.renormalization)"
            )
        elif cause == "both":
            sentence += (
                f": step lengths are {fmt(step.factor)}× and Δt {fmt(dt.factor)}× real "
                "(paths in other units and Δt re-scaled)"
            )
        else:
            sentence += (
                " (the step lengths' and Δt's own constant factors, where they have one, do "
                "not account for it)"
            )
    elif vel.off(tol.scale_factor_rel):  # a factor in the deciles that the p95 does not show
        sentence += (
            f"; the velocities' deciles are {fmt(vel.factor)}× real but their p95 "
            f"{fmt(gate.ratio)}×: no single factor explains it"
        )
    elif not gate.passed:
        sentence += (
            f"; no single factor explains it (KS {fmt(vel.ks_after)} left after dividing out "
            f"{fmt(vel.factor)}): the speeds differ in shape, not only in units"
        )
    return VEL_P95.check(
        "pass" if gate.passed else "fail",
        measured=measured,
        expected=f"fake within ±{fmt(gate.tol * 100)}% of real",
        message=sentence + ".",
    )


def _velocity_cause(vel: ScaleFit, dt: ScaleFit, step: ScaleFit, tol: Tolerances) -> str | None:
    """Which scale a constant velocity factor comes from: "paths", "dt", "both" or None.

    log vel-factor ≈ log step-factor − log Δt-factor; a component counts when it is itself
    constant (a unit is; a Δt factor that does not explain Δt explains nothing) and beyond
    ±`scale_factor_rel`; the components that count must account for the velocities' factor
    (within the same ±), else none is the cause; when both count, one that is twice the
    other's size is the cause.
    """
    if not vel.off(tol.scale_factor_rel):
        return None
    threshold = math.log1p(tol.scale_factor_rel)
    log_paths = math.log(step.factor) if step.constant else 0.0
    log_times = math.log(dt.factor) if dt.constant else 0.0
    log_paths = log_paths if abs(log_paths) > threshold else 0.0
    log_times = log_times if abs(log_times) > threshold else 0.0
    if abs(math.log(vel.factor) - (log_paths - log_times)) > threshold:
        return None
    paths, times = abs(log_paths), abs(log_times)
    if paths == 0.0 and times == 0.0:
        return None
    if paths >= 2 * times:
        return "paths"
    if times >= 2 * paths:
        return "dt"
    return "both"


def _renormalization_check(dump: EvalDump, dt_fit: ScaleFit, tol: Tolerances) -> Check:
    """About Δt only: sums that miss the sampled durations, a fixed total, a constant factor."""
    findings: list[str] = []
    status: Status = "pass"
    fake_sums = dump.fake.durations
    measured: dict[str, Any] = {"dt_factor": dt_fit.as_dict()}
    sums_match = False
    if dump.fake_duration is not None:
        ratio = fake_sums / dump.fake_duration
        off = np.abs(ratio - 1.0) > tol.dt_sum_rel
        share = float(off.mean())
        measured["rows_off_duration"] = {"share": share, "rows": int(off.sum())}
        measured["sum_over_duration_median"] = float(np.median(ratio))
        sums_match = not off.any()
        if share > _ROWS_OFF_FAIL:
            status = "fail"
            findings.append(
                f"fake Δt do not sum to fake_duration on {fmt(share * 100)}% of rows (median "
                f"sum/duration {fmt(float(np.median(ratio)))})"
            )
        elif off.any():
            status = "warn"
            findings.append(
                f"{int(off.sum())} fake rows do not sum to their fake_duration (beyond "
                f"±{fmt(tol.dt_sum_rel * 100)}%)"
            )
    fixed_total = _fixed_total(fake_sums, dump.real.durations)
    if fixed_total is not None:
        measured["fixed_total"] = fixed_total
        status = "fail"
        findings.append(
            f"every fake sequence's Δt sum to the same total {fmt(fixed_total)} while real "
            "durations vary: each sequence was re-normalized to a fixed length"
        )
    if dt_fit.off(tol.scale_factor_rel):
        if sums_match:
            findings.append(
                f"fake Δt are a constant {fmt(dt_fit.factor)}× real, but they sum to the sampled "
                "durations: the durations themselves are off (compare stage 5), not a "
                "re-normalization"
            )
        else:
            status = "fail"
            findings.append(
                f"fake Δt are a constant {fmt(dt_fit.factor)}× real (KS {fmt(dt_fit.ks_after)} "
                "left once it is divided out): each fake path's Δt re-normalized to a fixed "
                "total after they were assigned"
            )
    if not findings:
        if dump.fake_duration is not None:
            findings.append("fake Δt sum to fake_duration on every row")
        within = math.isfinite(dt_fit.factor) and abs(dt_fit.factor - 1.0) <= tol.scale_factor_rel
        why = (
            f"within ±{fmt(tol.scale_factor_rel * 100)}%"
            if within
            else f"not explaining the difference: KS {fmt(dt_fit.ks_after)} left after "
            "dividing it out"
        )
        findings.append(
            f"no constant factor between fake and real Δt (estimated {fmt(dt_fit.factor)}, {why})"
        )
    return RENORMALIZATION.check(
        status,
        measured=measured,
        expected=(
            f"fake Δt sum to fake_duration (±{fmt(tol.dt_sum_rel * 100)}%), no fixed total, no "
            f"constant factor beyond ±{fmt(tol.scale_factor_rel * 100)}% against real Δt"
        ),
        message=_sentence(findings),
    )


def _sentence(parts: list[str]) -> str:
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."


def _fixed_total(fake_sums: np.ndarray, real_sums: np.ndarray) -> float | None:
    """The common total when every fake row sums to the same value and real rows do not."""
    if fake_sums.size < 2:
        return None

    def spread(values: np.ndarray) -> float:
        centre = float(np.median(values))
        return float(np.max(np.abs(values - centre))) / centre if centre > 0 else math.inf

    if spread(fake_sums) <= _FIXED_TOTAL_SPREAD < spread(real_sums):
        return float(np.median(fake_sums))
    return None


def _fake_generated_check(dump: EvalDump, cache: CacheArrays | None = None) -> Check:
    """The fake side is generated: its sequences are not real rows, neither the eval's own
    real side (an eval that scores the data against itself) nor rows of the cache (a fake
    side filled from the training data): either passes every gate and the C2ST."""
    fake = row_keys(dump.fake.dt, dump.fake.mask)
    of_real = set(row_keys(dump.real.dt, dump.real.mask))
    of_cache = keys_in_cache(fake, cache) if cache is not None else set()
    real_copies = sum(key in of_real for key in fake)
    cache_copies = sum(key in of_cache for key in fake)
    copies = sum(key in of_real or key in of_cache for key in fake)
    share = copies / len(fake) if fake else 0.0
    sources = "the eval's real side" + (" or the cache" if cache is not None else "")
    measured = {
        "copies": copies,
        "rows": len(fake),
        "share": share,
        "of_real_side": real_copies,
        "of_cache": cache_copies if cache is not None else None,
        "compared_with": sources,
    }
    expected = (
        f"fewer than {COPY_SHARE_WARN:.0%} of fake sequences equal to a row of {sources} (Δt "
        f"at {COPY_RESOLUTION_S:g} s; fail from {COPY_SHARE_FAIL:.0%})"
    )
    if share < COPY_SHARE_WARN:
        return FAKE_GENERATED.check(
            "pass",
            measured,
            expected,
            f"{copies:,} fake sequences are copies of a row of {sources}"
            + (" (coincidences of short rows on a clock's lattice)." if copies else "."),
        )
    whose = (
        "the eval's real side"
        if real_copies >= cache_copies
        else "the cache (real data the model was trained on, not the eval's real side)"
    )
    return FAKE_GENERATED.check(
        "fail" if share >= COPY_SHARE_FAIL else "warn",
        measured,
        expected,
        f"{copies:,} of {len(fake):,} fake sequences ({share:.0%}) have exactly the Δt of a row "
        f"of {whose} ({real_copies:,} of the eval's real side"
        + (f", {cache_copies:,} of the cache" if cache is not None else "")
        + ")"
        + (
            ": the fake side is real data, not generated, so every gate and the C2ST compare "
            "the data with itself."
            if share >= COPY_SHARE_FAIL
            else ": part of the fake side is real data."
        ),
    )


def _dt_pairing_check(dump: EvalDump, seed: int) -> Check:
    """Δt paired with the points' own steps: the fake side's coupling of step length and Δt
    has the real side's shape over lags with no shift, not with Δt shifted by one step
    (numerics/pairing.py). A shift keeps every pooled distribution, so no gate sees it."""
    expected = (
        "the fake side's step-length/Δt coupling over lags closest to the real one's with no "
        f"shift (a one-step shift fails when it is closer by {PAIRING_Z:g} bootstrap standard "
        f"errors and at least {fmt(PAIRING_MIN_GAIN)}, explaining half the gap or more)"
    )
    sides = {}
    for side in (dump.real, dump.fake):
        rows = side.lengths >= PAIRING_MIN_STEPS
        if int(rows.sum()) < MIN_SUPPORT:
            return DT_PAIRING.skipped(
                f"{int(rows.sum())} {side.name} sequences of {PAIRING_MIN_STEPS} steps or more; "
                f"the Δt pairing is judged from {MIN_SUPPORT}"
            )
        sides[side.name] = lag_parts(side.step_lengths[rows], side.dt[rows], side.mask[rows])
    found = pairing(sides["real"], sides["fake"], seed)
    measured = found.as_dict()
    at = {s: fmt(d) for s, d in found.distance.items()}
    shifted = _pairing_shifted(found)
    if shifted:
        direction = "next" if found.shift > 0 else "previous"
        return DT_PAIRING.check(
            "fail",
            measured,
            expected,
            f"Fake Δt are shifted by one step against the points: each step's length goes with "
            f"the {direction} step's Δt the way real steps go with their own (the lag profile "
            f"of step length against Δt is {at[found.shift]} from real once fake Δt are moved "
            f"{found.shift:+d} step, {at[0]} unshifted; gain {fmt(found.gain)} ± "
            f"{fmt(found.gain_se)}): Δt were assigned to the wrong steps (an off-by-one "
            "between the Δt and xy columns).",
        )
    return DT_PAIRING.check(
        "pass",
        measured,
        expected,
        f"Fake Δt go with their own steps' points: the lag profile of step length against Δt is "
        f"{at[0]} from real unshifted, {at[-1]} and {at[1]} shifted by one step either way.",
    )


def _pairing_shifted(found: Pairing) -> bool:
    """A one-step shift explains the fake side's coupling beyond noise, by a clear margin."""
    return (
        found.z >= PAIRING_Z
        and found.gain >= PAIRING_MIN_GAIN
        and found.distance[found.shift] <= found.distance[0] / 2
    )


def _real_vs_cache_check(ctx: StageContext, dump: EvalDump, tol: Tolerances) -> Check:
    """The eval's real sequences against the cache they should come from (warn only): an
    eval whose real data were cut or cleaned differently makes every gate compare the
    wrong things."""
    cache = ctx.timing_cache()
    if cache is None:
        return REAL_VS_CACHE.skipped(ctx.cache_unavailable_reason())
    rows = draw_rows(cache.n_rows, min(cache.n_rows, REAL_VS_CACHE_ROWS), ctx.settings.seed)
    profile = cache.profile[rows].double()
    valid = torch.arange(cache.max_len)[None, :] < cache.length[rows].long()[:, None]
    cache_dt = (cache.duration[rows].double()[:, None] * profile)[valid].numpy()
    found = real_vs_cache(
        dump.real.valid_dt(), dump.real.lengths, cache_dt, cache.length[rows].numpy()
    )
    differences = found.findings(
        tol.real_cache_dt_rel,
        tol.real_cache_zero_factor,
        tol.real_cache_zero_points,
        tol.real_cache_length_ks,
    )
    measured = {**found.as_dict(), "differences": differences}
    expected = (
        f"the eval's real sequences like the cache's rows: Δt median within "
        f"{tol.real_cache_dt_rel:.0%}, share of Δt = 0 steps within "
        f"{tol.real_cache_zero_factor:g}× (or {tol.real_cache_zero_points:.0%} points), "
        f"length KS ≤ {fmt(tol.real_cache_length_ks)} (warning only)"
    )
    if differences:
        return REAL_VS_CACHE.check(
            "warn",
            measured,
            expected,
            "The eval's real sequences differ from the cache's rows: "
            + "; ".join(differences)
            + ". Every gate above compares the fake side with these real sequences: check "
            "that they are the data you meant to compare with (the same cut and cleaning; "
            "other sessions of the same users can differ this much too).",
        )
    return REAL_VS_CACHE.check(
        "pass",
        measured,
        expected,
        f"The eval's real sequences look like the cache (Δt median {fmt(found.dt_median[0])} vs "
        f"{fmt(found.dt_median[1])} s, Δt = 0 on {found.zero_share[0]:.0%} vs "
        f"{found.zero_share[1]:.0%} of steps).",
    )


def _log_dt_ks_check(dump: EvalDump, tol: Tolerances) -> Check:
    # KS is invariant under monotone maps, so this is the KS of log Δt with Δt = 0 as -inf.
    ks = ks_distance(dump.real.valid_dt(), dump.fake.valid_dt())
    return LOG_DT_KS.check(
        "pass" if ks <= tol.ks_warn else "warn",
        measured={"ks": ks},
        expected=f"KS ≤ {fmt(tol.ks_warn)} (warning only)",
        message=f"KS distance between real and fake log Δt is {fmt(ks)}"
        + (" (the distributions differ)." if ks > tol.ks_warn else "."),
    )


def _length_ks_check(dump: EvalDump, tol: Tolerances) -> Check:
    real, fake = dump.real.lengths, dump.fake.lengths
    ks = ks_distance(real, fake)
    return LENGTH_KS.check(
        "pass" if ks <= tol.ks_warn else "warn",
        measured={"ks": ks, "mean_real": float(real.mean()), "mean_fake": float(fake.mean())},
        expected=f"KS ≤ {fmt(tol.ks_warn)} (warning only)",
        message=(
            f"KS distance between real and fake sequence lengths is {fmt(ks)} (mean "
            f"{fmt(float(real.mean()))} vs {fmt(float(fake.mean()))} steps)"
            + (": the eval draws lengths differently." if ks > tol.ks_warn else ".")
        ),
    )


def _c2st_check(
    dump: EvalDump, gates: tuple[Gate, Gate], seed: int, tol: Tolerances
) -> tuple[Check, dict[str, Any] | None]:
    expected = f"p ≥ {fmt(tol.c2st_alpha)} (a classifier cannot tell real from fake)"
    failing = [g for g in gates if not g.passed]
    if failing:
        names = " and ".join(f"integration.{g.name} (fake/real {fmt(g.ratio)})" for g in failing)
        reason = f"not computed because the {names} gate failed; fix that first"
        return C2ST.check("skip", None, expected, f"Skipped: {reason}."), None
    n = min(dump.real.n_rows, dump.fake.n_rows)
    if n < c2st.MIN_ROWS_PER_CLASS:
        reason = f"{n} sequences per side; C2ST needs at least {c2st.MIN_ROWS_PER_CLASS}"
        return C2ST.check("skip", None, expected, f"Skipped: {reason}."), None
    outcome = c2st.compare(dump.real, dump.fake, seed)
    figures = outcome.as_dict()
    told_apart = outcome.p_value < tol.c2st_alpha
    text = (
        f"Held-out accuracy {fmt(outcome.accuracy)}, AUC {fmt(outcome.auc)}, one-sided p = "
        f"{fmt(outcome.p_value)} on {outcome.n_test:,} + {outcome.n_test:,} held-out sequences"
    )
    if told_apart:
        text += ": a classifier tells real from fake (the final score, not a structural fault)"
    else:
        text += ": no detectable difference"
    return (
        C2ST.check("warn" if told_apart else "pass", figures, expected, text + "."),
        figures,
    )


def _stats(
    dump: EvalDump,
    dt_gate: Gate,
    vel_gate: Gate,
    dt_fit: ScaleFit,
    step_fit: ScaleFit,
    vel_fit: ScaleFit,
    c2st_figures: dict[str, Any] | None,
) -> dict[str, Any]:
    stats: dict[str, Any] = {
        "rows": {"real": dump.real.n_rows, "fake": dump.fake.n_rows},
        "xy_form": {"real": dump.real.xy_form, "fake": dump.fake.xy_form},
        "dt_median": dt_gate.as_dict(),
        "vel_p95": vel_gate.as_dict(),
        "zero_dt": {"real": dump.real.n_zero_dt(), "fake": dump.fake.n_zero_dt()},
        "factors": {"dt": dt_fit.as_dict(), "step": step_fit.as_dict(), "vel": vel_fit.as_dict()},
        "fake_duration_given": dump.fake_duration is not None,
    }
    if dump.notes:
        stats["notes"] = list(dump.notes)
    if dump.readings:
        stats["readings"] = dump.readings
    if c2st_figures is not None:
        stats["c2st"] = c2st_figures
    return stats


def _key_figures(dt_gate: Gate, vel_gate: Gate, c2st_figures: dict[str, Any] | None) -> list[str]:
    figures = [
        f"Δt median fake/real {fmt(dt_gate.ratio)}",
        f"|vel| p95 fake/real {fmt(vel_gate.ratio)}",
    ]
    if c2st_figures is not None:
        figures.append(
            f"C2ST acc {fmt(c2st_figures['accuracy'])}, AUC {fmt(c2st_figures['auc'])}, "
            f"p {fmt(c2st_figures['p_value'])}"
        )
    else:
        figures.append("C2ST not computed (see integration.c2st)")
    return figures


def _plots(dump: EvalDump) -> list[Plot]:
    real_dt, fake_dt = dump.real.valid_dt(), dump.fake.valid_dt()
    dt_edges = log_edges(np.concatenate([real_dt, fake_dt]), 40)
    real_vel, fake_vel = dump.real.velocities(), dump.fake.velocities()
    vel_edges = log_edges(np.concatenate([real_vel, fake_vel]), 40)
    longest = int(max(dump.real.lengths.max(), dump.fake.lengths.max()))
    width = max(1, longest // 40)
    length_edges = np.arange(0.5, longest + 0.5 + width, width)
    return [
        Plot(
            title="Δt per step (s), valid steps with Δt > 0",
            kind="hist",
            series=[histogram("real", real_dt, dt_edges), histogram("fake", fake_dt, dt_edges)],
            xlabel="Δt (s)",
            ylabel="steps",
            log_x=True,
        ),
        Plot(
            title="|vel| per step",
            kind="hist",
            series=[
                histogram("real", real_vel, vel_edges),
                histogram("fake", fake_vel, vel_edges),
            ],
            xlabel="|Δxy| / Δt",
            ylabel="steps",
            log_x=True,
        ),
        Plot(
            title="Sequence length (steps)",
            kind="hist",
            series=[
                histogram("real", dump.real.lengths.astype(float), length_edges),
                histogram("fake", dump.fake.lengths.astype(float), length_edges),
            ],
            xlabel="steps",
            ylabel="sequences",
        ),
    ]
