"""Stage 3, model architecture (step 3 of docs/README.md#the-plan): can this timing head represent
the cache?

- `model.load`: which layout, which model (the reference head, the user's `--model`, or a
  static reading of shapes), and which config keys were inferred rather than stored;
- `model.conditioning`: the backbone takes the cache's conditioning vector (same width,
  same feature names, the diffusion model's width when known), not only Δt statistics;
- `model.profile_capacity`: the capacity probe (model/capacity.py) fits the checkpoint's
  parameterization and each healthy alternative briefly on the cache and says whether the
  architecture can reach the cache's shape, and which parameterization fits best;
- `model.duration_fit`: the checkpoint's duration NLL per row on held-out cache rows against
  a duration head fitted briefly on the same features (model/duration_fit.py), with what
  the gap is made of (μ bias, a σ scale, μ not following the features): an undertrained
  head or one trained on other data cannot pass by matching pooled quantiles;
- `model.duration_head`: (μ, log σ) on real rows; no bound binds (a config clamp, or log σ
  piled at the edge of a bounded range such as base + range·tanh(z) while the data need
  another σ) and σ is within ½× to 2× of the spread of the real residuals log d − μ;
- `model.length_masking`: no profile mass on steps beyond each row's length.
"""

from __future__ import annotations

import math
import re
from typing import Any

import torch

from tui_timing.artifacts.cache import TimingCache
from tui_timing.artifacts.checkpoint import CheckpointArtifact
from tui_timing.artifacts.checkpoint_config import WIDTH_QUESTION
from tui_timing.config import Tolerances
from tui_timing.findings import Check, Plot, Series, StageResult
from tui_timing.model.capacity import ProbeBudget, ProbeResult, probe_rows, run_probe
from tui_timing.model.checkpoint import reference_config
from tui_timing.model.duration_fit import DurationFit, Pinning, run_duration_fit, sigma_pinning
from tui_timing.model.heads import HeadOutputs
from tui_timing.model.sample import draw_rows, predict_rows
from tui_timing.model.train import resolve_device
from tui_timing.numerics.fmt import fmt
from tui_timing.stages.catalog import Stage
from tui_timing.stages.checks import PADDING, CheckSpec, StageChecks
from tui_timing.stages.context import StageContext


def _duration_figure(m: dict[str, Any]) -> str | None:
    """Where a bound holds log σ when one binds, else σ against the residual spread."""
    bound = m.get("bound")
    if isinstance(bound, dict):
        return (
            f"log σ at {bound['where']} {fmt(bound['log_sigma'])} on {bound['share']:.0%} of "
            f"rows, the data need ≈ {fmt(m['needed_log_sigma'])}"
        )
    if "sigma_ratio" in m:
        return f"σ {fmt(m['sigma_ratio'])} × the residual spread"
    return None


def _fit_figure(m: dict[str, Any]) -> str | None:
    """How much worse (or better) per row than the probe, and the μ bias."""
    gap = float(m["gap"])
    than = "worse" if gap >= 0 else "better"
    return f"{fmt(abs(gap))} nats/row {than} than a brief fit, μ bias {m['mu_bias']:+.2f}"


#: Stage 3's checks, in report order.
LOAD = CheckSpec("model.load", "load")
CONDITIONING = CheckSpec(
    "model.conditioning",
    "structural",
    figure=lambda m: f"model takes {m['model_cond_dim']}, cache gives {m['cache_feature_dim']}",
)
PROFILE_CAPACITY = CheckSpec(
    "model.profile_capacity",
    "structural",
    figure=lambda m: f"best {m['best']}, held-out KL {fmt(m['best_kl'])}",
    tolerances=("capacity_margin", "first_bin_rel", "bin_factor", "profile_abs_floor"),
)
DURATION_FIT = CheckSpec(
    "model.duration_fit",
    "structural",
    figure=_fit_figure,
    tolerances=("duration_fit_margin",),
)
DURATION_HEAD = CheckSpec(
    "model.duration_head",
    "structural",
    figure=_duration_figure,
    tolerances=("clamp_share", "sigma_ratio_min", "sigma_ratio_max", "pinned_share"),
)
LENGTH_MASKING = CheckSpec(
    "model.length_masking",
    "structural",
    figure=lambda m: f"{float(m['mean']):.0%} of the profile mass on padding",
    tolerances=("padding_mass",),
    roles=frozenset({PADDING}),
)
CHECKS = StageChecks(
    Stage.MODEL,
    (LOAD, CONDITIONING, PROFILE_CAPACITY, DURATION_FIT, DURATION_HEAD, LENGTH_MASKING),
)

