"""The decision tree's rules (docs/decision.md), as data: `RULES`, at the end, in the order they are
asked; a rule's number is its place in that table, and its question is what the path
shows beside its answer.

Each rule reads the Evidence (and the context, for the paths its commands name) and says
whether it matches, why (the reason the path shows either way), the verdict it would
give, and its actions. A rule that depends on another's answer asks the Walk by function
(`walk.matched(architecture_cannot_fit)`), never by position.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tui_timing.artifact_kinds import KIND
from tui_timing.findings import Action, Check, rule_label
from tui_timing.numerics.fmt import fmt
from tui_timing.stages.catalog import STAGE_BY_ID, Stage
from tui_timing.stages.context import StageContext
from tui_timing.stages.decision.commands import (
    build_cache_command,
    check_command,
    sample_command,
    train_command,
)
from tui_timing.stages.decision.duration import bound_binds, duration_finding
from tui_timing.stages.decision.evidence import GATES, PADDING_CHECKS, STATISTICS, Evidence
from tui_timing.stages.decision.wording import (
    HEAD_REMEDIES,
    architecture_changes,
    architecture_why,
    brief,
    dataset_fault,
    divergence_text,
    drift_figures,
    ids,
    unique,
)


@dataclass
class RuleResult:
    """One rule as evaluated: whether it matched, why, and what it recommends."""

    matched: bool
    reason: str
    verdict: str = ""
    actions: list[Action] = field(default_factory=list)


@dataclass
class Walk:
    """What a rule sees: the evidence, the context, and the answers of the rules above."""

    evidence: Evidence
    ctx: StageContext
    answers: dict[Callable[[Walk], RuleResult], RuleResult] = field(default_factory=dict)

    def matched(self, evaluate: Callable[[Walk], RuleResult]) -> bool:
        """Whether an earlier rule (named by its function) matched."""
        return self.answers[evaluate].matched

    def matched_above(self) -> bool:
        """Whether any earlier rule matched."""
        return any(answer.matched for answer in self.answers.values())

    def label_of(self, evaluate: Callable[[Walk], RuleResult]) -> str:
        """A rule's number and name, from the table."""
        rule = next(rule for rule in RULES if rule.evaluate is evaluate)
        return rule_label(rule.number, rule.question)


@dataclass(frozen=True)
class Rule:
    """A node of the tree: its number, the question it asks, and how it is answered."""

    number: int
    question: str
    evaluate: Callable[[Walk], RuleResult]


def cache_fails(walk: Walk) -> RuleResult:
    """Rule 1: a stage-1 failure; nothing downstream of the cache is trustworthy."""
    ev, ctx = walk.evidence, walk.ctx
    failing = ev.failures(Stage.CACHE)
    if not failing:
        return RuleResult(False, _clean(ev, Stage.CACHE, "no stage-1 check fails"))
    return RuleResult(
        True,
        f"stage 1 fails: {ids(failing)}",
        f"Fix the cache first: {_cache_fault(failing)}; nothing downstream is trustworthy.",
        [
            Action(
                "Rebuild the timing cache (timing-tui build-cache, or your own script) and "
                "re-run the check",
                f"Stage 1 fails: {brief(failing)}.",
                [c.id for c in failing],
                build_cache_command(ctx),
            )
        ],
    )


def dataset_fails(walk: Walk) -> RuleResult:
    """Rule 2: a stage-2 failure; the dataloader does not serve what the cache holds."""
    ev = walk.evidence
    failing = ev.failures(Stage.DATASET)
    if not failing:
        return RuleResult(False, _clean(ev, Stage.DATASET, "no stage-2 check fails"))
    properties = ", ".join(c.id.split(".", 1)[1].replace("_", " ") for c in failing)
    return RuleResult(
        True,
        f"stage 2 fails: {ids(failing)}",
        f"Fix the dataset/dataloader: {dataset_fault(failing)}.",
        [
            Action(
                f"Fix the dataset/dataloader ({properties})",
                f"Stage 2 fails: {brief(failing)}.",
                [c.id for c in failing],
            )
        ],
    )


