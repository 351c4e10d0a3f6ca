"""Runs StageOneAhead in a fresh interpreter, as the CLI does: no thread exists when the
child is forked (a pytest worker has threads of its own). Prints one JSON object.

    python ahead_driver.py '{"cache": PATH, ...}'

Options: `cache`; `no_cache`; `stop` (stop waiting at once); `other_cache` (the parent
asks for another cache than the child read); `fail` (stage 1 raises in the child, a fault
planted in our own runner before the fork); `thread` (a thread runs before the fork);
`pipeline` (the app's pipeline takes the child's result, stages 1-2, as the app runs it);
`early` (with `pipeline`: the result is in before the app mounts, and shown then);
`quit` (with `early`: the app quits as soon as it is shown, before the thread runs);
`slow` (stage 1 takes a minute in the child, a fault planted as for `fail`: with
`pipeline`, new work that supersedes it comes once the pipeline waits for the child);
`lookup` (the parent asks the results cache first, as the CLI does);
`answered` (with `pipeline`: the pipeline starts once the child has stored stage 1, so
with all its lines in the pipe); `gate` (a path: the child's scan waits until that file
exists, a fault planted as for `fail`; with `pipeline`, the file is made once the pipeline
has posted stage 1's partial result, or after a minute without it).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tui_timing.config import ArtifactPaths, Invocation, Settings
from tui_timing.report.result_codec import encode_result
from tui_timing.stages import runner
from tui_timing.tui.launch_lookup import look_up
from tui_timing.tui.stage_one_ahead import StageOneAhead


def here(paths: ArtifactPaths, settings: Settings) -> Any:
    """Stage 1 computed in this process, encoded."""
    ctx = runner.load_artifacts(paths, settings)
    return encode_result(runner.run_stage(ctx, 1))


def gone(pid: int) -> bool:
    """The process is neither running nor a zombie left unreaped."""
    return not Path(f"/proc/{pid}").exists()


def main(options: dict[str, Any]) -> dict[str, Any]:
    log: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: log.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("tui_timing").addHandler(handler)
    logging.getLogger("tui_timing").setLevel(logging.INFO)
    paths = ArtifactPaths(cache=Path(options["cache"]))
    invocation = Invocation(paths, Settings(), None, None, no_cache=options.get("no_cache", False))
    if options.get("fail") or options.get("slow"):

        def broken(ctx: Any, stage_id: int) -> Any:
            if options.get("slow"):
                time.sleep(60)
            # with the threads of the process that runs stage 1: numpy is imported by now
            raise RuntimeError(f"planted fault ({len(os.listdir('/proc/self/task'))} threads)")

        runner.run_stage = broken  # type: ignore[assignment]
    if options.get("gate"):
        from tui_timing.stages import cache_scan

        scan = cache_scan.scan_cache

        def gated(*args: Any, **kwargs: Any) -> Any:
            gate = Path(options["gate"])
            while not gate.exists():
                time.sleep(0.01)
            return scan(*args, **kwargs)

        cache_scan.scan_cache = gated  # type: ignore[assignment]
    if options.get("thread"):
        stop = threading.Event()
        threading.Thread(target=stop.wait, daemon=True).start()
    ahead = StageOneAhead.start(invocation, look_up(invocation) if options.get("lookup") else None)
    if options.get("fail") or options.get("slow"):
        from importlib import reload

        reload(runner)  # the parent's own stage 1 is the real one
    if options.get("gate"):
        cache_scan.scan_cache = scan  # type: ignore[assignment]
    if ahead is None:
        return {"started": False, "log": log}
    pid = ahead.pid
    if options.get("pipeline"):
        ran = pipeline(invocation, ahead, options)
        return {"started": True, "pid": pid, "gone": gone(pid), **ran, "log": log}
    wanted = runner.resolve_paths(paths)
    if options.get("other_cache"):
        wanted = ArtifactPaths(cache=Path(options["other_cache"]))
    progress: list[float] = []
    got = ahead.take(
        wanted, lambda: bool(options.get("stop")), lambda event: progress.append(event.fraction)
    )
    # read before it is reaped (it has niced itself by the time it sent its result)
    try:
        nice: int | None = os.getpriority(os.PRIO_PROCESS, pid) - os.getpriority(os.PRIO_PROCESS, 0)
    except ProcessLookupError:  # no result taken: it was killed and reaped
        nice = None
    ahead.stop(grace=5)  # as the app does when it quits
    out: dict[str, Any] = {"started": True, "pid": pid, "gone": gone(pid), "log": log}
    out["nice"] = nice
    if got is None:
        return {**out, "taken": False}
    from tui_timing.report.results_cache import stamp

    return {
        **out,
        "taken": True,
        "same": encode_result(got.result) == here(runner.resolve_paths(paths), Settings()),
        "paths": got.paths,
        "stamps_match": got.stamps == {k: stamp(Path(p)) for k, p in got.paths.items()},
        "errors": {kind: error.as_dict() for kind, error in got.errors.items()},
        "progress": progress,
    }


def pipeline(invocation: Invocation, ahead: StageOneAhead, options: dict[str, Any]) -> Any:
    """Stages 1-2 through the app's pipeline with the child's result taken for stage 1
    (shown early: before the thread starts, as the app paints its first frame)."""
    from tui_timing.report.results_cache import ResultsCache
    from tui_timing.tui.messages import PipelineIdle, StageFinished, StageProgress, StageStarted
    from tui_timing.tui.pipeline import Pipeline, Work

    messages: list[Any] = []
    pipe = Pipeline(invocation, messages.append, ahead=ahead)
    if options.get("early"):
        assert ahead.wait(60), "the child sent no result"
        pipe.show_ahead()
    if options.get("early_partial"):  # its scan held behind the gate: the partial alone
        deadline = time.monotonic() + 120
        while ahead.partial is None:
            assert not ahead.wait(0.05), "the child answered before its scan"
            assert time.monotonic() < deadline, "the child sent no partial result"
        pipe.show_ahead()
    posted_early = [type(m).__name__ for m in messages]
    if options.get("answered"):
        deadline = time.monotonic() + 120
        paths = runner.resolve_paths(invocation.paths)
        while not (stored := ResultsCache().lookup(paths, invocation.settings)) or (
            1 not in stored.stages
        ):
            assert time.monotonic() < deadline, "the child stored no stage 1"
            time.sleep(0.01)
    if options.get("quit"):
        pipe.close()
    else:
        pipe.start()
        pipe.submit(Work(resolve=True, stages={1: "start", 2: "start"}))
        deadline = time.monotonic() + 120
        if options.get("slow"):
            # Once the thread waits for the child, not after a fixed time: on a busy machine
            # the thread may not have got there yet, and the new work would only queue.
            while pipe._running != 1:
                assert time.monotonic() < deadline, "the pipeline never waited for the child"
                time.sleep(0.01)
            pipe.submit(Work(resolve=True, stages={1: "again"}))
        if options.get("gate"):
            while not any(isinstance(m, StageProgress) and m.partial for m in messages):
                if time.monotonic() > deadline - 60:
                    break  # reported: no partial result before the result
                time.sleep(0.01)
            Path(options["gate"]).touch()
        while not any(isinstance(m, PipelineIdle) for m in messages):
            assert time.monotonic() < deadline, "the pipeline did not go idle"
            time.sleep(0.02)
        pipe.close()
    paths = runner.resolve_paths(invocation.paths)
    stored = ResultsCache().lookup(paths, invocation.settings)
    finished = [m for m in messages if isinstance(m, StageFinished)]
    ahead_of = [  # stage 1's partial results, posted before its result
        m.partial
        for m in messages[: messages.index(finished[0])]
        if isinstance(m, StageProgress) and m.stage == 1 and m.partial is not None
    ]
    return {
        "partial_charts": [[plot.title for plot in p.plots] for p in ahead_of],
        "partial_chart_kept": bool(ahead_of)
        and ahead_of[0].plots[0] == finished[0].result.plots[0],
        "partial_read": ahead.partial is not None,
        "reasons": [m.reason for m in finished],
        "started_1": any(isinstance(m, StageStarted) and m.stage == 1 for m in messages),
        "starts_1": sum(isinstance(m, StageStarted) and m.stage == 1 for m in messages),
        "posted_early": posted_early,
        "finished": [m.stage for m in finished],
        "same": encode_result(finished[0].result) == here(paths, invocation.settings),
        "same_object": len(finished) > 1 and finished[0].result is finished[1].result,
        "stored": sorted(stored.stages) if stored else [],
    }


if __name__ == "__main__":
    result = main(json.loads(sys.argv[1]))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    os._exit(0)  # daemon threads of the pipeline need no joining
