"""The timing-tui app: a stage list, one pane per stage, keys, and the glue to the core.

The app renders what the core returns and nothing else: the pipeline thread runs the same
`run_stage` the `check` command runs and posts each result; the app keeps one StageState
per stage and re-shows it. Nothing here imports torch: the first frame paints while the
pipeline thread is still importing it.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen
from textual.theme import Theme
from textual.widgets import ContentSwitcher, Footer, OptionList

from tui_timing.errors import ArtifactError
from tui_timing.findings import Check, StageResult
from tui_timing.stages.catalog import ALL_STAGES, STAGE_BY_ID, STAGES, Stage
from tui_timing.tui.action_runner import ActionRunner
from tui_timing.tui.commands import PaletteEntry, TimingCommands
from tui_timing.tui.compare_offer import CompareOffer
from tui_timing.tui.compare_runner import CompareRunner
from tui_timing.tui.compare_state import CompareState, compared_stage
from tui_timing.tui.confirm_screen import ConfirmAction
from tui_timing.tui.decision_pane import DecisionPane
from tui_timing.tui.describe import describe_artifacts
from tui_timing.tui.export import export_findings
from tui_timing.tui.header_bar import HeaderBar
from tui_timing.tui.help_screen import HelpScreen
from tui_timing.tui.messages import (
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
)
from tui_timing.tui.pipeline import PAINT_WAIT_S, Pipeline, Selection, Work, stages_fed_by
from tui_timing.tui.run_picker import RunPicker
from tui_timing.tui.safe_text import clean
from tui_timing.tui.selector_screen import SelectorScreen
from tui_timing.tui.stage_list import StageList
from tui_timing.tui.stage_pane import StagePane
from tui_timing.tui.status import StageState
from tui_timing.tui.themes import (
    DEFAULT_THEME,
    PlotPalette,
    TimingTheme,
    default_theme_name,
    load_themes,
    theme_dirs,
)
from tui_timing.tui.watcher import POLL_INTERVAL_S, ArtifactWatcher

if TYPE_CHECKING:
    from tui_timing.artifacts.discovery import Discovered, Run
    from tui_timing.config import ArtifactPaths, Invocation
    from tui_timing.stages.context import StageContext

DEFAULT_SCRATCHPAD = Path("scratchpad.md")
FIRST, LAST = ALL_STAGES[0], ALL_STAGES[-1]
#: How the footer and help show the stage keys ("1-7"); one binding per stage.
STAGE_KEYS = f"{FIRST}-{LAST}"
_HIDDEN_STAGE_KEYS = {str(n) for n in ALL_STAGES[1:]}
#: Frames to wait for a stage's charts to be mounted before telling the pipeline they are.
CHART_FRAMES = 10
#: Actions that stay available while a dialog is open (the others would act behind it).
MODAL_ACTIONS = frozenset({"quit", "command_palette"})
#: The artifacts both runs of a comparison share: a change to one runs the second again.
SHARED_KINDS = ("cache", "raw_summary", "eval")


class TimingApp(App[None]):
    """Step through the seven diagnostic stages of a timing head from the keyboard."""

    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "timing-tui"
    COMMANDS = App.COMMANDS | {TimingCommands}
    # Ordered and worded so that every key the issue names fits an 80-column footer (the
    # theme and switch keys follow where there is room); the tooltips are the help text.
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
        Binding("n,right", "next_stage", "move", key_display="n/p", tooltip="next stage"),
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
        Binding("e", "export", "export", tooltip="append the findings to the scratchpad"),
        Binding("a", "run_action", "action", tooltip="run the highlighted action (asks first)"),
        Binding("l", "toggle_log", "log", tooltip="linear/log scale on this stage's charts"),
        Binding(
            "ctrl+p",
            "command_palette",
            "palette",
            key_display="^p",
            tooltip="command palette: every stage and action, switch, themes",
        ),
        Binding("t", "next_theme", "theme", tooltip="next theme"),
        Binding("s", "select_artifacts", "switch", tooltip="switch run, cache or eval dump"),
        Binding(
            "c",
            "compare",
            "compare",
            show=False,
            tooltip="compare with a second run: both in every pane (c again: leave)",
        ),
    ]

    def __init__(self, invocation: Invocation, cwd: Path | None = None) -> None:
        super().__init__()
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
        self.pipeline = Pipeline(invocation, self.post_message, paint_wait_s=PAINT_WAIT_S)
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
        self._idle_at = -1
        self._said_sample = False
        self.timing_themes, self.theme_problems = load_themes(theme_dirs())
        for timing_theme in self.timing_themes.values():
            self.register_theme(timing_theme.theme)
        # Chosen before the first style pass: a theme change later re-styles every widget.
        self.theme, self._theme_note = self._start_theme()

    def compose(self) -> ComposeResult:
        yield HeaderBar()
        with Horizontal(id="main"):
            yield StageList()
            # Only the first pane is in the first frame; the others are mounted when the
            # stages are done or one is asked for (see _mount_panes), which keeps the first
            # paint close to a bare app's and stage 1's result close to it.
            with ContentSwitcher(initial="pane-1", id="panes"):
                yield new_pane(1)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(HeaderBar).show("looking for artifacts…")
        self._report_theme_problems()
        self.theme_changed_signal.subscribe(self, self._on_theme_changed)
        for stage_id in self.states:
            self._show(stage_id)
        self.set_interval(POLL_INTERVAL_S, self._poll_artifacts)
        # Stages start after the first frame: the pipeline thread's imports hold the GIL
        # for stretches. Torch, the longest (over a second), waits until stage 1's result
        # is drawn (see pipeline.py).
        self.call_after_refresh(self._start_pipeline)

    def on_unmount(self) -> None:
        self.pipeline.close()
        self.runner.stop()
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

    def _start_pipeline(self) -> None:
        self.pipeline.start()
        self._submit(Work(resolve=True, stages=dict.fromkeys(ALL_STAGES, "start")))

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
        paths, verdicts and problems from files (a `[` in them is not markup)."""
        super().notify(
            clean(message), title=clean(title), severity=severity, timeout=timeout, markup=markup
        )

    # ----- themes -------------------------------------------------------------------------

    def _start_theme(self) -> tuple[str, str | None]:
        """`--theme` (or the pyproject's), else a default that suits the terminal; and what
        to tell the user when the theme asked for does not exist."""
        wanted = self.invocation.theme
        fallback = default_theme_name(os.environ)
        if fallback not in self.timing_themes:
            fallback = DEFAULT_THEME if DEFAULT_THEME in self.timing_themes else "textual-dark"
        if not wanted or wanted in self.available_themes:
            return wanted or fallback, None
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

    def _on_theme_changed(self, _theme: Theme) -> None:
        for stage_id in self.states:
            self._show(stage_id)

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

    def _submit(self, work: Work) -> None:
        """Queue work on the pipeline and mark its stages pending."""
        for stage_id in work.stages:
            state = self.states[stage_id]
            if state.phase != "running":
                state.phase = "pending"
                self._show(stage_id)
        self.pipeline.submit(work)

    @property
    def is_idle(self) -> bool:
        """Whether every request so far has been run and its results shown."""
        return self._idle_at == self.pipeline.submits

    def on_pipeline_idle(self, message: PipelineIdle) -> None:
        def caught_up() -> None:  # after the frame that shows the last results
            self._mount_panes()
            self._idle_at = message.submits
            if self.is_idle and self.compare is not None and self.compare.generation == 0:
                self._run_compare()

        self.call_after_refresh(caught_up)

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
        description = describe_artifacts(message.paths, message.found, message.selection, self.cwd)
        self.query_one(HeaderBar).show(description)
        self.watcher.watch(message.paths.given())
        if message.found is not None and message.found.is_sample and not self._said_sample:
            self._said_sample = True
            self.notify(
                f"No artifacts found in {self.cwd}: showing the bundled sample data "
                "(a linear-head run that fails in a way researchers meet).",
                title="Sample data",
                timeout=8,
            )

    def on_artifacts_loaded(self, message: ArtifactsLoaded) -> None:
        for stage_id, state in self.states.items():
            inputs = STAGE_BY_ID[stage_id].reads
            state.artifact_errors = {k: v for k, v in message.errors.items() if k in inputs}
            self._show(stage_id)

    def on_stage_started(self, message: StageStarted) -> None:
        state = self.states[message.stage]
        state.phase, state.fraction, state.message = "running", 0.0, ""
        state.partial, state.reason = None, message.reason
        self._show(message.stage)

    def on_stage_progress(self, message: StageProgress) -> None:
        state = self.states[message.stage]
        state.fraction, state.message = message.fraction, message.message
        if message.partial is not None:
            state.partial = message.partial
        self._show(message.stage)

    def on_stage_finished(self, message: StageFinished) -> None:
        state = self.states[message.stage]
        state.phase, state.result, state.partial = "done", message.result, None
        state.reason, state.runs = message.reason, state.runs + 1
        state.updated = datetime.now().strftime("%H:%M:%S")
        state.cached_at = message.computed or ""
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

    def on_stage_interrupted(self, message: StageInterrupted) -> None:
        self.states[message.stage].phase = "pending"
        self._show(message.stage)

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

    def _poll_artifacts(self) -> None:
        """Re-run the stages an edited or growing artifact feeds (see watcher.py)."""
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
        """Show a stage by number."""
        self.query_one(StageList).select_stage(stage_id)

    def action_next_stage(self) -> None:
        self.action_stage(self.current_stage % len(STAGES) + 1)

    def action_previous_stage(self) -> None:
        self.action_stage((self.current_stage - 2) % len(STAGES) + 1)

    @on(OptionList.OptionHighlighted, "#stage-list")
    def _stage_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.current_stage = event.option_index + 1
        self._mount_panes()
        self.query_one(ContentSwitcher).current = f"pane-{self.current_stage}"

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
        self.push_screen(HelpScreen(self.help_keys()))

    def help_keys(self) -> list[tuple[str, str]]:
        """(keys, what they do) for every binding, with one line for the stage keys."""
        keys: list[tuple[str, str]] = []
        for binding in self.BINDINGS:
            if not isinstance(binding, Binding) or binding.key in _HIDDEN_STAGE_KEYS:
                continue
            shown = {str(FIRST): STAGE_KEYS, "question_mark": "?"}.get(binding.key, binding.key)
            keys.append((shown.replace(",", " "), binding.tooltip or binding.description))
        return keys

    def action_select_artifacts(self) -> None:
        """Choose another discovered run, cache or eval dump."""
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

    def _switch_to(self, selection: Selection | None) -> None:
        if selection is None or selection == self.selection:
            return
        stages: dict[int, str] = dict.fromkeys(ALL_STAGES, "switched artifacts")
        self._submit(Work(resolve=True, selection=selection, stages=stages))

    def action_export(self) -> None:
        """Append the findings so far to the scratchpad (on a thread: it hashes files)."""
        snapshot = self.pipeline.snapshot()
        if snapshot is None:
            self.notify("Nothing to export yet: the stages have not run.", severity="warning")
            return
        target = self.invocation.scratchpad or DEFAULT_SCRATCHPAD
        if not target.is_absolute():
            target = self.cwd / target
        self.run_worker(lambda: self._export(snapshot, target), thread=True, group="export")

    def _export(self, snapshot: StageContext, target: Path) -> None:
        try:
            written, summary = export_findings(snapshot, target)
        except ArtifactError as exc:
            self.post_message(ExportFailed(str(exc)))
            return
        self.post_message(ExportFinished(str(written), summary))

    def on_export_finished(self, message: ExportFinished) -> None:
        self.notify(
            f"Appended the findings to {message.path}: {message.summary}.",
            title="Exported",
            timeout=8,
        )

    def on_export_failed(self, message: ExportFailed) -> None:
        self.notify(
            f"Scratchpad {message.problem}", title="Export failed", severity="error", timeout=10
        )

    def decision_pane(self) -> DecisionPane:
        self._mount_panes()
        return self.query_one(DecisionPane)

    def action_run_action(self) -> None:
        """Run the highlighted suggested action's command, after a confirmation."""
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
        self.runner.start(command)

    def on_action_output(self, message: ActionOutput) -> None:
        self.decision_pane().write_log(message.line)

    def on_action_finished(self, message: ActionFinished) -> None:
        pane = self.decision_pane()
        if message.returncode is None:
            pane.write_log(f"could not start: {message.problem}")
            self.notify(f"Could not start {message.command}: {message.problem}", severity="error")
            return
        pane.write_log(f"exit status {message.returncode}")
        if message.returncode == 0:
            self.notify("The action finished; re-running all stages.", title="Action done")
            self.action_rerun_all()
        else:
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
        paths = replace(
            self.paths, checkpoint=run.checkpoint, log=run.log, eval=run.eval or self.paths.eval
        )
        self.compare = CompareState(name=run.name, paths=paths, first=current.name, side=side)
        names = self.compare.names
        self.notify(f"Comparing A {names[0]} with B {names[1]} (c: leave).", timeout=5)
        if self.is_idle:
            self._run_compare()
        self._show_all()

    def _run_compare(self) -> None:
        compare = self.compare
        snapshot = self.pipeline.snapshot()
        if compare is None or snapshot is None:
            return
        compare.results, compare.shared, compare.running = {}, set(), None
        compare.generation = self.compare_runner.start(snapshot, compare.paths)
        self._show_all()

    def _show_all(self) -> None:
        for stage_id in self.states:
            self._show(stage_id)

    def _compare_message(self, generation: int) -> CompareState | None:
        """The comparison a message is about, None when it was left or replaced since."""
        compare = self.compare
        return compare if compare is not None and compare.generation == generation else None

    def on_compare_stage_started(self, message: CompareStageStarted) -> None:
        compare = self._compare_message(message.generation)
        if compare is not None:
            compare.running = message.stage
            self._show(message.stage)

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
            PaletteEntry("Toggle log scale", self.action_toggle_log, "l"),
            PaletteEntry("Next theme", self.action_next_theme, "t"),
            PaletteEntry("Switch run, cache or eval dump", self.action_select_artifacts, "s"),
            PaletteEntry("Compare with another run", self.action_compare, "c (again: leave)"),
            PaletteEntry("Help: keys", self.action_help, "?"),
        ]
        return entries

    def _run_action_at(self, index: int) -> None:
        self.action_stage(Stage.DECISION)
        self.decision_pane().query_one("#actions", OptionList).highlighted = index
        self.action_run_action()

    async def action_quit(self) -> None:
        """Quit at once: stages stop at their next tick and an action is terminated."""
        self.pipeline.close()
        self.runner.stop()
        self.exit()


def _folder(run: Run) -> Path:
    """A run is its folder (its checkpoint or log may be missing)."""
    first = run.folder or (run.checkpoint or run.log or Path(run.name)).parent
    return first.resolve()


def new_pane(stage_id: int) -> StagePane:
    """A fresh pane for a stage (the decision has its own kind)."""
    info = STAGE_BY_ID[stage_id]
    return DecisionPane(info) if stage_id == Stage.DECISION else StagePane(info)


def run_app(invocation: Invocation) -> None:
    """Open the TUI on the invocation's artifacts (or discovered ones, or the sample)."""
    TimingApp(invocation).run()