def conditioning_fails(walk: Walk) -> RuleResult:
    """Rule 3: the backbone is not fed the diffusion model's conditioning vector, or the
    checkpoint was trained on other data than this cache (its duration NLL gap is a μ bias
    while it fitted its own data: duration.py)."""
    ev, ctx = walk.evidence, walk.ctx
    check = ev.get("model.conditioning")
    other_data = duration_finding(ev, ctx)
    if other_data is not None and other_data.rule != 3:
        other_data = None
    if (check is None or check.status != "fail") and other_data is None:
        return RuleResult(
            False,
            _status_reason("model.conditioning", check)
            + "; no duration NLL gap made of a μ bias on data the model did not train on",
        )
    actions: list[Action] = []
    verdicts: list[str] = []
    reasons: list[str] = []
    if check is not None and check.status == "fail":
        timing = ev.measured("model.conditioning", "timing_features") or []
        width = ev.measured("model.conditioning", "model_cond_dim") or ev.measured(
            "model.conditioning", "cache_feature_dim"
        )
        only_dt = bool(timing) and len(timing) == width
        actions.append(
            Action(
                "Feed the backbone the diffusion model's neuromotor conditioning vector",
                f"The backbone's input is not the conditioning vector: {brief([check])}.",
                [check.id],
            )
        )
        if only_dt:
            actions.append(
                Action(
                    "Add path length and direction features (the cache builder computes them)",
                    "Every feature is a Δt statistic: the head sees no geometry and its input "
                    "leaks the target.",
                    [check.id],
                    build_cache_command(ctx),
                )
            )
        reasons.append("model.conditioning fails")
        verdicts.append(
            "Feed the timing head the diffusion model's conditioning vector"
            + (" and add path length/direction features" if only_dt else "")
            + f": {check.message.split(': ', 1)[-1].rstrip('.')}"
        )
    if other_data is not None:
        reasons.append("the duration NLL gap is a μ bias on data the model did not train on")
        verdicts.append(other_data.summary[:1].upper() + other_data.summary[1:])
        actions.append(
            Action(
                "Check which cache and split the checkpoint was trained on, or train it on this "
                "cache (these users)",
                f"{other_data.summary[:1].upper() + other_data.summary[1:]}.",
                [c.id for c in other_data.checks],
                _retrain_command(ctx, ev, "this-cache"),
            )
        )
    return RuleResult(True, "; ".join(reasons), ". ".join(verdicts) + ".", actions)


def architecture_cannot_fit(walk: Walk) -> RuleResult:
    """Rule 4: the head's configuration cannot fit the profile, or puts mass on padding.

    Profile mass on padded steps (`model.length_masking`, `sampler.padding_mass`) is an
    architecture fault too: docs/artifacts.md#checkpoint names a softmax over padding as one of the
    ways a timing head's architecture goes wrong, and no other rule covers it.
    """
    ev, ctx = walk.evidence, walk.ctx
    upstream = ev.failures(Stage.CACHE) + ev.failures(Stage.DATASET)
    if upstream:
        return RuleResult(False, f"the cache or dataloader does not pass ({ids(upstream)})")
    broken = _training_broke(ev)
    if broken:
        return RuleResult(
            False,
            f"{broken}: an architecture check on a model that training broke proves nothing",
        )
    capacity = ev.get("model.profile_capacity")
    flat = ev.failed("sampler.flat")
    untested = (
        capacity is None
        or capacity.status == "skip"
        or (ev.stats(Stage.MODEL).get("can_fit") is None)
    )
    padding = [ev.get(cid) for cid in PADDING_CHECKS if ev.failed(cid)]
    reasons: list[str] = []
    if capacity is not None and capacity.status == "fail":
        reasons.append("model.profile_capacity fails")
    if flat and untested:
        reasons.append("the sampler is flat and the probe could not test the checkpoint's head")
    if padding:
        reasons.append(f"profile mass on padded steps ({ids(padding)})")
    if not reasons:
        return RuleResult(False, _capacity_reason(capacity, flat))
    stats = ev.stats(Stage.MODEL)
    best = stats.get("best")
    config = (stats.get("checkpoint") or {}).get("config") or {}
    evidence = [c for c in padding if c is not None]
    if capacity is not None and (capacity.status == "fail" or (flat and untested)):
        evidence.insert(0, capacity)
    if flat and untested:
        evidence.append(ev.checks["sampler.flat"])
    actions = [
        Action(
            "Revisit the profile head: " + architecture_changes(config, best, bool(padding)),
            architecture_why(ev, capacity, flat and untested, padding),
            [c.id for c in evidence],
            train_command(ctx, best, str(best)) if best in HEAD_REMEDIES else None,
        )
    ]
    changes = architecture_changes(config, best, bool(padding))
    return RuleResult(
        True,
        "; ".join(reasons),
        f"Revisit the timing head's architecture: {changes} "
        f"({architecture_why(ev, capacity, flat and untested, padding).rstrip('.')}).",
        actions,
    )


