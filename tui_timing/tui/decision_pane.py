"""Stage 7's pane: the verdict, the actions, and the path through the decision tree.

The actions come right after the verdict (they are what the user acts on); each shows its
evidence and command, the highlighted one is what `a` runs, and the command's output
streams into the log below them. The path follows, rule by rule.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.content import Content
from textual.markup import escape
from textual.widgets import Log, OptionList, Static
from textual.widgets.option_list import Option

from tui_timing.report.results import Action, Decision, RuleOutcome, StageResult
from tui_timing.stages.catalog import StageInfo
from tui_timing.tui.decision_path import DecisionPath
from tui_timing.tui.stage_pane import StagePane
from tui_timing.tui.themes import PlotPalette

#: Lines of action output kept: enough for a build log, bounded for a long-running command.
LOG_LINES = 2000


def verdict_markup(decision: Decision) -> str:
    """The verdict and the rule that gave it."""
    return f"[b]Verdict[/b] (rule {decision.rule}): [b $accent]{escape(decision.verdict)}[/]"


def action_prompt(number: int, action: Action) -> Content:
    """An action as a multi-line list entry: title, why, evidence, command."""
    lines = [f"[b]{number}. {escape(action.title)}[/b]", f"   {escape(action.why)}"]
    if action.evidence:
        lines.append(f"   [$text-muted]evidence:[/] {escape(', '.join(action.evidence))}")
    if action.command:
        lines.append(f"   [$accent]$ {escape(action.command)}[/]")
    else:
        lines.append("   [$text-muted](no command: a change to make by hand)[/]")
    return Content.from_markup("\n".join(lines))


class DecisionPane(StagePane):
    """The decision's walk-through, its actions (selectable) and the action output."""

    def __init__(self, info: StageInfo) -> None:
        super().__init__(info)
        self._actions: list[Action] = []
        self._path: list[RuleOutcome] = []

    def compose_details(self) -> ComposeResult:
        yield Static(classes="decision")
        yield Static("[b]Actions[/b] [$text-muted](a: run the highlighted one)[/]")
        yield OptionList(id="actions")
        yield Log(max_lines=LOG_LINES, id="action-log")
        yield DecisionPath()
        yield Static(classes="pane-figures")

    def show_result(self, result: StageResult | None, palette: PlotPalette, flip_log: bool) -> None:
        """The verdict, the path and the actions; the highlight stays on the same action."""
        decision = result.decision if result is not None else None
        self.query_one(".decision", Static).update(
            verdict_markup(decision) if decision else "[$text-muted]no verdict yet[/]"
        )
        path = decision.path if decision else []
        if path != self._path:
            self._path = list(path)
            self.query_one(DecisionPath).show(self._path)
        actions = decision.actions if decision else []
        figures = self.query_one(".pane-figures", Static)
        figures.display = bool(result and result.figures)
        if result and result.figures:
            figures.update("\n".join(f"• {escape(f)}" for f in result.figures))
        if actions == self._actions:
            return
        self._actions = list(actions)
        listing = self.query_one("#actions", OptionList)
        keep = listing.highlighted
        listing.clear_options()
        listing.add_options(
            [Option(action_prompt(n, a), id=f"action-{n}") for n, a in enumerate(actions, 1)]
        )
        if actions:
            listing.highlighted = min(keep or 0, len(actions) - 1)

    @property
    def actions(self) -> list[Action]:
        """The actions on show, in order."""
        return list(self._actions)

    def selected_action(self) -> Action | None:
        """The highlighted action, else the first one that has a command."""
        index = self.query_one("#actions", OptionList).highlighted
        if index is not None and index < len(self._actions):
            return self._actions[index]
        return next((a for a in self._actions if a.command), None)

    def start_log(self, command: str) -> None:
        """Show the log with a header line for a command about to run."""
        log = self.query_one("#action-log", Log)
        log.display = True
        log.write_line(f"$ {command}")

    def write_log(self, line: str) -> None:
        """Append a line of the running command's output."""
        self.query_one("#action-log", Log).write_line(line)
