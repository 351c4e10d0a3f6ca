"""Stage 7's pane: the verdict at the top, the path through the decision tree that led to
it (rule by rule: matched or not, and why), then the actions.

Each action is its title, one short sentence with the key figures (the full sentences
are in the checks of their stages), its evidence and its command. Actions are the pane's
items: up and down move the cursor over them, the one under it is what `a` runs and `y`
copies, Enter shows it whole, and its text can be selected with the mouse like any other.
The command's output streams into the log below them.
"""

from __future__ import annotations

import textwrap

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Log, Static

from tui_timing.findings import Action, Decision, RuleOutcome, StageResult
from tui_timing.report.compare import Comparison
from tui_timing.stages.catalog import StageInfo
from tui_timing.tui.compare_state import ComparedStage
from tui_timing.tui.panes.decision_path import DecisionPath
from tui_timing.tui.panes.item_text import action_text
from tui_timing.tui.panes.pane_item import PaneItem
from tui_timing.tui.panes.stage_pane import StagePane
from tui_timing.tui.safe_text import clean, lines, markup
from tui_timing.tui.themes import PlotPalette

#: Lines of action output kept: enough for a build log, bounded for a long-running command.
LOG_LINES = 2000
#: Below this many columns the log is not laid out yet: lines wrap at FALLBACK_WRAP.
MIN_WRAP, FALLBACK_WRAP = 20, 70


def verdict_markup(decision: Decision) -> Content:
    """The verdict and the rule that gave it."""
    return markup(
        "[b]Verdict[/b] of $rule: [b $accent]$verdict[/]",
        rule=decision.rule_label,
        verdict=decision.verdict,
    )


def action_prompt(number: int, action: Action) -> Content:
    """An action as a multi-line list entry: title, why, evidence, command.

    No indentation: an option's lines wrap back to its left edge, so the parts differ by
    style and label instead (the title bold, the evidence muted, the command in accent).
    """
    parts = [
        markup(f"[b]{number}. $title[/b]", title=action.title),
        markup("$why", why=action.why),
    ]
    if action.evidence:
        parts.append(markup("[$text-muted]evidence: $ids[/]", ids=", ".join(action.evidence)))
    if action.command:
        parts.append(markup("[$accent]$ $command[/]", command=action.command))
    else:
        parts.append(Content.from_markup("[$text-muted](no command: a change to make by hand)[/]"))
    return lines(parts)


def action_item(number: int, action: Action) -> PaneItem:
    """An action as an item of the pane (its whole text is what Enter and `Y` show)."""
    return PaneItem(action_prompt(number, action), action_text(action), f"action {number}")


def comparison_markup(comparison: Comparison) -> Content:
    """What changed from A to B: the summary, the checks fixed and regressed by name, and
    each run's verdict."""
    name_a, name_b = comparison.names
    parts = [
        markup("[b]Compared[/b] A $a → B $b", a=name_a, b=name_b),
        markup("$summary", summary=comparison.summary),
    ]
    for kind, style in (("regressed", "$error"), ("fixed", "$success")):
        found = comparison.of_kind(kind)  # type: ignore[arg-type]
        if found:
            ids = ", ".join(c.id for c in found)
            parts.append(markup(f"[b {style}]{kind}[/]: $ids", ids=ids))
    for side, report in (("A", comparison.a), ("B", comparison.b)):
        decision = report.decision
        parts.append(
            markup(
                f"[b]{side}[/b], $rule: $verdict",
                rule=decision.rule_label,
                verdict=decision.verdict,
            )
            if decision
            else Content.from_markup(f"[b]{side}[/b] [$text-muted]no verdict yet[/]")
        )
    return lines(parts)


class DecisionPane(StagePane):
    """The decision's walk-through, its actions (selectable) and the action output."""

    def __init__(self, info: StageInfo) -> None:
        super().__init__(info)
        self._actions: list[Action] = []
        self._path: list[RuleOutcome] = []

    def compose_details(self) -> ComposeResult:
        yield Static(classes="compare-summary")
        yield Static(classes="decision")
        yield DecisionPath()
        yield Static(
            "[b]Actions[/b] [$text-muted](up, down: pick · a: run · y: copy its command)[/]",
            classes="actions-title",
        )
        yield Vertical(id="actions")
        yield Log(max_lines=LOG_LINES, id="action-log")

    def show_result(self, result: StageResult | None, palette: PlotPalette, flip_log: bool) -> None:
        """The verdict, the path and the actions; the cursor stays on the same action."""
        decision = result.decision if result is not None else None
        self.query_one(".compare-summary", Static).display = False
        self.query_one(".decision", Static).update(
            verdict_markup(decision) if decision else "[$text-muted]no verdict yet[/]"
        )
        path = decision.path if decision else []
        if path != self._path:
            self._path = list(path)
            self.query_one(DecisionPath).show(self._path)
        actions = decision.actions if decision else []
        self.query_one(".actions-title", Static).display = bool(actions)
        if actions == self._actions:
            return
        self._actions = list(actions)
        listing = self.query_one("#actions", Vertical)
        listing.remove_children()
        listing.mount_all([action_item(n, action) for n, action in enumerate(actions, 1)])
        self.cursor = min(self.cursor, max(0, len(actions) - 1))

    def show_compared(self, compared: ComparedStage, palette: PlotPalette, flip_log: bool) -> None:
        """What changed between the runs, above the verdict of the run on show."""
        summary = self.query_one(".compare-summary", Static)
        summary.display = True
        summary.update(comparison_markup(compared.comparison))

    @property
    def actions(self) -> list[Action]:
        """The actions of the result the pane was given, in order (drawn or about to be)."""
        given = self._shown[0].result if self._shown is not None else None
        decision = given.decision if given is not None else None
        return list(decision.actions) if decision is not None else []

    def selected_action(self) -> Action | None:
        """The action under the cursor (the first until the cursor moves), read from the
        result the pane was given: `7 a` typed at once comes before the pane draws it."""
        actions = self.actions
        return actions[min(self.cursor, len(actions) - 1)] if actions else None

    def select_action(self, index: int) -> None:
        """Put the cursor on an action (by its place in the list)."""
        self.cursor = index
        self.mark_cursor()

    def start_log(self, command: str) -> None:
        """Show the log with a header line for a command about to run."""
        log = self.query_one("#action-log", Log)
        log.display = True
        self.write_log(f"$ {command}")

    def write_log(self, line: str) -> None:
        """Append a line of the running command's output, wrapped to the log's width (the
        log cuts a line at its edge: `3.939e-05` read as `3.939`)."""
        log = self.query_one("#action-log", Log)
        width = log.scrollable_content_region.width
        if width <= MIN_WRAP:  # shown a moment ago, not laid out yet: it spans the pane,
            # less its border and the scrollbars it may get (both counted: not known yet)
            width = self.content_region.width - log.styles.gutter.width
            width -= log.styles.scrollbar_size_vertical + self.styles.scrollbar_size_vertical
        # Room for the scrollbars the log and the pane get once the lines overflow them.
        for scrolled in (log, self):
            if not scrolled.show_vertical_scrollbar:
                width -= scrolled.styles.scrollbar_size_vertical
        width = width if width > MIN_WRAP else FALLBACK_WRAP
        wrapped = textwrap.wrap(clean(line), width, subsequent_indent="  ", break_on_hyphens=False)
        log.write_lines(wrapped or [""])