#: ctx.memo key of the probe's fits on the context's cache (a run compared with another, or
#: switched in the TUI, reuses the fits of the configurations it shares).
PROBE_MEMO = "capacity_fits"

#: Feature names that describe timing rather than the path (they leak the target).
_DT_NAME = re.compile(
    r"(^|[^a-z])(dt|delta_?t|durations?|dur|times?|timing|intervals?|pauses?)([^a-z]|$)"
)
#: Of those, the statistics of the row's own Δt or duration (`build-cache --dt-features`
#: writes dt_mean, dt_std, dt_zero_share): the target itself, summarized, in the input.
_OWN_DT = re.compile(r"(^|[^a-z])(dt|delta_?t|durations?|dur)([^a-z]|$)")


def run(ctx: StageContext) -> StageResult:
    """Stage 3 on the context's checkpoint (and cache, for everything but loading)."""
    result = CHECKS.new_result()
    loaded = ctx.loaded("checkpoint")
    if loaded is None:
        return CHECKS.skip_all(result, "no checkpoint given")
    if loaded.error is not None:
        return CHECKS.unusable(
            result,
            loaded.error,
            "checkpoint",
            expected="a checkpoint whose weights fit the model (docs/artifacts.md#checkpoint)",
        )
    ckpt: CheckpointArtifact = loaded.usable
    cache = ctx.timing_cache()
    tol = ctx.settings.tolerances
    result.checks = [_load_check(ckpt), _conditioning_check(ckpt, cache)]
    result.stats["checkpoint"] = {
        "layout": ckpt.layout,
        "source": ckpt.source,
        "epoch": ckpt.epoch,
        "config": ckpt.config,
        "inferred": sorted(ckpt.inferred),
    }
    if cache is None:
        reason = ctx.cache_unavailable_reason()
        result.checks += CHECKS.skipped_after(CONDITIONING, reason)
        result.figures = _figures(result.stats)
        return result

    probe = run_probe(
        cache,
        reference_config(ckpt),
        seed=ctx.settings.seed,
        margin=tol.capacity_margin,
        first_rel=tol.first_bin_rel,
        bin_factor=tol.bin_factor,
        floor=tol.profile_abs_floor,
        on_candidate=lambda done, total, name: ctx.tick(
            Stage.MODEL, done / total, f"capacity probe: fitting {name}"
        ),
        fitted=ctx.memo.setdefault((PROBE_MEMO, id(cache)), {}),
    )
    result.checks.append(_capacity_check(ckpt, probe, tol))
    result.stats.update(_probe_stats(probe))
    result.plots = _probe_plots(probe)

    outputs, why_not, ran = _outputs_on_cache(ctx, ckpt, cache)
    if ran and outputs is None:  # the model ran and gave nothing usable: a fault, not a skip
        after = "the model's forward gave no usable outputs (see model.duration_head)"
        result.checks += [
            DURATION_FIT.skipped(after),
            DURATION_HEAD.errored(why_not),
            LENGTH_MASKING.skipped(after),
        ]
    elif outputs is None or ckpt.model is None:
        result.checks += [
            DURATION_FIT.skipped(why_not),
            _duration_static(ckpt, why_not),
            LENGTH_MASKING.skipped(why_not),
        ]
    else:
        ctx.tick(Stage.MODEL, 0.95, "duration-fit probe")
        fit = _duration_fit(ctx, ckpt, ckpt.model, cache)
        rows_real = cache.log_duration[outputs[1]].double()
        duration_check, duration_stats = _duration_check(ckpt, outputs[0], rows_real, tol)
        masking_check, padding_stats = _masking_check(outputs[0], cache.length[outputs[1]], tol)
        if isinstance(fit, str):
            result.checks.append(DURATION_FIT.skipped(fit))
        else:
            result.checks.append(_fit_check(fit, tol))
            result.stats["duration_fit"] = fit.as_dict()
        result.checks += [duration_check, masking_check]
        result.stats["duration"] = duration_stats
        result.stats["padding"] = padding_stats
        if outputs[0].extras:
            result.stats["extra_outputs"] = _extra_stats(outputs[0].extras)
    result.figures = _figures(result.stats)
    return result


