"""Stage 1 computed in a forked child while the parent imports Textual and starts the app.

A cold launch's first paint is serial on one interpreter: Textual's start-up, then numpy,
the cache read and stage 1. Forked before Textual is imported, the child does the second
half on another core: it finds the same artifacts (the fork carries the very same
Invocation), asks the results cache, reads the cache and the raw summary into numpy, runs
stage 1 and writes the result down a pipe as one JSON line, with progress lines before it
(the first carries the durations' histogram, drawn while the scan runs), then stores it in
the results cache. No child is forked when the parent found stage 1 in
the results cache (launch_lookup.py), and one forked after a miss there does not ask again.
The app does not wait for the result before its first frame, and draws it right after
that frame when it is in by then; either way the pipeline takes it in place of running
stage 1 (the same code on the same files, so the same report) and falls back to running
it itself, said in the log, whenever the child has nothing usable to give: no fork on this
platform, a crash, other artifacts than the parent's, a result the codec cannot carry.

The child never writes to the terminal (its standard streams are /dev/null), never runs
the user's code (stage 1 reads files only) and dies with its parent (Linux). It is killed
when the app stops waiting for it; a child that sent its result gets a few seconds to
store it when the app quits, so that quitting at once still leaves stage 1 cached.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tui_timing.tui import startup

if TYPE_CHECKING:
    from tui_timing.config import ArtifactPaths, Invocation
    from tui_timing.errors import ArtifactError
    from tui_timing.findings import StageResult
    from tui_timing.report.results_cache import Stamp
    from tui_timing.stages.context import ProgressEvent
    from tui_timing.tui.launch_lookup import LaunchLookup

log = logging.getLogger(__name__)

#: The most the parent reads from the child: a stage 1 result is tens of kB; a child
#: writing more than this is not trusted, and memory stays bounded.
MAX_BYTES = 64 * 1024 * 1024
#: How often the waiting parent looks whether it should stop waiting.
POLL_S = 0.05


@dataclass
class StageOneResult:
    """What the child computed: stage 1's result and what it read."""

    result: StageResult
    #: When it finished (as the results cache records it).
    computed: str
    #: The paths stage 1 read, by kind.
    paths: dict[str, str]
    #: Their stamps before reading; None when one is not a regular file (not storable).
    stamps: dict[str, Stamp | None] | None
    errors: dict[str, ArtifactError]


