"""A launch against its floors: timing-tui's first frame, stage 1's histogram and a warm
launch's seven statuses, against a minimal Textual app's first frame and `import torch`.

Every side is started in a fresh 200x60 tmux pane and timed by the same poller (see
common.Tmux: `capture-pane` through one control-mode client every 5 ms from the spawn)
until its marker is on screen; the five sides run alternately (ABBA), after one untimed
warm-up each, so that the load of a shared machine lands on all of them alike.

- Textual floor: benchmarks/floors/minimal_textual.py until its first frame shows
  `minimal textual app`.
- torch floor: benchmarks/floors/import_torch.py until it prints `torch imported` (the
  import done; the interpreter's teardown is not counted: timing-tui is not timed to exit).
- cold: an empty results cache (a new $XDG_CACHE_HOME each run), given the cache built
  from the shared Balabit subset (72,741 rows) with the bundled `increments` run's
  checkpoint and stats log: until the first frame (the stage list's `1 cache`) and until
  stage 1's plot title `Segment duration (s)` is drawn (the plot comes with its data);
  once as is and once with `--no-cache`.
- warm: a results cache holding those artifacts' results (written once by `timing-tui
  check`), until the first frame and until the stage list shows all seven statuses.

Targets, against the Textual floor: warm seven statuses and every first frame at most
1.5x, the cold histogram at most 2x. Against torch: the cold histogram and the warm statuses at most
0.4x.
"""

from __future__ import annotations

import re
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import bench_check
import common

FIRST_FRAME = "1 cache"
PLOT_TITLE = "Segment duration (s)"
ALL_STATUSES = "all seven statuses"
TEXTUAL_MARKER = "minimal textual app"
TORCH_MARKER = "torch imported"
#: One stage-list line with a final status: `3 model        ✘ fail`.
STATUS_LINE = r"\b{n} [a-z]+ +[✔▲✘–!] (pass|warn|fail|skip|error)\b"
WIDTH, HEIGHT = 200, 60


def seven_statuses(screen: str) -> bool:
    return all(re.search(STATUS_LINE.format(n=n), screen) for n in range(1, 8))


@dataclass
class Launch:
    """One side: its markers in the order they come; it is timed until the last."""

    side: common.Side
    markers: list[str]
    #: A new empty results cache each run (cold).
    fresh_cache: bool = False
    tests: dict[str, Callable[[str], bool]] = field(default_factory=dict)

    def median(self, marker: str) -> float:
        return statistics.median(s.extra[marker] for s in self.side.samples)


def timing_tui_launches(label: str, tui: list[str], warm_home: Path) -> list[Launch]:
    """Cold, warm and cold `--no-cache` launches of one timing-tui command; the warm one's
    results cache is filled here, once, by that command's `check`."""
    common.run_child(["env", f"XDG_CACHE_HOME={warm_home}", *with_check(tui)], ok_codes=(0, 1))
    cold = Launch(common.Side(f"{label}timing-tui, cold", tui), [FIRST_FRAME, PLOT_TITLE], True)
    no_cache = Launch(
        common.Side(f"{label}timing-tui --no-cache, cold", [*tui, "--no-cache"]),
        [FIRST_FRAME, PLOT_TITLE],
        True,
    )
    warm = Launch(
        common.Side(f"{label}timing-tui, warm", ["env", f"XDG_CACHE_HOME={warm_home}", *tui]),
        [FIRST_FRAME, ALL_STATUSES],
        tests={ALL_STATUSES: seven_statuses},
    )
    return [cold, warm, no_cache]


def paired_rows(mine: list[Launch], before: list[Launch]) -> list[dict[str, object]]:
    """This checkout against the other, round by round, launch by launch and marker by
    marker (`common.paired`)."""
    rows: list[dict[str, object]] = []
    for this, that in zip(mine, before, strict=True):
        for marker in this.markers:
            pair = common.paired(this.side, that.side, marker)
            rows.append({
                "target": f"{this.side.name} vs before, {marker}: median of the rounds' ratios",
                "ratio": pair.pop("paired_ratio"),
                **pair,
            })  # fmt: skip
    return rows


