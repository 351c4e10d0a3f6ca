"""A launch asks the results cache before Textual is imported: a warm launch's first frame
shows every cached status, with neither torch nor numpy imported and no child forked (its
charts come a frame later); a miss leaves stage 1 to the child."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from tui_timing.cli import main
from tui_timing.config import ArtifactPaths, Invocation, Settings
from tui_timing.resources import sample_data_dir
from tui_timing.stages.runner import resolve_paths
from tui_timing.tui.launch_lookup import LaunchLookup, look_up

CACHE = sample_data_dir() / "datasets" / "sample" / "train_timing.pt"

#: As the CLI starts the TUI; the app's pipeline starts right after the first frame, which
#: is when what that frame showed (and what was imported for it) is recorded.
FIRST_FRAME = """
import asyncio, json, sys
from pathlib import Path
from tui_timing.config import ArtifactPaths, Invocation, Settings
from tui_timing.tui.launch_lookup import look_up
from tui_timing.tui.stage_one_ahead import StageOneAhead

invocation = Invocation(ArtifactPaths(cache=Path(sys.argv[1])), Settings(), None, None)
lookup = look_up(invocation)
ahead = StageOneAhead.start(invocation, lookup)
from tui_timing.tui.app import TimingApp

seen = {}
#: Not before the first frame: torch and numpy, and the stages' runner and context (the
#: pipeline thread's, with the checks' tables), which the look in the results cache does
#: without.
HEAVY = (
    "torch", "numpy", "tui_timing.stages.runner", "tui_timing.stages.checks",
    "tui_timing.stages.context",
)

class Probe(TimingApp):
    def _start_pipeline(self):
        if not seen:
            seen["phases"] = [s.phase for s in self.states.values()]
            seen["imported"] = sorted(m for m in HEAVY if m in sys.modules)
            strips = self.screen._compositor.render_strips()
            seen["screen"] = "\\n".join(strip.text for strip in strips)
        super()._start_pipeline()

async def run():
    app = Probe(invocation, ahead=ahead, lookup=lookup)
    async with app.run_test(size=(120, 40)) as pilot:
        while not seen or not app.query("#pane-1 PlotView"):  # the charts a frame later
            await pilot.pause(0.05)
        seen["charts"] = [view.data.title for view in app.query("#pane-1 PlotView")]
        seen["meta"] = str(app.query_one("#pane-1 .pane-meta").render())
    print(json.dumps({**seen, "forked": ahead is not None}))

asyncio.run(run())
"""


def test_a_warm_launchs_first_frame_shows_every_cached_status_before_torch_or_numpy(
    tmp_path: Path,
) -> None:
    done = CliRunner().invoke(main, ["check", "--cache", str(CACHE)])
    assert done.exit_code in (0, 1), done.output
    run = subprocess.run(
        [sys.executable, "-c", FIRST_FRAME, str(CACHE)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    first = json.loads(run.stdout.splitlines()[-1])
    assert first["phases"] == ["done"] * 7, first
    assert first["imported"] == [], first
    assert not first["forked"], "a child was forked to find out what the cache holds"
    screen = first["screen"]
    assert "pending" not in screen and "7 decision    ▲ warn" in screen, screen
    # the pane, mounted right after that frame, shows the cached result and its charts
    assert "from cache" in first["meta"], first["meta"]
    assert "Segment duration (s)" in first["charts"], first["charts"]


def test_a_miss_is_asked_once_and_no_cache_asks_nothing() -> None:
    invocation = Invocation(ArtifactPaths(cache=CACHE), Settings(), None, None)
    miss = look_up(invocation)
    assert miss == LaunchLookup(paths=resolve_paths(ArtifactPaths(cache=CACHE)), asked=True)
    assert not miss.holds(1)
    off = Invocation(ArtifactPaths(cache=CACHE), Settings(), None, None, no_cache=True)
    assert look_up(off) == LaunchLookup()