class StageOneAhead:
    """The forked child computing stage 1, seen from the parent."""

    def __init__(self, pid: int, read_fd: int) -> None:
        self._pid = pid
        self._fd = read_fd
        self._lock = threading.Lock()
        self._done = False
        self._buffer = b""
        self._size = 0
        #: The child's last line (a result, "cached" or "failed"), once read.
        self._final: dict[str, Any] | None = None
        self._result: StageOneResult | None = None
        #: The progress that carried the partial result the child sent ahead of its scan
        #: (the durations' histogram), once read: kept for the pipeline's look before its
        #: thread starts (`show_ahead`), whose wait passes no progress on.
        self.partial: ProgressEvent | None = None

    @property
    def pid(self) -> int:
        return self._pid

    @classmethod
    def start(
        cls, invocation: Invocation, lookup: LaunchLookup | None = None
    ) -> StageOneAhead | None:
        """Fork the child (before Textual is imported: no thread may exist yet); None
        where the platform cannot fork, or where `lookup` (the parent's own look in the
        results cache) found stage 1 there."""
        if not hasattr(os, "fork"):
            return None
        if lookup is not None and lookup.holds(1):
            log.info("stage 1 is in the results cache: no child process computes it")
            return None
        if threading.active_count() > 1:  # a lock another thread holds would stay held
            log.info("stage 1 runs in the app: threads already run, so no child is forked")
            return None
        read_fd, write_fd = os.pipe()
        parent = os.getpid()
        try:
            pid = os.fork()
        except OSError as exc:
            os.close(read_fd)
            os.close(write_fd)
            log.info("stage 1 runs in the app: no child process (%s)", exc)
            return None
        if pid == 0:  # the child: never returns
            os.close(read_fd)
            _child(invocation, write_fd, parent, lookup)
        os.close(write_fd)
        return cls(pid, read_fd)

    def wait(
        self,
        timeout: float,
        should_stop: Callable[[], bool] = lambda: False,
        on_progress: Callable[[ProgressEvent], None] = lambda event: None,
    ) -> bool:
        """Read the child's lines for at most `timeout` seconds, passing its progress on;
        True once its last line is in (a child that ended or wrote too much has a
        "failed" one). A timeout of 0 reads what is there without waiting. A partial
        result is passed on only once nothing more is there to read: followed at once by
        the result, it would be drawn only to be replaced (it stays in `partial`)."""
        from tui_timing.stages.catalog import Stage
        from tui_timing.stages.context import ProgressEvent

        deadline = time.monotonic() + timeout
        first = True
        held: ProgressEvent | None = None
        while self._final is None and not should_stop():
            if held is not None and not self._buffer and not _readable(self._fd, 0.0):
                on_progress(held)
                held = None
            left = deadline - time.monotonic()
            if left <= 0 and not first:
                if held is not None:
                    on_progress(held)
                return False
            first = False
            try:
                if not _readable(self._fd, max(0.0, min(POLL_S, left))):
                    continue
                chunk = os.read(self._fd, 1 << 16)
            except (OSError, ValueError) as exc:  # stopped meanwhile: the pipe is closed
                self._final = {"failed": f"its pipe could not be read ({exc})"}
                break
            self._size += len(chunk)
            if not chunk or self._size > MAX_BYTES:
                why = "wrote too much" if chunk else "ended without a result"
                self._final = {"failed": f"it {why}"}
                break
            *lines, self._buffer = (self._buffer + chunk).split(b"\n")
            for line in lines:
                try:
                    message = json.loads(line)
                    if "progress" not in message:
                        self._final = message
                        break
                    partial = message.get("partial")
                    event = ProgressEvent(Stage.CACHE, message["progress"], message["message"])
                    if partial is None:
                        on_progress(event)
                        continue
                    event.partial = _decode(partial)
                    self.partial = held = event
                except (ValueError, KeyError, TypeError, RecursionError) as exc:
                    self._final = {"failed": f"it wrote an unreadable line ({exc})"}
                    break
        return self._final is not None

    @property
    def answered(self) -> bool:
        """The child's last line is in (its result, or why it has none)."""
        return self._final is not None

    def early(self) -> StageOneResult | None:
        """The child's result if it is already in (its paths are checked by `take`)."""
        final = self._final
        if self._result is None and final is not None and "result" in final:
            try:
                self._result = _parse_result(final)
            except (ValueError, KeyError, TypeError, RecursionError) as exc:
                self._final = {"failed": f"its result is unusable ({exc})"}
        return self._result

    def take(
        self,
        paths: ArtifactPaths,
        should_stop: Callable[[], bool],
        on_progress: Callable[[ProgressEvent], None],
    ) -> StageOneResult | None:
        """Wait for the child's result for these artifacts, passing its progress on; None
        (the child killed) when it has none, computed other artifacts, or `should_stop`
        turned true meanwhile. A child that gave its result goes on to store it: `stop`
        with a grace lets it."""
        from tui_timing.stages.catalog import STAGE_BY_ID, Stage

        got = None
        try:
            if not self.wait(math.inf, should_stop, on_progress):
                return None
            got = self.early()
            if got is None:
                final = self._final or {}
                why = final.get("failed") or "the results cache holds it"
                log.info("stage 1 runs in the app: its child process says %s", why)
                return None
            wanted = {
                kind: str(path)
                for kind, path in paths.given().items()
                if kind in STAGE_BY_ID[Stage.CACHE].reads
            }
            if got.paths != wanted:
                log.info(
                    "stage 1 runs in the app: its child process read %s, not %s", got.paths, wanted
                )
                return None
            log.info(
                "stage 1 computed in a child process (pid %d) while the app started", self._pid
            )
            return got
        finally:
            if got is None:
                self.stop()

    def stop(self, grace: float = 0.0) -> None:
        """End the child and reap it: one that sent its result may take `grace` seconds to
        store it first; any other is killed at once. Safe to call again, from any thread."""
        with self._lock:
            if self._done:
                return
            self._done = True
            deadline = time.monotonic() + (grace if self._final is not None else 0.0)
            while self._running():
                if time.monotonic() < deadline:
                    time.sleep(POLL_S / 5)
                    continue
                os.kill(self._pid, signal.SIGKILL)  # not reaped yet: the pid is still ours
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(self._pid, 0)
                break
            os.close(self._fd)

    def reap(self) -> None:
        """Reap the child if it has exited (after storing its result), so that no zombie
        waits for the app to quit; nothing when it still runs."""
        with self._lock:
            if self._done or self._running():
                return
            self._done = True
            os.close(self._fd)

    def _running(self) -> bool:
        """The child has not exited (one that has is reaped here)."""
        try:
            return os.waitpid(self._pid, os.WNOHANG)[0] == 0
        except ChildProcessError:
            return False


