"""Many runs: `timing-tui runs --checkpoints` over N runs x K checkpoints on one cache.

The repo is laid out by a child process: the sample cache, and N run folders each holding
K real checkpoints (`epochs/epoch_000k.pt`, the sample runs' weights with a little noise
added per checkpoint, so that every file differs) and the run's stats log. Measured:
- the sweep's wall time and peak memory (a child `timing-tui runs --checkpoints --no-cache
  --format json`), against the per-checkpoint floor measured in the same run: one
  `timing-tui check --no-cache` of one checkpoint (everything, once) and one of stage 1
  alone (start-up plus the shared stage); the sweep should cost about the shared part
  once plus N x K times the difference. Target: peak memory <= 1.5 GB, time <= 1.25x that.
- the latency of `--follow`: with the sweep's results warm in the results cache, a new
  checkpoint is written (atomically, as the package's trainer does) into one run, and the
  time until its row is printed is taken; less one checkpoint's own stages (measured as
  above), that is the pick-up latency (target <= 2 s).
`--quick`: 2 runs x 2 checkpoints, one timed run: checks the benchmark works.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import common

LAYOUT = r"""
import shutil, sys, torch
from pathlib import Path
root, runs, checkpoints = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
sample = Path(sys.argv[4])
shutil.copytree(sample / "datasets", root / "data", dirs_exist_ok=True)
gen = torch.Generator().manual_seed(0)
for r in range(runs):
    source = sample / "runs" / ("increments" if r % 2 == 0 else "linear")
    run = root / "runs" / f"run_{r:03d}"
    (run / "epochs").mkdir(parents=True, exist_ok=True)
    shutil.copy(source / "stats.jsonl", run / "stats.jsonl")
    base = torch.load(source / "checkpoint.pt", weights_only=True)
    for k in range(1, checkpoints + 1):
        state = {
            name: t + 1e-3 * k * torch.randn(t.shape, generator=gen) if t.is_floating_point() else t
            for name, t in base["model"].items()
        }
        torch.save({**base, "model": state, "epoch": k}, run / "epochs" / f"epoch_{k:04d}.pt")
