"""The walk through the decision tree: every rule in order, each with its answer (yes or
no) and why, the rule that gave the verdict marked.

A rule that did not match takes one muted line (it wraps only where its reason is long);
one that matched is bold, with its reason (the checks that made it match) below it.
"""

from __future__ import annotations

from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Static

from tui_timing.findings import RuleOutcome
from tui_timing.tui.safe_text import markup

HEADING = "[b]Path through the decision tree[/b]"


def rule_markup(outcome: RuleOutcome, verdict_rule: int | None = None) -> Content:
    """`1. stage 1 fails? no: reason`, or for a match `4. name? yes ← verdict` over its reason."""
    values = {"rule": outcome.rule, "name": outcome.name, "reason": outcome.reason}
    if not outcome.matched:
        return markup("[$text-muted]$rule. $name? no: $reason[/]", **values)
    verdict = " [b $accent]← verdict[/]" if outcome.rule == verdict_rule else ""
    return markup("[b]$rule. $name? [$accent]yes[/][/b]" + verdict + "\n$reason", **values)


class DecisionPath(Vertical):
    """One row per rule: a mark column and a body."""

    DEFAULT_CSS = """
    DecisionPath { height: auto; margin-bottom: 1; }
    DecisionPath .rule { height: auto; }
    DecisionPath .rule-mark { width: 2; }
    DecisionPath .rule-body { width: 1fr; height: auto; }
    """

    def show(self, path: list[RuleOutcome]) -> None:
        """Replace the rows with this path."""
        self.remove_children()
        if not path:
            return
        verdict_rule = next((o.rule for o in path if o.matched), None)
        rows: list[Static | Horizontal] = [Static(HEADING)]
        for outcome in path:
            mark = "[$accent]▶[/]" if outcome.matched else "[$text-muted]·[/]"
            rows.append(
                Horizontal(
                    Static(mark, classes="rule-mark"),
                    Static(rule_markup(outcome, verdict_rule), classes="rule-body"),
                    classes="rule",
                )
            )
        self.mount_all(rows)