def _readable(fd: int, timeout: float) -> bool:
    """Whether `fd` has something to read within `timeout` seconds; True once it is
    closed (by `stop`, from another thread), so that reading it says why."""
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    except (OSError, ValueError):
        return True


def _decode(data: Any) -> StageResult:
    """A result (or partial result) as the child encoded it; the codec is imported here,
    not before the first frame."""
    from tui_timing.report.result_codec import decode_result

    return decode_result(data)


def _parse_result(message: dict[str, Any]) -> StageOneResult:
    """The result line's content (KeyError, ValueError or TypeError when malformed)."""
    from tui_timing.errors import ArtifactError
    from tui_timing.report.results_cache import Stamp

    raw_stamps = message["stamps"]
    return StageOneResult(
        result=_decode(message["result"]),
        computed=str(message["computed"]),
        paths={str(kind): str(path) for kind, path in message["paths"].items()},
        stamps=None
        if raw_stamps is None
        else {
            str(kind): None if value is None else Stamp.from_list(value)
            for kind, value in raw_stamps.items()
        },
        errors={str(kind): ArtifactError.from_dict(e) for kind, e in message["errors"].items()},
    )


# ----- the child ---------------------------------------------------------------------------


def _child(invocation: Invocation, write_fd: int, parent: int, lookup: LaunchLookup | None) -> None:
    """Compute stage 1, send it, then keep it in the results cache (so that quitting at
    once still leaves it: the parent stores it too, later); exit without running the
    parent's exit handlers."""
    code = 0
    startup.release()  # held off for the app's first frame; this child draws none
    try:
        _detach(parent)
        out = os.fdopen(write_fd, "w", encoding="utf-8")
        keep: Callable[[], object] | None = None
        try:
            message, keep = _compute(invocation, out, lookup)
            line = json.dumps(message, allow_nan=False, separators=(",", ":"))
        except BaseException as exc:  # whatever it is, the parent falls back
            line, keep = json.dumps({"failed": f"{type(exc).__name__}: {exc}"}), None
        out.write(line + "\n")
        out.flush()
        if keep is not None:
            keep()
    except BaseException:  # the pipe is gone (the parent stopped waiting)
        code = 1
    finally:
        os._exit(code)


#: The child's niceness: below the app while both want a core, so that on a busy machine
#: the app's first frame is not held up by the child (Linux groups a terminal's processes
#: and shares a core between them); on an idle one each has a core and it changes nothing.
CHILD_NICE = 10