def with_check(tui: list[str]) -> list[str]:
    """The command with `check` before its artifact options."""
    at = tui.index("--cache")
    return [*tui[:at], "check", *tui[at:]]


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--raw", default=str(common.DEFAULT_RAW), help="folder of session files")
    common.add_before_option(
        p, "both are then launched as `python -P -m tui_timing` from their own folder"
    )
    args = p.parse_args()
    load_before = common.load_average()
    work = common.work_dir(args.work)
    cache = bench_check.input_cache(work, Path(args.raw), args.quick)
    artifacts = ["--cache", str(cache), "--checkpoint", str(common.SAMPLE_RUN / "checkpoint.pt"),
                 "--log", str(common.SAMPLE_RUN / "stats.jsonl")]  # fmt: skip
    cold_root = Path(tempfile.mkdtemp(prefix="cold-", dir=work))
    commands = {"": common.timing_tui()}
    if args.before:
        before = common.before_checkout(args.before)
        commands = {
            label: ["env", f"PYTHONPATH={folder}", sys.executable, "-P", "-m", "tui_timing"]
            for label, folder in (("", common.REPO), ("before: ", before))
        }
    homes = {label: Path(tempfile.mkdtemp(prefix="warm-", dir=work)) for label in commands}
    groups = {
        label: timing_tui_launches(label, [*command, *artifacts], homes[label])
        for label, command in commands.items()
    }
    floors = common.BENCH_DIR / "floors"
    textual = Launch(
        common.Side("minimal Textual app: first frame",
                    [sys.executable, str(floors / "minimal_textual.py")]),
        [TEXTUAL_MARKER],
    )  # fmt: skip
    torch = Launch(
        common.Side("import torch: imported", [sys.executable, str(floors / "import_torch.py")]),
        [TORCH_MARKER],
    )
    mine = [x for group in groups.values() for x in group]
    launches = {id(x.side): x for x in (textual, *mine, torch)}
    tmux = common.Tmux(width=WIDTH, height=HEIGHT)
    runs = {"cold": 0}

    def measure(side: common.Side) -> common.Sample:
        launch = launches[id(side)]
        command = side.command
        if launch.fresh_cache:
            runs["cold"] += 1  # an empty results cache every time
            command = ["env", f"XDG_CACHE_HOME={cold_root / str(runs['cold'])}", *command]
        seen = tmux.until(command, launch.markers, tests=launch.tests)
        return common.Sample(seen[launch.markers[-1]], 0.0, 0, extra=seen)

    try:
        common.alternate([x.side for x in launches.values()], 1 if args.quick else args.runs,
                         measure)  # fmt: skip
    finally:
        tmux.close()
        for home in homes.values():
            shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(cold_root, ignore_errors=True)
    frame = textual.median(TEXTUAL_MARKER)
    imported = torch.median(TORCH_MARKER)
    rows = []
    for label, (cold, warm, no_cache) in groups.items():
        rows += [
            common.compare(
                label + "warm: all seven statuses vs Textual's first frame",
                warm.median(ALL_STATUSES),
                frame,
                1.5,
            ),
            common.compare(
                label + "warm: first frame vs Textual's first frame",
                warm.median(FIRST_FRAME),
                frame,
                1.5,
            ),
            common.compare(
                label + "cold: first frame vs Textual's first frame",
                cold.median(FIRST_FRAME),
                frame,
                1.5,
            ),
            common.compare(
                label + "cold --no-cache: first frame vs Textual's first frame",
                no_cache.median(FIRST_FRAME),
                frame,
                1.5,
            ),
            common.compare(
                label + "cold: stage 1's histogram vs Textual's first frame",
                cold.median(PLOT_TITLE),
                frame,
                2.0,
            ),
            common.compare(
                label + "cold --no-cache: stage 1's histogram vs Textual's first frame",
                no_cache.median(PLOT_TITLE),
                frame,
                2.0,
            ),
            common.compare(
                label + "cold: stage 1's histogram vs import torch (imported)",
                cold.median(PLOT_TITLE),
                imported,
                0.4,
            ),
            common.compare(
                label + "warm: all seven statuses vs import torch (imported)",
                warm.median(ALL_STATUSES),
                imported,
                0.4,
            ),
        ]
    rows.append(
        common.compare("Textual's first frame vs import torch (imported)", frame, imported, None)
    )
    if args.before:
        rows += paired_rows(groups[""], groups["before: "])
    common.write_results(
        args.results,
        "before_torch",
        rows,
        [x.side for x in launches.values()],
        quick=args.quick,
        load_before=load_before,
        notes={
            "before": args.before,
            "pane": f"{WIDTH}x{HEIGHT}",
            "poll_s": 0.005,
            "cache": str(cache),
            "markers": {x.side.name: x.markers for x in launches.values()},
            "status_line": STATUS_LINE,
            "seconds_to_marker": {
                x.side.name: {m: [round(s.extra[m], 4) for s in x.side.samples] for m in x.markers}
                for x in launches.values()
            },
        },
    )


if __name__ == "__main__":
    main()
