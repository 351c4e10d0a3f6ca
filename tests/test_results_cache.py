"""The results cache (docs/cli.md#results-cache): exact round trips, keys, misses, bounds, wiring.

Real results throughout: the stages run on the bundled sample data and on the malformed
corpus's caches, and the cache is a real folder under a per-test $XDG_CACHE_HOME.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from tui_timing.cli import main
from tui_timing.config import ArtifactPaths, Invocation, Settings
from tui_timing.findings import Report
from tui_timing.report.json_report import render_json
from tui_timing.report.result_codec import decode_result, encode, encode_result
from tui_timing.report.results_cache import (
    MAX_ENTRY_BYTES,
    MAX_HASH_BYTES,
    CachedStage,
    ResultsCache,
    cache_folder,
    now,
    stamps,
)
from tui_timing.resources import sample_data_dir
from tui_timing.stages.context import StageContext
from tui_timing.stages.runner import check_report, checked_context, resolve_paths

SAMPLE = sample_data_dir()
RUN = SAMPLE / "runs" / "increments"


def sample_paths(folder: Path | None = None) -> ArtifactPaths:
    """The bundled sample's artifacts (copied into `folder` when given, to edit them)."""
    files = {
        "cache": SAMPLE / "datasets" / "sample" / "train_timing.pt",
        "checkpoint": RUN / "checkpoint.pt",
        "log": RUN / "stats.jsonl",
        "eval": SAMPLE / "eval" / "eval.pt",
    }
    if folder is not None:
        for kind, path in list(files.items()):
            copy = folder / kind / path.name
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(path.read_bytes())
            files[kind] = copy
        summary = SAMPLE / "datasets" / "sample" / "train_summary.json"
        (folder / "cache" / summary.name).write_bytes(summary.read_bytes())
    return resolve_paths(ArtifactPaths(**files))


SETTINGS = Settings(samples=256)


@pytest.fixture(scope="module")
def sample_run() -> tuple[StageContext, Report]:
    ctx = checked_context(sample_paths(), SETTINGS, None)
    return ctx, check_report(ctx, None)


