"""Stage 1 computed in a forked child while Textual starts: the result the app
takes from it is the one it would have computed itself, on every kind of cache; whenever
the child has nothing usable, the app computes stage 1 itself, says so in the log, and no
child process is left behind. Each case runs in a fresh interpreter (ahead_driver.py), as
the CLI forks: before any thread exists."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sample_paths import CACHE

from tui_timing.config import ArtifactPaths, Settings
from tui_timing.report.result_codec import decode_result, encode_result
from tui_timing.report.results_cache import CachedStage, ResultsCache, now, stamps
from tui_timing.stages.runner import load_artifacts, resolve_paths, run_stage

DRIVER = Path(__file__).with_name("ahead_driver.py")


def drive(**options: Any) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(DRIVER), json.dumps({k: str(v) if isinstance(v, Path) else v
                                                   for k, v in options.items()})],
        capture_output=True,
        text=True,
        timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def taken(out: dict[str, Any]) -> None:
    """The child's result was taken, equal to this process's, and the child is reaped."""
    assert out["started"] and out["taken"], out["log"]
    assert out["same"] and out["stamps_match"] and out["gone"]
    assert any("computed in a child process" in line for line in out["log"])


def test_the_sample_caches_stage_1_is_the_one_computed_here() -> None:
    out = drive(cache=CACHE)
    taken(out)
    assert out["errors"] == {} and set(out["paths"]) == {"cache", "raw_summary"}


def test_a_balabit_caches_stage_1_is_the_one_computed_here(small_cache: Path) -> None:
    taken(drive(cache=small_cache))


def test_an_unreadable_caches_error_comes_back_the_same(tmp_path: Path) -> None:
    cache = tmp_path / "train_timing.pt"
    cache.write_text("not a torch file\n")
    out = drive(cache=cache)
    taken(out)
    assert out["errors"]["cache"]["file"] == str(cache)
    assert out["errors"]["cache"]["problem"]


def test_a_cached_result_is_left_to_the_app(tmp_path: Path) -> None:
    paths = resolve_paths(ArtifactPaths(cache=CACHE))
    result = run_stage(load_artifacts(paths, Settings()), 1)
    stage = {1: CachedStage(result, now())}
    assert ResultsCache().store(paths, Settings(), stamps(paths), stage, {})
    out = drive(cache=CACHE)
    assert out["started"] and not out["taken"] and out["gone"]
    assert any("results cache holds it" in line for line in out["log"])
    taken(drive(cache=CACHE, no_cache=True))  # --no-cache: the child computes it
    out = drive(cache=CACHE, lookup=True)  # as the CLI starts: the parent asked first
    assert not out["started"], out
    assert any("in the results cache: no child" in line for line in out["log"])
    taken(drive(cache=CACHE, no_cache=True, lookup=True))


def test_a_miss_found_before_the_fork_is_computed_by_a_child_behind_the_app() -> None:
    """The parent's lookup missed: the child computes stage 1, at a lower priority than
    the app (so the first frame is not held up on a busy machine)."""
    out = drive(cache=CACHE, lookup=True)
    taken(out)
    assert out["nice"] > 0, out


def test_stopping_the_wait_kills_and_reaps_the_child() -> None:
    out = drive(cache=CACHE, stop=True)
    # not taken: the wait stopped before the child answered (it would have taken it)
    assert out["started"] and not out["taken"] and out["gone"]


def test_a_result_for_other_artifacts_is_not_taken(small_cache: Path) -> None:
    out = drive(cache=CACHE, other_cache=small_cache)
    assert not out["taken"] and out["gone"]
    assert any("its child process read" in line for line in out["log"])


def test_a_failure_in_the_child_falls_back_and_says_so() -> None:
    out = drive(cache=CACHE, fail=True)
    assert not out["taken"] and out["gone"]
    assert any("RuntimeError: planted fault" in line for line in out["log"]), out["log"]


@pytest.mark.skipif(
    (os.cpu_count() or 1) < 2 or not Path("/proc/self/task").is_dir(),
    reason="OpenBLAS starts a thread per core: on one core there is nothing to see",
)
def test_the_childs_numpy_runs_on_one_thread() -> None:
    """OpenBLAS starts a thread per core as numpy is imported, and those spin for a while
    on the app's core just as it draws its first frame; stage 1 needs none of them."""
    out = drive(cache=CACHE, fail=True)
    assert any("planted fault (1 threads)" in line for line in out["log"]), out["log"]


def test_no_child_is_forked_once_threads_run() -> None:
    out = drive(cache=CACHE, thread=True)
    assert not out["started"]
    assert any("threads already run" in line for line in out["log"])


def test_the_pipeline_shows_and_stores_the_childs_stage_1() -> None:
    out = drive(cache=CACHE, pipeline=True)
    assert out["finished"] == [1, 2] and out["same"]  # shown once: no lookup showed it again
    assert out["stored"] == [1, 2] and out["gone"]
    assert any("computed in a child process" in line for line in out["log"])


def test_the_durations_histogram_is_shown_before_the_scan_is_done(tmp_path: Path) -> None:
    """Stage 1's first chart needs the read, not the scan of every profile value (a big
    cache's scan takes seconds): the child sends it first, the pipeline starts the stage
    with it while the scan runs (here the scan waits for it), and the result that follows
    has the very same chart first (drawn once, kept: plot_stack.py)."""
    out = drive(cache=CACHE, pipeline=True, gate=tmp_path / "scan")
    assert out["started_1"] and out["partial_read"]
    assert out["partial_charts"] == [["Segment duration (s)"]]
    assert out["partial_chart_kept"] and out["finished"] == [1, 2] and out["same"]


