"""Stage 1 computed in a forked child while the parent imports Textual and starts the app.

A cold launch's first paint is serial on one interpreter: Textual's start-up, then numpy,
the cache read and stage 1 (BENCHMARKS.md, issue 15). Forked before Textual is imported,
the child does the second half on another core: it finds the same artifacts (the fork
carries the very same Invocation), asks the results cache, reads the cache and the raw
summary into numpy, runs stage 1 and writes the result down a pipe as one JSON line, with
progress lines before it. The pipeline takes that result in place of running stage 1
(the same code on the same files, so the same report), and falls back to running it
itself, said in the log, whenever the child has nothing usable to give: no fork on this
platform, a crash, other artifacts than the parent's, a result the codec cannot carry.

The child never writes to the terminal (its standard streams are /dev/null), never runs
the user's code (stage 1 reads files only), dies with its parent (Linux), and is killed
when the app closes or stops waiting for it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui_timing.config import ArtifactPaths, Invocation
    from tui_timing.errors import ArtifactError
    from tui_timing.findings import StageResult
    from tui_timing.report.results_cache import Stamp
    from tui_timing.stages.context import ProgressEvent

log = logging.getLogger(__name__)

#: At most this often the child sends a progress line.
PROGRESS_INTERVAL_S = 0.2
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

    @classmethod
    def start(cls, invocation: Invocation) -> StageOneAhead | None:
        """Fork the child (before Textual is imported: no thread may exist yet); None
        where the platform cannot fork."""
        if not hasattr(os, "fork"):
            return None
        read_fd, write_fd = os.pipe()
        try:
            pid = os.fork()
        except OSError as exc:
            os.close(read_fd)
            os.close(write_fd)
            log.info("stage 1 runs in the app: no child process (%s)", exc)
            return None
        if pid == 0:  # the child: never returns
            os.close(read_fd)
            _child(invocation, write_fd)
        os.close(write_fd)
        return cls(pid, read_fd)

    def take(
        self,
        paths: ArtifactPaths,
        should_stop: Callable[[], bool],
        on_progress: Callable[[ProgressEvent], None],
    ) -> StageOneResult | None:
        """Wait for the child's result for these artifacts, passing its progress on; None
        (the child stopped) when it has none, computed other artifacts, or `should_stop`
        turned true meanwhile. Called once."""
        from tui_timing.stages.catalog import STAGE_BY_ID, Stage
        from tui_timing.stages.context import ProgressEvent

        buffer, size = b"", 0
        try:
            while not should_stop():
                if not select.select([self._fd], [], [], POLL_S)[0]:
                    continue
                chunk = os.read(self._fd, 1 << 16)
                if not chunk:
                    log.info("stage 1 runs in the app: its child process ended without a result")
                    return None
                size += len(chunk)
                if size > MAX_BYTES:
                    log.info("stage 1 runs in the app: its child process wrote over %d bytes", size)
                    return None
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    message = json.loads(line)
                    if "progress" in message:
                        on_progress(
                            ProgressEvent(Stage.CACHE, message["progress"], message["message"])
                        )
                        continue
                    if "failed" in message or "cached" in message:
                        why = message.get("failed") or "the results cache holds it"
                        log.info("stage 1 runs in the app: its child process says %s", why)
                        return None
                    got = _parse_result(message)
                    wanted = {
                        kind: str(path)
                        for kind, path in paths.given().items()
                        if kind in STAGE_BY_ID[Stage.CACHE].reads
                    }
                    if got.paths != wanted:
                        log.info(
                            "stage 1 runs in the app: its child process read %s, not %s",
                            got.paths,
                            wanted,
                        )
                        return None
                    log.info("stage 1 computed in a child process while the app started")
                    return got
            return None
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
            log.info("stage 1 runs in the app: its child process's result is unusable (%s)", exc)
            return None
        finally:
            self.stop()

    def stop(self) -> None:
        """Kill the child (if it still runs) and reap it; safe to call again, from any
        thread."""
        with self._lock:
            if self._done:
                return
            self._done = True
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._pid, 0)
            os.close(self._fd)


def _parse_result(message: dict[str, Any]) -> StageOneResult:
    """The result line's content (KeyError, ValueError or TypeError when malformed)."""
    from tui_timing.errors import ArtifactError
    from tui_timing.report.result_codec import decode_result
    from tui_timing.report.results_cache import Stamp

    raw_stamps = message["stamps"]
    return StageOneResult(
        result=decode_result(message["result"]),
        computed=str(message["computed"]),
        paths={str(kind): str(path) for kind, path in message["paths"].items()},
        stamps=None
        if raw_stamps is None
        else {
            str(kind): None if value is None else Stamp(*(int(v) for v in value))
            for kind, value in raw_stamps.items()
        },
        errors={
            str(kind): ArtifactError(str(e["file"]), e["key"], str(e["problem"]))
            for kind, e in message["errors"].items()
        },
    )