"""

NEW_CHECKPOINT = r"""
import os, sys, time, torch
from pathlib import Path
source, target = Path(sys.argv[1]), Path(sys.argv[2])
checkpoint = torch.load(source, weights_only=True)
part = target.with_name(target.name + ".part")
torch.save(checkpoint, part)
os.replace(part, target)
print(time.time(), flush=True)
"""


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--n-runs", type=int, default=100)
    p.add_argument("--n-checkpoints", type=int, default=5)
    p.add_argument("--follow-only", action="store_true", help="measure the follow latency alone")
    args = p.parse_args()
    runs, checkpoints = (2, 2) if args.quick else (args.n_runs, args.n_checkpoints)
    load_before = common.load_average()
    work = common.work_dir(args.work) / f"runs_{runs}x{checkpoints}"
    if not (work / "data").is_dir():
        subprocess.run(
            [
                sys.executable,
                "-c",
                LAYOUT,
                str(work),
                str(runs),
                str(checkpoints),
                str(common.REPO / "sample_data"),
            ],
            check=True,
        )
    env = {**os.environ, "XDG_CACHE_HOME": str(work / "xdg-cache")}
    tool = common.timing_tui()
    cache = str(work / "data/sample/train_timing.pt")
    one = str(work / "runs/run_000/epochs/epoch_0001.pt")
    if args.follow_only:  # on the results cache a full run left warm
        latency = follow_latency(tool, work, env, cache, checkpoints)
        row = common.compare(
            "follow: rename of a new checkpoint to its row (pick-up + its own stages) vs 2 s",
            latency,
            2.0,
            None,
        )
        common.write_results(
            args.results,
            "runs_follow",
            [row],
            [],
            quick=args.quick,
            load_before=load_before,
            notes={"follow_latency_s": latency},
        )
        return
    full = common.Side(
        "check, one checkpoint",
        [*tool, "check", "--no-cache", "--format", "json", "--cache", cache, "--checkpoint", one],
    )
    shared = common.Side(
        "check --stage 1", [*tool, "check", "--no-cache", "--stage", "1", "--cache", cache]
    )
    sweep = common.Side(
        f"runs, {runs}x{checkpoints}",
        [
            *tool,
            "runs",
            "--checkpoints",
            "--no-cache",
            "--format",
            "json",
            "--cache",
            cache,
            "runs",
        ],
    )
    repeats = 1 if args.quick else max(1, args.runs)
    for side in (full, shared):
        for _ in range(repeats):
            side.samples.append(common.run_child(side.command, ok_codes=(0, 1), env=env, cwd=work))
    sample = common.run_child(sweep.command, ok_codes=(0, 1), env=env, cwd=work, capture=True)
    sweep.samples.append(sample)
    rows_seen = len(sample.extra["runs"])
    if rows_seen != runs * checkpoints:
        raise RuntimeError(f"the sweep printed {rows_seen} rows, expected {runs * checkpoints}")
    per_checkpoint = full.median_s - shared.median_s
    floor = shared.median_s + runs * checkpoints * per_checkpoint
    results = [
        common.compare(
            "sweep time vs shared stages once + N x K per-checkpoint stages",
            sweep.median_s,
            floor,
            1.25,
        ),
        common.compare("sweep peak memory (MB) vs 1.5 GB", sweep.median_mb, 1536.0, 1.0, unit="MB"),
    ]
    # Warm the results cache for the follow run (so its first table costs nothing).
    common.run_child(
        [*tool, "runs", "--checkpoints", "--format", "json", "--cache", cache, "runs"],
        ok_codes=(0, 1),
        env=env,
        cwd=work,
    )
    latency = follow_latency(tool, work, env, cache, checkpoints)
    results.append(
        common.compare(
            "follow: new checkpoint to its row, less its own stages",
            max(latency - per_checkpoint, 0.0),
            2.0,
            1.0,
        )
    )
    notes = {
        "per_checkpoint_s": round(per_checkpoint, 3),
        "follow_latency_s": round(latency, 3),
        "rows": rows_seen,
    }
    common.write_results(
        args.results,
        "runs",
        results,
        [full, shared, sweep],
        quick=args.quick,
        load_before=load_before,
        notes=notes,
    )


def follow_latency(
    tool: list[str], work: Path, env: dict[str, str], cache: str, checkpoints: int
) -> float:
    """Seconds from a new checkpoint's rename into place to its row on stdout (both as
    wall-clock times: the row may come out before the writer's interpreter has exited)."""
    proc = subprocess.Popen(
        [*tool, "runs", "--follow", "--checkpoints", "--format", "jsonl", "--cache", cache, "runs"],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    arrivals: list[tuple[float, str]] = []

    def read(stream: IO[str]) -> None:
        for line in stream:
            arrivals.append((time.time(), line))

    reader = threading.Thread(target=read, args=(proc.stdout,), daemon=True)
    reader.start()
    expected = len(list((work / "runs").glob("*/epochs/*.pt")))
    while len(arrivals) < expected:
        if proc.poll() is not None:
            raise RuntimeError("runs --follow ended before its first table")
        time.sleep(0.05)
    target = work / "runs/run_000/epochs" / f"epoch_{checkpoints + 1:04d}.pt"
    source = work / "runs/run_000/epochs/epoch_0001.pt"
    writer = subprocess.run(
        [sys.executable, "-c", NEW_CHECKPOINT, str(source), str(target)],
        check=True,
        capture_output=True,
        text=True,
    )
    landed = float(writer.stdout.strip())
    try:
        while True:
            for when, line in list(arrivals):
                if json.loads(line)["checkpoint"] == str(target):
                    return when - landed
            if proc.poll() is not None:
                raise RuntimeError("runs --follow ended before the new checkpoint's row")
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait()
        target.unlink()


if __name__ == "__main__":
    main()