def duration_head_clipped(walk: Walk) -> RuleResult:
    """Rule 5: a clamp or a bounded range holds log σ away from what the data need.

    A σ off the residual spread with no bound holding it is not this rule (it is training,
    rule 6, or a statistic, rule 8).
    """
    ev, ctx = walk.evidence, walk.ctx
    check = ev.get("model.duration_head")
    if check is None or check.status != "fail":
        return RuleResult(False, _status_reason("model.duration_head", check))
    if not bound_binds(ev):
        return RuleResult(False, "model.duration_head fails, but no clamp or bound holds log σ")
    bound = ev.measured("model.duration_head", "bound") or {}
    needed = ev.measured("model.duration_head", "needed_log_sigma")
    config = _config(ev)
    if bound.get("kind") == "clamp" and bound.get("name"):
        what = f"the clamp {bound['name']} = {fmt(float(bound['log_sigma']))}"
        fix = f"Remove the clamp {bound['name']} on log σ"
    else:
        what = (
            f"a bounded range (such as base + range·tanh(z)) whose {bound.get('edge', 'bound')} "
            f"{fmt(float(bound.get('log_sigma', float('nan'))))}"
        )
        fix = f"Re-centre or widen the range of log σ (its {bound.get('edge', 'bound')})"
    need = f"log σ ≈ {fmt(float(needed))}" if needed is not None else "another σ"
    share = float(bound.get("share", 0))
    held = f"{what} holds log σ on {share:.0%} of rows where the data need {need}"
    head = config.get("profile_head")
    command = (
        train_command(ctx, head, "unclamped")
        if head in HEAD_REMEDIES
        and (ev.stats(Stage.MODEL).get("checkpoint") or {}).get("source") == "reference"
        and bound.get("kind") == "clamp"
        else None
    )
    evidence = [check] + [c for c in (ev.get("model.duration_fit"),) if c and c.status == "fail"]
    return RuleResult(
        True,
        "model.duration_head fails: a bound holds log σ",
        f"{fix} in the duration head: {held}.",
        [
            Action(
                f"{fix} and retrain",
                f"The duration head's log σ is held by a bound: {brief(evidence)}.",
                [c.id for c in evidence],
                command,
            )
        ],
    )


