"""CPU time until the first frame: timing-tui's launches against a minimal Textual app's.

bench_before_torch.py times the same launches by the wall clock, which on a loaded machine
measures the load as much as the program. This one counts what each side's own process
spends (`time.process_time()`: all its threads) until its marker is first written to the
terminal, measured from inside by benchmarks/floors/cpu_until.py (it wraps the stream
Textual's driver writes frames to), in a fresh 200x60 tmux pane, the sides alternating
(ABBA) after one warm-up each:

- Textual floor: benchmarks/floors/minimal_textual.py until `minimal textual app`;
- cold (an empty results cache each run; once as is, once `--no-cache`): until the first
  frame (`1 cache`) and until stage 1's plot title `Segment duration (s)`; the forked
  stage-1 child's CPU until then is given beside (on a machine with a free core it runs
  beside the app, so it adds to the wall time only where it is longer than the app's);
- warm (a results cache `timing-tui check` filled once): until the first frame and until
  the stage list shows all seven statuses in one write.

Targets, against the Textual floor: every first frame and the warm statuses at most 1.5x,
the cold histogram at most 2x (the app's CPU; the child's is reported, not judged).

`--instructions` adds, for each side once, the instructions its process executes until its
first frame (`valgrind --tool=cachegrind`): exact and the same at any load, but blind to
memory stalls (a garbage collection walking every object costs more time than its
instruction count says), so it is a guide to what a change removes, not the figure judged.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bench_check
import common

FIRST_FRAME = "1 cache"
PLOT_TITLE = "Segment duration (s)"
ALL_STATUSES = "statuses:7"
TEXTUAL_MARKER = "minimal textual app"
WIDTH, HEIGHT = 200, 60


@dataclass
class Launch:
    """One side: what it runs under floors/cpu_until.py, and each run's figures."""

    name: str
    target: list[str]
    markers: list[str]
    env: list[str] = field(default_factory=list)
    fresh_cache: bool = False
    runs: list[dict[str, Any]] = field(default_factory=list)

    def median(self, marker: str, key: str = "cpu_s") -> float:
        return statistics.median(run["markers"][marker][key] for run in self.runs)


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--raw", default=str(common.DEFAULT_RAW), help="folder of session files")
    p.add_argument(
        "--instructions",
        action="store_true",
        help="also count each side's instructions until its first frame (valgrind)",
    )
    common.add_before_option(p, "its `tui_timing` is imported from DIR (PYTHONPATH)")
    args = p.parse_args()
    load_before = common.load_average()
    work = common.work_dir(args.work)
    cache = bench_check.input_cache(work, Path(args.raw), args.quick)
    common.compile_package()
    scratch = Path(tempfile.mkdtemp(prefix="cpu-", dir=work))
    textual = Launch("minimal Textual app", ["textual"], [TEXTUAL_MARKER])
    groups = {"": timing_tui_launches("", [], cache, scratch / "warm")}
    if args.before:
        env = [f"PYTHONPATH={common.before_checkout(args.before)}"]
        groups["before: "] = timing_tui_launches("before: ", env, cache, scratch / "warm-before")
    launches = [textual, *(x for group in groups.values() for x in group)]
    by_side = {launch.name: launch for launch in launches}
    sides = [common.Side(x.name, [sys.executable, "floors/cpu_until.py", *x.markers, "--",
                                  *x.target]) for x in launches]  # fmt: skip
    tmux = common.Tmux(width=WIDTH, height=HEIGHT)
    count = [0]

    def measure(side: common.Side) -> common.Sample:
        launch = by_side[side.name]
        count[0] += 1
        out = scratch / f"run{count[0]}.json"
        env = [*launch.env]
        if launch.fresh_cache:
            env.append(f"XDG_CACHE_HOME={scratch / f'cold{count[0]}'}")
        command = ["env", *env, sys.executable, str(common.BENCH_DIR / "floors" / "cpu_until.py"),
                   str(out), *launch.markers, "--", *launch.target]  # fmt: skip
        try:
            tmux.until_written(command, out)
        except RuntimeError as exc:  # once seen: a pane that showed nothing; said, tried again
            print(f"warning: {exc}\ntrying that launch again", file=sys.stderr)
            tmux.until_written(command, out)
        figures = json.loads(out.read_text())
        launch.runs.append(figures)
        last = figures["markers"][launch.markers[-1]]
        return common.Sample(last["cpu_s"], 0.0, 0, extra=figures["markers"])

    counts: dict[str, float] = {}
    try:
        common.alternate(sides, 1 if args.quick else args.runs, measure)
        if args.instructions:
            for launch in launches:
                counts[launch.name] = instructions(tmux, launch, scratch)
    finally:
        tmux.close()
    for launch in launches:  # the warm-up's figures are not counted
        del launch.runs[0]
    shutil.rmtree(scratch, ignore_errors=True)
    rows = []
    for label, (cold, warm, no_cache) in groups.items():
        rows += [
            row(label + "warm: all seven statuses", warm, ALL_STATUSES, textual, 1.5),
            row(label + "warm: first frame", warm, FIRST_FRAME, textual, 1.5),
            row(label + "cold: first frame", cold, FIRST_FRAME, textual, 1.5),
            row(label + "cold --no-cache: first frame", no_cache, FIRST_FRAME, textual, 1.5),
            row(label + "cold: stage 1's histogram", cold, PLOT_TITLE, textual, 2.0),
            row(label + "cold --no-cache: stage 1's histogram", no_cache, PLOT_TITLE, textual,
                2.0),
            common.compare(label + "cold: the stage-1 child's CPU until the histogram vs "
                           "Textual's first frame", cold.median(PLOT_TITLE, "children_cpu_s"),
                           textual.median(TEXTUAL_MARKER), None),
        ]  # fmt: skip
        if counts:
            rows += [
                common.compare(f"{x.name}: instructions until the first frame vs Textual's",
                               counts[x.name], counts[textual.name], None, unit="M instructions")
                for x in (warm, cold, no_cache)
            ]  # fmt: skip
    common.write_results(
        args.results,
        "cpu_first_frame",
        rows,
        sides,
        quick=args.quick,
        load_before=load_before,
        notes={
            "pane": f"{WIDTH}x{HEIGHT}",
            "cache": str(cache),
            "before": args.before,
            "figures": {x.name: [run["markers"] for run in x.runs] for x in launches},
            "modules_at_first_frame": {
                x.name: [m for m in x.runs[-1]["modules"] if m.startswith("tui_timing")]
                for x in launches
            },
            "module_count_at_first_frame": {x.name: len(x.runs[-1]["modules"]) for x in launches},
        },
    )