def _load_check(ckpt: CheckpointArtifact) -> Check:
    how = {
        "reference": "the reference TimingHead",
        "factory": "your model",
        "static": "no model (unknown parameter names): read statically from the weight shapes",
    }[ckpt.source]
    inferred = ", ".join(f"{k} ({v})" for k, v in ckpt.inferred.items())
    message = f"Loaded a {ckpt.layout} into {how}"
    if inferred:
        message += f"; inferred: {inferred}."
    else:  # nothing inferred: stored, unless there was no config at all to store it
        message += "; every config key was stored." if ckpt.config_origin else "."
    if ckpt.notes:
        message += " " + "; ".join(note[0].upper() + note[1:] for note in ckpt.notes) + "."
    defaults = ckpt.source == "factory" and ckpt.config_origin is None
    if defaults:
        message += (
            " No config was found (none in the file, no config.json beside the weights): "
            "the model was built from your factory's defaults, which may not be the "
            "settings it was trained with."
        )
    return LOAD.check(
        "warn" if ckpt.source == "static" or defaults else "pass",
        measured={
            "layout": ckpt.layout,
            "model": ckpt.source,
            "epoch": ckpt.epoch,
            "inferred": dict(ckpt.inferred),
        },
        expected="a checkpoint whose weights fit the model (docs/artifacts.md#checkpoint)",
        message=message,
    )


def _conditioning_check(ckpt: CheckpointArtifact, cache: TimingCache | None) -> Check:
    cond_dim = ckpt.cond_dim_for(cache.feature_dim) if cache is not None else ckpt.cond_dim
    diffusion = ckpt.config.get("diffusion_cond_dim")
    model_names = ckpt.config.get("feature_names")
    cache_names = cache.feature_names if cache is not None and _named(cache) else None
    measured: dict[str, Any] = {
        "model_cond_dim": cond_dim,
        "cache_feature_dim": cache.feature_dim if cache is not None else None,
        "diffusion_cond_dim": diffusion,
    }
    expected = "the cache's feature width (and the diffusion model's conditioning width)"
    if cache is None and diffusion is None:
        return CONDITIONING.check(
            "skip",
            measured,
            expected,
            "Skipped: no cache given to compare the model's conditioning with.",
        )
    if cond_dim is None:
        return CONDITIONING.check("skip", measured, expected, f"Skipped: {WIDTH_QUESTION}")
    problems: list[str] = []
    if cache is not None and cond_dim is not None and cache.feature_dim != cond_dim:
        more = "more" if cache.feature_dim > cond_dim else "fewer"
        problems.append(
            f"the cache's features have {cache.feature_dim} columns, {more} than the "
            f"{cond_dim} the model takes"
        )
    if isinstance(diffusion, int) and cond_dim is not None and diffusion != cond_dim:
        problems.append(
            f"the diffusion model conditions on {diffusion} values but the timing head on "
            f"{cond_dim}"
        )
    if isinstance(model_names, list) and cache_names is not None and model_names != cache_names:
        problems.append(_name_difference(model_names, cache_names))
    names = model_names if isinstance(model_names, list) else cache_names
    if names:
        timing = [n for n in names if _DT_NAME.search(str(n).lower())]
        measured["timing_features"] = timing
        own = [n for n in timing if _OWN_DT.search(str(n).lower())]
        if len(timing) == len(names):
            problems.append(
                "every feature is a Δt statistic: the backbone sees no path length or "
                "direction, and the target leaks into its input"
            )
        elif own:
            measured["leaking_features"] = own
            problems.append(
                f"{len(own)} of the features are statistics of the row's own Δt "
                f"({', '.join(map(str, own))}): the target leaks into the conditioning, which "
                "the diffusion model cannot give at generation time (rebuild the cache "
                "without --dt-features)"
            )
    if "cond_dim" in ckpt.inferred:
        measured["cond_dim_inferred"] = ckpt.inferred["cond_dim"]
    if problems:
        return CONDITIONING.check(
            "fail",
            measured,
            expected,
            "The backbone is not fed the conditioning vector: " + "; ".join(problems) + ".",
        )
    return CONDITIONING.check(
        "pass",
        measured,
        expected,
        f"The backbone takes the {cond_dim}-wide conditioning vector the cache provides"
        + (" (names match)" if names else "")
        + ".",
    )