def same(a: Any, b: Any) -> bool:
    """Equal, of the same types all the way down (NaN equal to NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if hasattr(a, "__dataclass_fields__"):
        return all(same(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__)
    return bool(a == b)


def round_trip(result: Any) -> Any:
    return decode_result(json.loads(json.dumps(encode_result(result), allow_nan=False)))


# --- the codec ------------------------------------------------------------------------------


def test_every_stage_result_round_trips_exactly(sample_run: tuple[StageContext, Report]) -> None:
    ctx, report = sample_run
    assert sorted(ctx.results) == [1, 2, 3, 4, 5, 6, 7]
    for result in ctx.results.values():
        assert same(round_trip(result), result), result.id
    decoded = [round_trip(stage) for stage in report.stages]
    again = Report(report.artifacts, decoded, decoded[-1].decision, report.error)
    assert render_json(again) == render_json(report)


def test_the_corpus_caches_round_trip(small_cache: Path, tmp_path: Path) -> None:
    """Stage 1 on planted faults (NaN, inf, masks, shapes): odd values in every field."""
    import test_malformed_corpus as malformed

    base = torch.load(small_cache, weights_only=True)
    for case in malformed.CACHES:
        if case.build.__qualname__.startswith(("_npz", "_bytes", "_cut")):
            continue
        path = tmp_path / f"{case.id}_timing.pt"
        case.build(malformed._copy(base), path)
        ctx = checked_context(ArtifactPaths(cache=path), Settings(), 1)
        result = ctx.results[1]
        assert same(round_trip(result), result), case.id
        report = check_report(ctx, 1)
        again = Report(report.artifacts, [round_trip(result)], None, report.error)
        assert render_json(again) == render_json(report), case.id


def test_values_json_loses_come_back() -> None:
    value = {
        "t": (1, 2.5, (None, "x")),
        3: [math.nan, math.inf, -math.inf, -0.0],
        "~odd": np.float32(1.5),
        (1, 2): np.array([[1, 2]], dtype=np.int16),
        "c": 1 + 2j,
        "b": np.bool_(True),
    }
    back = json.loads(json.dumps(encode(value), allow_nan=False))
    from tui_timing.report.result_codec import decode

    assert same(decode(back), value)


# --- the store ------------------------------------------------------------------------------


def keep(
    cache: ResultsCache, ctx: StageContext, report: Report, paths: ArtifactPaths | None = None
) -> bool:
    paths = paths or ctx.paths
    moved = StageContext(
        paths=paths, settings=ctx.settings, artifacts=ctx.artifacts, results=ctx.results
    )
    return cache.store_context(moved, stamps(paths), report)


def test_a_stored_run_is_found_as_it_was(
    sample_run: tuple[StageContext, Report], results_cache_folder: Path
) -> None:
    ctx, report = sample_run
    cache = ResultsCache()
    assert cache.folder == results_cache_folder == cache_folder()
    assert cache.lookup(ctx.paths, SETTINGS) is None
    assert keep(cache, ctx, report)
    found = cache.lookup(ctx.paths, SETTINGS)
    assert found is not None and sorted(found.stages) == [1, 2, 3, 4, 5, 6, 7]
    for sid, cached in found.stages.items():
        assert same(cached.result, ctx.results[sid])
        assert cached.computed[:4].isdigit()
    assert list((results_cache_folder / "entries").glob(".*")) == []  # no temporary left


def test_another_setting_or_tolerance_misses(sample_run: tuple[StageContext, Report]) -> None:
    ctx, report = sample_run
    cache = ResultsCache()
    assert keep(cache, ctx, report)
    assert cache.lookup(ctx.paths, Settings(samples=512)) is None
    from dataclasses import replace

    looser = replace(SETTINGS, tolerances=replace(SETTINGS.tolerances, ks_max=0.2))
    assert cache.lookup(ctx.paths, looser) is None
    assert cache.lookup(ctx.paths, SETTINGS) is not None


def test_a_changed_artifact_misses(sample_run: tuple[StageContext, Report], tmp_path: Path) -> None:
    """A touched file (size or mtime differ) is not trusted; an edited one has another
    hash; results computed on a file that changed before they were stored are not kept."""
    ctx, report = sample_run
    paths = sample_paths(tmp_path)
    cache = ResultsCache()
    assert keep(cache, ctx, report, paths)
    assert cache.lookup(paths, SETTINGS) is not None
    log = paths.log
    assert log is not None
    os.utime(log, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert cache.lookup(paths, SETTINGS) is None
    assert keep(cache, ctx, report, paths)  # the same bytes: stored again under the stamp
    assert cache.lookup(paths, SETTINGS) is not None
    log.write_text(log.read_text() + "\n")
    assert cache.lookup(paths, SETTINGS) is None
    before = stamps(paths)
    log.write_text(log.read_text() + "\n")
    stages = {1: CachedStage(ctx.results[1], now())}
    assert not cache.store(paths, SETTINGS, before, stages, {})


def test_corrupt_and_foreign_entries_are_misses_and_rewritten(
    sample_run: tuple[StageContext, Report], results_cache_folder: Path
) -> None:
    ctx, report = sample_run
    cache = ResultsCache()
    assert keep(cache, ctx, report)
    (entry,) = (results_cache_folder / "entries").glob("*.json")
    good = entry.read_bytes()
    for bad in (
        b"",
        good[: len(good) // 2],
        b"\x00\xff" * 100,
        json.dumps({"format": 1, "key": {"other": 1}, "stages": {}, "errors": {}}).encode(),
        good.replace(b'"~dc":"Check"', b'"~dc":"Popen"', 1),
        good.replace(b'"computed":"', b'"computed":7,"x":"', 1),
    ):
        entry.write_bytes(bad)
        assert cache.lookup(ctx.paths, SETTINGS) is None
    assert keep(cache, ctx, report)
    assert entry.read_bytes() != bad
    assert cache.lookup(ctx.paths, SETTINGS) is not None
    # a file's recorded hash: damaged, or another file's
    records = sorted((results_cache_folder / "hashes").glob("*.json"))
    assert len(records) == len(ctx.paths.given())
    other = records[1].read_bytes()
    for bad in (b"{", b"[]", other):
        records[0].write_bytes(bad)
        assert cache.lookup(ctx.paths, SETTINGS) is None
        assert keep(cache, ctx, report)
        assert cache.lookup(ctx.paths, SETTINGS) is not None


def test_runs_with_the_users_own_code_are_not_kept(
    sample_run: tuple[StageContext, Report],
) -> None:
    ctx, _ = sample_run
    theirs = Settings(samples=256, model_spec="their_repo.models:build")
    cache = ResultsCache()
    stages = {1: CachedStage(ctx.results[1], now())}
    assert not cache.store(ctx.paths, theirs, stamps(ctx.paths), stages, {})
    assert cache.lookup(ctx.paths, theirs) is None


def test_the_folder_is_kept_under_its_bound(
    sample_run: tuple[StageContext, Report], results_cache_folder: Path
) -> None:
    ctx, report = sample_run
    one = ResultsCache()
    assert keep(one, ctx, report)
    size = next((results_cache_folder / "entries").glob("*.json")).stat().st_size
    cache = ResultsCache(max_bytes=3 * size + size // 2)
    stages = {sid: CachedStage(r, now()) for sid, r in ctx.results.items()}
    for seed in range(8):
        settings = Settings(samples=256, seed=seed)
        assert cache.store(ctx.paths, settings, stamps(ctx.paths), stages, {})
        time.sleep(0.01)  # distinct mtimes: least recently used goes first
    entries = list((results_cache_folder / "entries").glob("*.json"))
    assert len(entries) == 3 and sum(e.stat().st_size for e in entries) <= cache.max_bytes
    assert cache.lookup(ctx.paths, Settings(samples=256, seed=7)) is not None
    assert cache.lookup(ctx.paths, Settings(samples=256, seed=0)) is None


def test_an_unwritable_cache_is_never_fatal(
    sample_run: tuple[StageContext, Report], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, report = sample_run
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert not keep(ResultsCache(), ctx, report)
    assert ResultsCache().lookup(ctx.paths, SETTINGS) is None
    args = ["check", "--cache", str(SAMPLE / "datasets/sample/train_timing.pt"), "--stage", "1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output


# --- a folder others can reach ---------------------------------------------------------------


def test_the_folder_is_private_whatever_the_umask(
    sample_run: tuple[StageContext, Report], results_cache_folder: Path
) -> None:
    """Under umask 000 the folders were 0777 and the entries 0666: anyone could forge one.
    Now 0700 and 0600; an entry another user could write is not read."""
    ctx, report = sample_run
    before = os.umask(0)
    try:
        assert keep(ResultsCache(), ctx, report)
    finally:
        os.umask(before)
    for folder in (results_cache_folder, results_cache_folder / "entries"):
        assert folder.stat().st_mode & 0o777 == 0o700, oct(folder.stat().st_mode)
    (entry,) = (results_cache_folder / "entries").glob("*.json")
    assert entry.stat().st_mode & 0o777 == 0o600
    assert ResultsCache().lookup(ctx.paths, SETTINGS) is not None
    entry.chmod(0o666)
    assert ResultsCache().lookup(ctx.paths, SETTINGS) is None


def lookup_finishes(cache: ResultsCache, paths: ArtifactPaths) -> Any:
    """The lookup's answer; a lookup that hangs (the defect) fails instead of stalling."""
    answer: list[Any] = []
    worker = threading.Thread(target=lambda: answer.append(cache.lookup(paths, SETTINGS)))
    worker.daemon = True
    worker.start()
    worker.join(timeout=120)  # a safety net against the hang, not a timing
    assert not worker.is_alive(), "the lookup hangs"
    return answer[0]