def training_or_sampling(walk: Walk) -> RuleResult:
    """Rule 6: collapse, divergence or a flat sampler, when the architecture is not to blame.

    The rule's conclusion is "the architecture is not the cause", so it does not match
    while rule 4 blames the architecture: a head that cannot represent the profile shows
    a flat profile in its training log too, and that is rule 4's finding, not a second one.
    """
    ev, ctx = walk.evidence, walk.ctx
    if walk.matched(architecture_cannot_fit):
        return RuleResult(
            False,
            f"{walk.label_of(architecture_cannot_fit)} blames the architecture for what "
            "stage 4 and 5 show",
        )
    collapse = ev.get("train.collapse")
    trend = ev.get("train.loss_trend")
    # a sampler whose output could not be used (NaN rows) says nothing about its settings
    sampled = Stage.SAMPLER not in ev.not_assessed()
    flat = ev.get("sampler.flat") if sampled else None
    can_fit = (
        ev.stats(Stage.MODEL).get("can_fit") is True
        and ev.status("model.profile_capacity") == "pass"
    )
    seen: list[str] = []
    evidence: list[Check] = []
    actions: list[Action] = []
    # a log read over steps names steps, never epochs
    axis = ev.measured("train.collapse", "x_axis") or ev.measured("train.loss_trend", "x_axis")
    axis = axis if axis in ("epoch", "step") else "epoch"
    if collapse is not None and collapse.status == "fail":
        at = ev.measured("train.collapse", axis)
        seen.append(f"collapse from {axis} {at}" if at is not None else "collapse")
        evidence.append(collapse)
    if trend is not None and trend.status == "fail":
        seen.append("the loss diverges" + divergence_text(trend))
        evidence.append(trend)
    nonfinite = ev.nonfinite_rows()
    if nonfinite:
        seen.append(
            f"the model outputs NaN or inf on {nonfinite:,} rows (its weights are not finite: "
            "training diverged)"
        )
        evidence += [
            c
            for c in (ev.get("model.duration_head"), ev.get("model.length_masking"))
            if c is not None and c.status == "fail"
        ]
    if evidence:
        actions.append(
            Action(
                f"Look at the training loop at the {axis} where it goes wrong (learning "
                "rate, loss weights of duration vs profile, early stopping)",
                f"Training went wrong: {'; '.join(seen)}.",
                [c.id for c in evidence],
            )
        )
    if flat is not None and flat.status == "fail" and can_fit:
        capacity = ev.get("model.profile_capacity")
        seen.append(
            "the sampler is flat although the probe shows the head can fit the cache (a "
            "temperature or logit scaling too high?)"
        )
        pair = [flat] + ([capacity] if capacity is not None else [])
        evidence += pair
        actions.append(
            Action(
                "Look at sampling: temperature and logit scaling of the profile",
                f"The sampler is flat ({flat.key_figure}) although the probe fits the cache "
                "with the checkpoint's head.",
                [c.id for c in pair],
                sample_command(ctx),
            )
        )
    objective = ev.get("train.objective")
    if objective is not None and objective.status == "fail":
        loss = ev.measured("train.objective", "profile_loss")
        key = ev.measured("train.objective", "key") or "profile_loss"
        seen.append(
            f"the profile is fitted with a squared error ({key} = {loss!r}): switch the profile "
            "loss to KL"
        )
        evidence.append(objective)
        actions.append(
            Action(
                "Switch the profile loss to KL(target ‖ profile) and retrain",
                f"The profile is fitted with MSE ({objective.key_figure}): a squared error "
                "barely feels the small late bins.",
                [objective.id],
                _retrain_command(ctx, ev, "kl", "--profile-loss kl"),
            )
        )
    undertrained = duration_finding(ev, ctx)
    if undertrained is not None and undertrained.rule == 6:
        seen.append(undertrained.summary)
        evidence += undertrained.checks
        actions.append(
            Action(
                undertrained.fix,
                undertrained.summary[:1].upper() + undertrained.summary[1:] + ".",
                [c.id for c in undertrained.checks],
            )
        )
    for check_id, finding, remedy in _SAMPLER_FAULTS:
        check = ev.get(check_id) if sampled else None
        if check is not None and check.status == "fail":
            direction = ev.measured(check_id, "direction")
            if direction in _TEMPERED:
                finding, remedy = _TEMPERED[direction]
            temperature = ev.measured(check_id, "temperature")
            seen.append(
                finding.format(
                    figure=check.key_figure,
                    temperature=f" (T ≈ {fmt(float(temperature))})"
                    if isinstance(temperature, (int, float))
                    else "?",
                )
            )
            evidence.append(check)
            why = f"The sampler is at fault: {brief([check])}."
            actions.append(Action(remedy, why, [check.id]))
    if not seen:
        return RuleResult(
            False,
            "no collapse, divergence, MSE profile loss or undertrained duration head in "
            "stages 3-4, and no sampler fault (flat with a capable head, real rows handed "
            "back, durations clipped, noisy profiles)",
        )
    remedy = (
        "Fix the sampler's setting"
        if all(c.id.startswith("sampler.") for c in evidence)
        else "Look at training and sampling"
    )
    return RuleResult(
        True,
        "; ".join(seen),
        "The architecture is not the cause: " + "; ".join(seen) + f". {remedy}.",
        actions,
    )


