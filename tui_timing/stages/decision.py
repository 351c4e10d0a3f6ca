"""Stage 7, the decision tree (SPEC 4, the seed's §7): what to do next, and on what evidence.

Every rule is evaluated, in order, on the checks of stages 1-6; the first that matches is
the verdict and every one that matches contributes its actions, each citing the checks
(ids and their figures) that led to it and, where one exists, the command that does it.
The whole walk is kept (`Decision.path`, and `stats["path"]` in the JSON) so a verdict can
be traced back rule by rule.

Two readings the SPEC leaves open are settled here:
- A check that could not look at its input (status `error`, or `model.load`,
  `train.log` and `sampler.run` failing: the artifact itself was unusable) does not count
  as a finding of stages 3-6; those stages are *not assessed*, and the verdict names them.
  In stages 1 and 2 any failure or error matches rules 1 and 2, since nothing downstream
  of an unusable cache or dataset is trustworthy.
- Rule 8 (tune loss weights or temperatures) needs a *statistic* that is off (a checked
  distribution of the model's output against the data) while no *structural* check fails
  or errs; it never appears while another rule matches.
Rule 4 also matches an architecture that puts profile mass on padded steps
(`model.length_masking`, `sampler.padding_mass`): SPEC 2.3 names a softmax over padding as
one of the ways a timing head's architecture goes wrong, and no other rule covers it.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_timing.report.numbers import fmt
from tui_timing.report.results import (
    Action,
    Check,
    Decision,
    RuleOutcome,
    StageResult,
    Status,
)
from tui_timing.stages.catalog import STAGE_BY_ID
from tui_timing.stages.context import StageContext

STAGE_ID = 7
NAME = "decision"

#: Checks comparing the model's output distributions with the data: "a statistic is off".
STATISTICS = frozenset(
    {
        "train.stats_convergence",
        "sampler.duration_quantiles",
        "sampler.profile_bins",
        "integration.dt_median",
        "integration.vel_p95",
        "integration.log_dt_ks",
        "integration.length_ks",
        "integration.c2st",
    }
)
#: Checks whose failure means the artifact itself could not be used.
UNUSABLE = frozenset({"model.load", "train.log", "sampler.run"})
GATES = ("integration.dt_median", "integration.vel_p95")
PADDING = ("model.length_masking", "sampler.padding_mass")

#: What each probe candidate is, in the words of the seed's §7.
HEAD_REMEDIES = {
    "increments": "logit increments + cumulative normalization",
    "templates": "low-rank logit templates",
    "monotonic": "a monotonic parameterization (non-increasing logits)",
    "linear": "per-step logits with no logit bound, masked over padding",
}
#: What each rule asks of the evidence (the path shows each with its answer and reason).
RULE_NAMES = {
    1: "stage 1 fails",
    2: "stage 2 fails",
    3: "model.conditioning fails",
    4: "the architecture cannot fit the profile",
    5: "the duration head clips log σ",
    6: "training collapses or diverges, or the sampler is flat with a capable head",
    7: "stage 6 drifts in a way the standalone sampler does not explain",
    8: "only statistics are off",
    9: "everything that ran passes",
}
#: How many checks an action's `why` names with their key figure (the rest are counted).
_NAMED = 3


@dataclass
class RuleResult:
    """One rule as evaluated: whether it matched, why, and what it recommends."""

    matched: bool
    reason: str
    verdict: str = ""
    actions: list[Action] = field(default_factory=list)


class Evidence:
    """The checks of stages 1-6 by id, with the groupings the rules ask about."""

    def __init__(self, results: dict[int, StageResult]) -> None:
        self.stages = {sid: r for sid, r in results.items() if sid != STAGE_ID}
        self.checks: dict[str, Check] = {c.id: c for r in self.stages.values() for c in r.checks}

    def get(self, check_id: str) -> Check | None:
        return self.checks.get(check_id)

    def status(self, check_id: str) -> str | None:
        check = self.checks.get(check_id)
        return check.status if check is not None else None

    def failed(self, check_id: str) -> bool:
        return self.status(check_id) == "fail"

    def stage_checks(self, stage_id: int) -> list[Check]:
        result = self.stages.get(stage_id)
        return list(result.checks) if result is not None else []

    def unusable(self, check: Check) -> bool:
        """The check could not look at its input (only meaningful for stages 3-6)."""
        return check.status == "error" or (check.id in UNUSABLE and check.status == "fail")

    def failures(self, stage_id: int) -> list[Check]:
        """Findings of a stage: failures, and in stages 1-2 errors too."""
        if stage_id in (1, 2):
            return [c for c in self.stage_checks(stage_id) if c.status in ("fail", "error")]
        return [
            c for c in self.stage_checks(stage_id) if c.status == "fail" and not self.unusable(c)
        ]

    def not_assessed(self) -> dict[int, list[Check]]:
        """Stages 3-6 with checks that could not use their input, by stage."""
        out: dict[int, list[Check]] = {}
        for sid in (3, 4, 5, 6):
            bad = [c for c in self.stage_checks(sid) if self.unusable(c)]
            if bad:
                out[sid] = bad
        return out

    def skipped(self) -> dict[int, str]:
        """Stages 1-6 that did not run at all (or were not run), with the reason."""
        out: dict[int, str] = {}
        for sid in range(1, 7):
            result = self.stages.get(sid)
            if result is None:
                out[sid] = "not run"
            elif result.status == "skip":
                out[sid] = result.skip_reason or _first_skip_reason(result)
        return out

    def structural_failures(self) -> list[Check]:
        """Failing or erring checks that are not output statistics (rule 8 excludes them)."""
        return [
            c
            for sid in range(1, 7)
            for c in self.stage_checks(sid)
            if c.status in ("fail", "error") and c.id not in STATISTICS
        ]

    def statistics_off(self) -> list[Check]:
        return [
            c for c in self.checks.values() if c.id in STATISTICS and c.status in ("warn", "fail")
        ]

    def measured(self, check_id: str, key: str) -> Any:
        check = self.checks.get(check_id)
        if check is None or not isinstance(check.measured, dict):
            return None
        return check.measured.get(key)

    def stats(self, stage_id: int) -> dict[str, Any]:
        result = self.stages.get(stage_id)
        return result.stats if result is not None else {}


def run(ctx: StageContext) -> StageResult:
    """Walk the tree over the results of stages 1-6 already in the context."""
    decision = decide(ctx)
    status: Status
    if decision.rule <= 7:
        status = "fail"
    elif decision.rule == 8 or Evidence(ctx.results).not_assessed():
        status = "warn"
    else:
        status = "pass"
    return StageResult(
        id=STAGE_ID,
        name=NAME,
        stats={
            "rule": decision.rule,
            "verdict": decision.verdict,
            "matched": [o.rule for o in decision.path if o.matched],
            "path": [
                {"rule": o.rule, "name": o.name, "matched": o.matched, "reason": o.reason}
                for o in decision.path
            ],
        },
        figures=[f"rule {decision.rule}: {decision.verdict}"],
        status_override=status,
        decision=decision,
    )


def decide(ctx: StageContext) -> Decision:
    """Evaluate rules 1-9 in order: the first match is the verdict, every match adds actions."""
    evidence = Evidence(ctx.results)
    outcomes = [rule(evidence, ctx) for rule in (_rule1, _rule2, _rule3, _rule4, _rule5)]
    outcomes.append(_rule6(evidence, ctx, architecture_blamed=outcomes[3].matched))
    outcomes.append(_rule7(evidence, ctx))
    outcomes.append(_rule8(evidence, any(o.matched for o in outcomes)))
    outcomes.append(_rule9(evidence, any(o.matched for o in outcomes)))
    first = next(i for i, o in enumerate(outcomes) if o.matched)
    actions = [
        Action(a.title, a.why, a.evidence, a.command, rule=i + 1)
        for i, o in enumerate(outcomes)
        if o.matched
        for a in o.actions
    ]
    return Decision(
        verdict=outcomes[first].verdict,
        rule=first + 1,
        actions=actions,
        path=[
            RuleOutcome(rule=i + 1, name=RULE_NAMES[i + 1], matched=o.matched, reason=o.reason)
            for i, o in enumerate(outcomes)
        ],
    )


# --- the rules ---------------------------------------------------------------------------


def _rule1(ev: Evidence, ctx: StageContext) -> RuleResult:
    failing = ev.failures(1)
    if not failing:
        return RuleResult(False, _clean(ev, 1, "no stage-1 check fails"))
    return RuleResult(
        True,
        f"stage 1 fails: {_ids(failing)}",
        f"Fix the cache first ({_ids(failing)} fail); nothing downstream is trustworthy.",
        [
            Action(
                "Rebuild the timing cache (timing-tui build-cache, or your own script) and "
                "re-run the check",
                f"Stage 1 fails: {_brief(failing)}.",
                [c.id for c in failing],
                _build_cache_command(ctx),
            )
        ],
    )


def _rule2(ev: Evidence, ctx: StageContext) -> RuleResult:
    failing = ev.failures(2)
    if not failing:
        return RuleResult(False, _clean(ev, 2, "no stage-2 check fails"))
    properties = ", ".join(c.id.split(".", 1)[1].replace("_", " ") for c in failing)
    return RuleResult(
        True,
        f"stage 2 fails: {_ids(failing)}",
        f"Fix the dataset/dataloader: {properties}.",
        [
            Action(
                f"Fix the dataset/dataloader ({properties})",
                f"Stage 2 fails: {_brief(failing)}.",
                [c.id for c in failing],
            )
        ],
    )


def _rule3(ev: Evidence, ctx: StageContext) -> RuleResult:
    check = ev.get("model.conditioning")
    if check is None or check.status != "fail":
        return RuleResult(False, _status_reason("model.conditioning", check))
    timing = ev.measured("model.conditioning", "timing_features") or []
    width = ev.measured("model.conditioning", "model_cond_dim") or ev.measured(
        "model.conditioning", "cache_feature_dim"
    )
    only_dt = bool(timing) and len(timing) == width
    actions = [
        Action(
            "Feed the backbone the diffusion model's neuromotor conditioning vector",
            f"The backbone's input is not the conditioning vector: {_brief([check])}.",
            [check.id],
        )
    ]
    if only_dt:
        actions.append(
            Action(
                "Add path length and direction features (the cache builder computes them)",
                "Every feature is a Δt statistic: the head sees no geometry and its input "
                "leaks the target.",
                [check.id],
                _build_cache_command(ctx),
            )
        )
    return RuleResult(
        True,
        "model.conditioning fails",
        "Feed the timing head the diffusion model's conditioning vector"
        + (" and add path length/direction features." if only_dt else "."),
        actions,
    )


def _rule4(ev: Evidence, ctx: StageContext) -> RuleResult:
    upstream = ev.failures(1) + ev.failures(2)
    if upstream:
        return RuleResult(False, f"the cache or dataloader does not pass ({_ids(upstream)})")
    capacity = ev.get("model.profile_capacity")
    flat = ev.failed("sampler.flat")
    untested = capacity is None or capacity.status == "skip" or (ev.stats(3).get("can_fit") is None)
    padding = [ev.get(cid) for cid in PADDING if ev.failed(cid)]
    reasons: list[str] = []
    if capacity is not None and capacity.status == "fail":
        reasons.append("model.profile_capacity fails")
    if flat and untested:
        reasons.append("the sampler is flat and the probe could not test the checkpoint's head")
    if padding:
        reasons.append(f"profile mass on padded steps ({_ids(padding)})")
    if not reasons:
        return RuleResult(False, _capacity_reason(capacity, flat))
    stats = ev.stats(3)
    best = stats.get("best")
    config = (stats.get("checkpoint") or {}).get("config") or {}
    evidence = [c for c in padding if c is not None]
    if capacity is not None and (capacity.status == "fail" or (flat and untested)):
        evidence.insert(0, capacity)
    if flat and untested:
        evidence.append(ev.checks["sampler.flat"])
    actions = [
        Action(
            "Revisit the profile head: " + _architecture_changes(config, best, bool(padding)),
            _architecture_why(ev, capacity, flat and untested, padding),
            [c.id for c in evidence],
            _train_command(ctx, best, str(best)) if best in HEAD_REMEDIES else None,
        )
    ]
    named = f"; the probe's best is {best} ({HEAD_REMEDIES.get(best, best)})" if best else ""
    return RuleResult(
        True,
        "; ".join(reasons),
        f"Revisit the timing head's architecture{named}.",
        actions,
    )


def _rule5(ev: Evidence, ctx: StageContext) -> RuleResult:
    check = ev.get("model.duration_head")
    if check is None or check.status != "fail":
        return RuleResult(False, _status_reason("model.duration_head", check))
    config = (ev.stats(3).get("checkpoint") or {}).get("config") or {}
    clamps = [
        f"{key} = {fmt(float(config[key]))}"
        for key in ("logsigma_min", "logsigma_max")
        if isinstance(config.get(key), (int, float))
    ]
    what = f" ({', '.join(clamps)})" if clamps else ""
    head = config.get("profile_head")
    command = (
        _train_command(ctx, head, "unclamped")
        if head in HEAD_REMEDIES
        and (ev.stats(3).get("checkpoint") or {}).get("source") == "reference"
        else None
    )
    return RuleResult(
        True,
        "model.duration_head fails",
        f"Remove the clipping of log σ in the duration head{what}.",
        [
            Action(
                f"Remove the clamp on log σ{what} and retrain",
                f"The duration head's log σ is clipped: {_brief([check])}.",
                [check.id],
                command,
            )
        ],
    )


def _rule6(ev: Evidence, ctx: StageContext, *, architecture_blamed: bool) -> RuleResult:
    """Collapse, divergence or a flat sampler, when the architecture is not to blame.

    The rule's conclusion is "the architecture is not the cause", so it does not match
    while rule 4 blames the architecture: a head that cannot represent the profile shows
    a flat profile in its training log too, and that is rule 4's finding, not a second one.
    """
    if architecture_blamed:
        return RuleResult(False, "rule 4 blames the architecture for what stage 4 and 5 show")
    collapse = ev.get("train.collapse")
    trend = ev.get("train.loss_trend")
    flat = ev.get("sampler.flat")
    can_fit = ev.stats(3).get("can_fit") is True and ev.status("model.profile_capacity") == "pass"
    seen: list[str] = []
    evidence: list[Check] = []
    actions: list[Action] = []
    if collapse is not None and collapse.status == "fail":
        epoch = ev.measured("train.collapse", "epoch")
        seen.append(f"collapse from epoch {epoch}" if epoch is not None else "collapse")
        evidence.append(collapse)
    if trend is not None and trend.status == "fail":
        seen.append("the loss diverges" + _divergence_text(trend))
        evidence.append(trend)
    if evidence:
        actions.append(
            Action(
                "Look at the training loop at the epoch where it goes wrong (learning rate, "
                "loss weights of duration vs profile, early stopping)",
                f"Stage 4 shows {'; '.join(seen)}.",
                [c.id for c in evidence],
            )
        )
    if flat is not None and flat.status == "fail" and can_fit:
        capacity = ev.get("model.profile_capacity")
        seen.append("the sampler is flat although the probe shows the head can fit the cache")
        pair = [flat] + ([capacity] if capacity is not None else [])
        evidence += pair
        actions.append(
            Action(
                "Look at sampling: temperature and logit scaling of the profile",
                f"The sampler is flat ({_key_figure(flat)}) although the probe fits the cache "
                "with the checkpoint's head.",
                [c.id for c in pair],
                _sample_command(ctx),
            )
        )
    if not seen:
        return RuleResult(
            False, "no collapse or divergence in stage 4, and no flat sampler with a capable head"
        )
    return RuleResult(
        True,
        "; ".join(seen),
        "The architecture is not the cause: " + "; ".join(seen) + ". Look at training and "
        "sampling (temperature, logit scaling).",
        actions,
    )


def _rule7(ev: Evidence, ctx: StageContext) -> RuleResult:
    renorm = ev.get("integration.renormalization")
    gates = [ev.get(cid) for cid in GATES if ev.failed(cid)]
    cause = ev.measured("integration.vel_p95", "cause")
    eval_side = [c for c in (renorm,) if c is not None and c.status == "fail"]
    if cause in ("paths", "both"):
        eval_side.append(ev.get("integration.vel_p95"))
    if not eval_side and not gates:
        return RuleResult(False, _clean(ev, 6, "no stage-6 gate or re-normalization fails"))
    sampler_failing = ev.failures(5)
    sampler_gap = ev.skipped().get(5) or (
        "its input could not be used" if 5 in ev.not_assessed() else None
    )
    if not eval_side and sampler_failing:
        return RuleResult(
            False,
            f"stage 6 drifts ({_ids(gates)}) but the standalone sampler fails too "
            f"({_ids(sampler_failing)}): the drift is the head's own",
        )
    drift = _unique(eval_side + gates)
    if sampler_failing:
        sampler_state = "fails too"
        standalone = f"the standalone sampler fails too ({_ids(sampler_failing)})"
    elif sampler_gap:
        sampler_state = "was not assessed"
        standalone = f"the standalone sampler was not assessed ({sampler_gap})"
    else:
        sampler_state = "passes"
        standalone = "the standalone sampler passes"
    actions = [
        Action(
            "Inspect normalization in the diffusion eval: are sequences re-normalized after "
            "Δt are assigned, are paths still in normalized units? Put "
            "`assert_timing_stats(real, fake)` (from tui_timing) before the C2ST",
            f"Stage 6 drifts (the standalone sampler {sampler_state}): {_brief(drift)}.",
            [c.id for c in drift],
        )
    ]
    if sampler_gap:
        actions.append(
            Action(
                "Run the standalone sampler (stage 5) to rule out the head itself",
                f"Stage 5 was not assessed: {sampler_gap}.",
                ["sampler.run"],
                _check_command(ctx),
            )
        )
    return RuleResult(
        True,
        f"{standalone}; stage 6 drifts ({_ids(drift)})",
        (
            "The timing head is consistent standalone but drifts in the diffusion eval"
            if standalone == "the standalone sampler passes"
            else "The diffusion eval changes the sequences' scale"
        )
        + f" ({_figures(drift)}): inspect normalization (are sequences re-normalized after "
        "assigning Δt?).",
        actions,
    )


def _rule8(ev: Evidence, earlier: bool) -> RuleResult:
    if earlier:
        return RuleResult(False, "a rule above matches")
    structural = ev.structural_failures()
    if structural:
        return RuleResult(False, f"a structural check fails or errs ({_ids(structural)})")
    off = ev.statistics_off()
    if not off:
        return RuleResult(False, "no statistic is off")
    return RuleResult(
        True,
        f"no structural check fails; statistics off: {_ids(off)}",
        f"No structural fault found; statistics are still off ({_ids(off)}): tune loss "
        "weights or temperatures.",
        [
            Action(
                "Tune loss weights (duration NLL vs profile loss) or sampling temperatures",
                f"No structural check fails, but statistics are off: {_brief(off)}.",
                [c.id for c in off],
            )
        ],
    )


def _rule9(ev: Evidence, earlier: bool) -> RuleResult:
    if earlier:
        return RuleResult(False, "a rule above matches")
    skipped = ev.skipped()
    unusable = ev.not_assessed()
    gaps = [f"stage {sid} {STAGE_BY_ID[sid].name} ({why})" for sid, why in skipped.items()]
    gaps += [
        f"stage {sid} {STAGE_BY_ID[sid].name} (not assessed: {checks[0].message.rstrip('.')})"
        for sid, checks in unusable.items()
    ]
    c2st = ev.get("integration.c2st")
    c2st_text = (
        f" C2ST in stage 6: {c2st.message}"
        if c2st is not None and c2st.status in ("pass", "warn")
        else ""
    )
    verdict = "The timing head is consistent as far as the evidence goes."
    if gaps:
        verdict += " Nothing is claimed for " + "; ".join(gaps) + "."
    actions: list[Action] = []
    if unusable:
        bad = [c for checks in unusable.values() for c in checks]
        actions.append(
            Action(
                "Make the unusable artifacts usable and re-run the check",
                f"These checks could not use their input: {_ids(bad)} (the reasons are in "
                "their stages).",
                [c.id for c in bad],
            )
        )
    if skipped:
        actions.append(
            Action(
                "Give the missing artifacts to assess the skipped stages",
                "; ".join(gaps[: len(skipped)]) + ".",
                [ev.stage_checks(sid)[0].id for sid in skipped if ev.stage_checks(sid)],
            )
        )
    reason = "no rule above matches"
    if unusable:
        reason += f"; not assessed: stages {', '.join(str(sid) for sid in unusable)}"
    return RuleResult(True, reason, verdict + c2st_text, actions)


# --- helpers -----------------------------------------------------------------------------


def _ids(checks: list[Check | None]) -> str:
    return ", ".join(c.id for c in checks if c is not None)


def _brief(checks: list[Check]) -> str:
    """`id (key figure), id (key figure)`: the first few checks with their key figure (their
    full sentences are in their stages' panes and reports), the rest counted."""
    named = []
    for check in checks[:_NAMED]:
        figure = _key_figure(check)
        named.append(f"{check.id} ({figure})" if figure else check.id)
    rest = len(checks) - _NAMED
    return ", ".join(named) + (f" and {rest} more" if rest > 0 else "")


def _key_figure(check: Check) -> str:
    """The one figure that says how far off a check is (empty when there is none)."""
    measured = check.measured if isinstance(check.measured, dict) else {}
    figure = _KEY_FIGURES.get(check.id)
    if figure is not None:
        try:
            text = figure(measured)
        except (KeyError, TypeError, ValueError, AttributeError):
            text = None
        if text:
            return text
    if check.status == "error":
        return "its input could not be used"
    if isinstance(check.measured, (int, float)) and not isinstance(check.measured, bool):
        return fmt(float(check.measured))
    scalars = [
        f"{key.replace('_', ' ')} {_number(value)}"
        for key, value in measured.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value != 0
    ]
    return ", ".join(scalars[:2])


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else fmt(float(value))


def _share(value: Any) -> str:
    return f"{float(value):.0%}"


def _bins_off(measured: dict[str, Any]) -> str:
    """`first 0.01195 vs 0.07728`: the first profile bin that misses (sampler.profile_bins)."""
    ok = measured.get("ok") or {}
    for name in ("first", "mid", "last"):
        if ok.get(name) is False:
            return f"{name} {fmt(measured['fake'][name])} vs {fmt(measured['real'][name])}"
    return ""


def _not_converging(measured: dict[str, Any]) -> str:
    """`profile_first logged 0.01194 vs the cache's 0.07742` (train.stats_convergence)."""
    for name, figure in (measured.get("figures") or {}).items():
        if isinstance(figure, dict) and figure.get("ok") is False:
            return f"{name} {fmt(figure['logged'])} vs the cache's {fmt(figure['cache'])}"
    return ""


def _quantile_off(measured: dict[str, Any]) -> str:
    """`q95 fake 3.19 vs real 3.09` for the quantile furthest off (duration quantiles)."""
    fake, real = measured.get("fake") or {}, measured.get("real") or {}
    pairs = [(k, fake[k], real[k]) for k in fake if real.get(k)]
    if not pairs:
        return f"KS {fmt(measured['ks'])}" if "ks" in measured else ""
    name, f, r = max(pairs, key=lambda p: abs(p[1] / p[2] - 1))
    return f"{name} {fmt(f)} vs {fmt(r)}"


#: Check id -> its key figure from the measured dict (a failing check's essentials).
_KEY_FIGURES: dict[str, Callable[[dict[str, Any]], str]] = {
    "model.length_masking": lambda m: f"{_share(m['mean'])} of the profile mass on padding",
    "sampler.padding_mass": lambda m: f"{_share(m['mean'])} of the profile mass on padding",
    "model.duration_head": lambda m: (
        f"log σ at a clamp on {float(m['clamp_share']):.1%} of rows"
        if m.get("clamp_share")
        else f"σ {fmt(m['sigma_ratio'])} × the residual spread"
    ),
    "model.conditioning": lambda m: (
        f"model takes {m['model_cond_dim']}, cache gives {m['cache_feature_dim']}"
    ),
    "model.profile_capacity": lambda m: f"best {m['best']}, held-out KL {fmt(m['best_kl'])}",
    "train.collapse": lambda m: f"from epoch {m['epoch']}",
    "train.loss_trend": lambda m: (
        f"val loss {fmt(m['val']['first'])} → {fmt(m['val']['last'])}"
        if isinstance(m.get("val"), dict)
        else f"train loss {fmt(m['train']['first'])} → {fmt(m['train']['last'])}"
    ),
    "train.stats_convergence": _not_converging,
    "sampler.flat": lambda m: f"keeps {_share(m['share'])} of the real profile's shape",
    "sampler.profile_bins": _bins_off,
    "sampler.duration_quantiles": _quantile_off,
    "integration.dt_median": lambda m: f"fake/real {fmt(m['ratio'])}",
    "integration.vel_p95": lambda m: f"fake/real {fmt(m['ratio'])}",
    "integration.renormalization": lambda m: (
        f"fake Δt ≈ {fmt(m['dt_factor']['factor'])} × real"
        if isinstance(m.get("dt_factor"), dict) and m["dt_factor"].get("factor") is not None
        else f"{_share(m['rows_off_duration']['share'])} of rows do not sum to fake_duration"
    ),
    "integration.log_dt_ks": lambda m: f"KS {fmt(m['ks'])}",
    "integration.length_ks": lambda m: f"KS {fmt(m['ks'])}",
    "integration.c2st": lambda m: f"accuracy {fmt(m['accuracy'])}, p {fmt(m['p_value'])}",
}


def _architecture_why(
    ev: Evidence, capacity: Check | None, flat_untested: bool, padding: list[Check | None]
) -> str:
    """Rule 4's finding in one sentence: what the probe found, and the mass on padding."""
    parts: list[str] = []
    if capacity is not None and capacity.status == "fail":
        stats = ev.stats(3)
        configs = stats.get("configs") or {}
        mine = stats.get("checkpoint_config")
        best = stats.get("best")
        kl = {name: (configs.get(name) or {}).get("profile_kl") for name in (mine, best)}
        if all(isinstance(v, (int, float)) for v in kl.values()) and mine and best:
            parts.append(
                f"the checkpoint's head ({mine}) cannot fit the cache where {best} can "
                f"(held-out KL {fmt(kl[mine])} vs {fmt(kl[best])})"
            )
        else:
            parts.append(f"the checkpoint's head cannot fit the cache ({_key_figure(capacity)})")
    if flat_untested:
        flat = ev.get("sampler.flat")
        figure = f" ({_key_figure(flat)})" if flat is not None else ""
        parts.append(f"the sampler is flat{figure} and the probe could not test the head")
    masses = [c for c in padding if c is not None]
    if masses:
        parts.append(_key_figure(masses[0]) + f" ({_ids(list(masses))})")
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."


def _figures(checks: list[Check]) -> str:
    """'integration.dt_median fake/real 0.75, ...': each stage-6 check's key figure."""
    parts = []
    for check in checks:
        measured = check.measured if isinstance(check.measured, dict) else {}
        factor = measured.get("dt_factor")
        if measured.get("ratio") is not None:
            parts.append(f"{check.id} fake/real {fmt(measured['ratio'])}")
        elif isinstance(factor, dict) and factor.get("factor") is not None:
            parts.append(f"{check.id}: fake Δt ≈ {fmt(factor['factor'])} × real")
        else:
            parts.append(check.id)
    return ", ".join(parts)


def _unique(checks: list[Check | None]) -> list[Check]:
    seen: dict[str, Check] = {}
    for check in checks:
        if check is not None:
            seen.setdefault(check.id, check)
    return list(seen.values())


def _clean(ev: Evidence, stage_id: int, passed: str) -> str:
    why = ev.skipped().get(stage_id)
    return f"stage {stage_id} skipped ({why})" if why else passed


def _status_reason(check_id: str, check: Check | None) -> str:
    if check is None:
        return f"{check_id} did not run"
    return f"{check_id} is {check.status}"


def _capacity_reason(capacity: Check | None, flat: bool) -> str:
    if capacity is None:
        return "model.profile_capacity did not run"
    state = f"model.profile_capacity is {capacity.status}"
    return state + ("; the sampler is flat but the probe tested the head" if flat else "")


def _first_skip_reason(result: StageResult) -> str:
    check = next((c for c in result.checks if c.status == "skip"), None)
    return check.message.removeprefix("Skipped: ").rstrip(".") if check else "skipped"


def _divergence_text(trend: Check) -> str:
    """Where the loss went wrong: its first non-finite epoch, or after the val loss's best."""
    measured = trend.measured if isinstance(trend.measured, dict) else {}
    if measured.get("epoch") is not None:
        return f" from epoch {measured['epoch']}"
    val = measured.get("val")
    if isinstance(val, dict) and val.get("best_epoch") is not None:
        return f" after epoch {val['best_epoch']}"
    return ""


def _architecture_changes(config: dict[str, Any], best: Any, padding: bool) -> str:
    """The concrete changes: the best parameterization, and the knobs that were wrong."""
    changes: list[str] = []
    if best in HEAD_REMEDIES and best != config.get("profile_head"):
        changes.append(f"use {HEAD_REMEDIES[best]} ({best})")
    if config.get("logit_bound") is not None:
        changes.append(f"remove the logit bound (b = {config['logit_bound']})")
    if padding or config.get("mask_padding") is False:
        changes.append("mask the softmax over padded steps")
    if config.get("length_input") is False:
        changes.append("tell the head each row's length")
    if not changes:
        changes.append(
            "logit increments + cumulative normalization, low-rank templates or a monotonic "
            "parameterization"
        )
    return "; ".join(changes)


def _quote(path: Path | str) -> str:
    return shlex.quote(str(path))


def _build_cache_command(ctx: StageContext) -> str:
    """The build-cache line that recreates this cache, from its meta where it says enough."""
    raw = ctx.value("cache")
    meta = raw.values.get("meta") if raw is not None else None
    meta = meta if isinstance(meta, dict) else {}
    source = str(meta.get("source") or "")
    raw_dir = source.split(":", 1)[1] if source.startswith("balabit:") else "RAW_DIR"
    cache = ctx.paths.cache
    if cache is not None:
        root: str = str(cache.parent.parent)
        dataset_id = str(meta.get("dataset_id") or cache.parent.name)
        split = str(meta.get("split") or cache.name.removesuffix("_timing.pt"))
    else:
        root, dataset_id, split = "datasets", "ID", "train"
    parts = [
        "timing-tui build-cache",
        _quote(raw_dir) if raw_dir != "RAW_DIR" else raw_dir,
        f"--out {_quote(root)} --id {_quote(dataset_id)} --split {_quote(split)}",
    ]
    for key, option in (
        ("pause", "--pause"),
        ("max_len", "--max-len"),
        ("min_points", "--min-points"),
    ):
        if isinstance(meta.get(key), (int, float)) and not isinstance(meta.get(key), bool):
            parts.append(f"{option} {meta[key]:g}")
    return " ".join(parts)


def _train_command(ctx: StageContext, head: Any, label: str) -> str | None:
    """`timing-tui train` with this profile head, into a new folder under `./runs/`.

    The folder is named after the checkpoint's run and the change (`linear-increments`), so
    following the advice never overwrites the run being diagnosed or any other; it is
    relative to the working directory, never inside the checkpoint's folder (which may be
    the bundled sample data in site-packages).
    """
    cache = ctx.paths.cache
    if cache is None:
        return None
    checkpoint = ctx.paths.checkpoint
    name = f"{checkpoint.parent.name}-{label}" if checkpoint is not None else label
    out = Path("runs") / name
    return f"timing-tui train --cache {_quote(cache)} --out {_quote(out)} --profile-head {head}"


def _sample_command(ctx: StageContext) -> str | None:
    cache, checkpoint = ctx.paths.cache, ctx.paths.checkpoint
    if cache is None or checkpoint is None:
        return None
    return (
        f"timing-tui sample --checkpoint {_quote(checkpoint)} --cache {_quote(cache)} "
        "--temperature 0.5"
    )


def _check_command(ctx: StageContext) -> str:
    parts = ["timing-tui check --stage 5"]
    parts.append(f"--cache {_quote(ctx.paths.cache)}" if ctx.paths.cache else "--cache CACHE")
    parts.append(
        f"--checkpoint {_quote(ctx.paths.checkpoint)}"
        if ctx.paths.checkpoint
        else "--checkpoint CHECKPOINT"
    )
    return " ".join(parts)
