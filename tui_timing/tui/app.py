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
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from textual.actions import parse as parse_action
from textual.app import App
from textual.binding import BindingType
from textual.events import Key
from textual.filter import LineFilter
from textual.notifications import Notify, SeverityLevel
from textual.reactive import var
from textual.screen import ModalScreen
from textual.theme import Theme

from tui_timing.artifact_kinds import KINDS
from tui_timing.artifacts.file_watch import POLL_INTERVAL_S, ArtifactWatcher, TreeWatcher
from tui_timing.errors import ArtifactError
from tui_timing.findings import Check, StageResult
from tui_timing.report.text import printable_name
from tui_timing.stages.catalog import ALL_STAGES, STAGE_BY_ID, STAGES, Stage
from tui_timing.tui import startup
from tui_timing.tui.action_runner import ActionRunner
from tui_timing.tui.charset import AsciiFilter, utf8_locale
from tui_timing.tui.command_table import (
    OVER_DIALOGS,
    Command,
    bindings,
    help_keys,
    palette_commands,
)
from tui_timing.tui.commands import PaletteEntry, TimingCommands
from tui_timing.tui.compare_runner import CompareRunner
from tui_timing.tui.compare_state import CompareState
from tui_timing.tui.header_bar import HeaderBar
from tui_timing.tui.main_screen import MainScreen
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
from tui_timing.tui.notification import TimedNotification, ToastSweeper, toast_lines
from tui_timing.tui.panes.action_bar import ActionBar
from tui_timing.tui.panes.item_text import action_text
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
    from tui_timing.tui.panes.stage_pane import StagePane
    from tui_timing.tui.screens.runs_screen import RunsChoice
    from tui_timing.tui.search_bar import SearchBar
    from tui_timing.tui.stage_one_ahead import StageOneAhead

#: Frames to wait for a stage's charts to be mounted before telling the pipeline they are.
CHART_FRAMES = 10
#: The artifacts both runs of a comparison may share: a change to one runs the second again.
SHARED_KINDS = tuple(kind.name for kind in KINDS if kind.scope != "run")
#: Seconds quitting waits for a running action to end and be cleaned up.
QUIT_WAIT_S = 12.0