def eval_drifts(walk: Walk) -> RuleResult:
    """Rule 7: stage 6 drifts in a way the standalone sampler does not explain."""
    ev, ctx = walk.evidence, walk.ctx
    renorm = ev.get("integration.renormalization")
    gates = [ev.get(cid) for cid in GATES if ev.failed(cid)]
    cause = ev.measured("integration.vel_p95", "cause")
    copied = ev.get("integration.fake_generated")
    shifted = ev.get("integration.dt_pairing")
    eval_side: list[Check | None] = [
        c for c in (renorm, copied, shifted) if c is not None and c.status == "fail"
    ]
    if cause in ("paths", "both"):
        eval_side.append(ev.get("integration.vel_p95"))
    if not eval_side and not gates:
        return RuleResult(
            False, _clean(ev, Stage.INTEGRATION, "no stage-6 gate or re-normalization fails")
        )
    sampler_failing = ev.failures(Stage.SAMPLER)
    sampler_gap = ev.skipped().get(Stage.SAMPLER) or (
        "its input could not be used" if Stage.SAMPLER in ev.not_assessed() else None
    )
    if not eval_side and sampler_failing:
        return RuleResult(
            False,
            f"stage 6 drifts ({ids(gates)}) but the standalone sampler fails too "
            f"({ids(sampler_failing)}): the drift is the head's own",
        )
    drift = unique(eval_side + gates)
    if sampler_failing:
        sampler_state = "fails too"
        standalone = f"the standalone sampler fails too ({ids(sampler_failing)})"
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
            f"Stage 6 drifts (the standalone sampler {sampler_state}): {brief(drift)}.",
            [c.id for c in drift],
        )
    ]
    if sampler_gap:
        actions.append(
            Action(
                "Run the standalone sampler (stage 5) to rule out the head itself",
                f"Stage 5 was not assessed: {sampler_gap}.",
                ["sampler.run"],
                check_command(ctx),
            )
        )
    return RuleResult(
        True,
        f"{standalone}; stage 6 drifts ({ids(drift)})",
        (
            "The timing head is consistent standalone but drifts in the diffusion eval"
            if standalone == "the standalone sampler passes"
            else "The diffusion eval changes the sequences' scale"
        )
        + f": {_drift_kind(ev, drift)}.",
        actions,
    )


def _drift_kind(ev: Evidence, drift: list[Check]) -> str:
    """The kind of drift the checks measured, in the user's terms: the eval's real side
    cut differently, Δt re-normalized per path, a constant Δt factor, or paths left in
    normalized units; else the gates' figures."""
    kinds: list[str] = []
    if ev.failed("integration.fake_generated"):
        share = float(ev.measured("integration.fake_generated", "share") or 0)
        of_cache = int(ev.measured("integration.fake_generated", "of_cache") or 0)
        of_real = int(ev.measured("integration.fake_generated", "of_real_side") or 0)
        rows = (
            "rows of the cache, not of the eval's real side"
            if of_cache > of_real
            else "copies of real rows"
        )
        kinds.append(
            f"the eval's fake sequences are {rows} ({share:.0%} of them): the fake side is real "
            "data, not generated by the model, so the eval compares the data with itself"
        )
    if ev.failed("integration.dt_pairing"):
        step = int(ev.measured("integration.dt_pairing", "shift") or 0)
        kinds.append(
            f"fake Δt are shifted by one step against their points (each step's length goes "
            f"with the {'next' if step > 0 else 'previous'} step's Δt): Δt were assigned to "
            "the wrong steps, an off-by-one between the Δt and xy columns"
        )
    real = ev.get("integration.real_vs_cache")
    if real is not None and real.status == "warn":
        differences = ev.measured("integration.real_vs_cache", "differences") or []
        kinds.append(
            "the eval's real sequences differ from the cache's rows ("
            + "; ".join(differences)
            + "), and every gate compares the fake side with them"
        )
    total = ev.measured("integration.renormalization", "fixed_total")
    factor = (ev.measured("integration.renormalization", "dt_factor") or {}).get("factor")
    renorm_fails = ev.failed("integration.renormalization")
    if renorm_fails and total is not None:
        kinds.append(
            f"each fake path's Δt were re-normalized to the same total ({fmt(float(total))} s): "
            "re-normalized per path after Δt were assigned"
        )
    elif renorm_fails and factor is not None and abs(float(factor) - 1) > 0.05:
        kinds.append(
            f"fake Δt are a constant {fmt(float(factor))}× real: Δt re-scaled after they were "
            "assigned (a normalization applied twice?)"
        )
    elif renorm_fails:
        figure = ev.checks["integration.renormalization"].key_figure
        kinds.append(f"fake Δt do not sum to the sampled durations ({figure})")
    cause = ev.measured("integration.vel_p95", "cause")
    if cause in ("paths", "both"):
        velocity = (ev.measured("integration.vel_p95", "factor") or {}).get("factor")
        times = f"{fmt(float(velocity))}× real" if velocity is not None else "off real"
        kinds.append(
            f"fake velocities are a constant {times}: the paths were left in normalized units"
        )
    if not kinds:
        kinds.append(_shape_drift(ev, drift))
    return "; ".join(kinds)