def test_a_partial_result_in_before_the_thread_starts_is_shown_at_once(tmp_path: Path) -> None:
    """The app looks at the child's pipe as it paints its first frame and again as the
    stages' thread starts: a partial result already in is posted then (the stage
    running, its histogram drawn), not after the thread's own start-up; the thread goes
    on from there without starting the stage a second time."""
    out = drive(cache=CACHE, pipeline=True, gate=tmp_path / "scan", early_partial=True)
    assert out["posted_early"] == ["StageStarted", "StageProgress"]
    assert out["partial_charts"] == [["Segment duration (s)"]] and out["starts_1"] == 1
    assert out["partial_chart_kept"] and out["finished"] == [1, 2] and out["same"]


def test_a_partial_result_read_with_the_result_is_not_drawn() -> None:
    """A quick child's partial result and result are in the pipe together by the time the
    pipeline reads them: the chart is drawn once, from the result."""
    out = drive(cache=CACHE, pipeline=True, answered=True)
    assert out["partial_read"] and out["partial_charts"] == []
    assert out["finished"] == [1, 2] and out["same"]


def test_a_result_in_before_the_app_mounts_is_shown_once_and_stored() -> None:
    """Drawn right after the first frame: posted as the app paints it, never shown
    running; the thread checks it, posts the same result again (the app marks every
    stage pending as it starts the thread) and stores it with stage 2."""
    out = drive(cache=CACHE, pipeline=True, early=True)
    assert not out["started_1"] and out["finished"] == [1, 1, 2] and out["same"]
    assert out["same_object"]
    assert out["stored"] == [1, 2] and out["gone"]
    assert any("computed in a child process" in line for line in out["log"])


#: The app on a cold launch whose child has sent stage 1 before the app mounts: what the
#: first frame shows of stage 1, and what it shows once the result is handled.
RESULT_IN_AT_MOUNT = """
import asyncio, json, sys
from pathlib import Path
from tui_timing.config import ArtifactPaths, Invocation, Settings
from tui_timing.tui.launch_lookup import look_up
from tui_timing.tui.stage_one_ahead import StageOneAhead

invocation = Invocation(ArtifactPaths(cache=Path(sys.argv[1])), Settings(), None, None)
ahead = StageOneAhead.start(invocation, look_up(invocation))
assert ahead is not None and ahead.wait(120) and ahead.early() is not None
from tui_timing.tui.app import TimingApp

seen = {}

def title(app):
    return str(app.query_one("#pane-1 .pane-title").render())

class Probe(TimingApp):
    def first_frame(self):
        seen["first_frame"] = self.states[1].phase
        super().first_frame()

async def run():
    app = Probe(invocation, ahead=ahead)
    async with app.run_test(size=(120, 40)) as pilot:
        while app.states[1].phase != "done":
            await pilot.pause(0.02)
        seen["then"] = [app.states[1].phase, app.states[1].reason, app.states[1].runs]
        # the pane is mounted as the first frame is painted, and drawn once it is composed
        while not app.query("#pane-1 .pane-title") or not title(app):
            await pilot.pause(0.02)
        seen["title"] = title(app)
    print(json.dumps(seen))

asyncio.run(run())
"""


def test_a_result_in_before_the_app_mounts_is_drawn_right_after_the_first_frame() -> None:
    """The first frame is not held up to lay out stage 1's result (that made it later,
    and the histogram with it): the child's result, in before the app mounts, is posted
    as the first frame is painted and drawn after it, once, as the launch's own."""
    done = subprocess.run(
        [sys.executable, "-c", RESULT_IN_AT_MOUNT, str(CACHE)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["first_frame"] == "pending", seen
    assert seen["then"] == ["done", "start", 1], seen
    assert "Stage 1" in seen["title"] and "pass" in seen["title"], seen


def test_new_work_stops_the_wait_for_a_slow_child() -> None:
    """A child a minute into stage 1 does not hold up a re-run asked for meanwhile (`R`,
    another cache): the wait stops, the child is killed, and stage 1 runs in the app."""
    out = drive(cache=CACHE, pipeline=True, slow=True)
    assert out["finished"] == [1, 2] and out["reasons"][0] == "again" and out["same"]
    assert out["gone"]
    # the child was killed in its minute: it neither answered nor reached its fault
    assert not any("computed in a child process" in line for line in out["log"])
    assert not any("planted fault" in line for line in out["log"]), out["log"]


def test_quitting_as_soon_as_it_is_shown_still_keeps_stage_1() -> None:
    """Before the thread has taken it: the child stores it, and quitting lets it finish."""
    out = drive(cache=CACHE, pipeline=True, early=True, quit=True)
    assert out["finished"] == [1] and out["same"] and out["stored"] == [1] and out["gone"]


def test_the_codec_carries_stage_1_exactly() -> None:
    """What the child sends is the result as encoded: decoding gives it back unchanged."""
    result = run_stage(load_artifacts(ArtifactPaths(cache=CACHE), Settings()), 1)
    encoded = json.loads(json.dumps(encode_result(result), allow_nan=False))
    assert encode_result(decode_result(encoded)) == encode_result(result)


@pytest.fixture(autouse=True)
def _no_user_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIMING_TUI_LOG", raising=False)
