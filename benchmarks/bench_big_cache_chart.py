"""Stage 1 on a big cache: when its durations' histogram shows and when its status does,
on cold `--no-cache` launches of synthetic caches of several sizes.

Stage 1's histogram needs the cache read, not the scan of every profile value, and the
child computing stage 1 sends it ahead of the scan (tui/stage_one_ahead.py). The scan
grows with the cache (9.3 M values, the shared Balabit subset, take ~30 ms; 128 M take
~0.4 s), so what that buys depends on the size: this launches timing-tui in a 200x60 tmux
pane, polled like bench_before_torch.py, on caches of `--rows` rows (128 steps each), and
with `--before DIR` another checkout in the same rounds (ABBA), reporting per size the
medians of both markers and the median of the rounds' paired ratios.

    python benchmarks/bench_big_cache_chart.py --runs 7 --before /tmp/before26
"""

from __future__ import annotations

import re
import statistics
import sys

import common
import synthetic

WIDTH, HEIGHT = 200, 60
HISTOGRAM = "Segment duration (s)"
STATUS = "stage 1's status"
STATUS_LINE = re.compile(r"\b1 [a-z]+ +[✔▲✘–!] (pass|warn|fail|skip|error)\b")


def has_status(screen: str) -> bool:
    return bool(STATUS_LINE.search(screen))


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument(
        "--rows",
        default="73000,300000,1000000",
        help="cache sizes in rows, comma-separated (default 73000,300000,1000000)",
    )
    common.add_before_option(p, "both are then launched as `python -P -m tui_timing`")
    args = p.parse_args()
    load_before = common.load_average()
    work = common.work_dir(args.work)
    sizes = [3_000] if args.quick else [int(n) for n in args.rows.split(",")]
    folders = {"": common.REPO}
    if args.before:
        folders["before: "] = common.before_checkout(args.before)
    else:
        common.compile_package()
    tmux = common.Tmux(width=WIDTH, height=HEIGHT)
    rows: list[dict[str, object]] = []
    sides: list[common.Side] = []
    try:
        for size in sizes:
            cache = synthetic.cache_file(work, size)
            launch = [sys.executable, "-P", "-m", "tui_timing", "--cache", str(cache), "--no-cache"]
            group = [
                common.Side(
                    f"{label}timing-tui --no-cache, {size:,} rows",
                    ["env", f"PYTHONPATH={folder}", *launch],
                )
                for label, folder in folders.items()
            ]

            def measure(side: common.Side) -> common.Sample:
                seen = tmux.until(
                    side.command, [HISTOGRAM, STATUS], timeout=300, tests={STATUS: has_status}
                )
                return common.Sample(max(seen.values()), 0.0, 0, extra=seen)

            common.alternate(group, 1 if args.quick else args.runs, measure)
            sides += group
            rows += size_rows(size, group)
    finally:
        tmux.close()
    common.write_results(
        args.results,
        "big_cache_chart",
        rows,
        sides,
        quick=args.quick,
        load_before=load_before,
        notes={
            "before": args.before,
            "pane": f"{WIDTH}x{HEIGHT}",
            "seconds_to_marker": {
                s.name: {m: [round(x.extra[m], 4) for x in s.samples] for m in (HISTOGRAM, STATUS)}
                for s in sides
            },
        },
    )


def size_rows(size: int, group: list[common.Side]) -> list[dict[str, object]]:
    """When the histogram shows against when the status does (below 1: the chart came
    first); with another checkout, each marker against its own in the same rounds (the
    median of the rounds' paired ratios, and in how many rounds this one was sooner)."""
    medians = [
        {m: statistics.median(s.extra[m] for s in side.samples) for m in (HISTOGRAM, STATUS)}
        for side in group
    ]
    rows = [
        common.compare(
            f"{size:,} rows: the histogram vs stage 1's status",
            medians[0][HISTOGRAM],
            medians[0][STATUS],
            None,
        )
    ]
    if len(group) > 1:
        for marker in (HISTOGRAM, STATUS):
            row = common.compare(
                f"{size:,} rows: {marker} vs before", medians[0][marker], medians[1][marker], None
            )
            rows.append({**row, **common.paired(group[0], group[1], marker)})
    return rows


if __name__ == "__main__":
    main()
