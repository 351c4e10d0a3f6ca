"""Run some stages on a cache the way `timing-tui check` does, and print what it cost.

The scaling benchmark's child, and a per-stage profile of `check`: load the artifacts and
run the stages through the runner (`load_artifacts`, `run_stage`), then print JSON with the
seconds spent loading, in the stages (start-up and `import torch` excluded: they do not
grow with the rows) and in each stage, the peak anonymous memory (sampled every 10 ms from
/proc/self/status: unlike ru_maxrss it leaves out the pages of a memory-mapped cache, which
the kernel can drop) and each stage's status.

    python benchmarks/stages_driver.py CACHE 1 2
    python benchmarks/stages_driver.py CACHE 1 2 3 4 5 --checkpoint CKPT --log STATS
    python benchmarks/stages_driver.py CACHE 1 2 --all-threads   # without the one-thread rule
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import time
from pathlib import Path

from tui_timing.config import ArtifactPaths, Settings
from tui_timing.stages import runner


class AnonPeak:
    """The largest RssAnon seen by a background thread (Linux; 0 elsewhere)."""

    def __init__(self, interval: float = 0.01) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)
        self._thread.start()

    def _read(self) -> int:
        try:
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("RssAnon:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.peak_kb = max(self.peak_kb, self._read())

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(self.peak_kb, self._read()) / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("cache", type=Path)
    p.add_argument("stages", type=int, nargs="+")
    p.add_argument("--checkpoint", type=Path)
    p.add_argument("--log", type=Path)
    p.add_argument(
        "--all-threads",
        action="store_true",
        help="run the stages on torch's default thread count, not on one thread as shipped",
    )
    args = p.parse_args()
    if args.all_threads:
        runner.one_cpu_thread = contextlib.nullcontext
    peak = AnonPeak()
    start = time.perf_counter()
    paths = ArtifactPaths(cache=args.cache, checkpoint=args.checkpoint, log=args.log)
    ctx = runner.load_artifacts(paths, Settings())
    loaded = time.perf_counter()
    stage_s, statuses = {}, {}
    for stage in args.stages:
        begin = time.perf_counter()
        statuses[str(stage)] = runner.run_stage(ctx, stage).status
        stage_s[str(stage)] = round(time.perf_counter() - begin, 4)
    done = time.perf_counter()
    figures = {
        "load_s": round(loaded - start, 4),
        "stages_s": round(done - loaded, 4),
        "stage_s": stage_s,
        "peak_anon_mb": round(peak.stop(), 1),
        "statuses": statuses,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
