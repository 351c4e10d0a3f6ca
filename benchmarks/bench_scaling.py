"""Scaling: stages 1-2 on synthetic caches of 100k and 1M rows (L = 128).

Each run is a child `python benchmarks/stages_driver.py CACHE 1 2`, which loads the cache
and runs stages 1 and 2 through the runner as `timing-tui check` does, and reports the
seconds spent loading and in the stages, and its peak anonymous memory; the benchmark adds
the child's wall time and ru_maxrss. The two sizes run alternately. Targets: the time after
start-up (load + stages) at 10x rows at most 12x; peak anonymous memory at 1M rows at most
1.5x that at 100k, set when large caches were memory-mapped. Now every cache is
read whole (a mapped file truncated in place killed the reader with SIGBUS), so that
memory target is missed by design; see BENCHMARKS.md. `--quick` uses 2k and 20k rows.
"""

from __future__ import annotations

import statistics
import sys

import common
import synthetic


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    args = p.parse_args()
    load_before = common.load_average()
    work = common.work_dir(args.work)
    small_rows, big_rows = (2_000, 20_000) if args.quick else (100_000, 1_000_000)
    sides = []
    for rows in (small_rows, big_rows):
        cache = synthetic.cache_file(work, rows)
        driver = [sys.executable, str(common.BENCH_DIR / "stages_driver.py"), str(cache), "1", "2"]
        sides.append(common.Side(f"stages 1-2, {rows:,} rows", driver))
    small, big = sides

    def measure(side: common.Side) -> common.Sample:
        sample = common.run_child(side.command, capture=True)
        if set(sample.extra["statuses"].values()) - {"pass", "warn"}:
            raise RuntimeError(f"{side.name}: stages did not pass: {sample.extra['statuses']}")
        return sample

    common.alternate(sides, 1 if args.quick else args.runs, measure)

    def median(side: common.Side, key: str) -> float:
        return statistics.median(s.extra[key] for s in side.samples)

    def work_s(sample: common.Sample) -> float:
        return sample.extra["load_s"] + sample.extra["stages_s"]

    rows = [
        common.compare(
            "load + stages 1-2 (after start-up), 10x rows",
            *(statistics.median(work_s(x) for x in s.samples) for s in (big, small)),
            12.0,
        ),
        common.compare(
            "stages 1-2 alone, 10x rows", *(median(s, "stages_s") for s in (big, small)), None
        ),
        common.ratio_row("wall time of the command, 10x rows", big, small, None),
        common.compare(
            "peak anonymous memory, 10x rows",
            *(median(s, "peak_anon_mb") for s in (big, small)),
            1.5,
            unit="MB",
        ),
        common.ratio_row(
            "peak RSS incl. mapped cache pages, 10x rows", big, small, None, memory=True
        ),
    ]
    for row in rows:  # here "timing_tui" is the big cache and "floor" the small one
        row["timing_tui_is"], row["floor_is"] = big.name, small.name
    common.write_results(
        args.results,
        "scaling",
        rows,
        sides,
        quick=args.quick,
        load_before=load_before,
        notes={
            "load_s": {s.name: [x.extra["load_s"] for x in s.samples] for s in sides},
            "stages_s": {s.name: [x.extra["stages_s"] for x in s.samples] for s in sides},
            "peak_anon_mb": {s.name: [x.extra["peak_anon_mb"] for x in s.samples] for s in sides},
            "cache_mb": {
                s.name: round(synthetic.cache_file(work, n).stat().st_size / 1024**2, 1)
                for s, n in zip(sides, (small_rows, big_rows), strict=True)
            },
        },
    )


if __name__ == "__main__":
    main()