def _named(cache: TimingCache) -> bool:
    names = cache.meta.get("feature_names")
    return isinstance(names, list) and len(names) == cache.feature_dim


def _name_difference(model_names: list[Any], cache_names: list[str]) -> str:
    for i, (a, b) in enumerate(zip(model_names, cache_names, strict=False)):
        if str(a) != b:
            return (
                f"the feature names differ from column {i} on (the model was trained on "
                f"{a!r}, the cache has {b!r})"
            )
    return f"the model names {len(model_names)} features, the cache {len(cache_names)}"


def _capacity_check(ckpt: CheckpointArtifact, probe: ProbeResult, tol: Tolerances) -> Check:
    best = probe.candidates[probe.best]
    measured: dict[str, Any] = {
        "best": probe.best,
        "best_kl": best.profile_kl,
        "checkpoint_config": probe.checkpoint_name,
        "can_fit": probe.can_fit,
        "excess": probe.excess,
        "seconds": probe.seconds,
    }
    expected = (
        f"the checkpoint's configuration reaches the cache's first/mid/last (first within "
        f"{tol.first_bin_rel:.0%}, mid/last within {tol.bin_factor:g}×) and its held-out "
        f"profile KL is within {tol.capacity_margin:.0%} of the best"
    )
    real = probe.real
    shape = f"first/mid/last {fmt(real['first'])}/{fmt(real['mid'])}/{fmt(real['last'])}"
    fit = probe.checkpoint_fit
    if fit is None:
        why = (
            "your own model class"
            if ckpt.source == "factory"
            else "weights read statically (unknown parameter names)"
        )
        return PROFILE_CAPACITY.check(
            "skip",
            measured,
            expected,
            f"Skipped for the checkpoint: its parameterization is unknown to the probe ({why}). "
            f"Of the healthy alternatives, {probe.best} fits the cache best "
            f"(held-out KL {fmt(best.profile_kl)}).",
        )
    assumed = [k for k in ("logit_bound", "mask_padding", "length_input") if k in ckpt.inferred]
    caveat = f" ({', '.join(assumed)} not stored: assumed healthy)" if assumed else ""
    reached = f"{fmt(fit.first)}/{fmt(fit.mid)}/{fmt(fit.last)}"
    if not fit.reaches_shape and not best.reaches_shape:
        return PROFILE_CAPACITY.check(
            "skip",
            measured,
            expected,
            f"Skipped: no configuration reaches the cache's shape {shape} in the probe's brief "
            f"fit (the checkpoint's {fit.name} gives {reached}, the best, {probe.best}, "
            f"{fmt(best.first)}/{fmt(best.mid)}/{fmt(best.last)}), so the probe cannot single "
            "out this one: does the cache's shape rest on a few rows?",
        )
    if not fit.reaches_shape:
        return PROFILE_CAPACITY.check(
            "fail",
            measured,
            expected,
            f"The checkpoint's configuration ({fit.name}){caveat} cannot reach the cache's "
            f"shape: fitted briefly it gives first/mid/last {reached} where the cache has "
            f"{shape}; {probe.best} reaches it (held-out KL {fmt(best.profile_kl)} vs "
            f"{fmt(fit.profile_kl)}). The architecture is the cause.",
        )
    excess = probe.excess or 0.0
    standing = (
        f"fits as well as any candidate (held-out KL {fmt(fit.profile_kl)})"
        if fit.name == probe.best
        else f"its held-out KL is within {max(excess, 0.0):.0%} of the best ({probe.best})"
    )
    if probe.clearly_worse:
        return PROFILE_CAPACITY.check(
            "fail",
            measured,
            expected,
            f"The checkpoint's configuration ({fit.name}){caveat} reaches the cache's shape "
            f"but fits clearly worse than {probe.best}: held-out KL {fmt(fit.profile_kl)} vs "
            f"{fmt(best.profile_kl)}, {excess:.0%} above it (margin {tol.capacity_margin:.0%}).",
        )
    return PROFILE_CAPACITY.check(
        "pass",
        measured,
        expected,
        f"The checkpoint's configuration ({fit.name}){caveat} can fit the cache: it reaches "
        f"first/mid/last {reached} (cache {shape}) and {standing}. The architecture is not "
        "what keeps the profile from matching.",
    )