def test_a_fifo_at_a_hash_record_is_a_miss(
    sample_run: tuple[StageContext, Report], results_cache_folder: Path
) -> None:
    """A FIFO at a hash record hung `check` for good."""
    ctx, report = sample_run
    cache = ResultsCache()
    assert keep(cache, ctx, report)
    record = cache._hash_path(ctx.paths.cache)  # the file to plant
    record.unlink()
    os.mkfifo(record, 0o600)
    assert lookup_finishes(cache, ctx.paths) is None


@pytest.mark.parametrize("record", ["entry", "hash"])
def test_a_record_past_its_size_cap_is_a_miss_unread(
    sample_run: tuple[StageContext, Report], results_cache_folder: Path, record: str
) -> None:
    """A 3 GB record was read whole (a MemoryError): a record is read up to its cap only.
    Here a record still valid JSON, padded to its cap (read: a hit) and one byte past it
    (a miss), which a read without the cap would take as a hit."""
    ctx, report = sample_run
    cache = ResultsCache()
    assert keep(cache, ctx, report)
    if record == "entry":
        (path,) = (results_cache_folder / "entries").glob("*.json")
        cap = MAX_ENTRY_BYTES
    else:
        path, cap = cache._hash_path(ctx.paths.cache), MAX_HASH_BYTES
    with path.open("a") as handle:  # whitespace after the object: the same JSON
        handle.write(" " * (cap - path.stat().st_size))
    assert lookup_finishes(cache, ctx.paths) is not None
    with path.open("a") as handle:
        handle.write(" ")
    assert path.stat().st_size == cap + 1 and json.loads(path.read_text())
    assert lookup_finishes(cache, ctx.paths) is None


