"""`timing-tui check` (stages 1-5, capacity probe included) vs loading the cache with torch.

timing-tui: `timing-tui check --cache C --checkpoint sample_data/runs/increments/
checkpoint.pt --log sample_data/runs/increments/stats.jsonl` (no eval dump: stage 6 skips,
stage 7 decides), C the cache built from the shared Balabit subset. Floor:
`python -c "import torch, sys; torch.load(sys.argv[1], weights_only=True)" C`.
Targets: time ratio at most 6.0; peak memory (the child's ru_maxrss) at most 1.5x the
floor's. `--quick` uses a 3,000-row synthetic cache.
"""

from __future__ import annotations

import sys
from pathlib import Path

import common
import synthetic

FLOOR = "import torch, sys; torch.load(sys.argv[1], weights_only=True)"


def input_cache(work: Path, raw: Path, quick: bool) -> Path:
    """The cache of the shared subset, built once with timing-tui itself (`quick`: a
    3,000-row synthetic cache)."""
    if quick:
        return synthetic.cache_file(work, 3_000)
    path = work / "check" / "balabit" / "train_timing.pt"
    if not path.exists():
        if not raw.is_dir():
            sys.exit(f"no raw sessions at {raw} (give --raw, or --quick for a synthetic cache)")
        common.run_child(
            [*common.timing_tui(), "build-cache", str(raw), "--out", str(path.parent.parent),
             "--id", "balabit", "--split", "train"]
        )  # fmt: skip
    return path


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--raw", default=str(common.DEFAULT_RAW), help="folder of session files")
    args = p.parse_args()
    load_before = common.load_average()
    work = common.work_dir(args.work)
    cache = input_cache(work, Path(args.raw), args.quick)
    tui = common.Side(
        "timing-tui check (stages 1-5)",
        [*common.timing_tui(), "check", "--cache", str(cache),
         "--checkpoint", str(common.SAMPLE_RUN / "checkpoint.pt"),
         "--log", str(common.SAMPLE_RUN / "stats.jsonl"), "--format", "json"],
    )  # fmt: skip
    floor = common.Side("torch.load(cache)", [sys.executable, "-c", FLOOR, str(cache)])
    runs = 1 if args.quick else args.runs

    def measure(side: common.Side) -> common.Sample:
        # exit 1 is a finding (a failed check), not a broken run
        return common.run_child(side.command, ok_codes=(0, 1))

    common.alternate([tui, floor], runs, measure, warmup=not args.quick)
    rows = [
        common.ratio_row("check vs torch.load (time)", tui, floor, 6.0),
        common.ratio_row("check vs torch.load (peak memory)", tui, floor, 1.5, memory=True),
    ]
    common.write_results(
        args.results,
        "check",
        rows,
        [tui, floor],
        quick=args.quick,
        load_before=load_before,
        notes={"cache": str(cache), "cache_mb": round(cache.stat().st_size / 1024**2, 1)},
    )


if __name__ == "__main__":
    main()