def _probe_stats(probe: ProbeResult) -> dict[str, Any]:
    """Top-level stats the decision tree reads: best, checkpoint_config, can_fit, configs."""
    return {
        "best": probe.best,
        "checkpoint_config": probe.checkpoint_name,
        "can_fit": probe.can_fit,
        "clearly_worse": probe.clearly_worse,
        "capacity_excess": probe.excess,
        "capacity_margin": probe.margin,
        "configs": {
            name: {
                "profile_kl": fit.profile_kl,
                "first": fit.first,
                "mid": fit.mid,
                "last": fit.last,
                "reaches_shape": fit.reaches_shape,
                "seconds": fit.seconds,
            }
            for name, fit in probe.candidates.items()
        },
        "probe": {
            "real": probe.real,
            "baseline_kl": probe.baseline_kl,
            "rows_fit": probe.rows_fit,
            "rows_eval": probe.rows_eval,
            "seconds": probe.seconds,
        },
    }


def _probe_plots(probe: ProbeResult) -> list[Plot]:
    names = list(probe.candidates)
    positions = [float(i) for i in range(len(names))]
    kl = Plot(
        title="Capacity probe: held-out profile KL per parameterization (lower is better)",
        kind="bar",
        series=[
            Series(name, [x], [probe.candidates[name].profile_kl])
            for name, x in zip(names, positions, strict=True)
        ],
        ylabel="KL (nats)",
        hlines=[("mask only (uniform over valid steps)", probe.baseline_kl)],
        highlight=probe.checkpoint_name,
    )
    first = Plot(
        title="Capacity probe: first bin reached per parameterization",
        kind="bar",
        series=[
            Series(name, [x], [probe.candidates[name].first])
            for name, x in zip(names, positions, strict=True)
        ],
        ylabel="mean profile, bin 0",
        hlines=[("cache", probe.real["first"])],
        highlight=probe.checkpoint_name,
    )
    return [kl, first]


def _outputs_on_cache(
    ctx: StageContext, ckpt: CheckpointArtifact, cache: TimingCache
) -> tuple[tuple[HeadOutputs, torch.Tensor] | None, str, bool]:
    """The model's outputs on a seeded sample of cache rows, or why there are none, and
    whether the model ran (a forward that fails or returns nothing usable is a fault of
    the model; a model that cannot be run on this cache is a reason to skip)."""
    if ckpt.model is None:
        return None, "there is no model to run (give --model module:factory)", False
    if ckpt.cond_dim is not None and ckpt.cond_dim != cache.feature_dim:
        return None, "the cache's features do not fit the model (see model.conditioning)", False
    max_len = ckpt.config.get("max_len")
    if isinstance(max_len, int) and max_len != cache.max_len:
        why = f"the model predicts {max_len} steps but the cache has L = {cache.max_len}"
        return None, why, False
    rows = draw_rows(cache.n_rows, min(cache.n_rows, ctx.settings.samples), ctx.settings.seed)
    try:
        outputs = predict_rows(ckpt.model, cache, rows, resolve_device(ctx.settings.device))
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        return None, f"the model failed on cache rows ({type(exc).__name__}: {exc})", True
    expected = (len(rows), cache.max_len)
    for name, shape in (
        ("profile", tuple(outputs.profile.shape)),
        ("mu", tuple(outputs.mu.shape)),
        ("log_sigma", tuple(outputs.log_sigma.shape)),
    ):
        want = expected if name == "profile" else expected[:1]
        if shape != want:
            return None, f"the model's {name} has shape {list(shape)}, expected {list(want)}", True
    return (outputs, rows), "", True


def _duration_static(ckpt: CheckpointArtifact, why_not: str) -> Check:
    """Without a model to run, the duration head cannot be judged: say what the shapes show
    (a foreign head that cannot be read is `skip`, never `fail`:
    docs/artifacts.md#your-own-repo)."""
    reading = ckpt.static
    if ckpt.source != "static" or reading is None:
        return DURATION_HEAD.skipped(why_not)
    if reading.duration_layer is None:
        seen = "no layer has 2 outputs and no pair of 1-output layers is named like mu / log_std"
    elif " + " in reading.duration_layer:
        seen = f"{reading.duration_layer}, one output each, read as (μ, log σ)"
    else:
        seen = f"{reading.duration_layer} has 2 outputs, read as (μ, log σ)"
    return DURATION_HEAD.skipped(
        f'the weights were read statically ({seen}); give model = "your.module:factory" '
        "in [tool.timing-tui] (or --model) to run them"
    )


