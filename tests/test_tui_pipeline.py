"""The stages' thread on its own: order, merging, preemption, reloads and failures, with
the core's loader and stage runner replaced by fakes so each test takes milliseconds."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tui_timing.config import ArtifactPaths, Invocation, Settings
from tui_timing.findings import StageResult
from tui_timing.stages import runner
from tui_timing.stages.catalog import ALL_STAGES, STAGE_BY_ID, STAGES
from tui_timing.stages.context import PROGRESS_INTERVAL_S, Loaded, StageContext
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
from tui_timing.tui.pipeline import Pipeline, Selection, Work, stages_fed_by


class Recorder:
    """Collects posted messages; `wait_idle` blocks until the pipeline caught up."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self._lock = threading.Lock()

    def __call__(self, message: Any) -> None:
        with self._lock:
            self.messages.append(message)

    def of(self, kind: type) -> list[Any]:
        with self._lock:
            return [m for m in self.messages if isinstance(m, kind)]

    def wait_idle(self, pipeline: Pipeline, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(m.submits == pipeline.submits for m in self.of(PipelineIdle)):
            assert time.monotonic() < deadline, "pipeline did not go idle"
            time.sleep(0.01)


@pytest.fixture
def fake_core(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Loading records what was loaded; stage N ticks `ticks[N]` times, 10 ms apart, and
    then on until `hold[N]` is set when there is one (a test's own moment, not a time);
    `spans[N]` is when its first tick began and its last one ended."""
    state: dict[str, Any] = {"loads": [], "ticks": {}, "contexts": [], "hold": {}, "spans": {}}

    def load_artifact(kind: str, path: Path, settings: Settings) -> Loaded[Any]:
        state["loads"].append(kind)
        return Loaded(path=path, value=object())

    def run_stage(ctx: StageContext, stage_id: int) -> StageResult:
        state["contexts"].append(id(ctx))
        ticks = state["ticks"].get(stage_id, 0)
        hold = state["hold"].get(stage_id, threading.Event())
        tick, began = 0, time.monotonic()
        while tick < ticks or (stage_id in state["hold"] and not hold.is_set()):
            ctx.tick(stage_id, min(tick / max(ticks, 1), 0.99), f"tick {tick}")
            time.sleep(0.01)
            tick += 1
        state["spans"][stage_id] = (began, time.monotonic())
        result = StageResult(id=stage_id, name=STAGE_BY_ID[stage_id].name)
        ctx.results[stage_id] = result
        return result

    monkeypatch.setattr(runner, "load_artifact", load_artifact)
    monkeypatch.setattr(runner, "run_stage", run_stage)
    return state


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    """Until the pipeline thread got there (the deadline only guards against a hang)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the pipeline never got there"
        time.sleep(0.005)


def start(tmp_path: Path) -> tuple[Pipeline, Recorder]:
    paths = ArtifactPaths(cache=tmp_path / "train_timing.pt", log=tmp_path / "stats.jsonl")
    recorder = Recorder()
    pipeline = Pipeline(Invocation(paths, Settings(), None, None), recorder)
    pipeline.start()
    return pipeline, recorder


def finished(recorder: Recorder) -> list[int]:
    return [m.stage for m in recorder.of(StageFinished)]


def test_stages_run_in_order_after_loading(fake_core: dict[str, Any], tmp_path: Path) -> None:
    pipeline, recorder = start(tmp_path)
    pipeline.submit(Work(resolve=True, stages=dict.fromkeys(ALL_STAGES, "start")))
    recorder.wait_idle(pipeline)
    pipeline.close()
    assert finished(recorder) == list(ALL_STAGES)
    assert sorted(fake_core["loads"]) == ["cache", "log"]
    assert recorder.of(ArtifactsLoaded)[0].errors == {}
    assert all(m.reason == "start" for m in recorder.of(StageStarted))


def test_an_earlier_stage_preempts_a_running_one_once(
    fake_core: dict[str, Any], tmp_path: Path
) -> None:
    fake_core["hold"] = {5: threading.Event()}
    pipeline, recorder = start(tmp_path)
    pipeline.submit(Work(resolve=True, stages=dict.fromkeys(ALL_STAGES, "start")))
    wait_until(lambda: len([m for m in recorder.of(StageStarted) if m.stage == 5]) == 1)
    pipeline.submit(Work(stages={4: "stats.jsonl changed", 7: "stats.jsonl changed"}))
    # the sampler runs again after stage 4, and a second edit comes while it runs
    wait_until(lambda: len([m for m in recorder.of(StageStarted) if m.stage == 5]) == 2)
    pipeline.submit(Work(stages={4: "stats.jsonl changed", 7: "stats.jsonl changed"}))
    fake_core["hold"][5].set()
    recorder.wait_idle(pipeline)
    pipeline.close()
    assert [m.stage for m in recorder.of(StageInterrupted)] == [5]  # only once
    assert finished(recorder)[:4] == [1, 2, 3, 4]
    assert finished(recorder)[4] == 4  # the edited log ran before the sampler resumed
    assert finished(recorder).count(5) == 1 and finished(recorder)[-1] == 7


def test_queued_work_merges(fake_core: dict[str, Any], tmp_path: Path) -> None:
    fake_core["hold"] = {1: threading.Event()}
    pipeline, recorder = start(tmp_path)
    pipeline.submit(Work(resolve=True, stages={1: "start"}))
    for _ in range(5):
        pipeline.submit(Work(stages={4: "stats.jsonl changed", 7: "stats.jsonl changed"}))
    fake_core["hold"][1].set()  # every edit came while stage 1 ran
    recorder.wait_idle(pipeline)
    pipeline.close()
    assert finished(recorder) == [1, 4, 7]


def test_a_log_reload_keeps_the_context_and_a_cache_reload_does_not(
    fake_core: dict[str, Any], tmp_path: Path
) -> None:
    pipeline, recorder = start(tmp_path)
    pipeline.submit(Work(resolve=True, stages={1: "start"}))
    recorder.wait_idle(pipeline)
    pipeline.submit(Work(reload={"log"}, stages={4: "changed"}))
    recorder.wait_idle(pipeline)
    pipeline.submit(Work(reload={"cache"}, stages={1: "changed"}))
    recorder.wait_idle(pipeline)
    pipeline.close()
    first, after_log, after_cache = fake_core["contexts"]
    assert first == after_log != after_cache
    assert fake_core["loads"] == ["cache", "log", "log", "cache", "log"]
    snapshot = pipeline.snapshot()
    assert set(snapshot.results) == {1, 4}  # results of stages not re-run are kept


def test_progress_is_rate_limited(fake_core: dict[str, Any], tmp_path: Path) -> None:
    fake_core["ticks"] = {5: 60}  # 60 ticks over 0.6 s or more (a busy machine: more)
    pipeline, recorder = start(tmp_path)
    pipeline.submit(Work(resolve=True, stages={5: "start"}))
    recorder.wait_idle(pipeline)
    pipeline.close()
    began, ended = fake_core["spans"][5]
    # at most one per interval over however long the ticks took (a busy machine: longer)
    assert 1 <= len(recorder.of(StageProgress)) <= (ended - began) / PROGRESS_INTERVAL_S + 1


def test_a_failing_loader_becomes_that_artifacts_error(
    fake_core: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(kind: str, path: Path, settings: Settings) -> Loaded[Any]:
        raise ImportError("no module named tui_timing.artifacts.stats_log")

    monkeypatch.setattr(runner, "load_artifact", broken)
    pipeline, recorder = start(tmp_path)
    pipeline.submit(Work(resolve=True, stages={1: "start", 4: "start"}))
    recorder.wait_idle(pipeline)
    pipeline.close()
    # stage 1's artifacts are loaded first (it runs before torch is imported), then the rest
    errors = recorder.of(ArtifactsLoaded)[-1].errors
    assert "stats.jsonl" in errors["log"] and "ImportError" in errors["log"]
    assert finished(recorder) == [1, 4]


def test_a_crash_outside_the_stages_is_reported_and_the_thread_survives(
    fake_core: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(paths: ArtifactPaths) -> ArtifactPaths:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(runner, "resolve_paths", broken)
    pipeline, recorder = start(tmp_path)
    pipeline.submit(Work(resolve=True, stages={1: "start"}))
    recorder.wait_idle(pipeline)
    failure = recorder.of(PipelineFailed)[0]
    assert "disk on fire" in failure.problem and failure.stages == [1]
    monkeypatch.undo()
    assert pipeline.busy is False
    pipeline.close()


def test_stages_fed_by_each_artifact() -> None:
    assert stages_fed_by({"log"}) == {4, 7}
    assert stages_fed_by({"eval"}) == {6, 7}
    # stage 6 reads the cache too (integration.real_vs_cache)
    assert stages_fed_by({"cache"}) == {1, 2, 3, 4, 5, 6, 7}
    # stage 2 reads the checkpoint's conditioning width and stage 4 its profile loss, so a
    # new checkpoint re-runs them too
    assert stages_fed_by({"checkpoint", "raw_summary"}) == {1, 2, 3, 4, 5, 7}


def test_every_stage_is_re_run_by_each_artifact_it_reads() -> None:
    for info in STAGES:
        for kind in info.reads:
            assert info.id in stages_fed_by({kind}), (info.name, kind)


#: Discovery keeps a log by its contents: one record with a docs/artifacts.md#stats-log field.
STATS_LINE = '{"epoch": 1, "split": "train", "loss": 1.0}\n'


def test_rediscovery_keeps_pointing_at_the_same_run(
    fake_core: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("b-run", "c-run"):
        (tmp_path / "runs" / name).mkdir(parents=True)
        (tmp_path / "runs" / name / "stats.jsonl").write_text(STATS_LINE)
    monkeypatch.chdir(tmp_path)
    recorder = Recorder()
    pipeline = Pipeline(Invocation(ArtifactPaths(), Settings(), None, None), recorder)
    pipeline.start()
    pipeline.submit(Work(resolve=True, selection=Selection(run=1), stages={4: "start"}))
    recorder.wait_idle(pipeline)
    assert recorder.of(ArtifactsResolved)[-1].paths.log.parent.name == "c-run"
    (tmp_path / "runs" / "a-run").mkdir()  # a new run sorts first: the indices shift
    (tmp_path / "runs" / "a-run" / "stats.jsonl").write_text(STATS_LINE)
    pipeline.submit(Work(resolve=True, rediscover=True, stages={4: "re-run all"}))
    recorder.wait_idle(pipeline)
    pipeline.close()
    resolved = recorder.of(ArtifactsResolved)[-1]
    assert [run.name for run in resolved.found.runs] == ["runs/a-run", "runs/b-run", "runs/c-run"]
    assert resolved.paths.log.parent.name == "c-run" and resolved.selection.run == 2