def _shape_drift(ev: Evidence, drift: list[Check]) -> str:
    """A gate that drifts with no constant factor behind it, named by which side moved: the
    velocities alone (Δt paired with other steps than the points', unless the pairing check
    measured otherwise: then the paths' own step lengths), or Δt themselves."""
    dt_off = ev.failed("integration.dt_median")
    vel_off = ev.failed("integration.vel_p95")
    vel = ev.measured("integration.vel_p95", "ratio")
    dt = ev.measured("integration.dt_median", "ratio")
    if vel_off and not dt_off and isinstance(vel, (int, float)):
        moved = (
            f"fake velocities are {fmt(float(vel))}× real at p95 while Δt agree, and no single "
            "factor explains it"
        )
        pairing = ev.get("integration.dt_pairing")
        if pairing is not None and pairing.status == "pass":  # measured: not the pairing
            return (
                f"{moved}; Δt go with their own steps' points (integration.dt_pairing), so the "
                "fake paths' step lengths differ in shape (the generator's xy, not its timing)"
            )
        return (
            f"{moved}: Δt are paired with other steps than the points (a mask or a one-step "
            "shift between Δt and xy?)"
        )
    if dt_off and isinstance(dt, (int, float)):
        return (
            f"fake Δt differ from real in shape, not by one factor (median fake/real "
            f"{fmt(float(dt))}): Δt assigned through another mask, to other steps, or from "
            "other durations than the sampled ones?"
        )
    return f"{drift_figures(drift)}: inspect how the eval assigns Δt and normalizes paths"


def only_statistics_off(walk: Walk) -> RuleResult:
    """Rule 8: a check still fails (or a statistic is off) that no rule above explains:
    tune loss weights or temperatures. Never while a rule above matches, and rule 9 never
    follows a failing check."""
    ev = walk.evidence
    if walk.matched_above():
        return RuleResult(False, "a rule above matches")
    failing = ev.failing()
    off = unique([*failing, *ev.statistics_off()])
    if not off:
        return RuleResult(False, "no check fails and no statistic is off")
    structural = [c for c in failing if c.id not in STATISTICS]
    reason = f"no rule above explains {ids(off)}"
    if structural:
        return RuleResult(
            True,
            reason,
            f"A check fails that no rule explains ({brief(structural)}); statistics: "
            f"{ids([c for c in off if c not in structural]) or 'none off'}. Look at the failing "
            "check first, then tune loss weights or temperatures.",
            [
                Action(
                    "Look at the failing checks, then tune loss weights or temperatures",
                    f"These checks fail and no rule above explains them: {brief(off)}.",
                    [c.id for c in off],
                )
            ],
        )
    return RuleResult(
        True,
        reason,
        f"No structural fault found; statistics are still off ({brief(off)}): tune loss "
        "weights or temperatures.",
        [
            Action(
                "Tune loss weights (duration NLL vs profile loss) or sampling temperatures",
                f"No structural check fails, but statistics are off: {brief(off)}.",
                [c.id for c in off],
            )
        ],
    )


def everything_passes(walk: Walk) -> RuleResult:
    """Rule 9: every check that ran passes. Only with stages 1-6 all assessed is the head
    called consistent; otherwise the verdict says no fault was found in the stages that
    ran, and names each stage not assessed with what to give for it."""
    ev, ctx = walk.evidence, walk.ctx
    if walk.matched_above():
        return RuleResult(False, "a rule above matches")
    gaps = ev.not_assessed_why()
    unusable = ev.not_assessed()
    c2st = ev.get("integration.c2st")
    c2st_text = (
        f" C2ST in stage 6: {c2st.message}"
        if c2st is not None and c2st.status in ("pass", "warn")
        else ""
    )
    named = [
        f"stage {sid} {STAGE_BY_ID[sid].name} ({why}: give {_what_to_give(ctx, sid, why)})"
        for sid, why in gaps.items()
    ]
    if gaps:
        ran = [str(sid) for sid in range(1, 7) if sid not in gaps]
        verdict = (
            f"No fault found in the stages that ran ({', '.join(ran) or 'none'}); not "
            f"assessed: {'; '.join(named)}."
        )
    else:
        verdict = "The timing head is consistent as far as the evidence goes."
    actions: list[Action] = []
    if unusable:
        bad = [c for checks in unusable.values() for c in checks]
        actions.append(
            Action(
                "Make the unusable artifacts usable and re-run the check",
                f"These checks could not use their input: {ids(bad)} (the reasons are in "
                "their stages).",
                [c.id for c in bad],
            )
        )
    missing = {sid: why for sid, why in gaps.items() if sid not in unusable}
    if missing:
        actions.append(
            Action(
                "Give what the stages not assessed need, and re-run the check",
                "; ".join(n for sid, n in zip(gaps, named, strict=True) if sid in missing) + ".",
                [ev.stage_checks(sid)[0].id for sid in missing if ev.stage_checks(sid)],
            )
        )
    reason = "no rule above matches"
    if gaps:
        reason += f"; not assessed: stages {', '.join(str(sid) for sid in gaps)}"
    return RuleResult(True, reason, verdict + c2st_text, actions)


