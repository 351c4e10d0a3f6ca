"""Peer: command to a duration histogram on screen, timing-tui vs TensorBoard.

timing-tui: `timing-tui --cache C` in a fresh 200x60 tmux pane with an empty results cache
(a new $XDG_CACHE_HOME each run), until `capture-pane` shows the title of stage 1's
duration plot, `Segment duration (s)` (the plot is drawn with its data, once stage 1 has
finished). TensorBoard: `tensorboard --logdir D` on the same
durations written beforehand with `SummaryWriter.add_histogram`
(benchmarks/floors/tb_write.py), until its HTTP API
(`/data/plugin/histograms/histograms?run=.&tag=duration`) first returns the histogram,
polled every 10 ms. Writing the event file is timed too, and reported beside. The sides
run alternately; TensorBoard comes from the `bench` extra (`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import bench_check
import common

PLOT_TITLE = "Segment duration (s)"
#: TensorBoard as this interpreter imports it (a venv made with --system-site-packages has
#: the package but no `tensorboard` script of its own), as the smoke test finds it.
TENSORBOARD = [sys.executable, "-m", "tensorboard.main"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tensorboard_until_histogram(logdir: Path, timeout: float = 120.0) -> float:
    """Seconds from spawning TensorBoard until its API returns the `duration` histogram."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/data/plugin/histograms/histograms?run=.&tag=duration"
    command = [
        *TENSORBOARD,
        "--logdir", str(logdir), "--port", str(port), "--host", "127.0.0.1",
    ]  # fmt: skip
    start = time.perf_counter()
    # its own process group: TensorBoard starts a data server beside itself
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        while True:
            with (
                contextlib.suppress(OSError, urllib.error.URLError, ValueError),
                urllib.request.urlopen(url, timeout=1) as response,
            ):
                if json.loads(response.read()):
                    return time.perf_counter() - start
            if proc.poll() is not None:
                raise RuntimeError(f"tensorboard exited {proc.returncode} before serving")
            if time.perf_counter() - start > timeout:
                raise RuntimeError(f"tensorboard served no histogram in {timeout:.0f} s")
            time.sleep(0.01)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--raw", default=str(common.DEFAULT_RAW), help="folder of session files")
    args = p.parse_args()
    if importlib.util.find_spec("tensorboard") is None:
        sys.exit("tensorboard is not installed here: pip install -e '.[bench]'")
    load_before = common.load_average()
    work = common.work_dir(args.work)
    cache = bench_check.input_cache(work, Path(args.raw), args.quick)
    logdir = work / "tensorboard"
    tui = common.Side("timing-tui (stage 1 plot)", [*common.timing_tui(), "--cache", str(cache)])
    board = common.Side(
        "tensorboard --logdir",
        [*TENSORBOARD, "--logdir", str(logdir), "--port", "PORT", "--host", "127.0.0.1"],
    )
    writer = common.Side(
        "SummaryWriter.add_histogram (setup, beside)",
        [sys.executable, str(common.BENCH_DIR / "floors" / "tb_write.py"), str(cache), str(logdir)],
    )
    tmux = common.Tmux(width=200, height=60)
    cold_root = Path(tempfile.mkdtemp(prefix="cold-", dir=work))
    runs = {"tui": 0}

    def measure(side: common.Side) -> common.Sample:
        if side is tui:
            runs["tui"] += 1  # an empty results cache every time: stage 1 is computed
            command = ["env", f"XDG_CACHE_HOME={cold_root / str(runs['tui'])}", *side.command]
            seconds = tmux.until(command, [PLOT_TITLE])[PLOT_TITLE]
            return common.Sample(seconds, 0.0, 0)
        shutil.rmtree(logdir, ignore_errors=True)
        writer.samples.append(common.run_child(writer.command))
        return common.Sample(tensorboard_until_histogram(logdir), 0.0, 0)

    try:
        common.alternate([tui, board], 1 if args.quick else args.runs, measure)
    finally:
        tmux.close()
        shutil.rmtree(cold_root, ignore_errors=True)
    writer.samples = writer.samples[-len(board.samples) :]  # drop the warm-up's
    rows = [
        common.ratio_row("duration histogram: timing-tui vs TensorBoard", tui, board, None),
        common.compare(
            "duration histogram: timing-tui vs TensorBoard with writing the histogram",
            tui.median_s,
            board.median_s + writer.median_s,
            None,
        ),
    ]
    common.write_results(
        args.results,
        "peer",
        rows,
        [tui, board, writer],
        quick=args.quick,
        load_before=load_before,
        notes={"tui_marker": PLOT_TITLE, "pane": "200x60", "cache": str(cache)},
    )


if __name__ == "__main__":
    main()
