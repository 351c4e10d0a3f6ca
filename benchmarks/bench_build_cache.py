"""`timing-tui build-cache` on the shared Balabit subset vs the parse floor.

Floor: `python benchmarks/floors/parse_floor.py RAW`, which imports torch and pandas and
`pandas.read_csv`s every file, the least a Python tool turning these CSVs into a torch
cache must do. Target: timing-tui / floor at most 1.5 (aim 1.2), medians of alternate runs.
`--quick` builds from two small synthetic session files instead (no shared data needed).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import common
import synthetic


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--raw", default=str(common.DEFAULT_RAW), help="folder of session files")
    args = p.parse_args()
    load_before = common.load_average()
    work = common.work_dir(args.work)
    raw = Path(args.raw)
    if args.quick:
        raw = synthetic.write_raw_sessions(work / "raw_quick", files=2, events=2_000)
    elif not raw.is_dir():
        sys.exit(f"no raw sessions at {raw} (give --raw, or --quick for synthetic ones)")
    out = work / "build"
    tui = common.Side(
        "timing-tui build-cache",
        [*common.timing_tui(), "build-cache", str(raw), "--out", str(out), "--id", "bench",
         "--split", "train"],
    )  # fmt: skip
    floor = common.Side(
        "import torch, pandas + pandas.read_csv",
        [sys.executable, str(common.BENCH_DIR / "floors" / "parse_floor.py"), str(raw)],
    )
    runs = 1 if args.quick else args.runs

    def measure(side: common.Side) -> common.Sample:
        if side is tui:
            shutil.rmtree(out, ignore_errors=True)  # every run writes a fresh cache
        return common.run_child(side.command)

    common.alternate([tui, floor], runs, measure, warmup=not args.quick)
    rows = [common.ratio_row("build-cache vs parse floor (time)", tui, floor, 1.5)]
    common.write_results(
        args.results,
        "build_cache",
        rows,
        [tui, floor],
        quick=args.quick,
        load_before=load_before,
        notes={"raw": str(raw), "aim": 1.2},
    )


if __name__ == "__main__":
    main()