def _duration_fit(
    ctx: StageContext, ckpt: CheckpointArtifact, model: torch.nn.Module, cache: TimingCache
) -> DurationFit | str:
    """The duration-fit probe on the capacity probe's own fit and held-out rows (or why it
    could not run)."""
    fit_rows, held_rows = probe_rows(cache.n_rows, ProbeBudget(), ctx.settings.seed)
    try:
        held = predict_rows(model, cache, held_rows, resolve_device(ctx.settings.device))
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        return f"the model failed on the held-out rows ({type(exc).__name__}: {exc})"
    hidden = ckpt.config.get("hidden")
    return run_duration_fit(
        cache,
        held.mu,
        held.log_sigma,
        fit_rows,
        held_rows,
        hidden=hidden if isinstance(hidden, int) and not isinstance(hidden, bool) else 64,
        seed=ctx.settings.seed,
    )


def _fit_check(fit: DurationFit, tol: Tolerances) -> Check:
    measured = {**fit.as_dict(), "margin": tol.duration_fit_margin}
    expected = (
        f"the checkpoint's duration NLL per row on held-out rows at most "
        f"{fmt(tol.duration_fit_margin)} nats above a duration head fitted briefly on the "
        "same features"
    )
    figures = (
        f"{fmt(fit.checkpoint_nll)} nats per row against the probe's {fmt(fit.probe_nll)} on "
        f"{fit.rows_eval:,} held-out rows"
    )
    if not fit.worse(tol.duration_fit_margin):
        return DURATION_FIT.check(
            "pass",
            measured,
            expected,
            f"The checkpoint fits this cache's durations row by row: {figures} (μ bias "
            f"{fit.mu_bias:+.2f}).",
        )
    parts = {
        f"a μ bias of {fit.mu_bias:+.2f} in log-duration (durations {math.exp(fit.mu_bias):.2f}× "
        f"what it predicts) costs {fmt(fit.bias_nats)}": fit.bias_nats,
        f"σ {fmt(1 / fit.sigma_scale)}× what the rows need costs {fmt(fit.sigma_nats)}": (
            fit.sigma_nats
        ),
        f"μ not following the features costs {fmt(fit.rest_nats)}": fit.rest_nats,
    }
    order = sorted(parts, key=lambda text: -parts[text])
    if fit.scaled:
        order.insert(
            0,
            f"μ is a constant {fmt(1 / fit.log_factor)}× log d (scaling μ and σ by "
            f"{fmt(fit.log_factor)} saves {fmt(fit.factor_nats)}"
            + ("; a log10 target is 1/ln 10 = 0.434×" if fit.log10 else "")
            + ")",
        )
    return DURATION_FIT.check(
        "fail",
        measured,
        expected,
        f"The checkpoint does not fit this cache's durations: {figures}, {fmt(fit.gap)} nats "
        f"per row worse. Of the gap, {'; '.join(order)}.",
    )


