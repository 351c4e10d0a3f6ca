"""The stages on one CPU thread (as shipped) vs torch's default thread count.

stages/runner.py runs every stage on one intra-op thread: on a busy machine OpenMP workers
wait for cores, and the stages' tensors are small. This benchmark keeps that choice
honest on the machine at hand: `python benchmarks/stages_driver.py CACHE 1 2 3 4 5`
with and without `--all-threads`, alternately, on the check benchmark's cache (stages 1-5,
capacity probe included) and on the 1M-row synthetic cache (stages 1-2). It reports the
seconds in the stages; a ratio above 1 means one thread is slower here. `--quick`: 3,000
and 20,000 synthetic rows, stages 1-2 on both.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import bench_check
import common
import synthetic


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--raw", default=str(common.DEFAULT_RAW), help="folder of session files")
    p.add_argument(
        "--synthetic-check",
        type=int,
        help="use a synthetic cache of this many rows for stages 1-5 (no Balabit data needed)",
    )
    args = p.parse_args()
    load_before = common.load_average()
    work = common.work_dir(args.work)
    if args.synthetic_check:
        check_cache = synthetic.cache_file(work, args.synthetic_check)
    else:
        check_cache = bench_check.input_cache(work, Path(args.raw), args.quick)
    big_cache = synthetic.cache_file(work, 20_000 if args.quick else 1_000_000)
    driver = [sys.executable, str(common.BENCH_DIR / "stages_driver.py")]
    run = ["--checkpoint", str(common.SAMPLE_RUN / "checkpoint.pt"),
           "--log", str(common.SAMPLE_RUN / "stats.jsonl")]  # fmt: skip
    first = "12" if args.quick else "12345"  # --quick: that it runs, not the probe's time
    cases = [
        (f"stages 1-{first[-1]}, {check_cache.parent.name}", [str(check_cache), *first, *run]),
        (f"stages 1-2, {big_cache.parent.name}", [str(big_cache), "1", "2"]),
    ]
    rows, sides = [], []
    for label, arguments in cases:
        one = common.Side(f"{label}, one thread", [*driver, *arguments])
        many = common.Side(f"{label}, default threads", [*driver, *arguments, "--all-threads"])
        common.alternate(
            [one, many],
            1 if args.quick else args.runs,
            lambda side: common.run_child(side.command, capture=True),
        )
        seconds = [
            statistics.median(s.extra["stages_s"] for s in side.samples) for side in (one, many)
        ]
        rows.append(common.compare(f"{label}: one thread vs default threads", *seconds, None))
        sides += [one, many]
    common.write_results(
        args.results, "threads", rows, sides, quick=args.quick, load_before=load_before
    )


if __name__ == "__main__":
    main()
