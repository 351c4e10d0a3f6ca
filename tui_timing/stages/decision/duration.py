"""What a duration NLL gap is made of, and so which rule owns it (docs/decision.md, rules 3, 5 and
6).

`model.duration_fit` fails when the checkpoint's duration NLL on held-out rows is well
above a brief fit's. The same gap has three fixes, told apart by its parts and by what
else is known about the checkpoint:
- σ held by a bound (`model.duration_head` names a clamp or a range that binds): rule 5,
  remove or re-centre the bound;
- μ a constant multiple of log d (scaling μ and σ by one factor closes most of the gap;
  ln 10 for a head trained on log10 durations): rule 6, an objective fault;
- the model fitted its own training data (its logged loss flattened, or its config's
  `cache_sha256` names another cache): rule 3, the checkpoint was trained on other data
  than this cache, whatever the gap is made of (a μ bias for another user's speed, a σ
  too narrow for rows it has not seen); without that evidence either way, a gap made
  mostly of a μ bias is read the same way (an undertrained head started at its data's
  mean has no bias on that data);
- otherwise (the loss still falling, a checkpoint trained on this very cache, or a gap
  made of μ not following the features without evidence of a fit): rule 6, the head is
  undertrained.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tui_timing.artifacts.hashing import file_sha256
from tui_timing.findings import Check
from tui_timing.numerics.fmt import fmt
from tui_timing.stages.catalog import Stage
from tui_timing.stages.context import StageContext
from tui_timing.stages.decision.evidence import Evidence


@dataclass(frozen=True)
class DurationFinding:
    """The rule a failing duration fit belongs to, and the words its verdict uses."""

    rule: int
    summary: str
    checks: list[Check]
    #: What to do, as rule 6's action says it.
    fix: str = "Train the duration head longer (more epochs; check the learning rate)"


def bound_binds(ev: Evidence) -> bool:
    """`model.duration_head` fails because a clamp or a bounded range holds log σ."""
    return ev.failed("model.duration_head") and bool(
        ev.measured("model.duration_head", "bound_binds")
    )


def fitted_own_data(ev: Evidence, ctx: StageContext) -> tuple[bool | None, str]:
    """Whether the checkpoint fitted the data it was trained on, and the evidence.

    True: its config's `cache_sha256` names another cache, or its logged loss flattened;
    False: it was trained on this very cache, or its loss was still falling; None: no
    evidence either way (no hash, no log with enough epochs).
    """
    config = (ev.stats(Stage.MODEL).get("checkpoint") or {}).get("config") or {}
    trained_on = config.get("cache_sha256")
    if isinstance(trained_on, str) and ctx.paths.cache is not None:
        here = file_sha256(Path(ctx.paths.cache))
        if here is not None and here != trained_on:
            return True, f"its config's cache_sha256 ({trained_on[:12]}) names another cache"
        if here == trained_on:
            return False, "it was trained on this very cache (cache_sha256)"
    fitted = ev.stats(Stage.TRAINING).get("fitted") or {}
    flattened = fitted.get("flattened")
    figure, split = fitted.get("figure", "loss"), fitted.get("split", "val")
    axis = fitted.get("x_axis", "epoch")
    if flattened is True:
        return True, f"its logged {split} {figure} flattened over the last {axis}s"
    if flattened is False:
        return False, f"its logged {split} {figure} was still falling at the last {axis}"
    count = fitted.get(f"{axis}s")
    if count:
        return None, f"its log has only {count} {axis}(s)"
    return None, "no log or cache hash says what it was trained on"


def duration_finding(ev: Evidence, ctx: StageContext) -> DurationFinding | None:
    """The rule that owns a failing `model.duration_fit` (None when it does not fail)."""
    fit = ev.get("model.duration_fit")
    if fit is None or fit.status != "fail" or not isinstance(fit.measured, dict):
        return None
    if ev.nonfinite_rows():  # a NaN gap has no parts: rule 6 names the non-finite model
        return None
    m = fit.measured
    gap = (
        f"{fmt(float(m['gap']))} nats per row worse than a brief fit"
        if isinstance(m.get("gap"), (int, float))
        else "worse than a brief fit"
    )
    if bound_binds(ev):
        head = ev.checks["model.duration_head"]
        return DurationFinding(5, f"σ held by a bound ({head.key_figure}; {gap})", [fit, head])
    cause = m.get("cause")
    if cause == "scale" and isinstance(m.get("log_factor"), (int, float)):
        factor = float(m["log_factor"])
        target = (
            "a log10 target (ln 10 = 2.303): fit μ to the natural log of the duration"
            if m.get("log10")
            else "the training target is in other units than log d"
        )
        return DurationFinding(
            6,
            f"μ is a constant {fmt(1 / factor)}× log d ({target}; scaling μ and σ by "
            f"{fmt(factor)} saves {fmt(float(m.get('factor_nats', 0)))} nats per row, and the "
            f"checkpoint is {gap})",
            [fit],
            "Fit μ to the natural log of the duration (log d, as the cache stores it) and retrain",
        )
    own, evidence = fitted_own_data(ev, ctx)
    bias = (
        f"μ bias {float(m['mu_bias']):+.2f} in log-duration"
        if isinstance(m.get("mu_bias"), (int, float))
        else "a μ bias"
    )
    scale = m.get("sigma_scale")
    part = {
        "bias": bias,
        "sigma": f"σ {fmt(1 / float(scale))}× what the rows need"
        if isinstance(scale, (int, float)) and scale
        else "σ off what the rows need",
        "features": "μ does not follow the features",
    }.get(str(cause), "its parts unknown")
    if own is True or (own is None and cause == "bias"):
        largest = bias if cause == "bias" else f"mostly {part}, {bias}"
        return DurationFinding(
            3,
            f"the checkpoint was trained on other data than this cache ({largest}, {gap}; "
            f"{evidence})",
            [fit],
        )
    return DurationFinding(
        6,
        f"the duration head is undertrained ({part}, {gap}; {evidence})",
        [fit],
    )