def _what_to_give(ctx: StageContext, stage: int, why: str) -> str:
    """The option (or artifact) that would let a stage not assessed run: what it reads
    first, and the plug-in that stands in for a model nobody could build."""
    if stage == Stage.MODEL and ctx.paths.checkpoint is not None:
        return "--model module:factory to build your model, or a checkpoint that loads"
    if stage == Stage.SAMPLER and ctx.paths.checkpoint is not None:
        return "--model module:factory or --sampler module:function"
    give = KIND[STAGE_BY_ID[stage].reads[0]].give
    return give + _PLUGIN_TOO.get(Stage(stage), "")


#: The plug-in that can stand in for (or go with) what a stage reads first.
_PLUGIN_TOO = {
    Stage.DATASET: " (and --dataset module:Class for your own)",
    Stage.SAMPLER: " (or --sampler module:function)",
}


#: Sampler faults rule 6 names: the check, what was seen, and the setting to change.
_SAMPLER_FAULTS = (
    (
        "sampler.passthrough",
        "the sampler hands back real rows ({figure}): it samples nothing, so every sampler "
        "comparison passed for the wrong reason",
        "Make the sampler draw from the model (a mix of real data set to 0 returns the data)",
    ),
    (
        "sampler.duration_ceiling",
        "the sampler clips durations ({figure})",
        "Remove the clip on sampled durations (it hides a σ that is too wide)",
    ),
    (
        "sampler.profile_dispersion",
        "the sampled profiles are far noisier within rows than real ones ({figure}): a "
        "Dirichlet concentration too low?",
        "Raise the concentration of the profile draw (or sample the head's own profile)",
    ),
    (
        "sampler.calibration",
        "the sampled durations are not the head's μ + σ·ε: {figure}",
        "Draw log d = μ + exp(log σ)·ε with one standard normal ε per row, from the head run "
        "on each row's own features and length",
    ),
)
#: The same dispersion check when the sampler flattens or sharpens the head's profile.
_TEMPERED = {
    "flatter": (
        "the sampler flattens the head's profile within rows ({figure}): a temperature or "
        "logit scaling above 1{temperature}",
        "Sample the profile at temperature 1 (no extra logit scaling)",
    ),
    "sharper": (
        "the sampler sharpens the head's profile within rows, colder than its head "
        "({figure}): a temperature below 1{temperature}",
        "Sample the profile at temperature 1 (no extra logit scaling)",
    ),
}


def _cache_fault(failing: list[Check]) -> str:
    """The cache's fault in the user's terms: the unit or the shuffle when those checks say
    so, then the other failing checks with their key figures. A row misaligned because its
    length disagrees with its mask is that disagreement, not a shuffle."""
    named: list[str] = []
    said: set[str] = set()
    mask_wrong = any(c.id in ("cache.mask_length", "cache.mask_prefix") for c in failing)
    for check in failing:
        m = check.measured if isinstance(check.measured, dict) else {}
        if check.id == "cache.units" and m.get("mixed") and m.get("unit"):
            named.append(
                f"{float(m['share_off']):.1%} of the rows' durations look like {m['unit']} "
                f"(median {fmt(float(m['median_off']))} s per movement; divide those by "
                f"{float(m['factor']):g})"
            )
            said.add(check.id)
        elif check.id == "cache.units" and m.get("unit") and m.get("factor"):
            named.append(
                f"durations look like {m['unit']} (median {fmt(float(m['median']))} s per "
                f"movement; divide them by {float(m['factor']):g})"
            )
            said.add(check.id)
        elif check.id in _CACHE_WORDS and _cache_words(check.id, m):
            named.append(_cache_words(check.id, m))
            said.add(check.id)
        elif check.id == "cache.vs_raw" and _raw_drift(m):
            named.append(_raw_drift(m))
            said.add(check.id)
        elif check.id == "cache.row_alignment" and not mask_wrong and "share_off" in m:
            named.append(
                f"rows are shuffled against their features ({m.get('feature')} disagrees with "
                f"length on {float(m['share_off']):.0%} of rows)"
            )
            said.add(check.id)
    others = [c for c in failing if c.id not in said]
    if others:
        named.append(brief(others))
    return "; ".join(named)