def _duration_check(
    ckpt: CheckpointArtifact, out: HeadOutputs, log_duration: torch.Tensor, tol: Tolerances
) -> tuple[Check, dict[str, Any]]:
    mu = out.mu.double()
    log_sigma = out.log_sigma.double()
    expected = (
        f"finite (μ, log σ); no bound on log σ binds (< {tol.clamp_share:.0%} of rows at a "
        f"clamp, no pile of ≥ {tol.pinned_share:.0%} of rows at the edge of a range that keeps σ "
        f"from the data); RMS σ within {tol.sigma_ratio_min:g}× to {tol.sigma_ratio_max:g}× the "
        "RMS residual of log-duration"
    )
    if not (torch.isfinite(mu).all() and torch.isfinite(log_sigma).all()):
        bad = int((~torch.isfinite(mu) | ~torch.isfinite(log_sigma)).sum())
        return (
            DURATION_HEAD.check(
                "fail",
                {"nonfinite_rows": bad},
                expected,
                f"{bad} rows get a non-finite μ or log σ.",
            ),
            {"nonfinite_rows": bad},
        )
    share, bound, name = _clamp_share(ckpt, log_sigma)
    residual = float(torch.sqrt(torch.mean((log_duration - mu) ** 2)))
    sigma_rms = float(torch.sqrt(torch.mean(torch.exp(2 * log_sigma))))
    ratio = sigma_rms / residual if residual > 0 else math.inf
    needed = math.log(residual) if residual > 0 else -math.inf
    pin = sigma_pinning(log_sigma)
    stats: dict[str, Any] = {
        "clamp_share": share,
        "clamp_bound": bound,
        "sigma_rms": sigma_rms,
        "residual_rms": residual,
        "sigma_ratio": ratio,
        "needed_log_sigma": needed,
        "pinned": {"log_sigma": pin.value, "share": pin.share, "edge": pin.edge},
        "mu_mean": float(mu.mean()),
        "log_sigma_min": float(log_sigma.min()),
        "log_sigma_max": float(log_sigma.max()),
        "bound": _binding_bound(share, bound, name, pin, residual, tol),
    }
    stats["bound_binds"] = stats["bound"] is not None
    problems = []
    binding = stats["bound"]
    if binding is not None and binding["kind"] == "clamp":
        problems.append(
            f"{share:.0%} of rows have log σ at the clamp {binding['name']} = "
            f"{fmt(binding['log_sigma'])}: the clamp binds and hides the true spread (the data "
            f"need log σ ≈ {fmt(needed)})"
        )
    elif binding is not None:
        problems.append(
            f"log σ sits at its {pin.edge} {fmt(pin.value)} (σ {fmt(math.exp(pin.value))}) on "
            f"{pin.share:.0%} of rows while the residual spread is {fmt(residual)}: a bounded "
            f"range (such as base + range·tanh(z)) holds σ at {fmt(math.exp(pin.value) / residual)}"
            f"× what the data need (log σ ≈ {fmt(needed)})"
        )
    if not tol.sigma_ratio_min <= ratio <= tol.sigma_ratio_max and binding is None:
        narrow = ratio < tol.sigma_ratio_min
        problems.append(
            f"the predicted σ (RMS {fmt(sigma_rms)}) is {ratio:.2f} × the spread of the real "
            f"residuals log d − μ (RMS {fmt(residual)}): durations will be sampled too "
            + ("narrow" if narrow else "wide")
            + " (no bound holds σ there)"
        )
    if problems:
        return DURATION_HEAD.check("fail", stats, expected, "; ".join(problems) + "."), stats
    return (
        DURATION_HEAD.check(
            "pass",
            stats,
            expected,
            f"(μ, log σ) are finite, no bound holds log σ ({share:.1%} of rows at a clamp, "
            f"{pin.share:.0%} within {fmt(0.01)} of its {pin.edge}) and σ matches the residual "
            f"spread ({ratio:.2f} ×).",
        ),
        stats,
    )


def _binding_bound(
    share: float,
    bound: float | None,
    name: str | None,
    pin: Pinning,
    residual: float,
    tol: Tolerances,
) -> dict[str, Any] | None:
    """The bound that holds log σ away from the data, or None.

    A clamp binds when at least `clamp_share` of rows sit on it. A bounded range (say
    base + range·tanh(z)) binds when at least `pinned_share` of rows pile at one edge of
    log σ and σ there is off the residual spread in the direction that edge blocks: at the
    floor while the data need a smaller σ, at the ceiling while they need a larger one.
    """
    if share >= tol.clamp_share and bound is not None:
        return {
            "kind": "clamp",
            "name": name or "a clamp",
            "where": f"the clamp {name}" if name else "a clamp",
            "log_sigma": bound,
            "share": share,
        }
    if residual <= 0 or not math.isfinite(pin.value) or pin.share < tol.pinned_share:
        return None
    held = math.exp(pin.value) / residual
    blocked = held > tol.sigma_ratio_max if pin.edge == "floor" else held < tol.sigma_ratio_min
    if not blocked:
        return None
    return {
        "kind": "range",
        "name": None,
        "where": f"its {pin.edge}",
        "edge": pin.edge,
        "log_sigma": pin.value,
        "share": pin.share,
    }


def _clamp_share(
    ckpt: CheckpointArtifact, log_sigma: torch.Tensor
) -> tuple[float, float | None, str | None]:
    """The share of rows whose log σ sits at a clamp bound, that bound and its config key.

    Bounds come from the config when it has them; otherwise a clamp shows as many rows
    tied exactly at the largest or smallest value while the others vary (a clamp inside
    a user's model). A σ that is the same for every row is homoscedastic, not clamped.
    """
    n = log_sigma.numel()
    worst: tuple[float, float | None, str | None] = (0.0, None, None)
    for key in ("logsigma_min", "logsigma_max"):
        bound = ckpt.config.get(key)
        if isinstance(bound, (int, float)) and not isinstance(bound, bool):
            share = float(((log_sigma - bound).abs() <= 1e-6).sum()) / n
            worst = max(worst, (share, float(bound), key), key=lambda p: p[0])
    low, high = float(log_sigma.min()), float(log_sigma.max())
    if high > low:
        for edge in (low, high):
            tied = int((log_sigma == edge).sum())
            if tied >= 2:
                worst = max(worst, (tied / n, edge, None), key=lambda p: p[0])
    return worst