class TimingApp(App[None]):
    """Step through the seven diagnostic stages of a timing head from the keyboard."""

    #: Compare mode (`c`): the second run and its results; None outside it. Entering or
    #: leaving it shows every stage again; its results, as they come, show their stage.
    compare: var[CompareState | None] = var(None, init=False, always_update=True)

    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "timing-tui"
    COMMANDS = App.COMMANDS | {TimingCommands}
    # One binding per command of the table (command_table.py), in the footer's order.
    BINDINGS: ClassVar[list[BindingType]] = list(bindings())

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
        self.main = MainScreen()
        self.paths: ArtifactPaths | None = None
        self.found: Discovered | None = None
        self.selection = Selection()
        self.pipeline = Pipeline(
            invocation, self.post_message, paint_wait_s=PAINT_WAIT_S, ahead=ahead, lookup=lookup
        )
        self.watcher = ArtifactWatcher()
        self.runner = ActionRunner(self.post_message, self.cwd)
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
        #: Held while a worker polls the run's folder: one poll at a time.
        self._polling_run = threading.Lock()
        self._idle_at = -1
        self._said_sample = False
        self._toast_sweeper = ToastSweeper(self)
        self.timing_themes, self.theme_problems = load_themes(theme_dirs())
        for timing_theme in self.timing_themes.values():
            self.register_theme(timing_theme.theme)
        theme, self._theme_note = self._start_theme()
        self._take_start_theme(theme)

    def get_default_screen(self) -> MainScreen:
        """The main view (the stage list and panes), the screen under every dialog."""
        return self.main

    def get_line_filters(self) -> Sequence[LineFilter]:
        """Textual's filters, then ASCII for a terminal whose locale is not UTF-8."""
        filters = super().get_line_filters()
        return [*filters, self._ascii_filter] if self.ascii_only else filters

    def on_mount(self) -> None:
        self._report_theme_problems()
        self.theme_changed_signal.subscribe(self, self._on_theme_changed)
        self.set_interval(POLL_INTERVAL_S, self._poll_artifacts)

    def view_ready(self) -> None:
        """The main view is composed (after the app's own mount), before its first frame."""
        # A warm launch's statuses, in the first frame: handled here, not posted (the screen
        # paints that frame as soon as its own queue reaches its resume, which a message
        # posted to the app may come after).
        for message in self.pipeline.take_cached():
            getattr(self, message.handler_name)(message)
        self.call_after_refresh(startup.release)  # held off by the CLI until the first frame
        # Stages start after the first frame: the pipeline thread's imports hold the GIL
        # for stretches. Torch, the longest (over a second), waits until stage 1's result
        # is drawn (see pipeline.py).
        self.call_after_refresh(self._start_pipeline)

    def on_unmount(self) -> None:
        self.pipeline.close()
        self.runner.stop(QUIT_WAIT_S)
        self.compare_runner.stop()

    def _mount_search_bar(self) -> SearchBar:
        return self.main.mount_search_bar()

    def first_frame(self) -> None:
        """The main view paints its first frame next: stage 1 from its child, when it is
        in, is handled right after that frame."""
        self.pipeline.show_ahead()

    def _start_pipeline(self) -> None:
        # What stage 1's child sent since the first frame, drawn now rather than after the
        # thread's start-up (its discovery, its imports)
        self.pipeline.show_ahead()
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
        self._toast_sweeper.raised(notification)

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

    def _take_start_theme(self, name: str) -> None:
        """The launch's theme, in place before the first style pass parses any CSS.

        Setting `theme` runs Textual's watcher, which also queues a re-parse of every
        stylesheet and a re-styling of every widget: the first frame would pay for its CSS
        twice (the floor, on Textual's default theme, pays once). Here only what the
        watcher does to the app's state is done: the theme's classes, its ANSI mapping and
        the stylesheet's variables. tests/test_tui_app.py holds the two ways equal.
        """
        self.set_reactive(TimingApp.theme, name)
        dark = self.current_theme.dark
        self.set_class(True, f"-theme-{name}", update=False)
        self.set_class(dark, "-dark-mode", update=False)
        self.set_class(not dark, "-light-mode", update=False)
        self._refresh_truecolor_filter(self.ansi_theme)
        self.stylesheet.set_variables(self.get_css_variables())

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
        self.main.show_all()
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

    def _submit(self, work: Work, keep_done: bool = False) -> None:
        """Queue work on the pipeline and mark its stages pending (`keep_done`: not those
        already done)."""
        for stage_id in work.stages:
            state = self.states[stage_id]
            if state.phase != "running" and not (keep_done and state.phase == "done"):
                state.phase = "pending"
                self.main.show(stage_id)
        self.pipeline.submit(work)

    @property
    def is_idle(self) -> bool:
        """Whether every request so far has been run and its results shown."""
        return self._idle_at == self.pipeline.submits

    @while_running
    def on_pipeline_idle(self, message: PipelineIdle) -> None:
        def caught_up() -> None:  # after the frame that shows the last results
            self.main.mount_panes()
            self.main.mount_search_bar()
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
        from tui_timing.tui.describe import describe_artifacts, shorter  # after the first frame

        description = describe_artifacts(message.paths, message.found, message.selection, self.cwd)
        self.main.query_one(HeaderBar).show(description, *shorter(description))
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
            self.main.show(stage_id)

    @while_running
    def on_stage_started(self, message: StageStarted) -> None:
        state = self.states[message.stage]
        state.phase, state.fraction, state.message = "running", 0.0, ""
        state.partial, state.reason = None, message.reason
        self.main.show(message.stage)

    @while_running
    def on_stage_progress(self, message: StageProgress) -> None:
        state = self.states[message.stage]
        state.fraction, state.message = message.fraction, message.message
        if message.partial is not None:
            state.partial = message.partial
        self.main.show(message.stage)

    @while_running
    def on_stage_finished(self, message: StageFinished) -> None:
        state = self.states[message.stage]
        again = message.result is state.result  # stage 1 shown early, then taken: one run
        state.phase, state.result, state.partial = "done", message.result, None
        state.reason, state.runs = message.reason, state.runs + (0 if again else 1)
        state.updated = datetime.now().strftime("%H:%M:%S")
        state.cached_at = message.computed or ""
        state.printed = message.printed
        self.main.show(message.stage)
        if message.stage == Stage.CACHE:
            self.call_after_refresh(self._when_charts_drawn, message.stage, CHART_FRAMES)

    def _when_charts_drawn(self, stage_id: int, frames_left: int) -> None:
        """Tell the pipeline once the stage's charts are on screen: they are mounted a frame
        after the result arrives, and torch's import must not hold up their drawing."""
        if not self.main.charts_mounted(stage_id) and frames_left > 0:
            self.call_after_refresh(self._when_charts_drawn, stage_id, frames_left - 1)
            return
        self.call_after_refresh(self.pipeline.stage_drawn, stage_id)

    @while_running
    def on_stage_interrupted(self, message: StageInterrupted) -> None:
        self.states[message.stage].phase = "pending"
        self.main.show(message.stage)

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
            self.main.show(stage_id)

    def _watch_run_folder(self) -> None:
        """Watch the folder of the run on show for a new checkpoint (offered as B). The
        watcher lists the folder's files, which a large run folder makes slow: it is made
        on a worker thread, as each poll of it is."""
        run = self.current_run()
        folder = run.folder if run is not None else None
        self.run_watcher = None
        if folder is None or (self.found is not None and self.found.is_sample):
            return
        self.run_worker(
            partial(self._scan_run_folder, folder), thread=True, group="run-folder", exclusive=True
        )

    def _scan_run_folder(self, folder: Path) -> None:
        """(A worker thread.) A watcher of the run's folder, from its files as they are."""
        from tui_timing.artifacts.discovery import candidate_files

        watcher = TreeWatcher(lambda: candidate_files(folder))
        self.call_from_thread(self._start_watching, folder, watcher)

    def _start_watching(self, folder: Path, watcher: TreeWatcher) -> None:
        run = self.current_run()
        if run is not None and run.folder == folder:  # still the run on show
            self.run_watcher = watcher

    def _poll_run_folder(self, watcher: TreeWatcher) -> None:
        """(A worker thread.) Look for a checkpoint written since the last poll."""
        try:
            if watcher.poll():
                self._newer_checkpoint()
        finally:
            self._polling_run.release()

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
        watcher = self.run_watcher
        if watcher is not None and self._polling_run.acquire(blocking=False):
            self.run_worker(partial(self._poll_run_folder, watcher), thread=True, group="newer")
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
        self.main.select_stage(stage_id)

    def action_next_stage(self) -> None:
        self.main.step_stage(1)

    def action_previous_stage(self) -> None:
        self.main.step_stage(-1)

    @property
    def current_stage(self) -> int:
        """The stage on show."""
        return self.main.current_stage

    def current_pane(self) -> StagePane:
        return self.main.current_pane()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While a dialog is open, the keys act on the dialog, not on the screen behind;
        before the main view is composed (the first moments of start-up), only on the app."""
        if action in OVER_DIALOGS:
            return True
        return self.main.ready and not isinstance(self.screen, ModalScreen)

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
        self.main.toggle_log()

    def action_help(self) -> None:
        from tui_timing.tui.screens.help_screen import HelpScreen

        self.push_screen(HelpScreen(help_keys()))

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
        self.main.close_search()

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
        return self.main.decision_pane()

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
        self.main.query_one(ActionBar).start(command)
        self.runner.start(command)

    @while_running
    def on_action_output(self, message: ActionOutput) -> None:
        self.decision_pane().write_log(message.line)
        self.main.query_one(ActionBar).output(clean(message.line))

    @while_running
    def on_action_finished(self, message: ActionFinished) -> None:
        pane, bar = self.decision_pane(), self.main.query_one(ActionBar)
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

    def watch_compare(self) -> None:
        self.main.show_all()

    def _run_compare(self) -> None:
        compare = self.compare
        snapshot = self.pipeline.snapshot()
        if compare is None or snapshot is None:
            return
        compare.results, compare.shared, compare.running = {}, set(), None
        compare.generation = self.compare_runner.start(snapshot, compare.paths, compare.assumptions)
        self.main.show_all()

    def _compare_message(self, generation: int) -> CompareState | None:
        """The comparison a message is about, None when it was left or replaced since."""
        compare = self.compare
        return compare if compare is not None and compare.generation == generation else None

    @while_running
    def on_compare_stage_started(self, message: CompareStageStarted) -> None:
        compare = self._compare_message(message.generation)
        if compare is not None:
            compare.running = message.stage
            self.main.show(message.stage)

    @while_running
    def on_compare_stage_finished(self, message: CompareStageFinished) -> None:
        compare = self._compare_message(message.generation)
        if compare is None:
            return
        compare.results[message.stage] = message.result
        if message.shared:
            compare.shared.add(message.stage)
        compare.running = None
        self.main.show(message.stage)
        self.main.show(Stage.DECISION)

    @while_running
    def on_compare_failed(self, message: CompareFailed) -> None:
        compare = self._compare_message(message.generation)
        if compare is not None:
            compare.problem = message.problem
            self.notify(message.problem, title="Could not run the second run", severity="error")

    def _offer_compare(self) -> None:
        """After an action's run: offer to compare it with the run it came from (A), once
        a worker has looked for the runs (walking the folder takes a while)."""
        if self._action_origin is None or self.runner.running:
            return
        self.run_worker(self._find_runs, thread=True, group="offer", exclusive=True)

    def _find_runs(self) -> None:
        """(A worker thread.) The runs under the working folder, for the offer."""
        from tui_timing.artifacts.discovery import discover

        self.call_from_thread(self._offer_made, discover(self.cwd).runs)

    def _offer_made(self, runs: list[Run]) -> None:
        if self._action_origin is None:
            return
        origin, before = self._action_origin
        for run in runs:
            if _folder(run) not in {_folder(r) for r in self.known_runs()}:
                self.seen_runs.append(run)
        made = [r for r in self.known_runs() if _folder(r) not in before]
        if not made:
            return
        self._action_origin = None
        new = made[0]
        from tui_timing.tui.screens.compare_offer import CompareOffer

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
        bar = self.main.query_one(ActionBar)
        if not self.runner.running:
            self.notify("No action is running.", timeout=3)
            return
        from tui_timing.tui.screens.cancel_screen import ConfirmCancel

        self.push_screen(ConfirmCancel(bar.command, bar.elapsed), self._cancel_confirmed)

    def _cancel_confirmed(self, cancel: bool | None) -> None:
        if cancel and self.runner.running:
            self.main.query_one(ActionBar).cancelling()
            self.runner.cancel()

    @while_running
    def on_action_cancelled(self, message: ActionCancelled) -> None:
        removed = ", ".join(message.removed)
        ending = message.problem or (f"removed {removed}" if removed else "nothing to remove")
        self._action_origin = None  # what it made was removed: no run to compare with
        self.decision_pane().write_log(f"cancelled; {ending}")
        self.main.query_one(ActionBar).finish("cancelled", ending)
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
        from tui_timing.tui.panes.stage_pane import StagePane

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

    def on_stage_pane_open_item(self, event: StagePane.OpenItem) -> None:
        from tui_timing.tui.screens.item_screen import ItemScreen

        title = getattr(event.item, "item_title", "")
        text = getattr(event.item, "item_text", "")
        self.push_screen(
            ItemScreen(title, text), lambda copy: self._copy(text, title) if copy else None
        )

    # ----- search ---------------------------------------------------------------------------

    def action_search(self) -> None:
        """Open the search bar over the footer; it searches the stage on show."""
        self.main.open_search()

    def search_bar(self) -> SearchBar | None:
        return self.main.search_bar()

    def on_key(self, event: Key) -> None:
        self.main.key_reached_app(event)

    def palette_entries(self) -> list[PaletteEntry]:
        """Every stage, every suggested action, the switchable artifacts and the commands."""
        commands = palette_commands()
        entries = [self._palette_entry(c) for c in commands if c.action.startswith("stage(")]
        pane = self.decision_pane()
        for index, action in enumerate(pane.actions):
            entries.append(
                PaletteEntry(
                    f"Action: {action.title}",
                    partial(self._run_action_at, index),
                    action.command or "no command (by hand)",
                )
            )
        entries += [self._palette_entry(c) for c in commands if not c.action.startswith("stage(")]
        return entries

    def _palette_entry(self, command: Command) -> PaletteEntry:
        """A command of the table as the palette offers it: its title, its keys."""
        _, name, parameters = parse_action(command.action)
        callback = partial(getattr(self, f"action_{name}"), *parameters)
        return PaletteEntry(command.palette or command.action, callback, command.palette_help)

    def _run_action_at(self, index: int) -> None:
        self.action_stage(Stage.DECISION)
        self.decision_pane().select_action(index)
        self.action_run_action()

    async def action_quit(self) -> None:
        """Quit: stages stop at their next tick; a running action is cancelled (and what it
        had written removed) first, which takes a moment."""
        self.pipeline.close()
        if self.runner.running:
            self.main.query_one(ActionBar).cancelling()
            await asyncio.to_thread(self.runner.stop, QUIT_WAIT_S)
        self.exit()


def _folder(run: Run) -> Path:
    """A run is its folder (its checkpoint or log may be missing)."""
    first = run.folder or (run.checkpoint or run.log or Path(run.name)).parent
    return first.resolve()


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
