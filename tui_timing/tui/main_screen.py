"""The main view: the header, the action bar, the stage list, one pane per stage, the search
bar and the footer, with the handlers of what happens inside it (the stage list's cursor,
switching panes, searching a pane).

The app keeps what is app-wide (each stage's state, compare mode, the pipeline and workers,
the dialogs it pushes) and tells this screen which stage to show again; the screen reads
that state through `ViewState` and never changes it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from typing import TYPE_CHECKING, Protocol, cast

from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, OptionList

from tui_timing.stages.catalog import STAGE_BY_ID, STAGES, Stage
from tui_timing.tui.compare_state import CompareState, compared_stage
from tui_timing.tui.header_bar import HeaderBar
from tui_timing.tui.panes.action_bar import ActionBar
from tui_timing.tui.stage_list import StageList
from tui_timing.tui.status import StageState
from tui_timing.tui.themes import PlotPalette

if TYPE_CHECKING:
    from textual.events import Key

    from tui_timing.tui.panes.decision_pane import DecisionPane
    from tui_timing.tui.panes.pane_search import Match
    from tui_timing.tui.panes.stage_pane import StagePane
    from tui_timing.tui.search_bar import SearchBar


class ViewState(Protocol):
    """What the app holds that the main view shows."""

    states: dict[int, StageState]
    compare: CompareState | None

    def plot_palette(self) -> PlotPalette: ...

    def view_ready(self) -> None:
        """The view is composed: the app starts the stages."""

    def first_frame(self) -> None:
        """The view paints its first frame next; what is posted now is handled after it."""


class MainScreen(Screen[None]):
    """The stages, one pane on show at a time."""

    #: The stage on show; setting it puts that stage's pane on show.
    current_stage: var[int] = var(1, init=False)
    #: The stages whose charts are drawn with the other scale (`l`).
    log_flipped: var[frozenset[int]] = var(frozenset(), init=False)

    def __init__(self) -> None:
        super().__init__()
        #: Composed, and what the app had before the first frame taken in: set as its
        #: mount begins (stages shown before are drawn then).
        self.ready = False
        #: Resumed once (Textual paints its first frame as it resumes).
        self._resumed = False
        self._matches: list[Match] = []
        self._match = 0

    def compose(self) -> ComposeResult:
        yield HeaderBar()
        yield ActionBar()
        with Horizontal(id="main"):
            # The list is as tall as its seven lines; below it is the row's own background
            # (an OptionList draws each empty line as an option's, a fifth of the first
            # frame; a column around it, 58 more lines drawn under it).
            yield StageList()
            # The first frame has no pane: the stage's is mounted right after that frame
            # (on_screen_resume), the others when the stages are done or one is asked for
            # (see mount_panes). A pane is a dozen widgets, each styled, laid out and drawn
            # before a frame shows.
            yield ContentSwitcher(id="panes")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(HeaderBar).show("looking for artifacts…")
        # The app takes in what it has (a warm launch's cached results) first, and each
        # stage is drawn once after, not before and again for each result.
        self.view.view_ready()  # at once, not by a message: before the first frame
        self.ready = True
        self.show_all()

    def on_screen_resume(self) -> None:
        # Textual lays the screen out and paints it in its own handler of this event, which
        # runs after this one (a subclass's handler comes first): what the app is told to
        # post here is handled after the first frame, which it does not hold up.
        if not self._resumed:
            self._resumed = True
            self.view.first_frame()
            # The stage's pane is mounted right after the frame (its module imported then),
            # before anything else is handled: not after the next refresh, which comes
            # after the pipeline's thread has started (its imports slow the pane's drawing).
            self.call_next(self.mount_panes, [self.current_stage])

    @property
    def view(self) -> ViewState:
        return cast(ViewState, self.app)

    # ----- the stages on show ---------------------------------------------------------------

    def show(self, stage_id: int) -> None:
        """Show a stage's state again, in the list and in its pane (if mounted; before the
        view is composed there is nothing to show it in: it shows every stage once it is)."""
        if not self.ready:
            return
        view = self.view
        state = view.states[stage_id]
        compared = None
        if view.compare is not None:
            first = {sid: st.result for sid, st in view.states.items() if st.result is not None}
            compared = compared_stage(view.compare, stage_id, state.status, first)
        marks = (compared.status_a, compared.status_b) if compared is not None else None
        self.query_one(StageList).show_state(state, marks)
        for pane in self._panes(f"#pane-{stage_id}"):
            pane.show(state, view.plot_palette(), stage_id in self.log_flipped, compared)

    def _panes(self, selector: str = ".stage-pane") -> list[StagePane]:
        """The stage panes mounted that match `selector` (found by their CSS class: the
        panes' module is imported with the first pane, after the first frame)."""
        return cast("list[StagePane]", list(self.query(selector)))

    def show_all(self) -> None:
        for stage_id in self.view.states:
            self.show(stage_id)

    def mount_panes(self, stage_ids: Collection[int] | None = None) -> None:
        """Mount the panes (of these stages, else of all) not mounted yet, each showing its
        stage's current state; the first mounted, the current stage's, goes on show."""
        switcher = self.query_one(ContentSwitcher)
        wanted = self.view.states if stage_ids is None else stage_ids
        missing = [sid for sid in wanted if not self.query(f"#pane-{sid}")]
        if not missing:
            return
        panes = [new_pane(sid) for sid in missing]
        for pane in panes:  # the switcher shows and hides only the panes it started with
            pane.display = pane.id == switcher.current
        switcher.mount_all(panes)
        on_show = next((pane for pane in panes if pane.id == f"pane-{self.current_stage}"), None)
        # (the app may be closing: then nothing was mounted)
        if switcher.current is None and on_show is not None and on_show.parent is switcher:
            switcher.current = on_show.id
        for stage_id in missing:
            self.show(stage_id)

    def select_stage(self, stage_id: int) -> None:
        """Show a stage by number (at once, so that the next key acts on its pane)."""
        self.query_one(StageList).select_stage(stage_id)
        self.current_stage = stage_id

    def step_stage(self, step: int) -> None:
        """The next (1) or previous (-1) stage, round the list."""
        self.select_stage((self.current_stage - 1 + step) % len(STAGES) + 1)

    @on(OptionList.OptionHighlighted, "#stage-list")
    def _stage_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        # The message comes after the keys already typed: `3 4` quickly posts two, and the
        # first, handled after `4`, would show stage 3 again. Only the highlight now counts.
        if event.option_index == event.option_list.highlighted:
            self.current_stage = event.option_index + 1

    def on_stage_list_scroll_pane(self, message: StageList.ScrollPane) -> None:
        # A pane too short to scroll says so with SkipAction, which only Textual's own
        # dispatch expects (called directly it stopped the app: the typing tmux test).
        with contextlib.suppress(SkipAction):
            getattr(self.current_pane(), f"action_{message.action}")()

    def watch_current_stage(self, stage_id: int) -> None:
        """Put the stage's pane on show (mounting the panes not mounted yet)."""
        focused_pane = self.focused is not None and self.focused.has_class("stage-pane")
        self.mount_panes()
        self.query_one(ContentSwitcher).current = f"pane-{stage_id}"
        self.close_search()
        if focused_pane:  # the focus follows to the pane on show (at once: keys typed ahead)
            self.set_focus(self.current_pane())

    def toggle_log(self) -> None:
        """Flip the charts of the stage on show between linear and log scale."""
        self.log_flipped = self.log_flipped ^ {self.current_stage}

    def watch_log_flipped(self, before: frozenset[int], now: frozenset[int]) -> None:
        for stage_id in before ^ now:
            self.show(stage_id)

    def current_pane(self) -> StagePane:
        self.mount_panes()
        return cast("StagePane", self.query_one(f"#pane-{self.current_stage}"))

    def decision_pane(self) -> DecisionPane:
        from tui_timing.tui.panes.decision_pane import DecisionPane

        self.mount_panes()
        return self.query_one(DecisionPane)

    def charts_mounted(self, stage_id: int) -> bool:
        """Whether the stage's charts are all mounted; those that are are drawn again at
        their laid-out width (the first draw may not be)."""
        charts = list(self.query(f"#pane-{stage_id} PlotView"))
        if any(not chart.is_mounted for chart in charts):
            return False
        for chart in charts:
            chart.refresh()
        return True

    # ----- search ---------------------------------------------------------------------------

    def mount_search_bar(self) -> SearchBar:
        """The search bar, mounted (hidden) once the stages are shown or on the first `/`,
        not in the first frame."""
        from tui_timing.tui.search_bar import SearchBar

        bar = self.search_bar()
        if bar is None:
            bar = SearchBar(id="search-bar")
            bar.display = False
            self.mount(bar, before=self.query_one(Footer))
        return bar

    def search_bar(self) -> SearchBar | None:
        from tui_timing.tui.search_bar import SearchBar

        bars = self.query(SearchBar)
        return bars.first() if bars else None

    def open_search(self) -> None:
        """Open the search bar over the footer; it searches the stage on show."""
        bar = self.mount_search_bar()
        if bar.is_mounted and bar.children:
            bar.open()
        else:  # `/` before the first frames were out: open it once it is there
            self.call_after_refresh(bar.open)

    def on_search_bar_changed(self, event: SearchBar.Changed) -> None:
        pane = self.current_pane()
        from tui_timing.tui.panes.pane_search import clear_marks, find_matches

        clear_marks(pane)
        self._matches, self._match = find_matches(pane, event.query), 0
        self._show_matches(event.query)

    def on_search_bar_step(self, event: SearchBar.Step) -> None:
        bar = self.search_bar()
        if self._matches:
            self._match = (self._match + event.step) % len(self._matches)
        self._show_matches(bar.text if bar is not None else "")

    def on_search_bar_closed(self) -> None:
        self.close_search()

    def key_reached_app(self, event: Key) -> None:
        """A printable key that reaches the app while the search box has the focus was
        typed right after `/` (routed before the box took the focus): it is the query's.
        Any key clears the action bar of an action that has ended."""
        self.query_one(ActionBar).clear_ended()
        character = event.character if event.is_printable else None
        bar = self.search_bar() if character is not None else None
        if bar is not None and character is not None and bar.type_ahead(character):
            event.stop()

    def _show_matches(self, query: str) -> None:
        from tui_timing.tui.panes.pane_search import mark

        current = self._match if self._matches else None
        mark(self._matches, current)
        bar = self.search_bar()
        if bar is not None:
            bar.show_count(current, len(self._matches), query)

    def close_search(self) -> None:
        bar = self.search_bar()
        if bar is None:
            return  # not mounted yet: nothing was searched, nothing is marked
        from tui_timing.tui.panes.pane_search import clear_marks

        if bar.is_open:
            # A hidden box keeping the focus would take every key typed after (the app
            # looks frozen): the focus goes to the pane on show.
            typing = bar.has_focus_within
            bar.close()
            if typing:
                self.set_focus(self.current_pane())
        for pane in self._panes():
            clear_marks(pane)
        self._matches = []


def new_pane(stage_id: int) -> StagePane:
    """A fresh pane for a stage (the decision has its own kind, imported when its pane is
    made: it is never in the first frame)."""
    from tui_timing.tui.panes.stage_pane import StagePane

    info = STAGE_BY_ID[stage_id]
    if stage_id != Stage.DECISION:
        return StagePane(info)
    from tui_timing.tui.panes.decision_pane import DecisionPane

    return DecisionPane(info)
