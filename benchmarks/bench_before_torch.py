"""Stage 1 before torch: the TUI's duration histogram (cold) and a warm launch's seven
statuses, each against `python -c "import torch"` in the same environment.

timing-tui is given the cache built from the shared Balabit subset (72,741 rows) with the
bundled `increments` run's checkpoint and stats log, in a fresh 200x60 tmux pane (see
common.Tmux), `capture-pane` polled every 5 ms from the spawn:
- cold: an empty results cache (a new $XDG_CACHE_HOME each run), until stage 1's plot
  title `Segment duration (s)` is drawn (the plot comes with its data);
- warm: a results cache holding those artifacts' results (written once by `timing-tui
  check` on them), until the stage list shows a status for all seven stages.
Floor: `python -c "import torch"`, a child process timed from spawn to exit. The three run
alternately (cold, warm, floor, then the reverse). Targets: both ratios at most 0.4.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

import bench_check
import common

PLOT_TITLE = "Segment duration (s)"
ALL_STATUSES = "all seven statuses"
#: One stage-list line with a final status: `3 model        ✘ fail`.
STATUS_LINE = r"\b{n} [a-z]+ +[✔▲✘–!] (pass|warn|fail|skip|error)\b"


def seven_statuses(screen: str) -> bool:
    return all(re.search(STATUS_LINE.format(n=n), screen) for n in range(1, 8))


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--raw", default=str(common.DEFAULT_RAW), help="folder of session files")
    args = p.parse_args()
    load_before = common.load_average()
    work = common.work_dir(args.work)
    cache = bench_check.input_cache(work, Path(args.raw), args.quick)
    artifacts = ["--cache", str(cache), "--checkpoint", str(common.SAMPLE_RUN / "checkpoint.pt"),
                 "--log", str(common.SAMPLE_RUN / "stats.jsonl")]  # fmt: skip
    warm_home = Path(tempfile.mkdtemp(prefix="warm-", dir=work))
    cold_root = Path(tempfile.mkdtemp(prefix="cold-", dir=work))
    common.run_child(
        ["env", f"XDG_CACHE_HOME={warm_home}", *common.timing_tui(), "check", *artifacts],
        ok_codes=(0, 1),
    )
    tui = [*common.timing_tui(), *artifacts]
    cold = common.Side("timing-tui, cold: duration histogram on screen", tui)
    warm = common.Side(
        "timing-tui, warm: all seven statuses on screen",
        ["env", f"XDG_CACHE_HOME={warm_home}", *tui],
    )
    floor = common.Side('python -c "import torch"', [sys.executable, "-c", "import torch"])
    tmux = common.Tmux(width=200, height=60)
    runs = {"cold": 0}

    def measure(side: common.Side) -> common.Sample:
        if side is floor:
            return common.run_child(side.command)
        if side is warm:
            seen = tmux.until(side.command, [ALL_STATUSES], tests={ALL_STATUSES: seven_statuses})
            return common.Sample(seen[ALL_STATUSES], 0.0, 0)
        runs["cold"] += 1
        home = cold_root / f"run{runs['cold']}"  # an empty results cache every time
        command = ["env", f"XDG_CACHE_HOME={home}", *side.command]
        return common.Sample(tmux.until(command, [PLOT_TITLE])[PLOT_TITLE], 0.0, 0)

    try:
        common.alternate([cold, warm, floor], 1 if args.quick else args.runs, measure)
    finally:
        tmux.close()
        shutil.rmtree(warm_home, ignore_errors=True)
        shutil.rmtree(cold_root, ignore_errors=True)
    rows = [
        common.ratio_row("cold: stage 1's histogram on screen vs import torch", cold, floor, 0.4),
        common.ratio_row("warm: all seven statuses on screen vs import torch", warm, floor, 0.4),
    ]
    common.write_results(
        args.results,
        "before_torch",
        rows,
        [cold, warm, floor],
        quick=args.quick,
        load_before=load_before,
        notes={
            "pane": "200x60",
            "poll_s": 0.005,
            "cache": str(cache),
            "cold_marker": PLOT_TITLE,
            "warm_marker": STATUS_LINE,
        },
    )


if __name__ == "__main__":
    main()
