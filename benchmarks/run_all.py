"""Run every benchmark, each in its own interpreter, and print one table of the results.

    python benchmarks/run_all.py              # all of them, 5 timed runs a side
    python benchmarks/run_all.py --quick      # tiny inputs, one run: does everything work?
    python benchmarks/run_all.py --only check --only scaling --runs 7

Each benchmark writes `benchmarks/results/<name>.json` (`<name>.quick.json` with --quick);
this script then writes `summary.md` beside them. A benchmark that cannot run here (no
tmux, no TensorBoard, no shared Balabit data) is listed with its reason, the others still
run, and the exit code is 1. See BENCHMARKS.md for what each one measures and the last results.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import common

#: Each benchmark's name and script, in the order they run.
BENCHMARKS = {
    "build_cache": "bench_build_cache.py",
    "check": "bench_check.py",
    "first_paint": "bench_first_paint.py",
    "before_torch": "bench_before_torch.py",
    "scaling": "bench_scaling.py",
    "peer": "bench_peer.py",
    "threads": "bench_threads.py",
    "gpu": "bench_gpu.py",
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="repeatable")
    p.add_argument("--runs", type=int, default=5, help="timed runs of each side (default 5)")
    p.add_argument("--quick", action="store_true", help="tiny inputs, one run each")
    p.add_argument("--work", help="folder for built inputs (default $TMPDIR/timing-tui-bench)")
    p.add_argument("--results", default=str(common.RESULTS_DIR), help="results folder")
    args = p.parse_args()
    results = Path(args.results)
    failures: dict[str, str] = {}
    for name in args.only or BENCHMARKS:
        command = [sys.executable, str(common.BENCH_DIR / BENCHMARKS[name]), "--runs",
                   str(args.runs), "--results", str(results)]  # fmt: skip
        if args.quick:
            command.append("--quick")
        if args.work:
            command += ["--work", args.work]
        print(f"== {name}: {common.shell_line(command)}", file=sys.stderr, flush=True)
        done = subprocess.run(command, cwd=common.REPO, capture_output=True, text=True)
        sys.stderr.write(done.stdout)
        if done.returncode != 0:
            failures[name] = (done.stderr.strip().splitlines() or ["no message"])[-1]
            print(f"   not run: {failures[name]}", file=sys.stderr)
    table = summary(results, args.only or list(BENCHMARKS), args.quick, failures)
    (results / f"summary{'.quick' if args.quick else ''}.md").write_text(table)
    print(table)
    sys.exit(1 if failures else 0)


def summary(results: Path, names: list[str], quick: bool, failures: dict[str, str]) -> str:
    """A markdown table of every result row, with the machine and load of each benchmark."""
    lines = [
        "| benchmark | target | timing-tui | floor | ratio | limit | met |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    notes = []
    for name in names:
        if name in failures:
            lines.append(f"| {name} | not run: {failures[name]} | | | | | |")
            continue
        path = results / f"{name}{'.quick' if quick else ''}.json"
        data = json.loads(path.read_text())
        for row in data["rows"]:
            if "device" in row:  # the GPU benchmark: seconds per device, no floor
                lines.append(
                    f"| {name} | {row['target']} ({row['device']}) | {row['median_s']} s | | | | |"
                )
                continue
            met = {True: "yes", False: "**no**", None: "n/a"}[row["met"]]
            limit = "" if row["limit"] is None else f"≤ {row['limit']}"
            lines.append(
                f"| {name} | {row['target']} | {row['timing_tui']} {row['unit']} "
                f"| {row['floor']} {row['unit']} | {row['ratio']} | {limit} | {met} |"
            )
        machine = data["machine"]
        notes.append(
            f"- {name}: {data['date']}, `{data['command']}`; {machine['cores']} cores, "
            f"{machine['memory_gb']} GB, {machine['cpu']}, GPU {machine['gpu'] or 'none'}; "
            f"load {data['load_average_before']} → {data['load_average_after']}"
        )
    return "\n".join([*lines, "", *notes, ""])


if __name__ == "__main__":
    main()
