"""One stage's pane, in the order a researcher reads it: the heading (status, why and
when it last ran, progress, artifact problems), the key figures, the checks that are not
`pass` with their measured and expected values, the charts, then the passing checks, one
line each.

The pane only renders a `StageState`; it holds no results of its own, so re-showing the
same state after a theme change or a resize always gives the same screen, at the same
scroll position (a live re-run must not move what the user is reading).

Figures and checks are items a cursor rests on (up and down move it, scrolling where the
next item is not in view yet, so the charts between them are read too); Enter opens the
item whole and `Y` copies it.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.events import Click
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from tui_timing.findings import StageResult
from tui_timing.stages.catalog import StageInfo
from tui_timing.tui.compare_state import ComparedStage
from tui_timing.tui.panes.assumption_list import AssumptionList
from tui_timing.tui.panes.checks_view import ChecksView, PassedChecks
from tui_timing.tui.panes.compare_checks import CompareChecks
from tui_timing.tui.panes.figure_list import FigureList
from tui_timing.tui.panes.plot_stack import PlotStack
from tui_timing.tui.safe_text import lines, markup, styled
from tui_timing.tui.status import StageState, ran_note, status_markup
from tui_timing.tui.themes import PlotPalette


class StagePane(VerticalScroll, can_focus=True):
    """A scrollable pane for one stage. It scrolls vertically only, so the left and right
    arrows stay free for moving between stages."""

    inherit_bindings = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("enter", "open_item", "Open", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "scroll_home", "Top", show=False),
        Binding("end", "scroll_end", "Bottom", show=False),
    ]

    class OpenItem(Message):
        """Enter on an item: the app shows it whole."""

        def __init__(self, item: Widget) -> None:
            super().__init__()
            self.item = item

    def __init__(self, info: StageInfo) -> None:
        super().__init__(id=f"pane-{info.id}", classes="stage-pane")
        self.info = info
        self._shown: tuple[StageState, PlotPalette, bool, ComparedStage | None] | None = None
        #: Index of the item the cursor is on (among `items()`).
        self.cursor = 0

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
        yield FigureList(classes="pane-figures")
        yield AssumptionList(classes="pane-assumptions")
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
            scroll_y = self.scroll_y
            self._draw_state(state, palette, flip_log, compared)
            # Rows and charts may be re-mounted: the content shrinks for a frame, which
            # would clamp the scroll position; put it back once the new layout is in.
            self.call_after_refresh(self._restore, scroll_y)

    def _restore(self, scroll_y: float) -> None:
        if self.scroll_y != scroll_y:
            self.scroll_to(y=scroll_y, animate=False, immediate=True)
        self.mark_cursor()

    def _draw_state(
        self,
        state: StageState,
        palette: PlotPalette,
        flip_log: bool,
        compared: ComparedStage | None = None,
    ) -> None:
        if not self.app.is_running:
            # The app is closing: Textual prunes its screens leaves first, so a pane
            # mounted or shown meanwhile has lost some of its widgets (seen on a busy
            # machine as NoMatches on quit, on the pane's title and on the checks' summary).
            return
        info = self.info
        status = (
            f"A {status_markup(compared.status_a)} → B {status_markup(compared.status_b)}"
            if compared is not None
            else status_markup(state.status)
        )
        ran = ran_note(state.result) if compared is None and state.phase == "done" else ""
        if ran:
            status += f" [$text-muted]· {ran}[/]"
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
        said = [markup("skipped: $why", why=skip)] if skip else []
        said += printed_lines(state.printed if state.phase == "done" else ())
        note.display = bool(said)
        note.update(lines(said))
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
        self.query_one(FigureList).show_items(
            [
                (markup(f"[b]{side}[/b] $figure", figure=text), f"{side}: {text}", f"run {side}")
                for side, shown in (("A", compared.figures_a), ("B", compared.figures_b))
                for text in [" · ".join(shown) or "-"]
            ]
        )
        self.query_one(PlotStack).show(compared.plots, palette, flip_log)

    def show_result(self, result: StageResult | None, palette: PlotPalette, flip_log: bool) -> None:
        """Figures, checks and plots of the result (nothing yet when it has not run)."""
        self.query_one(FigureList).show(result.figures if result else [])
        self.query_one(AssumptionList).show(result.assumptions if result else [])
        checks = result.checks if result else []
        self.query_one(CompareChecks).display = False
        self.query_one(ChecksView).display = True
        self.query_one(ChecksView).show(checks)
        self.query_one(PlotStack).show(result.plots if result else [], palette, flip_log)
        self.query_one(PassedChecks).show(checks)

    # ----- the item cursor ----------------------------------------------------------------

    def items(self) -> list[Widget]:
        """The figures and checks on show, top to bottom (not those of a hidden list, such
        as the checks compare mode replaces)."""
        return [w for w in self.query(".item") if self._is_shown(w)]

    def _is_shown(self, widget: Widget) -> bool:
        """Whether the widget and every container between it and this pane are shown."""
        node: object = widget
        while isinstance(node, Widget) and node is not self:
            if not node.display:
                return False
            node = node.parent
        return node is self

    def current_item(self) -> Widget | None:
        """The item under the cursor (the first one until the cursor moves)."""
        items = self.items()
        return items[min(self.cursor, len(items) - 1)] if items else None

    def mark_cursor(self) -> None:
        """Mark the item under the cursor (and only it)."""
        current = self.current_item()
        for item in self.query(".-cursor"):
            if item is not current:
                item.remove_class("-cursor")
        if current is not None:
            current.add_class("-cursor")

    def action_cursor_down(self) -> None:
        self._move(+1)

    def action_cursor_up(self) -> None:
        self._move(-1)

    def _move(self, step: int) -> None:
        """To the next item where it is in view, else scroll a line towards it; an item
        scrolled out of view hands the cursor to the nearest one in view."""
        items = self.items()
        scroll = self.scroll_down if step > 0 else self.scroll_up
        if not items:
            scroll(animate=False)
            return
        index = min(self.cursor, len(items) - 1)
        if not self._in_view(items[index]):
            shown = [i for i, item in enumerate(items) if self._in_view(item)]
            if shown:
                self._set_cursor(shown[0] if step > 0 else shown[-1])
            else:
                scroll(animate=False)
            return
        target = index + step
        if 0 <= target < len(items) and self._in_view(items[target]):
            self._set_cursor(target)
            self.scroll_to_widget(items[target], animate=False, immediate=True)
        else:
            scroll(animate=False)

    def _set_cursor(self, index: int) -> None:
        self.cursor = index
        self.mark_cursor()

    def _in_view(self, item: Widget) -> bool:
        """Whether some of the item shows in the pane now (an item not laid out yet, as
        right after the pane is first shown, counts as shown: keys typed ahead still move)."""
        region = item.region
        return not region or self.content_region.overlaps(region)

    def on_click(self, event: Click) -> None:
        """A click on an item puts the cursor there."""
        items = self.items()
        for widget in (event.widget, *(event.widget.ancestors if event.widget else ())):
            if widget in items:
                self._set_cursor(items.index(widget))
                return

    def action_open_item(self) -> None:
        item = self.current_item()
        if item is not None:
            self.post_message(self.OpenItem(item))


#: Cells of the text progress bar (a bar widget costs start-up time in seven panes).
BAR_WIDTH = 12


def progress_bar(fraction: float) -> str:
    """`██████░░░░░░ 50%`."""
    filled = round(max(0.0, min(1.0, fraction)) * BAR_WIDTH)
    return "█" * filled + "░" * (BAR_WIDTH - filled) + f" {fraction:.0%}"


#: How many of the last lines of what the user's code printed a pane shows.
PRINTED_LINES = 12


def printed_lines(printed: tuple[tuple[str, str], ...]) -> list[Content]:
    """What the user's code printed for the result on show (plug-ins print here, not over
    the screen), under a line saying while doing what; each text's last PRINTED_LINES
    lines, as plain text."""
    out: list[Content] = []
    for doing, text in printed:
        shown = text.rstrip("\n").splitlines()
        cut = len(shown) - PRINTED_LINES
        last = f" (its last {PRINTED_LINES} lines)" if cut > 0 else ""
        out.append(markup(f"your code printed while $doing{last}:", doing=doing))
        out += [styled(f"  {line}") for line in shown[max(cut, 0) :]]
    return out


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
