"""Stage 7's pane: the verdict, the path through the decision tree, and the actions.

Each action shows its evidence and command; the highlighted one is what `a` runs, and
the command's output streams into the log at the bottom of the pane.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.content import Content
from textual.markup import escape
from textual.widgets import Log, OptionList, Static
from textual.widgets.option_list import Option

from tui_timing.report.results import Action, Decision, StageResult
from tui_timing.stages.catalog import StageInfo
from tui_timing.tui.plot_view import PlotPalette
from tui_timing.tui.stage_pane import StagePane

#: Lines of action output kept: enough for a build log, bounded for a long-running command.
LOG_LINES = 2000


def decision_markup(decision: Decision) -> str:
    """The verdict and every rule evaluated, matched ones marked."""
    lines = [f"[b]Verdict[/b] (rule {decision.rule}): [b $accent]{escape(decision.verdict)}[/]"]
    if decision.path:
        lines += ["", "[b]Path through the decision tree[/b]"]
    for outcome in decision.path:
        mark = "[$accent]▶ matched[/]" if outcome.matched else "[$text-muted]· no     [/]"
        reason = escape(outcome.reason)
        lines.append(f"{mark} {outcome.rule}. {escape(outcome.name)}: [$text-muted]{reason}[/]")
    return "\n".join(lines)


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

    def compose_details(self) -> ComposeResult:
        yield Static(classes="decision")
        yield Static("[b]Actions[/b] [$text-muted](a: run the highlighted one)[/]")
        yield OptionList(id="actions")
        yield Static(classes="pane-figures")
        yield Log(max_lines=LOG_LINES, id="action-log")

    def on_mount(self) -> None:
        self.query_one("#action-log", Log).display = False

    def show_result(self, result: StageResult | None, palette: PlotPalette, flip_log: bool) -> None:
        """The verdict, the path and the actions; the highlight stays on the same action."""
        decision = result.decision if result is not None else None
        self.query_one(".decision", Static).update(
            decision_markup(decision) if decision else "[$text-muted]no verdict yet[/]"
        )
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
