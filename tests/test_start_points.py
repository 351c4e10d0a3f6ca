"""benchmarks/floors/start_points.py still reaches every point of a launch's start (what
bench_start_instructions.py counts instructions up to): each run in a terminal (a pty)
must stop at its point and say so, for the Textual floor and for timing-tui."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sample_paths import CACHE

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH / "floors"))
from start_points import POINTS  # noqa: E402


def reached(tmp_path: Path, point: str, target: list[str]) -> str:
    """What the run wrote as the point it stopped at ("" when it wrote nothing)."""
    out = tmp_path / f"{point}.txt"
    main, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.Popen(
        [sys.executable, str(BENCH / "floors/start_points.py"), point, str(out), "--", *target],
        stdin=follower, stdout=follower, stderr=follower, cwd=tmp_path, env=env,
        start_new_session=True,
    )  # fmt: skip
    os.close(follower)
    try:
        deadline = time.monotonic() + 180  # a guard against a hang, not a timing
        while proc.poll() is None and time.monotonic() < deadline:
            if select.select([main], [], [], 0.1)[0]:
                with contextlib.suppress(OSError):
                    os.read(main, 1 << 16)  # drained, so the app never blocks
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        proc.wait()
        os.close(main)
    return out.read_text() if out.exists() else ""


@pytest.mark.parametrize("point", POINTS)
def test_timing_tui_stops_at_each_point(tmp_path: Path, point: str) -> None:
    assert reached(tmp_path, point, ["timing-tui", "--cache", str(CACHE)]) == point


@pytest.mark.parametrize("point", POINTS[2:])
def test_the_floor_stops_at_each_of_its_points(tmp_path: Path, point: str) -> None:
    assert reached(tmp_path, point, ["textual"]) == point
