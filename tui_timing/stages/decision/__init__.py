"""Stage 7, the decision tree (docs/decision.md; step 7 of docs/README.md#the-plan): what to do
next, and on what evidence.

The package reads top to bottom: evidence.py (the checks and their groupings), rules.py
(the rules as a table), wording.py (how findings are quoted), commands.py (the commands
actions suggest); this module walks the table.

Every rule is evaluated, in order, on the checks of stages 1-6; the first that matches is
the verdict and every one that matches contributes its actions, each citing the checks
(ids and their figures) that led to it and, where one exists, the command that does it.
The whole walk is kept (`Decision.path`, and `stats["path"]` in the JSON) so a verdict can
be traced back rule by rule.

Two readings the contract in docs/ leaves open are settled here:
- A check that could not look at its input (status `error`, or `model.load`,
  `train.log` and `sampler.run` failing: the artifact itself was unusable) does not count
  as a finding of stages 3-6; those stages are *not assessed*, and the verdict names them.
  In stages 1 and 2 any failure or error matches rules 1 and 2, since nothing downstream
  of an unusable cache or dataset is trustworthy.
- Rule 8 (tune loss weights or temperatures) needs a *statistic* that is off (a checked
  distribution of the model's output against the data) while no *structural* check fails
  or errs; it never appears while another rule matches.
"""

from __future__ import annotations

from tui_timing.findings import Action, Decision, RuleOutcome, StageResult, Status
from tui_timing.stages.catalog import DIAGNOSTIC, STAGE_BY_ID, Stage
from tui_timing.stages.context import StageContext
from tui_timing.stages.decision.evidence import Evidence
from tui_timing.stages.decision.rules import RULES, Walk, everything_passes, only_statistics_off

#: The stage's status by the verdict's rule: a fault (every other rule) fails it; only
#: statistics off warns; all passing passes, unless some stage could not be assessed.
_STATUS: dict[object, Status] = {only_statistics_off: "warn", everything_passes: "pass"}


def run(ctx: StageContext) -> StageResult:
    """Walk the tree over the results of stages 1-6 already in the context."""
    decision = decide(ctx)
    verdict = next(rule.evaluate for rule in RULES if rule.number == decision.rule)
    status: Status = _STATUS.get(verdict, "fail")
    if status == "pass" and Evidence(ctx.results).not_assessed_why():
        status = "warn"
    return StageResult(
        id=int(Stage.DECISION),
        name=STAGE_BY_ID[Stage.DECISION].name,
        stats={
            "rule": decision.rule,
            "verdict": decision.verdict,
            "matched": [o.rule for o in decision.path if o.matched],
            "path": [
                {"rule": o.rule, "name": o.name, "matched": o.matched, "reason": o.reason}
                for o in decision.path
            ],
        },
        figures=[f"{decision.rule_label}: {decision.verdict}"],
        status_override=status,
        decision=decision,
    )


def decide(ctx: StageContext) -> Decision:
    """Ask every rule in order: the first match is the verdict, every match adds actions."""
    walk = Walk(Evidence(ctx.results), ctx)
    for rule in RULES:
        walk.answers[rule.evaluate] = rule.evaluate(walk)
    answered = [(rule, walk.answers[rule.evaluate]) for rule in RULES]
    verdict_rule, verdict = next((r, a) for r, a in answered if a.matched)
    gaps = walk.evidence.not_assessed_why()
    return Decision(
        verdict=verdict.verdict,
        rule=verdict_rule.number,
        actions=[
            Action(a.title, a.why, a.evidence, a.command, rule=rule.number)
            for rule, answer in answered
            if answer.matched
            for a in answer.actions
        ],
        path=[
            RuleOutcome(rule.number, rule.question, answer.matched, answer.reason)
            for rule, answer in answered
        ],
        assessed=[int(sid) for sid in DIAGNOSTIC if sid not in gaps],
        not_assessed=[int(sid) for sid in gaps],
    )
