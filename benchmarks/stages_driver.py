"""Run some stages on a cache the way `timing-tui check` does, and print what it cost.

The scaling benchmark's child: load the artifacts and run the stages through the runner
(`load_artifacts`, `run_stages`), then print JSON with the seconds spent loading and in the
stages (start-up and `import torch` excluded: they do not grow with the rows), the peak
anonymous memory (sampled every 10 ms from /proc/self/status: unlike ru_maxrss it leaves
out the pages of a memory-mapped cache, which the kernel can drop) and each stage's status.
Usage: python benchmarks/stages_driver.py CACHE STAGE [STAGE ...]
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

from tui_timing.config import Settings
from tui_timing.stages.context import ArtifactPaths
from tui_timing.stages.runner import load_artifacts, run_stages


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


def main(cache: str, stages: list[int]) -> None:
    peak = AnonPeak()
    start = time.perf_counter()
    ctx = load_artifacts(ArtifactPaths(cache=Path(cache)), Settings())
    loaded = time.perf_counter()
    results = run_stages(ctx, stages)
    done = time.perf_counter()
    figures = {
        "load_s": round(loaded - start, 4),
        "stages_s": round(done - loaded, 4),
        "peak_anon_mb": round(peak.stop(), 1),
        "statuses": {str(r.id): r.status for r in results},
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main(sys.argv[1], [int(s) for s in sys.argv[2:]])