def _masking_check(
    out: HeadOutputs, length: torch.Tensor, tol: Tolerances
) -> tuple[Check, dict[str, Any]]:
    steps = torch.arange(out.profile.shape[1])
    beyond = steps[None, :] >= length.long()[:, None]
    finite = torch.isfinite(out.profile).all(dim=1)
    mass = (out.profile[finite].double() * beyond[finite]).sum(dim=1)
    stats = {
        "mean": float(mass.mean()) if mass.numel() else 0.0,
        "max": float(mass.max()) if mass.numel() else 0.0,
        "nonfinite_rows": int((~finite).sum()),
    }
    expected = f"≤ {tol.padding_mass:g} of each row's profile beyond its length"
    if stats["nonfinite_rows"]:
        return (
            LENGTH_MASKING.check(
                "fail",
                stats,
                expected,
                f"The profile is NaN or infinite on {stats['nonfinite_rows']} of {len(finite)} "
                "rows, so where its mass goes cannot be checked (non-finite logits or weights).",
            ),
            stats,
        )
    if stats["max"] > tol.padding_mass:
        share = float((mass > tol.padding_mass).double().mean())
        return (
            LENGTH_MASKING.check(
                "fail",
                stats,
                expected,
                f"The profile puts {stats['mean']:.1%} of its mass on padded steps on average "
                f"(up to {stats['max']:.1%}; {share:.0%} of rows): the softmax runs over "
                "padding, so real steps get too little time.",
            ),
            stats,
        )
    return (
        LENGTH_MASKING.check(
            "pass",
            stats,
            expected,
            "No profile mass on padded steps: the softmax is masked to each row's length.",
        ),
        stats,
    )


def _extra_stats(extras: dict[str, torch.Tensor]) -> dict[str, dict[str, Any]]:
    """Outputs beyond the contract (a Dirichlet concentration, alpha): shown, not judged."""
    return {
        name: {
            "shape": list(value.shape[1:]),
            "mean": float(value.double().nan_to_num().mean()),
            "min": float(value.double().nan_to_num().min()),
            "max": float(value.double().nan_to_num().max()),
        }
        for name, value in extras.items()
        if value.numel()
    }


def _figures(stats: dict[str, Any]) -> list[str]:
    ckpt = stats["checkpoint"]
    config = ckpt["config"]
    figures = [
        f"{config.get('profile_head', '?')} head, hidden {config.get('hidden', '?')}, "
        f"epoch {ckpt['epoch'] if ckpt['epoch'] is not None else '?'} ({ckpt['layout']})"
    ]
    if "configs" in stats:
        best = stats["configs"][stats["best"]]
        text = f"probe best {stats['best']} (KL {fmt(best['profile_kl'])})"
        if stats["checkpoint_config"] is not None:
            own = stats["configs"][stats["checkpoint_config"]]
            text += f", checkpoint's {stats['checkpoint_config']} KL {fmt(own['profile_kl'])}"
        figures.append(text)
    if "duration_fit" in stats:
        f = stats["duration_fit"]
        figures.append(
            f"duration NLL {fmt(f['checkpoint_nll'])} vs probe {fmt(f['probe_nll'])}, "
            f"μ bias {f['mu_bias']:+.2f}"
        )
    if "duration" in stats and "sigma_ratio" in stats["duration"]:
        d = stats["duration"]
        figures.append(f"σ/residual {d['sigma_ratio']:.2f}, {d['clamp_share']:.1%} at a clamp")
    if "padding" in stats:
        figures.append(f"padding mass mean {fmt(stats['padding']['mean'])}")
    for name, extra in stats.get("extra_outputs", {}).items():
        figures.append(
            f"{name} (not checked): mean {fmt(extra['mean'])}, range "
            f"{fmt(extra['min'])} to {fmt(extra['max'])}"
        )
    return figures
