"""Where a launch's start goes, in instructions: each step's count against the floor's.

Wall and CPU time on a shared machine move by 10-20% from one minute to the next; an
instruction count does not (±0.5% here, the forked child's timing aside). Each side runs
in a fresh 200x60 tmux pane under `valgrind --tool=cachegrind`, once per point of its start
(benchmarks/floors/start_points.py ends it there), and each step is the difference
between two successive points:

- Textual floor (floors/minimal_textual.py): `app` (Textual imported), `init`, `run`,
  `frame` (its first frame composed);
- timing-tui, warm (a results cache `timing-tui check` filled) and cold (an empty one):
  `cli` (the command line imported), `lookup` (the launch's look in the results cache),
  `app` (the app imported, Textual with it), `init`, `run`, `frame`.

Counts are blind to memory stalls and to the other core (the forked stage-1 child is not
counted), so this is where the parent's own work goes, not the time judged
(bench_before_torch.py). `--before DIR` counts a second checkout the same way.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import bench_check
import common

WIDTH, HEIGHT = 200, 60
FLOOR_POINTS = ("app", "init", "run", "frame")
POINTS = ("cli", "lookup", "app", "init", "run", "frame")


def count(tmux: common.Tmux, point: str, target: list[str], env: list[str], scratch: Path) -> float:
    """Millions of instructions until `point` of the target's start."""
    folder = Path(tempfile.mkdtemp(prefix="cg-", dir=scratch))
    out = folder / "reached"
    command = ["env", *env, "valgrind", "--tool=cachegrind", "--cache-sim=no",
               f"--cachegrind-out-file={folder}/cg.%p", sys.executable,
               str(common.BENCH_DIR / "floors" / "start_points.py"), point, str(out), "--",
               *target]  # fmt: skip
    pid = tmux.until_written(command, out, timeout=600, exits=True)
    summary = re.search(r"^summary: (\d+)", (folder / f"cg.{pid}").read_text(), re.M)
    if summary is None:
        raise RuntimeError(f"no count in {folder / f'cg.{pid}'}")
    return int(summary.group(1)) / 1e6


def steps(counts: dict[str, float]) -> dict[str, float]:
    """Each point's count less the one before it (the first: from the interpreter's start)."""
    out: dict[str, float] = {}
    before = 0.0
    for point, value in counts.items():
        out[point] = round(value - before, 1)
        before = value
    return out


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--raw", default=str(common.DEFAULT_RAW), help="folder of session files")
    common.add_before_option(p, "its `tui_timing` is imported from DIR (PYTHONPATH)")
    args = p.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("this benchmark needs valgrind")
    load_before = common.load_average()
    work = common.work_dir(args.work)
    cache = bench_check.input_cache(work, Path(args.raw), args.quick)
    common.compile_package()
    scratch = Path(tempfile.mkdtemp(prefix="start-", dir=work))
    artifacts = ["--cache", str(cache), "--checkpoint", str(common.SAMPLE_RUN / "checkpoint.pt"),
                 "--log", str(common.SAMPLE_RUN / "stats.jsonl")]  # fmt: skip
    checkouts = {"": []}
    if args.before:
        checkouts["before: "] = [f"PYTHONPATH={common.before_checkout(args.before)}"]
    tmux = common.Tmux(width=WIDTH, height=HEIGHT)
    figures: dict[str, dict[str, float]] = {}
    try:
        floor = {pt: count(tmux, pt, ["textual"], [], scratch) for pt in FLOOR_POINTS}
        figures["Textual floor"] = floor
        for index, (label, env) in enumerate(checkouts.items()):
            warm = scratch / f"warm{index}"
            common.run_child(
                ["env", *env, f"XDG_CACHE_HOME={warm}", *common.timing_tui(), "check",
                 *artifacts],
                ok_codes=(0, 1),
            )  # fmt: skip
            for name, fresh in (("warm", False), ("cold", True)):
                counts = {}
                for point in POINTS:  # cold: an empty results cache each time
                    home = scratch / f"cold{index}-{point}" if fresh else warm
                    launch = [*env, f"XDG_CACHE_HOME={home}"]
                    counts[point] = count(tmux, point, ["timing-tui", *artifacts], launch, scratch)
                figures[f"{label}timing-tui, {name}"] = counts
    finally:
        tmux.close()
        shutil.rmtree(scratch, ignore_errors=True)
    rows: list[dict[str, Any]] = []
    for name, counts in figures.items():
        if name == "Textual floor":
            continue
        rows.append(
            common.compare(f"{name}: instructions until the first frame vs Textual's",
                           counts["frame"], floor["frame"], 1.5, unit="M instructions")
        )  # fmt: skip
        rows.append(
            common.compare(f"{name}: from App.run to the first frame vs Textual's",
                           counts["frame"] - counts["run"], floor["frame"] - floor["run"], None,
                           unit="M instructions")
        )  # fmt: skip
    for name, counts in figures.items():
        print(f"{name}: " + ", ".join(f"{k} +{v:g}M" for k, v in steps(counts).items()))
    common.write_results(
        args.results,
        "start_instructions",
        rows,
        [],
        quick=args.quick,
        load_before=load_before,
        notes={
            "pane": f"{WIDTH}x{HEIGHT}",
            "cache": str(cache),
            "before": args.before,
            "counts_M": figures,
            "steps_M": {name: steps(counts) for name, counts in figures.items()},
        },
    )


if __name__ == "__main__":
    main()