# ----- the child ---------------------------------------------------------------------------


def _child(invocation: Invocation, write_fd: int) -> None:
    """Compute stage 1 and send it; exit without running the parent's exit handlers."""
    code = 0
    try:
        _detach()
        out = os.fdopen(write_fd, "w", encoding="utf-8")
        try:
            line = json.dumps(_compute(invocation, out), allow_nan=False, separators=(",", ":"))
        except BaseException as exc:  # whatever it is, the parent falls back
            line = json.dumps({"failed": f"{type(exc).__name__}: {exc}"})
        out.write(line + "\n")
        out.flush()
    except BaseException:  # the pipe is gone (the parent stopped waiting)
        code = 1
    finally:
        os._exit(code)


def _detach() -> None:
    """Keep the child off the terminal, out of the user's ctrl+c, and dead with its parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
        if os.getppid() == 1:  # the parent died before prctl took effect
            os._exit(1)


def _compute(invocation: Invocation, out: Any) -> dict[str, Any]:
    """Stage 1 on the artifacts the app opens first (as the pipeline finds them)."""
    import dataclasses
    import time

    from tui_timing.report.result_codec import encode_result
    from tui_timing.report.results_cache import ResultsCache, now, stamp
    from tui_timing.stages.catalog import STAGE_BY_ID, Stage
    from tui_timing.stages.context import StageContext
    from tui_timing.stages.runner import load_artifact, resolve_paths, run_stage

    paths = resolve_paths(_launch_paths(invocation))
    settings = invocation.settings
    if not invocation.no_cache:
        cached = ResultsCache().lookup(paths, settings)
        if cached is not None and Stage.CACHE in cached.stages:
            return {"cached": True}
    last = 0.0

    def progress(event: ProgressEvent) -> None:
        nonlocal last
        moment = time.monotonic()
        if event.fraction < 1 and moment - last < PROGRESS_INTERVAL_S:
            return
        last = moment
        line = {"progress": event.fraction, "message": event.message}
        out.write(json.dumps(line, allow_nan=False) + "\n")
        out.flush()

    ctx = StageContext(paths=paths, settings=settings, on_progress=progress)
    reads = {k: p for k, p in paths.given().items() if k in STAGE_BY_ID[Stage.CACHE].reads}
    stamps: dict[str, list[int] | None] | None = {}
    for kind, path in reads.items():
        try:
            if stamps is not None:
                taken = stamp(path)  # before reading: what was read
                stamps[kind] = None if taken is None else list(dataclasses.astuple(taken))
        except OSError:
            stamps = None  # a pipe or a device: nothing to key results on
        ctx.artifacts[kind] = load_artifact(kind, path, settings)
    result = run_stage(ctx, Stage.CACHE)
    return {
        "result": encode_result(result),
        "computed": now(),
        "paths": {kind: str(path) for kind, path in reads.items()},
        "stamps": stamps,
        "errors": {
            kind: loaded.error.as_dict()
            for kind, loaded in ctx.artifacts.items()
            if loaded.error is not None
        },
    }


def _launch_paths(invocation: Invocation) -> ArtifactPaths:
    """The artifacts a launch opens: those given, else the first of each kind found (the
    pipeline's first selection), else the sample."""
    if invocation.any_artifact:
        return invocation.paths
    from tui_timing.artifacts.discovery import discover_or_sample

    found = discover_or_sample(settings=invocation.settings)
    return found.paths(cache=0, run=0, eval_dump=0)
