"""The stages' background thread: discover, load, run stages in order, report by message.

One daemon thread owns the StageContext, so no lock guards the core's data: the UI only
queues work and reads the results the thread posts. Queued work merges (two edits of a
stats log make one re-run); newer work that invalidates the running stage, or must run
before it, stops it at its next progress tick, and the stages it did not finish go back in
the queue. Torch and the
stage modules are imported here, on this thread, never while the UI paints its first frame.
The thread is a daemon so that quitting never waits for a long stage.

A launch first asks the results cache (report/results_cache.py): on unchanged artifacts
every stage is shown from it at once, and the artifacts are loaded only when a stage has to
run again. Each stage's result is stored there as soon as it finishes.

Otherwise stage 1 comes first, before torch is imported (over a second): the cache is read
into numpy arrays and its checks and plots need nothing else. The artifacts of the other
stages (whose loaders import torch) are loaded once the app has drawn stage 1's result.
Stage 1 is stored right after it is drawn, under the stamps those artifacts have then
(no result read them yet), and `close` waits for the store of a result already on show:
quitting right after the first paint leaves it for the next launch. When the CLI forked a
child to compute stage 1 while Textual started (stage_one_ahead.py), its result is taken
instead of running the stage here.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.message import Message

from tui_timing.errors import ArtifactError, UsageError
from tui_timing.findings import StageResult
from tui_timing.plugins import printed_by_user_code
from tui_timing.stages.catalog import STAGE_BY_ID, Stage, readers_of
from tui_timing.tui.messages import (
    ArtifactsLoaded,
    ArtifactsResolved,
    PipelineFailed,
    PipelineIdle,
    StageFinished,
    StageInterrupted,
    StageProgress,
    StageStarted,
)

if TYPE_CHECKING:
    from tui_timing.artifacts.discovery import Discovered
    from tui_timing.config import ArtifactPaths, Invocation, Settings
    from tui_timing.findings import Assumption
    from tui_timing.report.results_cache import ResultsCache, Stamp
    from tui_timing.stages.context import Loaded, ProgressEvent, StageContext
    from tui_timing.tui.action_outputs import ActionOutputs
    from tui_timing.tui.launch_lookup import LaunchLookup
    from tui_timing.tui.stage_one_ahead import StageOneAhead

#: Kinds whose change invalidates the context's memo (the cache scan), so a fresh one is built.
FRESH_CONTEXT_KINDS = frozenset({"cache", "raw_summary"})
#: How long the app may take to draw stage 1's result before torch's import goes ahead (it
#: holds the interpreter for long stretches, and the UI thread needs it to draw).
PAINT_WAIT_S = 5.0
#: How long quitting waits for the result on show to be stored (hashing a large cache).
STORE_WAIT_S = 5.0
#: How long the child computing stage 1 may take to answer before the stage shows as
#: running (it answers at once when the results cache holds the artifacts).
ANSWER_WAIT_S = 0.1


def stages_fed_by(kinds: set[str]) -> set[int]:
    """The stages to re-run when these artifacts change: those that read them, and the
    decision (it reads every stage)."""
    return {Stage.DECISION, *readers_of(kinds)}


@dataclass(frozen=True)
class Selection:
    """Which of the discovered caches, runs and eval dumps are in use (list indices)."""

    cache: int = 0
    run: int = 0
    eval_dump: int = 0


@dataclass
class Work:
    """Queued work: re-resolve the artifacts, reload some, run stages (each with why)."""

    resolve: bool = False
    #: Walk the folder again (after `R` or an action that may have made a new run).
    rediscover: bool = False
    #: What an action just made: added to the artifacts and selected.
    made: ActionOutputs | None = None
    selection: Selection | None = None
    reload: set[str] = field(default_factory=set)
    stages: dict[int, str] = field(default_factory=dict)
    #: Compute even what the results cache holds (`R`).
    recompute: bool = False

    def merge(self, newer: Work) -> None:
        """Fold newer work into this one; the newer reason and selection win."""
        self.resolve |= newer.resolve
        self.rediscover |= newer.rediscover
        self.recompute |= newer.recompute
        self.made = newer.made or self.made
        self.selection = newer.selection or self.selection
        self.reload |= newer.reload
        self.stages.update(newer.stages)

    @property
    def empty(self) -> bool:
        return not (self.resolve or self.reload or self.stages)


class Pipeline:
    """Runs queued work on its own thread and posts messages about it."""

    def __init__(
        self,
        invocation: Invocation,
        post: Callable[[Message], object],
        *,
        paint_wait_s: float = 0.0,
        ahead: StageOneAhead | None = None,
        lookup: LaunchLookup | None = None,
    ) -> None:
        """`paint_wait_s`: how long to wait, after stage 1, for `stage_drawn` (the app
        calls it; without an app nothing is drawn and nothing waits). `ahead`: the child
        computing the first stage 1, taken by the first run of it. `lookup`: what the
        results cache held for the launch's artifacts before the app started, shown by
        `take_cached` and taken by the first look in the results cache."""
        self._invocation = invocation
        self._ahead = ahead
        self._lookup = lookup
        #: The app showed the lookup's results (`take_cached`) before the thread started.
        self._lookup_shown = False
        #: Its result is still to be taken (by the first run of stage 1).
        self._ahead_pending = ahead is not None
        #: Stage 1 from the child was posted by `show_ahead`, before the thread started.
        self._early_posted = False
        #: Its partial result was posted by `show_ahead`: the stage shows as running.
        self._partial_posted = False
        self._paint_wait_s = paint_wait_s
        self._post = post
        self._cond = threading.Condition()
        self._pending = Work()
        self._running: int | None = None
        self._cancel = False
        self._closed = False
        self._busy = False
        self._submits = 0
        self._preempted: set[int] = set()
        self._last_progress = 0.0
        self._selection = Selection()
        self._found: Discovered | None = None
        #: What discovery assumed in choosing the files on show (none for given ones).
        self._assumed: list[Assumption] = []
        self._paths: ArtifactPaths | None = None
        #: The given artifacts as an action changed them (its new run in place of theirs).
        self._given_paths: ArtifactPaths | None = None
        self._ctx: StageContext | None = None
        #: The context holds results from the cache, and no loaded artifacts yet.
        self._unloaded = False
        #: When each result in the context was computed (only those still current).
        self._computed: dict[int, str] = {}
        #: The artifacts' stamps as loaded (None: not storable, a special file).
        self._stamps: dict[str, Stamp | None] | None = None
        self._results: ResultsCache | None = None
        #: Artifacts left to load until a stage after the first needs them.
        self._later: set[str] = set()
        #: What the user's code printed while each artifact kind was last loaded.
        self._printed_loading: dict[str, str] = {}
        self._painted = threading.Event()
        #: Held from posting a result until it is stored (see `close`).
        self._storing = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="timing-tui-stages", daemon=True)

    def start(self) -> None:
        """Start the thread (idle until work is submitted)."""
        self._thread.start()

    def take_cached(self) -> list[ArtifactsLoaded | StageFinished]:
        """What the results cache held before the app started, as the thread would post it
        (once; nothing after a miss). The app handles these as it mounts, at once: posted,
        they could come after the first frame, which a warm launch shows them in."""
        run = self._lookup.cached if self._lookup is not None else None
        if run is None or self._lookup_shown:
            return []
        self._lookup_shown = True
        errors = {kind: str(error) for kind, error in run.errors.items()}
        finished = [
            StageFinished(stage, cached.result, "from cache", cached.computed)
            for stage, cached in sorted(run.stages.items())
        ]
        return [ArtifactsLoaded(errors), *finished]

    def show_ahead(self) -> None:
        """Post stage 1 as the child computed it, or else its partial result (the stage
        then running), whichever is already in (never waiting for it); nothing when the
        results cache's were shown. Called on the UI thread before the thread starts: as
        the first frame is painted, so that a result already in is drawn right after it
        (not in it: laying a result out put the first frame later, and the histogram
        with it), and again as the thread starts, for what the child sent meanwhile. The
        thread checks it was for the artifacts it finds (and stores the child's result)."""
        ahead = self._ahead
        cached = self._lookup is not None and self._lookup.cached is not None
        if ahead is None or cached or self._early_posted:
            return
        early = ahead.early() if ahead.wait(0.0) else None
        if early is not None:
            self._early_posted = True
            self._post(ArtifactsLoaded({k: str(error) for k, error in early.errors.items()}))
            self._post(StageFinished(Stage.CACHE, early.result, "start"))
        elif ahead.partial is not None and not self._partial_posted:
            self._partial_posted = True
            event = ahead.partial
            self._post(StageStarted(Stage.CACHE, "start"))
            self._post(StageProgress(event.stage, event.fraction, event.message, event.partial))

    def stage_drawn(self, stage: int) -> None:
        """The app has drawn this stage's result (stage 1's lets torch be imported)."""
        if stage == Stage.CACHE:
            self._painted.set()

    def close(self) -> None:
        """Stop at the next progress tick or stage boundary; queued work is dropped. A result
        already posted (on screen, perhaps) is stored first: this waits for that, at most
        STORE_WAIT_S, since the thread is a daemon and dies with the process."""
        with self._cond:
            self._closed = True
            self._cancel = True
            self._cond.notify()
        self._painted.set()  # a result waiting for its paint goes on to be stored
        if self._ahead is not None:  # it may be storing stage 1: quitting at once keeps it
            self._ahead.stop(grace=STORE_WAIT_S)
        if self._storing.acquire(timeout=STORE_WAIT_S):
            self._storing.release()

    @property
    def submits(self) -> int:
        """How many requests were submitted so far (PipelineIdle says which it caught up to)."""
        with self._cond:
            return self._submits

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._busy or not self._pending.empty

    def submit(self, work: Work) -> None:
        """Queue work; stop the running stage if the new work makes its result stale."""
        with self._cond:
            self._submits += 1
            self._pending.merge(work)
            if self._supersedes(work):
                self._cancel = True
            self._cond.notify()

    def snapshot(self) -> StageContext | None:
        """A copy of the context with the results so far (for an export), or None."""
        ctx = self._ctx
        if ctx is None:
            return None
        snap = copy.copy(ctx)
        snap.results = dict(ctx.results)
        return snap

    def _supersedes(self, work: Work) -> bool:
        running = self._running
        if running is None:
            return False
        if work.resolve or running in work.stages:
            return True
        if running in readers_of(work.reload):
            return True
        # An earlier stage jumps the queue (stages run in order, and an edited stats log
        # should show within seconds), but only once per stage, so that a log that keeps
        # growing cannot starve a long sampler run.
        if any(stage < running for stage in work.stages) and running not in self._preempted:
            self._preempted.add(running)
            return True
        return False

    def _should_stop(self) -> bool:
        return self._cancel or self._closed

    def _loop(self) -> None:
        while (work := self._next_work()) is not None:
            try:
                self._do(work)
            except Exception as exc:  # the thread must outlive any bug, and say what it was
                self._post(PipelineFailed(f"{type(exc).__name__}: {exc}", sorted(work.stages)))
            with self._cond:
                idle = self._pending.empty
                self._busy = not idle
                submits = self._submits
            if self._ahead is not None and not self._ahead_pending:
                self._ahead.reap()  # done storing stage 1: no zombie until the app quits
            if idle:
                self._post(PipelineIdle(submits))

    def _next_work(self) -> Work | None:
        with self._cond:
            while self._pending.empty and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            work, self._pending = self._pending, Work()
            self._cancel = False
            self._busy = True
            return work

    def _do(self, work: Work) -> None:
        if work.selection is not None:
            self._selection = work.selection
        stages = dict(work.stages)
        if work.resolve or self._ctx is None:
            self._resolve(work.rediscover, work.made)
            # The child's answer first: it looked in the results cache, and a result it
            # computed is stored there by now, which a lookup here would show again.
            taken = Stage.CACHE in stages and self._take_ahead(stages[Stage.CACHE])
            if self._should_stop():  # stopped while waiting for the child
                if taken:  # shown and stored: the rest goes back in the queue
                    stages.pop(Stage.CACHE)
                self._requeue(stages)
                return
            shown = {Stage.CACHE} if taken else set() if work.recompute else self._show_cached()
            self._lookup, self._lookup_shown = None, False  # for the first resolve only
            stages = {sid: why for sid, why in stages.items() if sid not in shown}
            if taken:
                self._later = set(self._given())  # loaded once stage 1 is drawn
            elif not shown:
                _import_charts()  # while the UI thread waits: the result comes with charts
                given = set(self._given())
                first = given & set(STAGE_BY_ID[Stage.CACHE].reads)
                loading = (first if Stage.CACHE in stages else set()) or given
                self._load(loading, keep={}, fresh=True)
                self._later = given - loading
        elif work.reload:
            old = self._ctx.results
            keep = {sid: r for sid, r in old.items() if sid not in stages}
            fresh = self._unloaded or bool(work.reload & FRESH_CONTEXT_KINDS)
            self._load(set(self._given()) if fresh else work.reload, keep=keep, fresh=fresh)
        if stages and self._unloaded and self._ctx is not None:
            # shown from the cache, and now a stage must run: load the artifacts
            keep = {sid: r for sid, r in self._ctx.results.items() if sid not in stages}
            self._load(set(self._given()), keep=keep, fresh=True)
            self._later = set()
        for stage in stages:
            self._computed.pop(stage, None)
        order = sorted(stages)
        for index, stage in enumerate(order):
            if stage != Stage.CACHE and self._later:
                self._painted.wait(self._paint_wait_s)
                if self._should_stop():  # quitting: no torch import, no loading
                    self._requeue({sid: stages[sid] for sid in order[index:]})
                    return
                self._load(self._later, keep={}, fresh=False)
                self._later = set()
            if self._should_stop() or not self._run(stage, stages[stage]):
                self._requeue({sid: stages[sid] for sid in order[index:]})
                return

    def _requeue(self, stages: dict[int, str]) -> None:
        """Put unfinished stages back in front of whatever was queued meanwhile."""
        with self._cond:
            rest = Work(stages=stages)
            rest.merge(self._pending)
            self._pending = rest

    def _resolve(self, rediscover: bool, made: ActionOutputs | None = None) -> ArtifactPaths:
        """Decide the artifact paths: given ones, else discovered ones, else the sample.

        Looking again keeps what was found before (see rediscovery.py); what an action
        made is added and selected.
        """
        from tui_timing.stages.runner import resolve_paths
        from tui_timing.tui import rediscovery

        invocation = self._invocation
        if invocation.any_artifact:
            if made is not None:
                given = self._given_paths or invocation.paths
                self._given_paths = rediscovery.given_with_outputs(given, made)
            paths, found = self._given_paths or invocation.paths, None
            self._assumed = []
        else:
            from tui_timing.artifacts.discovery import discover_or_sample

            if self._found is None or rediscover:
                previous, before = self._paths, self._found
                fresh = discover_or_sample(settings=self._invocation.settings)
                self._found = fresh if before is None else rediscovery.merge_found(before, fresh)
                if made is not None:
                    self._found = rediscovery.with_outputs(self._found, made)
                if previous is not None:
                    self._selection = same_artifacts(previous, self._found)
                if made is not None:
                    self._selection = rediscovery.select_outputs(self._found, self._selection, made)
            found = self._found
            self._selection = clamp(self._selection, found)
            sel = self._selection
            paths = found.paths(cache=sel.cache, run=sel.run, eval_dump=sel.eval_dump)
            self._assumed = found.assumptions(run=sel.run, eval_dump=sel.eval_dump)
        self._paths = resolve_paths(paths)
        self._post(ArtifactsResolved(self._paths, found, self._selection))
        return self._paths

    def _load(self, kinds: set[str], keep: dict[int, StageResult], fresh: bool) -> None:
        """(Re)load artifacts: into a fresh context (keeping the results in `keep`), or in
        place, so that a new stats log does not throw away the cache scan."""
        from tui_timing.report.results_cache import stamp

        given: dict[str, Path] = self._given()
        if fresh or self._ctx is None:
            self._ctx = self._new_context()
            self._ctx.results.update(keep)
            self._computed = {sid: t for sid, t in self._computed.items() if sid in keep}
            self._unloaded = False
            self._stamps = {}
        for kind, path in given.items():  # in report order, so loading is reproducible
            if kind in kinds:
                try:
                    if self._stamps is not None:
                        self._stamps[kind] = stamp(path)  # before reading: what was read
                except OSError:
                    self._stamps = None  # a pipe or a device: nothing to key results on
                with printed_by_user_code() as printed:  # a user's model, when it is built
                    self._ctx.artifacts[kind] = _load_one(kind, path, self._ctx.settings)
                self._printed_loading[kind] = printed.text
        errors = {
            kind: str(loaded.error)
            for kind, loaded in self._ctx.artifacts.items()
            if loaded.error is not None
        }
        self._post(ArtifactsLoaded(errors))

    def _given(self) -> dict[str, Path]:
        if self._paths is None:
            raise RuntimeError("artifacts loaded before they were resolved")
        return self._paths.given()

    def _new_context(self) -> StageContext:
        from tui_timing.stages.context import StageContext

        assert self._paths is not None, "the artifacts are resolved first"
        return StageContext(
            paths=self._paths,
            settings=self._invocation.settings,
            assumptions=list(self._assumed),
            on_progress=self._progress,
            should_stop=self._should_stop,
        )

    def _cache(self) -> ResultsCache | None:
        """The results cache, unless `--no-cache` (made here: it imports numpy)."""
        if self._results is None and not self._invocation.no_cache:
            from tui_timing.report.results_cache import ResultsCache

            self._results = ResultsCache()
        return self._results

    def _show_cached(self) -> set[int]:
        """Show the stages the results cache holds for these artifacts (returned), in a
        context whose artifacts are loaded only if a stage has to run."""
        from tui_timing.stages.context import Loaded

        cache = self._cache()
        self._ctx = self._new_context()
        lookup, self._lookup = self._lookup, None  # asked before the app: taken once
        posted, self._lookup_shown = self._lookup_shown, False
        if lookup is not None and lookup.asked and lookup.paths == self._ctx.paths:
            run = lookup.cached
        else:
            posted = False  # other artifacts than those shown early: shown again
            run = cache.lookup(self._ctx.paths, self._invocation.settings) if cache else None
        if run is None:
            return set()
        for kind, path in self._given().items():
            self._ctx.artifacts[kind] = Loaded(path=path, error=run.errors.get(kind))
        self._unloaded, self._stamps = True, run.stamps
        if not posted:
            self._post(ArtifactsLoaded({kind: str(error) for kind, error in run.errors.items()}))
        self._computed = {}
        for stage, cached in sorted(run.stages.items()):
            self._ctx.results[stage] = cached.result
            self._computed[stage] = cached.computed
            if not posted:
                self._post(StageFinished(stage, cached.result, "from cache", cached.computed))
        return set(run.stages)

    def _store(self) -> None:
        """Keep the current results (those computed since their artifacts were loaded)."""
        from tui_timing.report.results_cache import CachedStage, stamp

        cache = self._cache()
        if cache is None or self._stamps is None or self._ctx is None:
            return
        stamps = dict(self._stamps)
        try:
            for kind in self._later - stamps.keys():  # not loaded, so no result read them
                stamps[kind] = stamp(self._given()[kind])  # as they are now
        except OSError:
            return  # a pipe or a device: nothing to key results on
        stages = {
            sid: CachedStage(result, self._computed[sid])
            for sid, result in self._ctx.results.items()
            if sid in self._computed
        }
        errors = {
            kind: loaded.error
            for kind, loaded in self._ctx.artifacts.items()
            if loaded.error is not None
        }
        cache.store(self._ctx.paths, self._invocation.settings, stamps, stages, errors)

    def _take_ahead(self, reason: str) -> bool:
        """Show stage 1 as the forked child computed it (see stage_one_ahead.py); False
        when there is no child or it has nothing usable (then stage 1 runs here)."""
        from tui_timing.stages.context import Loaded

        ahead, pending = self._ahead, self._ahead_pending
        self._ahead_pending = False
        if ahead is None or not pending or self._paths is None:
            return False
        shown, self._early_posted = self._early_posted, False
        if not ahead.answered or ahead.early() is not None:
            # while the child computes: its result comes with charts, drawn as it arrives
            _import_charts()
        # shown early: done, and the child has nothing more to say; or its partial result
        # shown, the stage running
        started, self._partial_posted = shown or self._partial_posted, False

        def progress(event: ProgressEvent) -> None:
            """The child's progress; the first with a chart (the durations' histogram,
            sent before the scan) starts the stage, so that the chart is drawn at once."""
            nonlocal started
            if event.partial is not None and not started:
                started = True
                self._post(StageStarted(Stage.CACHE, reason))
            if started:
                self._progress(event)

        self._last_progress = 0.0
        answered = shown or ahead.wait(ANSWER_WAIT_S, self._should_stop, progress)
        if not answered and not started:
            started = True
            self._post(StageStarted(Stage.CACHE, reason))  # still computing: say so
        with self._cond:
            self._running = Stage.CACHE  # new work that supersedes it stops the wait
        try:
            got = ahead.take(self._paths, self._should_stop, progress)
        finally:
            with self._cond:
                self._running = None
        if got is None:  # stage 1 runs here, and its result replaces one shown early
            return False
        self._ctx = self._new_context()
        self._unloaded = False
        self._computed = {}
        for kind, path in self._given().items():
            if kind in got.paths:
                self._ctx.artifacts[kind] = Loaded(path=path, error=got.errors.get(kind))
        self._stamps = got.stamps
        self._ctx.results[Stage.CACHE] = got.result
        if not shown:
            self._post(ArtifactsLoaded({kind: str(error) for kind, error in got.errors.items()}))
        # posted again when shown early: the app marked every stage pending as it started
        self._finish(Stage.CACHE, got.result, reason, got.computed)
        return True

    def _run(self, stage: int, reason: str) -> bool:
        """Run one stage; False when it was stopped before finishing."""
        from tui_timing.stages.context import StageCancelled
        from tui_timing.stages.runner import run_stage, usage_error_result

        ctx = self._ctx
        if ctx is None:
            raise RuntimeError(f"stage {stage} run before its artifacts were loaded")
        with self._cond:
            self._running = stage
        self._last_progress = 0.0
        self._post(StageStarted(stage, reason))
        try:
            with printed_by_user_code() as printed:  # plug-ins print into the pane, not the UI
                result = run_stage(ctx, stage)
        except StageCancelled:
            self._post(StageInterrupted(stage))
            return False
        except UsageError as exc:  # a plug-in named wrong: its pane says so, the others run
            result = usage_error_result(ctx, stage, exc)
        finally:
            with self._cond:
                self._running = None
        with self._cond:
            self._preempted.discard(stage)
        from tui_timing.report.results_cache import now

        loading = [
            (f"loading the {kind}", self._printed_loading.get(kind, ""))
            for kind in STAGE_BY_ID[stage].reads
        ]
        said = tuple((w, text) for w, text in [*loading, ("running", printed.text)] if text)
        self._finish(stage, result, reason, now(), said)
        return True

    def _finish(
        self,
        stage: int,
        result: StageResult,
        reason: str,
        computed: str,
        printed: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """Show a stage's result (already in the context) with what the user's code
        printed for it, then store it (stage 1 once drawn)."""
        with self._storing:  # from the moment it may be on screen until it is stored
            self._post(StageFinished(stage, result, reason, printed=printed))
            self._computed[stage] = computed
            if stage == Stage.CACHE:  # drawn first: storing reads the whole cache to hash it
                self._painted.wait(self._paint_wait_s)
            self._store()

    def _progress(self, event: ProgressEvent) -> None:
        """Forward a stage's progress, at most every PROGRESS_INTERVAL_S (and at the end)."""
        from tui_timing.stages.context import PROGRESS_INTERVAL_S  # on this thread: not the UI's

        now = time.monotonic()
        if event.fraction < 1 and now - self._last_progress < PROGRESS_INTERVAL_S:
            return
        self._last_progress = now
        self._post(StageProgress(event.stage, event.fraction, event.message, event.partial))


def clamp(selection: Selection, found: Discovered) -> Selection:
    """A selection that indexes into what was found (0 where a list is shorter)."""

    def fit(index: int, items: Sequence[object]) -> int:
        return index if 0 <= index < len(items) else 0

    return Selection(
        cache=fit(selection.cache, found.caches),
        run=fit(selection.run, found.runs),
        eval_dump=fit(selection.eval_dump, found.evals),
    )


def same_artifacts(paths: ArtifactPaths, found: Discovered) -> Selection:
    """The selection that points at the same files in a new discovery (lists may have
    grown, so the old indices could name other runs); 0 where a file is gone."""

    def index(items: Sequence[Path | None], path: Path | None) -> int:
        return items.index(path) if path is not None and path in items else 0

    runs = [run.checkpoint or run.log for run in found.runs]
    return Selection(
        cache=index(found.caches, paths.cache),
        run=index(runs, paths.checkpoint or paths.log),
        eval_dump=index(found.evals, paths.eval),
    )


def _import_charts() -> None:
    """Import the chart widget (plotext, about a fifth of a bare Textual app's start-up) on
    this thread, before stage 1's result needs it on the UI thread."""
    import tui_timing.tui.panes.plot_view  # noqa: F401


def _load_one(kind: str, path: Path, settings: Settings) -> Loaded[Any]:
    """The core's loader, with any failure (even an import error) kept as the load error."""
    from tui_timing.stages.context import Loaded
    from tui_timing.stages.runner import load_artifact

    try:
        return load_artifact(kind, path, settings)
    except Exception as exc:  # a loader bug must show in the pane, not end the thread
        problem = f"could not be loaded ({type(exc).__name__}: {exc})"
        return Loaded(path=path, error=ArtifactError(str(path), None, problem))