def timing_tui_launches(label: str, env: list[str], cache: Path, warm_home: Path) -> list[Launch]:
    """timing-tui cold, warm (its results cache filled once, by `check`) and cold with
    `--no-cache`, on the benchmark's artifacts, under `env`."""
    artifacts = ["--cache", str(cache), "--checkpoint", str(common.SAMPLE_RUN / "checkpoint.pt"),
                 "--log", str(common.SAMPLE_RUN / "stats.jsonl")]  # fmt: skip
    common.run_child(
        ["env", *env, f"XDG_CACHE_HOME={warm_home}", *common.timing_tui(), "check", *artifacts],
        ok_codes=(0, 1),
    )
    tui = ["timing-tui", *artifacts]
    return [
        Launch(label + "timing-tui, cold", tui, [FIRST_FRAME, PLOT_TITLE], env, fresh_cache=True),
        Launch(label + "timing-tui, warm", tui, [FIRST_FRAME, ALL_STATUSES],
               [*env, f"XDG_CACHE_HOME={warm_home}"]),
        Launch(label + "timing-tui --no-cache, cold", [*tui, "--no-cache"],
               [FIRST_FRAME, PLOT_TITLE], env, fresh_cache=True),
    ]  # fmt: skip


def row(target: str, launch: Launch, marker: str, textual: Launch, limit: float) -> dict[str, Any]:
    """A result row: the medians' ratio, and beside it the median of each round's ratio
    (a launch against the floor of its own round, which the load moved alike)."""
    floor = textual.median(TEXTUAL_MARKER)
    result = common.compare(f"{target} (CPU) vs Textual's first frame", launch.median(marker),
                            floor, limit)  # fmt: skip
    rounds = [
        mine["markers"][marker]["cpu_s"] / base["markers"][TEXTUAL_MARKER]["cpu_s"]
        for mine, base in zip(launch.runs, textual.runs, strict=True)
    ]
    result["ratio_of_rounds"] = round(statistics.median(rounds), 3)
    return result


def instructions(tmux: common.Tmux, launch: Launch, scratch: Path) -> float:
    """Millions of instructions `launch`'s process executes until its first marker (under
    cachegrind, which writes its count when the process exits there)."""
    if shutil.which("valgrind") is None:
        raise RuntimeError("--instructions needs valgrind")
    folder = Path(tempfile.mkdtemp(prefix="cg-", dir=scratch))
    env = [*launch.env, "CPU_UNTIL_EXIT=1"]
    if launch.fresh_cache:
        env.append(f"XDG_CACHE_HOME={folder / 'cache'}")
    out = folder / "figures.json"
    command = ["env", *env, "valgrind", "--tool=cachegrind", "--cache-sim=no",
               f"--cachegrind-out-file={folder}/cg.%p", sys.executable,
               str(common.BENCH_DIR / "floors" / "cpu_until.py"), str(out), launch.markers[0],
               "--", *launch.target]  # fmt: skip
    pid = tmux.until_written(command, out, timeout=600, exits=True)
    summary = re.search(r"^summary: (\d+)", (folder / f"cg.{pid}").read_text(), re.M)
    if summary is None:
        raise RuntimeError(f"no count in {folder / f'cg.{pid}'}")
    return int(summary.group(1)) / 1e6


if __name__ == "__main__":
    main()
