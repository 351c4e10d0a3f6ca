"""The timing-tui app: a stage list, one pane per stage, keys, and the glue to the core.

The app renders what the core returns and nothing else: the pipeline thread runs the same
`run_stage` the `check` command runs and posts each result; the app keeps one StageState
per stage and re-shows it. Nothing here imports torch: the first frame paints while the
pipeline thread is still importing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from textual import on
from textual.actions import SkipAction
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.events import Key
from textual.filter import LineFilter
from textual.notifications import Notify, SeverityLevel
from textual.screen import ModalScreen
from textual.theme import Theme
from textual.widgets import ContentSwitcher, Footer, OptionList

from tui_timing.artifact_kinds import KINDS
from tui_timing.artifacts.file_watch import POLL_INTERVAL_S, ArtifactWatcher, TreeWatcher
from tui_timing.errors import ArtifactError
from tui_timing.findings import Check, StageResult
from tui_timing.report.text import printable_name
from tui_timing.stages.catalog import ALL_STAGES, STAGE_BY_ID, STAGES, Stage
from tui_timing.tui import start_gc
from tui_timing.tui.action_runner import ActionRunner
from tui_timing.tui.charset import AsciiFilter, utf8_locale
from tui_timing.tui.commands import PaletteEntry, TimingCommands
from tui_timing.tui.compare_runner import CompareRunner
from tui_timing.tui.compare_state import CompareState, compared_stage
from tui_timing.tui.describe import describe_artifacts, shorter
from tui_timing.tui.header_bar import HeaderBar
from tui_timing.tui.messages import (
    ActionCancelled,
    ActionFinished,
    ActionOutput,
    ArtifactsLoaded,
    ArtifactsResolved,
    CompareFailed,
    CompareStageFinished,
    CompareStageStarted,
    ExportFailed,
    ExportFinished,
    PipelineFailed,
    PipelineIdle,
    StageFinished,
    StageInterrupted,
    StageProgress,
    StageStarted,
    while_running,
)
from tui_timing.tui.notification import TimedNotification, toast_lines
from tui_timing.tui.panes.action_bar import ActionBar
from tui_timing.tui.panes.item_text import action_text
from tui_timing.tui.panes.stage_pane import StagePane
from tui_timing.tui.pipeline import (
    PAINT_WAIT_S,
    STORE_WAIT_S,
    Pipeline,
    Selection,
    Work,
    stages_fed_by,
)
from tui_timing.tui.preferences import save_theme, saved_theme
from tui_timing.tui.safe_text import clean
from tui_timing.tui.stage_list import StageList
from tui_timing.tui.status import StageState
from tui_timing.tui.themes import (
    DEFAULT_THEME,
    PlotPalette,
    TimingTheme,
    default_theme_name,
    load_themes,
    theme_dirs,
)

if TYPE_CHECKING:
    from tui_timing.artifacts.discovery import Discovered, Run
    from tui_timing.config import ArtifactPaths, Invocation
    from tui_timing.report.runs import Target
    from tui_timing.stages.context import StageContext
    from tui_timing.tui.launch_lookup import LaunchLookup
    from tui_timing.tui.panes.decision_pane import DecisionPane
    from tui_timing.tui.panes.pane_search import Match
    from tui_timing.tui.screens.runs_screen import RunsChoice
    from tui_timing.tui.search_bar import SearchBar
    from tui_timing.tui.stage_one_ahead import StageOneAhead

FIRST, LAST = ALL_STAGES[0], ALL_STAGES[-1]
#: How the footer and help show the stage keys ("1-7"); one binding per stage.
STAGE_KEYS = f"{FIRST}-{LAST}"
_HIDDEN_STAGE_KEYS = {str(n) for n in ALL_STAGES[1:]}
#: Frames to wait for a stage's charts to be mounted before telling the pipeline they are.
CHART_FRAMES = 10
#: Actions that stay available while a dialog is open (the others would act behind it).
MODAL_ACTIONS = frozenset({"quit", "command_palette"})
#: The artifacts both runs of a comparison may share: a change to one runs the second again.
SHARED_KINDS = tuple(kind.name for kind in KINDS if kind.scope != "run")
#: Seconds quitting waits for a running action to end and be cleaned up.
QUIT_WAIT_S = 12.0


class TimingApp(App[None]):
    """Step through the seven diagnostic stages of a timing head from the keyboard."""

    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "timing-tui"
    COMMANDS = App.COMMANDS | {TimingCommands}
    # The footer shows the keys marked `show`, worded to fit 80 columns whole; `?` lists
    # every key with its tooltip (a running action shows `x cancel` in its own bar).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "help", key_display="?", tooltip="this help"),
        Binding("q", "quit", "quit", tooltip="quit (a running stage or action is stopped)"),
        Binding(
            str(FIRST),
            f"stage({FIRST})",
            "stage",
            key_display=STAGE_KEYS,
            tooltip=f"show stage {FIRST} to {LAST}",
        ),
        *[Binding(str(n), f"stage({n})", f"stage {n}", show=False) for n in ALL_STAGES[1:]],
        Binding(
            "n,right", "next_stage", "next", key_display="n p", show=False, tooltip="next stage"
        ),
        Binding("p,left", "previous_stage", "prev", show=False, tooltip="previous stage"),
        Binding(
            "r",
            "rerun",
            "rerun",
            key_display="r/R",
            tooltip=f"re-run the stage on show (and {Stage.DECISION})",
        ),
        Binding(
            "R", "rerun_all", "all", show=False, tooltip="find and reload all artifacts, re-run all"
        ),
        Binding(
            "e",
            "export",
            "export",
            key_display="e/E",
            tooltip="append the whole diagnosis to the scratchpad (from any stage)",
        ),
        Binding("E", "export_stage", "stage", show=False, tooltip="append the stage on show alone"),
        Binding(
            "y",
            "copy_command",
            "copy",
            key_display="y/Y",
            tooltip="copy the highlighted action's command (the first when none is)",
        ),
        Binding("Y", "copy_item", "item", show=False, tooltip="copy the check or figure there"),
        Binding(
            "slash",
            "search",
            "find",
            key_display="/",
            tooltip="search the stage on show (Enter, down: next; up: previous)",
        ),
        Binding("s", "select_artifacts", "switch", tooltip="switch run, cache or eval dump"),
        # The footer's last key: at 80 columns it has room for one of runs and theme; the
        # runs view is the one a live training is followed in (the theme is in `?`).
        Binding(
            "t", "next_theme", "theme", show=False, tooltip="next theme (kept for the next launch)"
        ),
        Binding(
            "w",
            "runs",
            "runs",
            tooltip="every run of the repo, diagnosed and kept current (Enter opens one)",
        ),
        Binding(
            "c",
            "compare",
            "compare",
            show=False,
            tooltip="compare with a second run: both in every pane (c again: leave)",
        ),
        Binding("a", "run_action", "run", show=False, tooltip="run the highlighted action (asks)"),
        Binding("x", "cancel_action", "cancel", show=False, tooltip="cancel the running action"),
        Binding("l", "toggle_log", "log", show=False, tooltip="linear/log scale on the charts"),
        Binding(
            "ctrl+p",
            "command_palette",
            "palette",
            key_display="ctrl+p",
            show=False,
            tooltip="command palette: every stage and action, switch, themes, keys panel",
        ),
        Binding(
            "escape", "close_panel", "close", show=False, tooltip="close a dialog, panel or search"
        ),
    ]

    def __init__(
        self,
        invocation: Invocation,
        cwd: Path | None = None,
        ahead: StageOneAhead | None = None,
        lookup: LaunchLookup | None = None,
    ) -> None:
        """`ahead`: the child the CLI forked to compute stage 1 while the app starts;
        `lookup`: what the results cache held for the launch before Textual was imported."""
        # NO_COLOR: Textual picks its no-colour filter by the theme in use at this point,
        # and its grey one turns an ANSI theme's default colours into black on black. With
        # ANSI colours on, it takes the one that leaves the terminal's own colours.
        super().__init__(ansi_color=True if "NO_COLOR" in os.environ else None)
        self.ascii_only = not utf8_locale(os.environ)
        self._ascii_filter = AsciiFilter()
        self.invocation = invocation
        if "TEXTUAL_ANIMATIONS" not in os.environ:
            # Every animation frame is a screen update; over a slow SSH link they queue up
            # and the keys lag behind. Scrolling jumps instead (set the variable to opt in).
            self.animation_level = "none"
        self.cwd = cwd or Path.cwd()
        self.states: dict[int, StageState] = {s.id: StageState(s.id) for s in STAGES}
        self.current_stage = 1
        self.flip_log: dict[int, bool] = {s.id: False for s in STAGES}
        self.paths: ArtifactPaths | None = None
        self.found: Discovered | None = None
        self.selection = Selection()
        self.pipeline = Pipeline(
            invocation, self.post_message, paint_wait_s=PAINT_WAIT_S, ahead=ahead, lookup=lookup
        )
        self.watcher = ArtifactWatcher()
        self.runner = ActionRunner(self.post_message, self.cwd)
        #: Compare mode (`c`): the second run and its results; None outside it.
        self.compare: CompareState | None = None
        self.compare_runner = CompareRunner(self.post_message)
        #: Runs seen besides the discovered ones (given, or trained by an action).
        self.seen_runs: list[Run] = []
        #: The run on show when an action started, and the runs known then: once the
        #: action's run is found, the app offers to compare the two.
        self._action_origin: tuple[Run, set[Path]] | None = None
        #: B of a comparison asked for in the runs view, started once A is resolved.
        self._compare_after_resolve: Run | None = None
        #: The folder of the run on show, watched for a new checkpoint.
        self.run_watcher: TreeWatcher | None = None
        self._idle_at = -1
        self._said_sample = False
        self._matches: list[Match] = []
        self._match = 0
        self.timing_themes, self.theme_problems = load_themes(theme_dirs())
        for timing_theme in self.timing_themes.values():
            self.register_theme(timing_theme.theme)
        # Chosen before the first style pass: a theme change later re-styles every widget.
        self.theme, self._theme_note = self._start_theme()

    def compose(self) -> ComposeResult:
        yield HeaderBar()
        yield ActionBar()
        with Horizontal(id="main"):
            # The list is as tall as its seven lines; the column below it is plain (an
            # OptionList draws each empty line as an option's, a fifth of the first frame).
            with Vertical(id="stage-column"):
                yield StageList()
            # Only the first pane is in the first frame; the others are mounted when the
            # stages are done or one is asked for (see _mount_panes), which keeps the first
            # paint close to a bare app's and stage 1's result close to it.
            with ContentSwitcher(initial="pane-1", id="panes"):
                yield new_pane(1)
        yield Footer(compact=True, show_command_palette=False)

    def get_line_filters(self) -> Sequence[LineFilter]:
        """Textual's filters, then ASCII for a terminal whose locale is not UTF-8."""
        filters = super().get_line_filters()
        return [*filters, self._ascii_filter] if self.ascii_only else filters

    def on_mount(self) -> None:
        self.query_one(HeaderBar).show("looking for artifacts…")
        self._report_theme_problems()
        self.theme_changed_signal.subscribe(self, self._on_theme_changed)
        for stage_id in self.states:
            self._show(stage_id)
        self.set_interval(POLL_INTERVAL_S, self._poll_artifacts)
        # The cached results, or stage 1 when its child was quick, in the first frame
        self.pipeline.show_early()
        self.call_after_refresh(start_gc.release)  # held off by the CLI until the first frame
        # Stages start after the first frame: the pipeline thread's imports hold the GIL
        # for stretches. Torch, the longest (over a second), waits until stage 1's result
        # is drawn (see pipeline.py).
        self.call_after_refresh(self._start_pipeline)

    def on_unmount(self) -> None:
        self.pipeline.close()
        self.runner.stop(QUIT_WAIT_S)
        self.compare_runner.stop()

    def _mount_panes(self) -> None:
        """Mount the panes not mounted yet, each showing its stage's current state."""
        switcher = self.query_one(ContentSwitcher)
        missing = [sid for sid in self.states if not self.query(f"#pane-{sid}")]
        if missing:
            panes = [new_pane(sid) for sid in missing]
            for pane in panes:  # the switcher hides only the panes it started with
                pane.display = pane.id == switcher.current
            switcher.mount_all(panes)
            for stage_id in missing:
                self._show(stage_id)

    def _mount_search_bar(self) -> SearchBar:
        """The search bar, mounted (hidden) once the stages are shown or on the first `/`,
        not in the first frame."""
        from tui_timing.tui.search_bar import SearchBar

        bar = self.search_bar()
        if bar is None:
            bar = SearchBar(id="search-bar")
            bar.display = False
            self.mount(bar, before=self.query_one(Footer))
        return bar

    def _start_pipeline(self) -> None:
        self.pipeline.start()
        # What the first frame showed stays on show (not "pending") while it is checked
        self._submit(Work(resolve=True, stages=dict.fromkeys(ALL_STAGES, "start")), keep_done=True)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """A notification as plain text, control characters escaped: its message quotes
        paths, verdicts and problems from files (a `[` in them is not markup). Toasts sit
        in the empty foot of the stage list (app.tcss), never over a pane's charts, and
        are wrapped to their width here, at words and a path's `/` (notification.py)."""
        notification = TimedNotification(
            clean(message) if markup else toast_lines(clean(message)),
            clean(title),
            severity,
            self.NOTIFICATION_TIMEOUT if timeout is None else timeout,
            markup=markup,
        )
        self.post_message(Notify(notification))

    # ----- themes -------------------------------------------------------------------------

    def _start_theme(self) -> tuple[str, str | None]:
        """`--theme` (or the pyproject's), else the theme chosen last time, else a default
        that suits the terminal; and what to tell the user when the theme asked for does
        not exist."""
        wanted = self.invocation.theme
        fallback = default_theme_name(os.environ)
        if fallback not in self.timing_themes:
            fallback = DEFAULT_THEME if DEFAULT_THEME in self.timing_themes else "textual-dark"
        if not wanted:
            saved = saved_theme()
            return (saved if saved in self.available_themes else fallback), None
        if wanted in self.available_themes:
            return wanted, None
        names = ", ".join(self.timing_themes) or "none"
        return fallback, f"No theme called {wanted!r}; using {fallback}. Themes: {names}."

    def _report_theme_problems(self) -> None:
        for problem in self.theme_problems:
            self.notify(str(problem), title="Theme skipped", severity="warning", timeout=10)
        if self._theme_note:
            self.notify(self._theme_note, title="Unknown theme", severity="error", timeout=10)

    def plot_palette(self) -> PlotPalette:
        """The plot colours of the current theme (defaults for a Textual built-in theme)."""
        found: TimingTheme | None = self.timing_themes.get(self.theme)
        return found.palette if found else PlotPalette()

    def _on_theme_changed(self, theme: Theme) -> None:
        for stage_id in self.states:
            self._show(stage_id)
        # Remembered for the next launch, on a thread (it syncs the file to disk).
        self.run_worker(lambda: self._save_theme(theme.name), thread=True, group="preferences")

    def _save_theme(self, name: str) -> None:
        try:
            save_theme(name)
        except OSError as exc:
            self.call_from_thread(
                self.notify, f"The theme could not be kept for the next launch: {exc}", timeout=6
            )

    def action_next_theme(self) -> None:
        """Cycle through the timing-tui themes (bundled, then the user's)."""
        names = list(self.timing_themes) or ["textual-dark"]
        index = names.index(self.theme) + 1 if self.theme in names else 0
        self.theme = names[index % len(names)]
        self.notify(f"Theme: {self.theme}", timeout=2)

    # ----- stages -------------------------------------------------------------------------

    def _show(self, stage_id: int) -> None:
        state = self.states[stage_id]
        compared = None
        if self.compare is not None:
            first = {sid: st.result for sid, st in self.states.items() if st.result is not None}
            compared = compared_stage(self.compare, stage_id, state.status, first)
        marks = (compared.status_a, compared.status_b) if compared is not None else None
        self.query_one(StageList).show_state(state, marks)
        for pane in self.query(f"#pane-{stage_id}").results(StagePane):
            pane.show(state, self.plot_palette(), self.flip_log[stage_id], compared)

    def _submit(self, work: Work, keep_done: bool = False) -> None:
        """Queue work on the pipeline and mark its stages pending (`keep_done`: not those
        already done)."""
        for stage_id in work.stages:
            state = self.states[stage_id]
            if state.phase != "running" and not (keep_done and state.phase == "done"):
                state.phase = "pending"
                self._show(stage_id)
        self.pipeline.submit(work)

    @property
    def is_idle(self) -> bool:
        """Whether every request so far has been run and its results shown."""
        return self._idle_at == self.pipeline.submits

    @while_running
    def on_pipeline_idle(self, message: PipelineIdle) -> None:
        def caught_up() -> None:  # after the frame that shows the last results
            self._mount_panes()
            self._mount_search_bar()
            self._idle_at = message.submits
            if self.is_idle and self.compare is not None and self.compare.generation == 0:
                self._run_compare()

        self.call_after_refresh(caught_up)

    @while_running
    def on_artifacts_resolved(self, message: ArtifactsResolved) -> None:
        before = self.paths
        self.paths, self.found, self.selection = message.paths, message.found, message.selection
        self._remember_run()
        moved = before is not None and any(
            getattr(before, k) != getattr(message.paths, k) for k in SHARED_KINDS
        )
        if self.compare is not None and moved:
            self.compare.generation = 0  # its shared inputs changed: run it again
        if self._action_origin is not None:
            self.call_after_refresh(self._offer_compare)
        if self._compare_after_resolve is not None:
            other, self._compare_after_resolve = self._compare_after_resolve, None
            self.call_after_refresh(self.start_compare, other, "B")
        description = describe_artifacts(message.paths, message.found, message.selection, self.cwd)
        self.query_one(HeaderBar).show(description, *shorter(description))
        self.watcher.watch(message.paths.given())
        self._watch_run_folder()
        if message.found is not None and message.found.is_sample and not self._said_sample:
            self._said_sample = True
            self.notify(
                f"Nothing found in {self.cwd}: this is the bundled sample data.",
                title="Sample data",
                timeout=8,
            )

    @while_running
    def on_artifacts_loaded(self, message: ArtifactsLoaded) -> None:
        for stage_id, state in self.states.items():
            inputs = STAGE_BY_ID[stage_id].reads
            state.artifact_errors = {k: v for k, v in message.errors.items() if k in inputs}
            self._show(stage_id)

    @while_running
    def on_stage_started(self, message: StageStarted) -> None:
        state = self.states[message.stage]
        state.phase, state.fraction, state.message = "running", 0.0, ""
        state.partial, state.reason = None, message.reason
        self._show(message.stage)

    @while_running
    def on_stage_progress(self, message: StageProgress) -> None:
        state = self.states[message.stage]
        state.fraction, state.message = message.fraction, message.message
        if message.partial is not None:
            state.partial = message.partial
        self._show(message.stage)

    @while_running
    def on_stage_finished(self, message: StageFinished) -> None:
        state = self.states[message.stage]
        again = message.result is state.result  # stage 1 shown early, then taken: one run
        state.phase, state.result, state.partial = "done", message.result, None
        state.reason, state.runs = message.reason, state.runs + (0 if again else 1)
        state.updated = datetime.now().strftime("%H:%M:%S")
        state.cached_at = message.computed or ""
        state.printed = message.printed
        self._show(message.stage)
        if message.stage == Stage.CACHE:
            self.call_after_refresh(self._when_charts_drawn, message.stage, CHART_FRAMES)

    def _when_charts_drawn(self, stage_id: int, frames_left: int) -> None:
        """Tell the pipeline once the stage's charts are on screen: they are mounted a frame
        after the result arrives, and torch's import must not hold up their drawing."""
        charts = list(self.query(f"#pane-{stage_id} PlotView"))
        if any(not chart.is_mounted for chart in charts) and frames_left > 0:
            self.call_after_refresh(self._when_charts_drawn, stage_id, frames_left - 1)
            return
        for chart in charts:  # drawn again at their laid-out width (the first draw may not be)
            chart.refresh()
        self.call_after_refresh(self.pipeline.stage_drawn, stage_id)

    @while_running
    def on_stage_interrupted(self, message: StageInterrupted) -> None:
        self.states[message.stage].phase = "pending"
        self._show(message.stage)

    @while_running
    def on_pipeline_failed(self, message: PipelineFailed) -> None:
        """Work outside a stage failed: the stages it was for show the error in their panes."""
        self.notify(message.problem, title="Could not run the stages", severity="error")
        for stage_id in message.stages:
            info = STAGE_BY_ID[stage_id]
            check = Check(
                id=f"{info.name}.internal",
                status="error",
                measured=message.problem,
                expected="the artifacts load and the stage runs",
                message=f"timing-tui could not run this stage: {message.problem}",
            )
            state = self.states[stage_id]
            state.phase, state.partial = "done", None
            state.result = StageResult(id=info.id, name=info.name, checks=[check])
            self._show(stage_id)

    def _watch_run_folder(self) -> None:
        """Watch the folder of the run on show for a new checkpoint (offered as B)."""
        from tui_timing.artifacts.discovery import candidate_files

        run = self.current_run()
        folder = run.folder if run is not None else None
        if folder is None or (self.found is not None and self.found.is_sample):
            self.run_watcher = None
            return
        self.run_watcher = TreeWatcher(lambda: candidate_files(folder))

    def _newer_checkpoint(self) -> None:
        """(A worker thread.) The run on show's most recently written checkpoint, offered
        for comparison when it is not the one on show and was written after it (a
        training's next save; the run's final-named one may be older)."""
        from tui_timing.artifacts.discovery import discover
        from tui_timing.report.runs import run_targets

        run, paths = self.current_run(), self.paths
        if run is None or run.folder is None or paths is None or paths.checkpoint is None:
            return
        written = [
            (t.checkpoint.stat().st_mtime, t)
            for r in run_targets(discover(run.folder))
            for t in r.targets
            if t.checkpoint is not None and t.checkpoint.exists()
        ]
        with contextlib.suppress(OSError):
            shown = paths.checkpoint.stat().st_mtime
            latest = max(written, key=lambda pair: pair[0], default=None)
            if (
                latest is not None
                and latest[0] > shown
                and latest[1].checkpoint != paths.checkpoint
            ):
                self.call_from_thread(self._offer_newer, latest[1], run)

    def _offer_newer(self, newest: Target, run: Run) -> None:
        from tui_timing.artifacts.discovery import Run
        from tui_timing.tui.screens.compare_offer import CompareOffer

        if self.compare is not None or newest.checkpoint is None or self.paths is None:
            return
        shown = self.paths.checkpoint.name if self.paths.checkpoint else run.name
        other = Run(run.name, newest.checkpoint, run.log, run.eval, run.folder)
        self.push_screen(
            CompareOffer(newest.checkpoint.name, shown, CompareOffer.NEW_CHECKPOINT),
            lambda yes: self.start_compare(other, side="B") if yes else None,
        )

    def _poll_artifacts(self) -> None:
        """Re-run the stages an edited or growing artifact feeds (see file_watch.py); look
        for a new checkpoint of the run on show."""
        if self.run_watcher is not None and self.run_watcher.poll():
            self.run_worker(self._newer_checkpoint, thread=True, group="newer", exclusive=True)
        changed = self.watcher.poll()
        if not changed or self.paths is None:
            return
        given = self.paths.given()
        names = ", ".join(sorted(given[kind].name for kind in changed))
        reason = f"{names} changed"
        stages = stages_fed_by(changed)
        self._submit(Work(reload=changed, stages=dict.fromkeys(sorted(stages), reason)))

    # ----- navigation ---------------------------------------------------------------------

    def action_stage(self, stage_id: int) -> None:
        """Show a stage by number (at once, so that the next key acts on its pane)."""
        self.query_one(StageList).select_stage(stage_id)
        self._switch_pane(stage_id)

    def action_next_stage(self) -> None:
        self.action_stage(self.current_stage % len(STAGES) + 1)

    def action_previous_stage(self) -> None:
        self.action_stage((self.current_stage - 2) % len(STAGES) + 1)

    @on(OptionList.OptionHighlighted, "#stage-list")
    def _stage_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        # The message comes after the keys already typed: `3 4` quickly posts two, and the
        # first, handled after `4`, would show stage 3 again. Only the highlight now counts.
        if event.option_index == event.option_list.highlighted:
            self._switch_pane(event.option_index + 1)

    def on_stage_list_scroll_pane(self, message: StageList.ScrollPane) -> None:
        # A pane too short to scroll says so with SkipAction, which only Textual's own
        # dispatch expects (called directly it stopped the app: the typing tmux test).
        with contextlib.suppress(SkipAction):
            getattr(self.current_pane(), f"action_{message.action}")()

    def _switch_pane(self, stage_id: int) -> None:
        if stage_id == self.current_stage and self.query(f"#pane-{stage_id}"):
            return
        focused_pane = isinstance(self.focused, StagePane)
        self.current_stage = stage_id
        self._mount_panes()
        self.query_one(ContentSwitcher).current = f"pane-{stage_id}"
        self._close_search()
        if focused_pane:  # the focus follows to the pane on show (at once: keys typed ahead)
            self.screen.set_focus(self.current_pane())

    def current_pane(self) -> StagePane:
        self._mount_panes()
        return self.query_one(f"#pane-{self.current_stage}", StagePane)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While a dialog is open, the keys act on the dialog, not on the screen behind."""
        return not (isinstance(self.screen, ModalScreen) and action not in MODAL_ACTIONS)

    # ----- commands -----------------------------------------------------------------------

    def action_rerun(self) -> None:
        """Re-run the stage on show (and the decision, which reads it)."""
        stages = {self.current_stage, Stage.DECISION}
        self._submit(Work(stages=dict.fromkeys(sorted(stages), "re-run")))

    def action_rerun_all(self) -> None:
        """Look for artifacts again (a new run appears in the selector), reload every one
        from disk and run all stages."""
        stages: dict[int, str] = dict.fromkeys(ALL_STAGES, "re-run all")
        self._submit(Work(resolve=True, rediscover=True, stages=stages, recompute=True))

    def action_toggle_log(self) -> None:
        """Flip the charts of the stage on show between linear and log scale."""
        stage_id = self.current_stage
        self.flip_log[stage_id] = not self.flip_log[stage_id]
        self._show(stage_id)

    def action_help(self) -> None:
        from tui_timing.tui.screens.help_screen import HelpScreen

        self.push_screen(HelpScreen(self.help_keys()))

    def help_keys(self) -> list[tuple[str, str]]:
        """(keys, what they do) for every binding, with one line for the stage keys."""
        keys: list[tuple[str, str]] = []
        for binding in self.BINDINGS:
            if not isinstance(binding, Binding) or binding.key in _HIDDEN_STAGE_KEYS:
                continue
            named = {str(FIRST): STAGE_KEYS, "question_mark": "?", "slash": "/"}
            shown = named.get(binding.key, binding.key)
            keys.append((shown.replace(",", " "), binding.tooltip or binding.description))
        return keys

    def action_help_quit(self) -> None:
        """ctrl+c with no text selected: say how to quit and how to copy (plain text)."""
        self.notify(
            "Press q to quit. To copy: y (a command), Y (a check), or drag over text and "
            "press ctrl+c.",
            title="Do you want to quit?",
        )

    def action_close_panel(self) -> None:
        """Escape on the main screen: close the Keys panel or the search, never more."""
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        self._close_search()

    def action_select_artifacts(self) -> None:
        """Choose another discovered run, cache or eval dump."""
        from tui_timing.tui.screens.selector_screen import SelectorScreen

        found = self.found
        if found is None:
            given = self.invocation.any_artifact
            reason = "given on the command line" if given else "not found yet"
            self.notify(f"Nothing to switch: the artifacts were {reason}.", timeout=4)
            return
        if max(len(found.runs), len(found.caches), len(found.evals)) < 2:
            self.notify("Nothing to switch: one run, cache and eval dump at most.", timeout=4)
            return
        self.push_screen(SelectorScreen(found, self.selection), self._switch_to)

    def action_runs(self) -> None:
        """The runs view: every run under the working folder on the cache in use, live."""
        from tui_timing.tui.screens.runs_screen import RunsScreen

        if self.paths is None or self.paths.cache is None:
            self.notify("No runs view yet: no cache is in use to diagnose runs on.", timeout=4)
            return
        current = self.current_run()
        own_eval = current is not None and current.eval is not None
        shared = replace(
            self.paths, checkpoint=None, log=None, eval=None if own_eval else self.paths.eval
        )
        root = self.found.root if self.found is not None and not self.found.is_sample else None
        screen = RunsScreen(
            [root or self.cwd],
            shared,
            self.invocation.settings,
            use_cache=not self.invocation.no_cache,
            palette=self.plot_palette(),
            ascii_only=self.ascii_only,
        )
        self.push_screen(screen, self._open_runs)

    def _open_runs(self, choice: RunsChoice | None) -> None:
        """Open the run chosen in the runs view (and compare with the second marked)."""
        from tui_timing.artifacts.discovery import Run
        from tui_timing.tui.action_outputs import ActionOutputs

        if choice is None:
            return
        first = choice.runs[0]
        if len(choice.runs) > 1:
            b = choice.runs[1]
            self._compare_after_resolve = Run(b.run, b.checkpoint, b.log, b.eval, b.folder)
        stages: dict[int, str] = dict.fromkeys(ALL_STAGES, f"opened {first.run}")
        made = ActionOutputs(run_dir=first.folder)
        self._submit(Work(resolve=True, rediscover=True, made=made, stages=stages))

    def _switch_to(self, selection: Selection | None) -> None:
        if selection is None or selection == self.selection:
            return
        stages: dict[int, str] = dict.fromkeys(ALL_STAGES, "switched artifacts")
        self._submit(Work(resolve=True, selection=selection, stages=stages))

    def action_export(self, stage: int | None = None) -> None:
        """Append the findings so far to the scratchpad (on a thread: it hashes files)."""
        from tui_timing.tui.export import default_scratchpad

        snapshot = self.pipeline.snapshot()
        if snapshot is None:
            self.notify("Nothing to export yet: the stages have not run.", severity="warning")
            return
        if stage is not None and stage not in snapshot.results:
            self.notify(f"Nothing to export yet: stage {stage} has not run.", severity="warning")
            return
        target = self.invocation.scratchpad or default_scratchpad(self.cwd)
        if not target.is_absolute():
            target = self.cwd / target
        project = self.invocation.project
        within = (
            None if self.invocation.scratchpad_given else project.parent if project else self.cwd
        )
        self.run_worker(
            lambda: self._export(snapshot, target, stage, within), thread=True, group="export"
        )

    def action_export_stage(self) -> None:
        """Append the stage on show alone (the plan logs findings after each stage)."""
        self.action_export(self.current_stage)

    def _export(
        self, snapshot: StageContext, target: Path, stage: int | None, within: Path | None
    ) -> None:
        from tui_timing.tui.export import export_findings

        try:
            written, summary = export_findings(snapshot, target, stage, within)
        except ArtifactError as exc:
            self.post_message(ExportFailed(str(exc)))
            return
        self.post_message(ExportFinished(str(written), summary))

    @while_running
    def on_export_finished(self, message: ExportFinished) -> None:
        path = Path(message.path)
        shown = path.relative_to(self.cwd) if path.is_relative_to(self.cwd) else path
        self.notify(
            f"Appended to {printable_name(shown)}: {message.summary}.",
            title="Exported",
            timeout=8,
        )

    @while_running
    def on_export_failed(self, message: ExportFailed) -> None:
        self.notify(
            f"Scratchpad {message.problem}",
            title="Export failed",
            severity="error",
            timeout=10,
        )

    def decision_pane(self) -> DecisionPane:
        from tui_timing.tui.panes.decision_pane import DecisionPane

        self._mount_panes()
        return self.query_one(DecisionPane)

    def action_run_action(self) -> None:
        """Run the highlighted suggested action's command, after a confirmation."""
        from tui_timing.tui.screens.confirm_screen import ConfirmAction

        action = self.decision_pane().selected_action()
        if action is None:
            self.notify("No action to run: the decision has not suggested any yet.", timeout=4)
            return
        if not action.command:
            self.notify(f"{action.title}: no command, this is a change to make by hand.")
            return
        if self.runner.running:
            self.notify("An action is already running; its output is in stage 7.", timeout=4)
            return
        self.push_screen(ConfirmAction(action), self._confirmed)

    def _confirmed(self, command: str | None) -> None:
        if command is None:
            return
        current = self.current_run()
        if current is not None:
            self._action_origin = (current, {_folder(r) for r in self.known_runs()})
        self.action_stage(Stage.DECISION)
        self.decision_pane().start_log(command)
        self.query_one(ActionBar).start(command)
        self.runner.start(command)

    @while_running
    def on_action_output(self, message: ActionOutput) -> None:
        self.decision_pane().write_log(message.line)
        self.query_one(ActionBar).output(clean(message.line))

    @while_running
    def on_action_finished(self, message: ActionFinished) -> None:
        pane, bar = self.decision_pane(), self.query_one(ActionBar)
        if message.returncode is None:
            pane.write_log(f"could not start: {message.problem}")
            bar.finish("could not start", message.problem)
            self.notify(f"Could not start {message.command}: {message.problem}", severity="error")
            return
        pane.write_log(f"exit status {message.returncode}")
        if message.returncode == 0:
            bar.finish("finished", "exit status 0; re-running all stages")
            self.notify("The action finished; re-running all stages.", title="Action done")
            # Every artifact in use stays; what the action made is added and selected.
            from tui_timing.tui.action_outputs import outputs_of

            made = outputs_of(message.command, self.cwd)
            stages: dict[int, str] = dict.fromkeys(ALL_STAGES, "after the action")
            self._submit(Work(resolve=True, rediscover=True, made=made, stages=stages))
        else:
            bar.finish("failed", f"exit status {message.returncode}; its output is in stage 7")
            self._action_origin = None
            self.notify(
                f"The action failed (exit status {message.returncode}); see its output.",
                severity="error",
            )

    # ----- compare mode -------------------------------------------------------------------

    def current_run(self) -> Run | None:
        """The run on show, as a Run (None when neither a checkpoint nor a log is in use)."""
        from tui_timing.artifacts.discovery import Run

        paths = self.paths
        if paths is None or (paths.checkpoint is None and paths.log is None):
            return None
        if self.found is not None and self.found.runs:
            return self.found.runs[min(self.selection.run, len(self.found.runs) - 1)]
        folder = (paths.checkpoint or paths.log or self.cwd).parent
        name = str(folder.relative_to(self.cwd)) if folder.is_relative_to(self.cwd) else str(folder)
        return Run(name, paths.checkpoint, paths.log)

    def known_runs(self) -> list[Run]:
        """Every run the app knows (found, given, trained by an action), one per folder."""
        runs: dict[Path, Run] = {}
        for run in [*(self.found.runs if self.found else []), *self.seen_runs]:
            runs.setdefault(_folder(run), run)
        return list(runs.values())

    def _remember_run(self) -> None:
        current = self.current_run()
        if current is not None and _folder(current) not in {_folder(r) for r in self.seen_runs}:
            self.seen_runs.append(current)

    def action_compare(self) -> None:
        """Pick a second run to show beside the one on show; `c` again leaves compare mode."""
        from tui_timing.tui.screens.run_picker import RunPicker

        if self.compare is not None:
            self.compare_runner.stop()
            self.compare = None
            self.notify("Compare mode left: the panes show one run again.", timeout=4)
            self._show_all()
            return
        current = self.current_run()
        if current is None:
            self.notify("Nothing to compare: no run (checkpoint or log) is on show.", timeout=4)
            return
        others = [r for r in self.known_runs() if _folder(r) != _folder(current)]
        if not others:
            self.notify(
                "No other run to compare with: train one with an action (stage 7), or start "
                "timing-tui where several runs are.",
                timeout=6,
            )
            return
        self.push_screen(RunPicker(others, current.name), self._compare_with)

    def _compare_with(self, run: Run | None) -> None:
        if run is not None:
            self.start_compare(run, side="B")

    def start_compare(self, run: Run, side: Literal["A", "B"]) -> None:
        """Enter compare mode with `run` as side A or B of the run on show; its stages run
        once the run on show is idle (so the stages both share are taken, not re-run)."""
        current = self.current_run()
        if self.paths is None or current is None:
            return
        from tui_timing.stages.pair import pair_file

        mine = 1 if side == "B" else 0  # where the second run sits in (A, B)
        runs = (current, run) if side == "B" else (run, current)
        folders = (_folder(runs[0]), _folder(runs[1]))
        shown = [
            *([self.paths.eval] if self.paths.eval is not None else []),
            *(self.found.loose_evals if self.found is not None else []),
        ]  # the run on show keeps the eval dump in use: only the other run's is chosen here
        given = self.invocation.paths
        picked = [
            pair_file(kind, (getattr(runs[0], kind), getattr(runs[1], kind)), folders, named, found)
            for kind, named, found in (("log", given.log, []), ("eval", given.eval, shown))
        ]
        logs, evals = picked
        side_of = (lambda p: p.b) if mine else (lambda p: p.a)
        said_of = (lambda p: p.said_b) if mine else (lambda p: p.said_a)
        paths = replace(
            self.paths, checkpoint=run.checkpoint, log=side_of(logs), eval=side_of(evals)
        )
        assumed = [*run.assumptions, *said_of(logs), *said_of(evals)]
        self.compare = CompareState(
            name=run.name, paths=paths, first=current.name, assumptions=assumed, side=side
        )
        names = self.compare.names
        notes = [p.note for p in picked if p.note]
        said = "".join(f" {note[0].upper()}{note[1:]}." for note in notes)
        self.notify(f"Comparing A {names[0]} with B {names[1]} (c: leave).{said}", timeout=5)
        if self.is_idle:
            self._run_compare()
        self._show_all()

    def _run_compare(self) -> None:
        compare = self.compare
        snapshot = self.pipeline.snapshot()
        if compare is None or snapshot is None:
            return
        compare.results, compare.shared, compare.running = {}, set(), None
        compare.generation = self.compare_runner.start(snapshot, compare.paths, compare.assumptions)
        self._show_all()

    def _show_all(self) -> None:
        for stage_id in self.states:
            self._show(stage_id)

    def _compare_message(self, generation: int) -> CompareState | None:
        """The comparison a message is about, None when it was left or replaced since."""
        compare = self.compare
        return compare if compare is not None and compare.generation == generation else None

    @while_running
    def on_compare_stage_started(self, message: CompareStageStarted) -> None:
        compare = self._compare_message(message.generation)
        if compare is not None:
            compare.running = message.stage
            self._show(message.stage)

    @while_running
    def on_compare_stage_finished(self, message: CompareStageFinished) -> None:
        compare = self._compare_message(message.generation)
        if compare is None:
            return
        compare.results[message.stage] = message.result
        if message.shared:
            compare.shared.add(message.stage)
        compare.running = None
        self._show(message.stage)
        self._show(Stage.DECISION)

    @while_running
    def on_compare_failed(self, message: CompareFailed) -> None:
        compare = self._compare_message(message.generation)
        if compare is not None:
            compare.problem = message.problem
            self.notify(message.problem, title="Could not run the second run", severity="error")

    def _offer_compare(self) -> None:
        """After an action's run: offer to compare it with the run it came from (A)."""
        if self._action_origin is None or self.runner.running:
            return
        from tui_timing.artifacts.discovery import discover
        from tui_timing.tui.screens.compare_offer import CompareOffer

        origin, before = self._action_origin
        for run in discover(self.cwd).runs:
            if _folder(run) not in {_folder(r) for r in self.known_runs()}:
                self.seen_runs.append(run)
        made = [r for r in self.known_runs() if _folder(r) not in before]
        if not made:
            return
        self._action_origin = None
        new = made[0]
        self.push_screen(
            CompareOffer(new.name, origin.name),
            lambda yes: self._compare_made(new, origin) if yes else None,
        )

    def _compare_made(self, new: Run, origin: Run) -> None:
        """Compare the action's run (B) with the run it came from (A)."""
        current = self.current_run()
        if current is not None and _folder(current) == _folder(new):
            self.start_compare(origin, side="A")
        else:
            self.start_compare(new, side="B")

    def action_cancel_action(self) -> None:
        """Ask, then cancel the running action."""
        bar = self.query_one(ActionBar)
        if not self.runner.running:
            self.notify("No action is running.", timeout=3)
            return
        from tui_timing.tui.screens.cancel_screen import ConfirmCancel

        self.push_screen(ConfirmCancel(bar.command, bar.elapsed), self._cancel_confirmed)

    def _cancel_confirmed(self, cancel: bool | None) -> None:
        if cancel and self.runner.running:
            self.query_one(ActionBar).cancelling()
            self.runner.cancel()

    @while_running
    def on_action_cancelled(self, message: ActionCancelled) -> None:
        removed = ", ".join(message.removed)
        ending = message.problem or (f"removed {removed}" if removed else "nothing to remove")
        self._action_origin = None  # what it made was removed: no run to compare with
        self.decision_pane().write_log(f"cancelled; {ending}")
        self.query_one(ActionBar).finish("cancelled", ending)
        self.notify(f"The action was cancelled; {ending}.", title="Cancelled", timeout=6)

    # ----- copying and looking closer -----------------------------------------------------

    def action_copy_command(self) -> None:
        """Copy the command of the action under stage 7's cursor (the first until it moves)."""
        action = self.decision_pane().selected_action()
        if action is None:
            self.notify("No action to copy: the decision has not suggested any yet.", timeout=4)
        elif not action.command:
            self.notify(f"{action.title}: no command, this is a change to make by hand.")
        else:
            self._copy(action.command, "the command")

    def action_copy_item(self) -> None:
        """Copy the check or figure under the pane's cursor (stage 7: the action whole)."""
        from tui_timing.tui.panes.decision_pane import DecisionPane

        pane = self.current_pane()
        if isinstance(pane, DecisionPane):
            action = pane.selected_action()
            if action is not None:
                self._copy(action_text(action), "the action")
            return
        focused = self.focused
        item = (focused if isinstance(focused, StagePane) else pane).current_item()
        if item is None:
            self.notify("Nothing to copy here yet.", timeout=3)
            return
        self._copy(getattr(item, "item_text", ""), getattr(item, "item_title", "it"))

    def _copy(self, text: str, what: str) -> None:
        """To the clipboard with OSC 52: the terminal (or tmux) sets it, over SSH too. What
        is copied is what was shown, control characters and bidi overrides escaped: a file
        name's raw bytes would otherwise reach the terminal the user pastes into."""
        text = clean(text)
        self.copy_to_clipboard(text)
        self.notify(f"{what} ({len(text)} characters)", title="Copied", timeout=3)

    @on(StagePane.OpenItem)
    def _open_item(self, event: StagePane.OpenItem) -> None:
        from tui_timing.tui.screens.item_screen import ItemScreen

        title = getattr(event.item, "item_title", "")
        text = getattr(event.item, "item_text", "")
        self.push_screen(
            ItemScreen(title, text), lambda copy: self._copy(text, title) if copy else None
        )

    # ----- search ---------------------------------------------------------------------------

    def action_search(self) -> None:
        """Open the search bar over the footer; it searches the stage on show."""
        bar = self._mount_search_bar()
        if bar.is_mounted and bar.children:
            bar.open()
        else:  # `/` before the first frames were out: open it once it is there
            self.call_after_refresh(bar.open)

    def search_bar(self) -> SearchBar | None:
        from tui_timing.tui.search_bar import SearchBar

        bars = self.query(SearchBar)
        return bars.first() if bars else None

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
        self._close_search()

    def on_key(self, event: Key) -> None:
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

    def _close_search(self) -> None:
        bar = self.search_bar()
        if bar is None:
            return  # not mounted yet: nothing was searched, nothing is marked
        from tui_timing.tui.panes.pane_search import clear_marks

        if bar.is_open:
            # A hidden box keeping the focus would take every key typed after (the app
            # looks frozen): the focus goes to the pane on show.
            # (the bar's own screen: a dialog may be open over it)
            typing = bar.has_focus_within
            bar.close()
            if typing:
                bar.screen.set_focus(self.current_pane())
        for pane in self.query(StagePane):
            clear_marks(pane)
        self._matches = []

    def palette_entries(self) -> list[PaletteEntry]:
        """Every stage, every suggested action, the switchable artifacts and the commands."""
        entries = [
            PaletteEntry(
                f"Stage {info.id}: {info.title}",
                partial(self.action_stage, info.id),
                f"show the {info.name} stage",
            )
            for info in STAGES
        ]
        pane = self.decision_pane()
        for index, action in enumerate(pane.actions):
            entries.append(
                PaletteEntry(
                    f"Action: {action.title}",
                    partial(self._run_action_at, index),
                    action.command or "no command (by hand)",
                )
            )
        entries += [
            PaletteEntry("Re-run this stage", self.action_rerun, "r"),
            PaletteEntry("Re-run all stages", self.action_rerun_all, "R: reload the artifacts"),
            PaletteEntry("Export findings to the scratchpad", self.action_export, "e"),
            PaletteEntry("Export this stage's findings", self.action_export_stage, "E"),
            PaletteEntry("Copy the action's command", self.action_copy_command, "y"),
            PaletteEntry("Copy the check or figure under the cursor", self.action_copy_item, "Y"),
            PaletteEntry("Search this stage", self.action_search, "/"),
            PaletteEntry("Cancel the running action", self.action_cancel_action, "x"),
            PaletteEntry("Toggle log scale", self.action_toggle_log, "l"),
            PaletteEntry("Next theme", self.action_next_theme, "t"),
            PaletteEntry("Switch run, cache or eval dump", self.action_select_artifacts, "s"),
            PaletteEntry("Compare with another run", self.action_compare, "c (again: leave)"),
            PaletteEntry("Help: keys", self.action_help, "?"),
        ]
        return entries

    def _run_action_at(self, index: int) -> None:
        self.action_stage(Stage.DECISION)
        self.decision_pane().select_action(index)
        self.action_run_action()

    async def action_quit(self) -> None:
        """Quit: stages stop at their next tick; a running action is cancelled (and what it
        had written removed) first, which takes a moment."""
        self.pipeline.close()
        if self.runner.running:
            self.query_one(ActionBar).cancelling()
            await asyncio.to_thread(self.runner.stop, QUIT_WAIT_S)
        self.exit()