def test_odd_items_never_stop_pruning_and_a_linked_folder_is_left_alone(
    sample_run: tuple[StageContext, Report], results_cache_folder: Path, tmp_path: Path
) -> None:
    """A folder named like an entry stopped pruning for good; with entries/ a link to
    another folder, pruning deleted that folder's files."""
    ctx, report = sample_run
    assert keep(ResultsCache(), ctx, report)
    entries = results_cache_folder / "entries"
    size = next(entries.glob("*.json")).stat().st_size
    (entries / "odd.json").mkdir()
    os.mkfifo(entries / "pipe.json")
    cache = ResultsCache(max_bytes=2 * size + size // 2)
    stages = {sid: CachedStage(r, now()) for sid, r in ctx.results.items()}
    for seed in range(5):
        settings = Settings(samples=256, seed=seed)
        assert cache.store(ctx.paths, settings, stamps(ctx.paths), stages, {})
        time.sleep(0.01)  # distinct mtimes: least recently used goes first
    kept = [e for e in entries.glob("*.json") if e.is_file() and not e.is_fifo()]
    assert len(kept) == 2 and sum(e.stat().st_size for e in kept) <= cache.max_bytes
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.json").write_text("{}")
    shutil.rmtree(entries)
    entries.symlink_to(theirs)
    assert not cache.store(ctx.paths, SETTINGS, stamps(ctx.paths), stages, {})
    cache.prune()
    assert (theirs / "notes.json").read_text() == "{}"
    assert cache.lookup(ctx.paths, SETTINGS) is None


# --- check and the TUI ----------------------------------------------------------------------


def test_check_writes_the_cache_and_no_cache_does_not(results_cache_folder: Path) -> None:
    cache_file = SAMPLE / "datasets" / "sample" / "train_timing.pt"
    args = ["check", "--cache", str(cache_file), "--stage", "1", "--format", "json"]
    done = CliRunner().invoke(main, [*args, "--no-cache"])
    assert done.exit_code == 0 and not results_cache_folder.exists()
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0
    found = ResultsCache().lookup(resolve_paths(ArtifactPaths(cache=cache_file)), Settings())
    assert found is not None and sorted(found.stages) == [1]
    reported = json.loads(done.stdout)["stages"][0]
    assert found.stages[1].result.as_dict() == reported


def app_invocation(paths: ArtifactPaths, no_cache: bool = False) -> Invocation:
    return Invocation(
        paths=paths, settings=SETTINGS, scratchpad=None, theme=None, no_cache=no_cache
    )


async def settle(pilot: Any, app: Any, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not app.is_idle:
        assert time.monotonic() < deadline, "the stages did not finish in time"
        await pilot.pause(0.05)
    await pilot.pause()


@pytest.mark.asyncio
async def test_a_second_launch_shows_every_stage_from_the_cache(tmp_path: Path) -> None:
    from tui_timing.tui.app import TimingApp

    paths = sample_paths()
    first = TimingApp(app_invocation(paths), cwd=tmp_path)
    async with first.run_test(size=(120, 40)) as pilot:
        await settle(pilot, first)
        computed = {sid: state.result for sid, state in first.states.items()}
        assert all(state.cached_at == "" for state in first.states.values())
    second = TimingApp(app_invocation(paths), cwd=tmp_path)
    async with second.run_test(size=(120, 40)) as pilot:
        await settle(pilot, second)
        for sid, state in second.states.items():
            assert state.cached_at and state.runs == 1, sid
            assert same(state.result, computed[sid]), sid
        text = "\n".join(s.text for s in second.screen._compositor.render_strips())
        assert "from cache · computed" in text
        await pilot.press("r")  # the stage on show (1) and the decision are computed again
        await settle(pilot, second)
        assert [sid for sid, s in second.states.items() if not s.cached_at] == [1, 7]
        await pilot.press("R")
        await settle(pilot, second)
        assert all(not s.cached_at for s in second.states.values())
    third = TimingApp(app_invocation(paths, no_cache=True), cwd=tmp_path)
    async with third.run_test(size=(120, 40)) as pilot:
        await settle(pilot, third)
        assert all(not s.cached_at for s in third.states.values())


WARM_LAUNCH = """
import asyncio, sys, time
from tui_timing.config import ArtifactPaths, Invocation, Settings
from tui_timing.tui.app import TimingApp

async def main():
    paths = ArtifactPaths(cache=__import__("pathlib").Path(sys.argv[1]))
    app = TimingApp(Invocation(paths=paths, settings=Settings(), scratchpad=None, theme=None))
    async with app.run_test(size=(120, 40)) as pilot:
        deadline = time.monotonic() + 60
        while not all(s.cached_at for s in app.states.values()):
            assert time.monotonic() < deadline, [s.phase for s in app.states.values()]
            await pilot.pause(0.05)
    assert "torch" not in sys.modules, "torch was imported"
    print("warm")

asyncio.run(main())
"""


def test_a_warm_launch_does_not_import_torch(tmp_path: Path) -> None:
    """Every stage shown from the cache, in a process that never imported torch."""
    cache_file = SAMPLE / "datasets" / "sample" / "train_timing.pt"
    done = CliRunner().invoke(main, ["check", "--cache", str(cache_file)])
    assert done.exit_code in (0, 1), done.output
    run = subprocess.run(
        [sys.executable, "-c", WARM_LAUNCH, str(cache_file)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 0 and "warm" in run.stdout, run.stderr[-3000:]


FIRST_PAINT = """
import json, os, sys, time
from pathlib import Path
from tui_timing.config import ArtifactPaths, Invocation, Settings
from tui_timing.report.results_cache import ResultsCache
from tui_timing.resources import sample_data_dir
from tui_timing.stages.runner import resolve_paths
from tui_timing.tui.messages import StageFinished
from tui_timing.tui.pipeline import Pipeline, Work

sample, run = sample_data_dir(), sample_data_dir() / "runs" / "increments"
paths = resolve_paths(ArtifactPaths(cache=sample / "datasets/sample/train_timing.pt",
    checkpoint=run / "checkpoint.pt", log=run / "stats.jsonl", eval=sample / "eval/eval.pt"))
SETTINGS = Settings(samples=256)
posted = []
invocation = Invocation(paths=paths, settings=SETTINGS, scratchpad=None, theme=None)
pipeline = Pipeline(invocation, posted.append, paint_wait_s=60)
pipeline.start()
pipeline.submit(Work(resolve=True, stages=dict.fromkeys(range(1, 8), "start")))
deadline = time.monotonic() + 60
while not any(isinstance(m, StageFinished) for m in posted):
    assert time.monotonic() < deadline, "stage 1 did not finish"
    time.sleep(0.01)
torch_before = "torch" in sys.modules
pipeline.close()  # what the app does when it quits, here before stage 1 is drawn
found = ResultsCache().lookup(paths, SETTINGS)
finished = [m.stage for m in posted if isinstance(m, StageFinished)]
stored = sorted(found.stages) if found else []
print(json.dumps({"torch": torch_before, "finished": finished, "stored": stored}))
os._exit(0)  # the stages' thread may be importing torch: a daemon, it dies here
"""


def test_stage_1_is_shown_before_torch_and_kept_when_quitting_at_once(tmp_path: Path) -> None:
    """A cold launch on the sample (cache, checkpoint, log, eval dump) posts stage 1's
    result before torch is imported, and quitting then still stores it: it is stored under
    the stamps of the artifacts not loaded yet, and closing waits for that."""
    run = subprocess.run(
        [sys.executable, "-c", FIRST_PAINT],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    outcome = json.loads(run.stdout.splitlines()[-1])
    assert outcome == {"torch": False, "finished": [1], "stored": [1]}, outcome


#: A research repo's dataset (tests/research_repos.py keeps theirs under src/): an edit
#: of this code changes stage 2's result, and nothing in the artifacts says so.
USER_DATASET = """
import torch
from torch.utils.data import Dataset


class Rows(Dataset):
    def __init__(self, path):
        self.c = torch.load(path, weights_only=True)

    def __len__(self):
        return self.c["duration"].shape[0]

    def __getitem__(self, i):
        item = {k: self.c[k][i] for k in
                ("duration", "log_duration", "profile", "mask", "length", "features")}
        item["log_duration"] = item["log_duration"] * SCALE
        return item
"""


def test_a_plugin_run_is_never_served_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, results_cache_folder: Path
) -> None:
    """A repo whose table names its own dataset: `check` stores nothing, so the next run
    (the TUI's too: lookup misses) runs the edited code instead of showing stale results."""
    from tui_timing.cli import build_invocation

    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    data = SAMPLE / "datasets" / "sample"
    for name in ("train_timing.pt", "train_summary.json"):
        (repo / name).write_bytes((data / name).read_bytes())
    (repo / "pyproject.toml").write_text(
        '[tool.timing-tui]\npythonpath = ["src"]\ncache = "train_timing.pt"\n'
        'dataset = "cache_test_rows:Rows"\n'
    )
    monkeypatch.chdir(repo)
    monkeypatch.setattr(sys, "path", list(sys.path))
    outcomes = []
    for scale in ("1.0", "2.0"):  # the user's edit between two launches
        (repo / "src" / "cache_test_rows.py").write_text(USER_DATASET.replace("SCALE", scale))
        sys.modules.pop("cache_test_rows", None)  # a new launch imports it anew
        done = CliRunner().invoke(main, ["check", "--stage", "2", "--format", "json"])
        assert done.exit_code in (0, 1), done.output
        (stage,) = json.loads(done.stdout)["stages"]
        outcomes.append({c["id"]: c["status"] for c in stage["checks"]})
        invocation = build_invocation({})
        assert invocation.settings.dataset_spec == "cache_test_rows:Rows"
        paths = resolve_paths(invocation.paths)
        assert ResultsCache().lookup(paths, invocation.settings) is None
    assert outcomes[0]["dataset.log_duration"] == "pass"
    assert outcomes[1]["dataset.log_duration"] == "fail"
    assert not (results_cache_folder / "entries").exists()
