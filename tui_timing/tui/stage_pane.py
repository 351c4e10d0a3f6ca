"""One stage's pane, in the order a researcher reads it: the heading (status, why and
when it last ran, progress, artifact problems), the key figures, the checks that are not
`pass` with their measured and expected values, the charts, then the passing checks, one
line each.

The pane only renders a `StageState`; it holds no results of its own, so re-showing the
same state after a theme change or a resize always gives the same screen.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui_timing.findings import StageResult
from tui_timing.stages.catalog import StageInfo
from tui_timing.tui.checks_view import ChecksView, PassedChecks
from tui_timing.tui.compare_checks import CompareChecks
from tui_timing.tui.compare_state import ComparedStage
from tui_timing.tui.plot_stack import PlotStack
from tui_timing.tui.safe_text import lines, markup, styled
from tui_timing.tui.status import StageState, status_markup
from tui_timing.tui.themes import PlotPalette


class StagePane(VerticalScroll, can_focus=True):
    """A scrollable pane for one stage. It scrolls vertically only, so the left and right
    arrows stay free for moving between stages."""

    inherit_bindings = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "scroll_up", "Scroll up", show=False),
        Binding("down", "scroll_down", "Scroll down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "scroll_home", "Top", show=False),
        Binding("end", "scroll_end", "Bottom", show=False),
    ]

    def __init__(self, info: StageInfo) -> None:
        super().__init__(id=f"pane-{info.id}", classes="stage-pane")
        self.info = info
        self._shown: tuple[StageState, PlotPalette, bool, ComparedStage | None] | None = None

    def on_mount(self) -> None:
        """Show what arrived before the pane's widgets existed."""
        if self._shown is not None:
            self._draw_state(*self._shown)

    def compose(self) -> ComposeResult:
        yield Static(classes="pane-title")
        yield Static(classes="pane-meta")
        yield Static(classes="pane-errors")
        yield Static(classes="pane-note")
        yield from self.compose_details()

    def compose_details(self) -> ComposeResult:
        """The result's own widgets (the decision pane shows a walk-through instead)."""
        yield Static(classes="pane-figures")
        yield CompareChecks()
        yield ChecksView()
        yield PlotStack()
        yield PassedChecks()

    def show(
        self,
        state: StageState,
        palette: PlotPalette,
        flip_log: bool,
        compared: ComparedStage | None = None,
    ) -> None:
        """Render the stage's state (once mounted): header lines, then the result; in
        compare mode (`compared`) both runs' statuses, checks, figures and charts."""
        self._shown = (state, palette, flip_log, compared)
        if self.is_mounted:
            self._draw_state(state, palette, flip_log, compared)

    def _draw_state(
        self,
        state: StageState,
        palette: PlotPalette,
        flip_log: bool,
        compared: ComparedStage | None = None,
    ) -> None:
        info = self.info
        status = (
            f"A {status_markup(compared.status_a)} → B {status_markup(compared.status_b)}"
            if compared is not None
            else status_markup(state.status)
        )
        title = markup(f"Stage {info.id} · $title   {status}", title=info.title)
        self.query_one(".pane-title", Static).update(title)
        self.query_one(".pane-meta", Static).update(styled(_meta_line(state)))
        errors = self.query_one(".pane-errors", Static)
        errors.display = bool(state.artifact_errors)
        errors.update(
            lines(
                [
                    markup("[b $error]cannot use the $kind[/]: $problem", kind=k, problem=p)
                    for k, p in state.artifact_errors.items()
                ]
            )
        )
        result = state.shown_result
        note = self.query_one(".pane-note", Static)
        skip = result.skip_reason if result is not None else None
        note.display = bool(skip)
        note.update(markup("skipped: $why", why=skip) if skip else "")
        self.show_result(result, palette, flip_log)
        if compared is not None:
            self.show_compared(compared, palette, flip_log)

    def show_compared(self, compared: ComparedStage, palette: PlotPalette, flip_log: bool) -> None:
        """Both runs over the first run's result: every check's status and key figure in A
        and B in place of the checks lists, both runs' figures, the charts overlaid."""
        self.query_one(ChecksView).display = False
        self.query_one(PassedChecks).display = False
        checks = self.query_one(CompareChecks)
        checks.display = True
        checks.show(compared)
        figures = self.query_one(".pane-figures", Static)
        rows = [
            markup(f"[b]{side}[/b] $figure", figure=" · ".join(shown) or "-")
            for side, shown in (("A", compared.figures_a), ("B", compared.figures_b))
        ]
        figures.display = True
        figures.update(lines(rows))
        self.query_one(PlotStack).show(compared.plots, palette, flip_log)

    def show_result(self, result: StageResult | None, palette: PlotPalette, flip_log: bool) -> None:
        """Figures, checks and plots of the result (nothing yet when it has not run)."""
        show_figures(self.query_one(".pane-figures", Static), result)
        checks = result.checks if result else []
        self.query_one(CompareChecks).display = False
        self.query_one(ChecksView).display = True
        self.query_one(ChecksView).show(checks)
        self.query_one(PlotStack).show(result.plots if result else [], palette, flip_log)
        self.query_one(PassedChecks).show(checks)


def show_figures(widget: Static, result: StageResult | None) -> None:
    """The result's key figures as a bulleted list (hidden when there are none)."""
    figures = result.figures if result else []
    widget.display = bool(figures)
    if figures:
        widget.update(lines([markup("• $figure", figure=f) for f in figures]))


#: Cells of the text progress bar (a bar widget costs start-up time in seven panes).
BAR_WIDTH = 12


def progress_bar(fraction: float) -> str:
    """`██████░░░░░░ 50%`."""
    filled = round(max(0.0, min(1.0, fraction)) * BAR_WIDTH)
    return "█" * filled + "░" * (BAR_WIDTH - filled) + f" {fraction:.0%}"


def _meta_line(state: StageState) -> str:
    """When and why the stage last ran, or what it is doing now."""
    if state.phase == "running":
        bar = f" {progress_bar(state.fraction)}" if state.fraction > 0 else ""
        message = f": {state.message}" if state.message else ""
        return f"running{bar}{message} ({state.reason})"
    if state.phase == "pending":
        return "queued to re-run" if state.result is not None else "waiting to run"
    if state.cached_at:
        return f"from cache · computed {state.cached_at.replace('T', ' ')[:19]} · r re-runs"
    return f"ran at {state.updated} ({state.reason}) · run {state.runs}"