#: numpy's BLAS in the child: one thread. Stage 1 is sums and comparisons, which BLAS does
#: not run; OpenBLAS would start a thread per core as numpy is imported, and those spin for
#: a while on the app's core (40-60 ms of CPU on a 2-core box, during its first frame).
CHILD_BLAS_THREADS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _detach(parent: int) -> None:
    """Keep the child off the terminal, out of the user's ctrl+c, dead with its parent,
    and behind it for the CPU (niced, numpy's BLAS on one thread)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(CHILD_NICE)
    os.environ.update(CHILD_BLAS_THREADS)  # numpy is not imported yet: the fork came first
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
        if os.getppid() != parent:  # it died before prctl took effect
            os._exit(1)


def _compute(
    invocation: Invocation, out: Any, lookup: LaunchLookup | None = None
) -> tuple[dict[str, Any], Callable[[], object] | None]:
    """Stage 1 on the artifacts the app opens first (as the pipeline finds them, or as the
    parent found them in `lookup`): the message for the parent, and how to keep the result
    in the results cache (None under `--no-cache`, as in the app)."""

    from tui_timing.report.result_codec import encode_result
    from tui_timing.report.results_cache import CachedStage, ResultsCache, now, stamp
    from tui_timing.stages.catalog import STAGE_BY_ID, Stage
    from tui_timing.stages.context import PROGRESS_INTERVAL_S, StageContext
    from tui_timing.stages.runner import load_artifact, resolve_paths, run_stage
    from tui_timing.tui.launch_lookup import launch_paths

    found = lookup.paths if lookup is not None else None
    paths = found or resolve_paths(launch_paths(invocation))
    settings = invocation.settings
    cache = None if invocation.no_cache else ResultsCache()
    if cache is not None and not (lookup is not None and lookup.asked):
        cached = cache.lookup(paths, settings)
        if cached is not None and Stage.CACHE in cached.stages:
            return {"cached": True}, None
    last = 0.0

    def progress(event: ProgressEvent) -> None:
        nonlocal last
        moment = time.monotonic()
        if event.partial is None and event.fraction < 1 and moment - last < PROGRESS_INTERVAL_S:
            return  # a partial result (sent once, the histogram) is never dropped
        last = moment
        line: dict[str, Any] = {"progress": event.fraction, "message": event.message}
        if event.partial is not None:  # the durations' histogram, ahead of the scan
            line["partial"] = encode_result(event.partial)
        out.write(json.dumps(line, allow_nan=False) + "\n")
        out.flush()

    ctx = StageContext(paths=paths, settings=settings, on_progress=progress)
    reads = {k: p for k, p in paths.given().items() if k in STAGE_BY_ID[Stage.CACHE].reads}
    stamps: dict[str, Stamp | None] | None = {}
    for kind, path in reads.items():
        try:
            if stamps is not None:
                stamps[kind] = stamp(path)  # before reading: what was read
        except OSError:
            stamps = None  # a pipe or a device: nothing to key results on
        ctx.artifacts[kind] = load_artifact(kind, path, settings)
    result = run_stage(ctx, Stage.CACHE)
    computed = now()
    errors = {k: loaded.error for k, loaded in ctx.artifacts.items() if loaded.error is not None}
    message = {
        "result": encode_result(result),
        "computed": computed,
        "paths": {kind: str(path) for kind, path in reads.items()},
        "stamps": None
        if stamps is None
        else {k: None if v is None else v.as_list() for k, v in stamps.items()},
        "errors": {kind: error.as_dict() for kind, error in errors.items()},
    }
    if cache is None or stamps is None:
        return message, None
    loaded = stamps

    def keep() -> object:
        """Store it under the stamps read, and those of the artifacts stage 1 did not
        read as they are now (the pipeline's way)."""
        try:
            rest = {k: stamp(p) for k, p in paths.given().items() if k not in loaded}
        except OSError:
            return False  # a pipe or a device: nothing to key results on
        stage = {int(Stage.CACHE): CachedStage(result, computed)}
        return cache.store(paths, settings, {**loaded, **rest}, stage, errors)

    return message, keep