def _folder(run: Run) -> Path:
    """A run is its folder (its checkpoint or log may be missing)."""
    first = run.folder or (run.checkpoint or run.log or Path(run.name)).parent
    return first.resolve()


def new_pane(stage_id: int) -> StagePane:
    """A fresh pane for a stage (the decision has its own kind, imported when its pane is
    made: it is never in the first frame)."""
    info = STAGE_BY_ID[stage_id]
    if stage_id != Stage.DECISION:
        return StagePane(info)
    from tui_timing.tui.panes.decision_pane import DecisionPane

    return DecisionPane(info)


def run_app(
    invocation: Invocation,
    ahead: StageOneAhead | None = None,
    lookup: LaunchLookup | None = None,
) -> int:
    """Open the TUI on the invocation's artifacts (or discovered ones, or the sample);
    the exit status: 0 when the user quit, non-zero after an internal error.

    The first frame does not wait for a child computing stage 1: on a busy machine the
    child and the app share the cores, and a blank terminal while it computes looks like
    a hang; its result is shown as it comes."""
    try:
        app = TimingApp(invocation, ahead=ahead, lookup=lookup)
        app.run()
    finally:
        if ahead is not None:  # the app closed the pipeline, which stopped it; unless it failed
            ahead.stop(grace=STORE_WAIT_S)
    # Textual prints an unhandled exception's traceback once the terminal is restored and
    # sets the return code; `run()` itself returns as after a quit.
    code = app.return_code or 0
    if code:
        print(
            f"timing-tui stopped on an internal error (exit status {code}); the traceback "
            "above is a bug of timing-tui, please report it.",
            file=sys.stderr,
        )
    return code
