"""The walk through the decision tree: every rule in order, matched ones marked, each with
the evidence the core gave for its outcome."""

from __future__ import annotations

from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.widgets import Static

from tui_timing.report.results import RuleOutcome


def rule_markup(outcome: RuleOutcome) -> str:
    """`4. name` (bold when it matched) over its reason."""
    name = f"{outcome.rule}. {escape(outcome.name)}"
    title = f"[b $accent]{name}[/]" if outcome.matched else name
    return f"{title}\n[$text-muted]{escape(outcome.reason)}[/]"


class DecisionPath(Vertical):
    """One row per rule: a mark column and a wrapping body."""

    DEFAULT_CSS = """
    DecisionPath { height: auto; }
    DecisionPath .rule { height: auto; }
    DecisionPath .rule-mark { width: 2; }
    DecisionPath .rule-body { width: 1fr; height: auto; }
    """

    def show(self, path: list[RuleOutcome]) -> None:
        """Replace the rows with this path."""
        self.remove_children()
        if not path:
            return
        rows: list[Static | Horizontal] = [Static("[b]Path through the decision tree[/b]")]
        for outcome in path:
            mark = "[$accent]▶[/]" if outcome.matched else "[$text-muted]·[/]"
            rows.append(
                Horizontal(
                    Static(mark, classes="rule-mark"),
                    Static(rule_markup(outcome), classes="rule-body"),
                    classes="rule",
                )
            )
        self.mount_all(rows)
