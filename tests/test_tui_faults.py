"""The TUI under faults: artifacts deleted, cut off or replaced while they
are watched, a stats log rotated, a storm of resizes. Each time the app keeps running,
every stage finishes, and the pane of the stage concerned says what happened: asserted on
the text the terminal actually shows, through Textual's pilot.

A cache rewritten in place while a stage reads it is the one fault that could kill the
process outright (SIGBUS from a memory-mapped file), so it is tested in a real process.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from tui_timing.config import ArtifactPaths, Invocation, Settings
from tui_timing.tui.app import TimingApp
from tui_timing.tui.panes.stage_pane import StagePane

STEPS, FEATURES = 16, 6


def write_cache(path: Path, rows: int) -> Path:
    """A small valid cache (docs/artifacts.md#timing-cache), written in place like a user's own
    script would."""
    generator = torch.Generator().manual_seed(rows)
    length = torch.randint(2, STEPS + 1, (rows,), generator=generator)
    mask = torch.arange(STEPS)[None, :] < length[:, None]
    weights = torch.exp(-0.3 * torch.arange(STEPS).float())[None, :] * mask
    duration = 0.2 + torch.rand(rows, generator=generator)
    cache = {
        "duration": duration,
        "log_duration": duration.log(),
        "profile": weights / weights.sum(dim=1, keepdim=True),
        "mask": mask,
        "length": length,
        "features": torch.randn(rows, FEATURES, generator=generator),
        "meta": {"dataset_id": "faults", "split": "train", "max_len": STEPS},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(cache, path)
    return path


def log_text(epochs: range) -> str:
    """stats.jsonl lines (docs/artifacts.md#stats-log) of a run whose loss falls."""
    records = [
        {
            "epoch": epoch,
            "split": split,
            "loss": 2.0 / epoch,
            "duration_nll": 1.0 / epoch,
            "profile_loss": 1.0 / epoch,
            "dur_mu": 0.1,
            "dur_sigma": 0.6,
            "profile_first": 0.3,
            "profile_mid": 0.01,
            "profile_last": 0.001,
            "time": float(epoch),
        }
        for epoch in epochs
        for split in ("train", "val")
    ]
    return "".join(json.dumps(r) + "\n" for r in records)


def screen_text(app: TimingApp) -> str:
    """The terminal's text right now, whitespace runs folded."""
    lines = (strip.text for strip in app.screen._compositor.render_strips())
    return " ".join(" ".join(lines).split())


def pane_says(app: TimingApp, stage: int, *phrases: str) -> bool:
    """Whether the stage's pane, as drawn, shows each phrase. Whitespace is dropped on
    both sides: the pane wraps long paths anywhere."""
    region = app.query_one(f"#pane-{stage}").region
    strips = app.screen._compositor.render_strips()[region.y : region.bottom]
    drawn = "".join("".join(s.crop(region.x, region.right).text for s in strips).split())
    return all("".join(phrase.split()) in drawn for phrase in phrases)


async def pane_holds(pilot, app: TimingApp, stage: int, *phrases: str) -> bool:
    """Whether the stage's pane, scrolled from top to bottom a page at a time as a user
    would, shows each phrase (the passing checks come after the charts)."""
    pane = app.query_one(f"#pane-{stage}", StagePane)
    region = pane.region
    pages: list[str] = []
    while True:
        await pilot.pause()
        strips = app.screen._compositor.render_strips()[region.y : region.bottom]
        pages.append("".join(s.crop(region.x, region.right).text for s in strips))
        if pane.scroll_y >= pane.max_scroll_y:
            break
        pane.scroll_to(y=pane.scroll_y + region.height, animate=False, immediate=True)
    pane.scroll_home(animate=False, immediate=True)
    await pilot.pause()
    drawn = "".join("".join(pages).split())
    return all("".join(phrase.split()) in drawn for phrase in phrases)


async def wait_until(pilot, condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.05)


def all_done(app: TimingApp) -> bool:
    return app.is_idle and all(state.phase == "done" for state in app.states.values())


async def rerun_after(pilot, app: TimingApp, stage: int, fault: Callable[[], None]) -> None:
    """Apply `fault` and wait until the watcher has re-run `stage` and everything settled."""
    runs = app.states[stage].runs
    fault()
    await wait_until(pilot, lambda: app.states[stage].runs > runs and all_done(app))
    await pilot.press(str(stage))
    await pilot.pause()


def assert_alive(app: TimingApp) -> None:
    """Running, every stage finished, and no stage failed inside timing-tui itself."""
    assert app.is_running
    assert all(state.phase == "done" for state in app.states.values())
    internal = [
        check.message
        for state in app.states.values()
        if state.result is not None
        for check in state.result.checks
        if check.id.endswith(".internal")
    ]
    assert internal == []


def start(cache: Path | None = None, log: Path | None = None) -> TimingApp:
    invocation = Invocation(
        paths=ArtifactPaths(cache=cache, log=log),
        settings=Settings(samples=64),
        scratchpad=None,
        theme=None,
    )
    return TimingApp(invocation, cwd=cache.parent if cache else log.parent if log else None)


@pytest.mark.asyncio
async def test_cache_deleted_cut_off_restored_and_replaced(tmp_path: Path) -> None:
    """One watched cache through four faults in a row; stage 1's pane tracks each."""
    cache = write_cache(tmp_path / "datasets" / "x" / "train_timing.pt", rows=40)
    app = start(cache=cache)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: all_done(app))
        assert pane_says(app, 1, "40 rows")

        await rerun_after(pilot, app, 1, cache.unlink)
        assert pane_says(app, 1, "cannot use the cache:", "train_timing.pt: file not found")
        assert pane_says(app, 1, "(train_timing.pt changed)")
        assert_alive(app)

        intact = write_cache(tmp_path / "keep" / "train_timing.pt", rows=40).read_bytes()
        await rerun_after(pilot, app, 1, lambda: cache.write_bytes(intact[: len(intact) // 3]))
        assert pane_says(app, 1, "cannot use the cache:", "truncated or damaged file")
        assert_alive(app)

        await rerun_after(pilot, app, 1, lambda: cache.write_bytes(intact))
        assert not pane_says(app, 1, "cannot use the cache") and pane_says(app, 1, "40 rows")
        assert app.states[1].result is not None and app.states[1].result.status == "pass"

        def replace() -> None:  # an atomic replace by a rebuild: a new inode, 25 rows
            os.replace(write_cache(tmp_path / "new" / "train_timing.pt", rows=25), cache)

        await rerun_after(pilot, app, 1, replace)
        assert pane_says(app, 1, "25 rows")
        assert_alive(app)


@pytest.mark.asyncio
async def test_stats_log_rotated(tmp_path: Path) -> None:
    """logrotate's two styles: rename and create a new empty log; copy and truncate in
    place. Stage 4 says the log is empty, then picks up the new run as it grows."""
    log = tmp_path / "runs" / "a" / "stats.jsonl"
    log.parent.mkdir(parents=True)
    log.write_text(log_text(range(1, 6)))
    app = start(log=log)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: all_done(app))
        await pilot.press("4")
        assert await pane_holds(pilot, app, 4, "Read 5 epochs")

        def rename_and_create() -> None:
            log.rename(log.with_name("stats.jsonl.1"))
            log.touch()

        await rerun_after(pilot, app, 4, rename_and_create)
        assert pane_says(app, 4, "cannot use the log:", "stats.jsonl: the log is empty")
        assert_alive(app)

        await rerun_after(pilot, app, 4, lambda: log.write_text(log_text(range(1, 3))))
        assert not pane_says(app, 4, "cannot use the log")
        assert await pane_holds(pilot, app, 4, "Read 2 epochs")

        def copy_and_truncate() -> None:
            log.with_name("stats.jsonl.2").write_text(log.read_text())
            with log.open("r+") as handle:
                handle.truncate(0)

        await rerun_after(pilot, app, 4, copy_and_truncate)
        assert pane_says(app, 4, "stats.jsonl: the log is empty")

        def half_a_line() -> None:  # the new run's first epoch, still being written
            log.write_text(log_text(range(1, 2)) + '{"epoch": 2, "split": "tr')

        await rerun_after(pilot, app, 4, half_a_line)
        assert not pane_says(app, 4, "cannot use the log")
        assert await pane_holds(pilot, app, 4, "Read 1 epochs", "incomplete")
        assert_alive(app)


@pytest.mark.asyncio
async def test_resize_storm(tmp_path: Path) -> None:
    """Two dozen resizes, down to a single cell and up to a wall, while the stages re-run:
    the app keeps running and, back at a usable size, shows the stage in full."""
    cache = write_cache(tmp_path / "datasets" / "x" / "train_timing.pt", rows=40)
    log = tmp_path / "runs" / "a" / "stats.jsonl"
    log.parent.mkdir(parents=True)
    log.write_text(log_text(range(1, 6)))
    app = start(cache=cache, log=log)
    sizes = [(1, 1), (10, 3), (40, 12), (80, 24), (2, 50), (200, 5)] * 3 + [(240, 80)]
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: all_done(app))
        await pilot.press("R")
        for n, (width, height) in enumerate([*sizes, (30, 8), (30, 9), (31, 8), (29, 8)]):
            await pilot.resize_terminal(width, height)
            if n % 5 == 0:
                await pilot.press("n")
        await pilot.resize_terminal(100, 30)
        await wait_until(pilot, lambda: all_done(app))
        await pilot.press("1")
        await pilot.pause()
        lines = [strip.text for strip in app.screen._compositor.render_strips()]
        assert len(lines) == 30 and all(len(line) <= 100 for line in lines)
        assert "Stage 1 · Cache integrity" in screen_text(app)
        assert_alive(app)


def test_a_cache_rewritten_in_place_cannot_kill_a_reader(tmp_path: Path) -> None:
    """A user's script re-saves the cache with a plain torch.save (which truncates the file
    first) while a stage still reads the one it loaded. Were the cache memory-mapped, the
    next read would kill the process with SIGBUS (no Python handler runs); every cache is
    read into memory, so the stage finishes on the data it loaded."""
    cache = write_cache(tmp_path / "train_timing.pt", rows=20_000)
    script = (
        "import sys, torch\n"
        "from tui_timing.artifacts.cache import load_cache\n"
        "raw = load_cache(sys.argv[1])\n"
        "before = float(raw.values['profile'].sum())\n"
        "open(sys.argv[1], 'r+b').truncate(64)\n"
        "assert float(raw.values['profile'].sum()) == before\n"
        "print('read after truncation')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(cache)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert "read after truncation" in done.stdout


@pytest.mark.asyncio
async def test_a_bracket_in_a_file_cannot_crash_the_app(tmp_path: Path) -> None:
    """A cache without `profile` whose keys include `profile[`: the error names the keys."""
    cache = tmp_path / "datasets" / "x" / "train_timing.pt"
    cache.parent.mkdir(parents=True)
    torch.save({"duration": torch.ones(2), "features": torch.ones(2, 1), "profile[": 1}, cache)
    app = start(cache=cache)
    async with app.run_test(size=(120, 40)) as pilot:
        # Not pilot.pause: on a crashed app it waits ~20 s before giving up.
        deadline = time.monotonic() + 30
        while not all_done(app) and getattr(app, "_exception", None) is None:
            assert time.monotonic() < deadline, "timed out"
            await asyncio.sleep(0.05)
        assert getattr(app, "_exception", None) is None, "the app crashed"
        await pilot.pause()
        assert pane_says(app, 1, "cannot use the cache:", "profile[")
        assert_alive(app)


@pytest.mark.asyncio
async def test_control_characters_from_a_file_are_not_sent_to_the_terminal(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "datasets" / "x" / "train_timing.pt"
    cache.parent.mkdir(parents=True)
    hostile = "\x1b]0;owned\x1b\\\u202ereversed"
    torch.save({"duration": torch.ones(2), "features": torch.ones(2, 1), hostile: 1}, cache)
    app = start(cache=cache)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: all_done(app))
        assert pane_says(app, 1, "cannot use the cache:", "owned")
        sent = "".join(
            seg.text for strip in app.screen._compositor.render_strips() for seg in strip
        )
        assert "\x1b" not in sent and "\u202e" not in sent
        assert_alive(app)