def _training_broke(ev: Evidence) -> str:
    """Why the model's outputs say nothing about its architecture: they are not finite, or
    its log diverged ('' when neither)."""
    nonfinite = ev.nonfinite_rows()
    if nonfinite:
        return f"the model outputs NaN or inf on {nonfinite:,} rows"
    if ev.failed("train.loss_trend"):
        return "its training log diverged (train.loss_trend fails)"
    return ""


#: Stage 1 findings in a person's words, from their measured counts (a figure missing or
#: zero leaves the check to its key figure).
_CACHE_WORDS = {
    "cache.nonnegative": (
        ("durations_not_positive", "{:,} durations are 0 or negative"),
        ("negative_profile_values", "{:,} profile values are negative"),
    ),
    "cache.mask_length": (
        ("rows_mask_sum_differs", "the mask's length differs from length on {:,} rows"),
    ),
    "cache.padding_zero": (("rows", "{:,} rows carry profile mass on padded steps"),),
    "cache.log_duration": (
        ("rows_off", "log_duration is not log(duration) on {:,} rows (another log base?)"),
    ),
}


def _cache_words(check_id: str, measured: dict[str, Any]) -> str:
    parts = [
        text.format(int(measured[key]))
        for key, text in _CACHE_WORDS[check_id]
        if isinstance(measured.get(key), (int, float)) and measured[key]
    ]
    return "; ".join(parts)


#: The raw summary's figures as a person names them.
_RAW_NAMES = {
    "n_segments": "the row count",
    "duration.mean": "the mean duration",
    "duration.std": "the spread of durations",
    "profile_first": "the first profile bin",
    "profile_mid": "the mid profile bin",
    "profile_last": "the last profile bin",
}


def _raw_drift(measured: dict[str, Any]) -> str:
    """What drifted from the raw summary, and by how much ('' when nothing is named)."""
    drifted = []
    for key, row in measured.items():
        if not isinstance(row, dict) or row.get("ok") is not False:
            continue
        cache, raw = float(row["cache"]), float(row["raw"])
        change = f"{cache / raw - 1:+.1%}" if raw else "from 0"
        drifted.append(
            f"{_RAW_NAMES.get(key, key)} is {change} against the raw summary "
            f"({fmt(cache)} vs {fmt(raw)})"
        )
    if not drifted:
        return ""
    return "the cache drifted from its raw data: " + ", ".join(drifted)


def _config(ev: Evidence) -> dict[str, Any]:
    """The checkpoint's config as stage 3 read it (empty without a checkpoint)."""
    config = (ev.stats(Stage.MODEL).get("checkpoint") or {}).get("config") or {}
    return config if isinstance(config, dict) else {}


def _retrain_command(ctx: StageContext, ev: Evidence, label: str, option: str = "") -> str | None:
    """`timing-tui train` on this cache with the checkpoint's head (and `option`), for a
    checkpoint of the reference head."""
    head = _config(ev).get("profile_head")
    source = (ev.stats(Stage.MODEL).get("checkpoint") or {}).get("source")
    if source != "reference" or head not in HEAD_REMEDIES:
        return None
    command = train_command(ctx, head, label)
    return f"{command} {option}".rstrip() if command else None


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


RULES: tuple[Rule, ...] = tuple(
    Rule(number, question, evaluate)
    for number, (question, evaluate) in enumerate(
        (
            ("stage 1 fails", cache_fails),
            ("stage 2 fails", dataset_fails),
            ("model.conditioning fails", conditioning_fails),
            ("the architecture cannot fit the profile", architecture_cannot_fit),
            ("the duration head clips log σ", duration_head_clipped),
            (
                "training collapses or diverges, or the sampler is flat with a capable head",
                training_or_sampling,
            ),
            (
                "stage 6 drifts in a way the standalone sampler does not explain",
                eval_drifts,
            ),
            ("only statistics are off", only_statistics_off),
            ("everything that ran passes", everything_passes),
        ),
        start=1,
    )
)
