"""The decision tree's rules (SPEC 4), as data: `RULES`, at the end, in the order they are
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

from tui_timing.findings import Action, Check
from tui_timing.numerics.fmt import fmt
from tui_timing.stages.catalog import STAGE_BY_ID, Stage
from tui_timing.stages.context import StageContext
from tui_timing.stages.decision.commands import (
    build_cache_command,
    check_command,
    sample_command,
    train_command,
)
from tui_timing.stages.decision.evidence import GATES, PADDING_CHECKS, Evidence
from tui_timing.stages.decision.wording import (
    HEAD_REMEDIES,
    architecture_changes,
    architecture_why,
    brief,
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

    def number_of(self, evaluate: Callable[[Walk], RuleResult]) -> int:
        """A rule's number, from the table."""
        return next(rule.number for rule in RULES if rule.evaluate is evaluate)


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
        f"Fix the cache first ({ids(failing)} fail); nothing downstream is trustworthy.",
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
        f"Fix the dataset/dataloader: {properties}.",
        [
            Action(
                f"Fix the dataset/dataloader ({properties})",
                f"Stage 2 fails: {brief(failing)}.",
                [c.id for c in failing],
            )
        ],
    )


def conditioning_fails(walk: Walk) -> RuleResult:
    """Rule 3: the backbone is not fed the diffusion model's conditioning vector."""
    ev, ctx = walk.evidence, walk.ctx
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
            f"The backbone's input is not the conditioning vector: {brief([check])}.",
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
                build_cache_command(ctx),
            )
        )
    return RuleResult(
        True,
        "model.conditioning fails",
        "Feed the timing head the diffusion model's conditioning vector"
        + (" and add path length/direction features." if only_dt else "."),
        actions,
    )


def architecture_cannot_fit(walk: Walk) -> RuleResult:
    """Rule 4: the head's configuration cannot fit the profile, or puts mass on padding.

    Profile mass on padded steps (`model.length_masking`, `sampler.padding_mass`) is an
    architecture fault too: SPEC 2.3 names a softmax over padding as one of the ways a
    timing head's architecture goes wrong, and no other rule covers it.
    """
    ev, ctx = walk.evidence, walk.ctx
    upstream = ev.failures(Stage.CACHE) + ev.failures(Stage.DATASET)
    if upstream:
        return RuleResult(False, f"the cache or dataloader does not pass ({ids(upstream)})")
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
    named = f"; the probe's best is {best} ({HEAD_REMEDIES.get(best, best)})" if best else ""
    return RuleResult(
        True,
        "; ".join(reasons),
        f"Revisit the timing head's architecture{named}.",
        actions,
    )


def duration_head_clipped(walk: Walk) -> RuleResult:
    """Rule 5: a clamp on log σ binds in the duration head."""
    ev, ctx = walk.evidence, walk.ctx
    check = ev.get("model.duration_head")
    if check is None or check.status != "fail":
        return RuleResult(False, _status_reason("model.duration_head", check))
    config = (ev.stats(Stage.MODEL).get("checkpoint") or {}).get("config") or {}
    clamps = [
        f"{key} = {fmt(float(config[key]))}"
        for key in ("logsigma_min", "logsigma_max")
        if isinstance(config.get(key), (int, float))
    ]
    what = f" ({', '.join(clamps)})" if clamps else ""
    head = config.get("profile_head")
    command = (
        train_command(ctx, head, "unclamped")
        if head in HEAD_REMEDIES
        and (ev.stats(Stage.MODEL).get("checkpoint") or {}).get("source") == "reference"
        else None
    )
    return RuleResult(
        True,
        "model.duration_head fails",
        f"Remove the clipping of log σ in the duration head{what}.",
        [
            Action(
                f"Remove the clamp on log σ{what} and retrain",
                f"The duration head's log σ is clipped: {brief([check])}.",
                [check.id],
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
            f"rule {walk.number_of(architecture_cannot_fit)} blames the architecture for what "
            "stage 4 and 5 show",
        )
    collapse = ev.get("train.collapse")
    trend = ev.get("train.loss_trend")
    flat = ev.get("sampler.flat")
    can_fit = (
        ev.stats(Stage.MODEL).get("can_fit") is True
        and ev.status("model.profile_capacity") == "pass"
    )
    seen: list[str] = []
    evidence: list[Check] = []
    actions: list[Action] = []
    if collapse is not None and collapse.status == "fail":
        epoch = ev.measured("train.collapse", "epoch")
        seen.append(f"collapse from epoch {epoch}" if epoch is not None else "collapse")
        evidence.append(collapse)
    if trend is not None and trend.status == "fail":
        seen.append("the loss diverges" + divergence_text(trend))
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
                f"The sampler is flat ({flat.key_figure}) although the probe fits the cache "
                "with the checkpoint's head.",
                [c.id for c in pair],
                sample_command(ctx),
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


def eval_drifts(walk: Walk) -> RuleResult:
    """Rule 7: stage 6 drifts in a way the standalone sampler does not explain."""
    ev, ctx = walk.evidence, walk.ctx
    renorm = ev.get("integration.renormalization")
    gates = [ev.get(cid) for cid in GATES if ev.failed(cid)]
    cause = ev.measured("integration.vel_p95", "cause")
    eval_side = [c for c in (renorm,) if c is not None and c.status == "fail"]
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
        + f" ({drift_figures(drift)}): inspect normalization (are sequences re-normalized after "
        "assigning Δt?).",
        actions,
    )


def only_statistics_off(walk: Walk) -> RuleResult:
    """Rule 8: no structural check fails or errs, but a statistic is off (tune, do not
    rebuild); never while a rule above matches."""
    ev = walk.evidence
    if walk.matched_above():
        return RuleResult(False, "a rule above matches")
    structural = ev.structural_failures()
    if structural:
        return RuleResult(False, f"a structural check fails or errs ({ids(structural)})")
    off = ev.statistics_off()
    if not off:
        return RuleResult(False, "no statistic is off")
    return RuleResult(
        True,
        f"no structural check fails; statistics off: {ids(off)}",
        f"No structural fault found; statistics are still off ({ids(off)}): tune loss "
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
    """Rule 9: every check that ran passes; the stages not assessed are named."""
    ev = walk.evidence
    if walk.matched_above():
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
                f"These checks could not use their input: {ids(bad)} (the reasons are in "
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
