"""TUI first paint in tmux: timing-tui vs a minimal Textual app, timed the same way.

Both are started in a fresh 160x50 tmux pane (`tmux new-session -d ... 'exec COMMAND'`),
and `tmux capture-pane -p` is polled every 5 ms. First paint: the seconds from the spawn
until the pane first shows the app's first line of content, `1 cache` (timing-tui's stage
list) or `minimal textual app` (benchmarks/floors/minimal_textual.py). Full first screen:
until the footer's `q quit` is shown as well. Target: first paint ratio at most 2.0.
timing-tui is given the same artifacts as the check benchmark.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import bench_check
import common

FOOTER = "q quit"


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--raw", default=str(common.DEFAULT_RAW), help="folder of session files")
    args = p.parse_args()
    load_before = common.load_average()
    work = common.work_dir(args.work)
    cache = bench_check.input_cache(work, Path(args.raw), args.quick)
    tui = common.Side(
        "timing-tui (TUI)",
        [*common.timing_tui(), "--cache", str(cache),
         "--checkpoint", str(common.SAMPLE_RUN / "checkpoint.pt"),
         "--log", str(common.SAMPLE_RUN / "stats.jsonl")],
    )  # fmt: skip
    floor = common.Side(
        "minimal Textual app",
        [sys.executable, str(common.BENCH_DIR / "floors" / "minimal_textual.py")],
    )
    first_line = {tui.name: "1 cache", floor.name: "minimal textual app"}
    tmux = common.Tmux()

    def measure(side: common.Side) -> common.Sample:
        seen = tmux.until(side.command, [first_line[side.name], FOOTER])
        return common.Sample(
            seconds=seen[first_line[side.name]],
            maxrss_mb=0.0,
            returncode=0,
            extra={"full_screen_s": seen[FOOTER]},
        )

    try:
        common.alternate([tui, floor], 1 if args.quick else args.runs, measure)
    finally:
        tmux.close()
    rows = [common.ratio_row("TUI first paint vs minimal Textual app", tui, floor, 2.0)]
    full = [statistics.median(x.extra["full_screen_s"] for x in s.samples) for s in (tui, floor)]
    rows.append(
        common.compare(
            "TUI full first screen (footer shown) vs minimal Textual app", *full, limit=2.0
        )
    )
    common.write_results(
        args.results,
        "first_paint",
        rows,
        [tui, floor],
        quick=args.quick,
        load_before=load_before,
        notes={
            "first_paint_markers": first_line,
            "full_screen_marker": FOOTER,
            "full_screen_s": {
                s.name: [round(x.extra["full_screen_s"], 4) for x in s.samples]
                for s in (tui, floor)
            },
            "pane": "160x50",
            "poll_s": 0.005,
        },
    )


if __name__ == "__main__":
    main()
