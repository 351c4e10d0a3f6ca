"""The sampler (2048 and 1M samples) and the capacity probe on CUDA vs the CPU.

Runs in-process (it measures the two devices, not start-up) on a synthetic cache, so that
it also runs on a GPU machine that has no Balabit data and no installed timing-tui:
`PYTHONPATH=. python3 benchmarks/bench_gpu.py` from the repo root is enough where torch is.
The checkpoint is the bundled `sample_data/runs/increments/checkpoint.pt`.

The sampler is timed as stage 5 runs it: `sample_chunks` in chunks of 256 rows, each chunk
folded into `SampleStats`, then the summary; for 1M samples also in chunks of 65,536 rows,
to show what the chunk size costs. CPU figures are on one intra-op thread, as the stages
run (see model/threads.py), and for 1M samples also on all cores. Without CUDA only the CPU
rows are written, and the notes say so.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import common
import synthetic
import torch

from tui_timing.artifacts.cache import TimingCache
from tui_timing.config import Settings
from tui_timing.model.capacity import ProbeBudget, run_probe
from tui_timing.model.checkpoint import load_checkpoint, reference_config
from tui_timing.model.sample import SampleStats, sample_chunks
from tui_timing.model.threads import one_cpu_thread


def timed(function: Callable[[], object], device: torch.device, runs: int) -> list[float]:
    """Wall seconds of `runs` calls, the device synchronised before the clock stops."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def sample_all(
    model: torch.nn.Module, cache: TimingCache, samples: int, chunk: int, device: torch.device
) -> dict[str, object]:
    stats = SampleStats(max_len=cache.max_len)
    for part in sample_chunks(
        model, cache, samples=samples, seed=0, device=device, chunk_size=chunk
    ):
        stats.add(part, cache)
    return stats.summary()


def main() -> None:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=50_000, help="rows of the synthetic cache")
    args = p.parse_args()
    load_before = common.load_average()
    rows = 2_000 if args.quick else args.rows
    big = 20_000 if args.quick else 1_000_000
    runs = 1 if args.quick else max(args.runs, 1)
    values = synthetic.make_cache(rows)
    cache = TimingCache(path=Path("synthetic"), **values)  # type: ignore[arg-type]
    checkpoint = load_checkpoint(common.SAMPLE_RUN / "checkpoint.pt", Settings())
    model = checkpoint.model
    devices = [torch.device("cpu")]
    if torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    budget = ProbeBudget(steps=10) if args.quick else ProbeBudget()
    results: list[dict[str, object]] = []
    for device in devices:
        on_cpu = device.type == "cpu"
        # the first calls pay for CUDA's context and kernels: not what a stage costs
        sample_all(model, cache, 512, 256, device)
        run_probe(cache, reference_config(checkpoint), budget=ProbeBudget(steps=2), device=device)
        probe = partial(
            run_probe, cache, reference_config(checkpoint), budget=budget, device=device
        )
        fits = len(probe().candidates)
        cases: list[tuple[str, Callable[[], object], int]] = [
            (
                "sampler, 2048 samples in chunks of 256",
                partial(sample_all, model, cache, 2048, 256, device),
                runs,
            ),
            (
                f"sampler, {big:,} samples in chunks of 256",
                partial(sample_all, model, cache, big, 256, device),
                min(runs, 2),
            ),
            (
                f"sampler, {big:,} samples in chunks of 65,536",
                partial(sample_all, model, cache, big, 65_536, device),
                min(runs, 2),
            ),
            (f"capacity probe, {fits} fits of {budget.steps} steps", probe, min(runs, 3)),
        ]
        for label, function, n in cases:
            with one_cpu_thread() if on_cpu else contextlib.nullcontext():
                times = timed(function, device, n)
            results.append(_row(label, device, "1 thread" if on_cpu else "", times))
        if on_cpu:
            label, function, n = cases[2]
            times = timed(function, device, n)
            results.append(_row(label, device, f"{torch.get_num_threads()} threads", times))
    name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    notes = {
        "cache_rows": rows,
        "cuda_device": name or "none: no CUDA device on this machine, CPU rows only",
        "torch": torch.__version__,
    }
    common.write_results(
        args.results, "gpu", results, [], quick=args.quick, load_before=load_before, notes=notes
    )


def _row(label: str, device: torch.device, threads: str, times: list[float]) -> dict[str, object]:
    where = device.type + (f" ({threads})" if threads else "")
    return {
        "target": label,
        "device": where,
        "runs": len(times),
        "median_s": round(statistics.median(times), 4),
        "seconds": [round(t, 4) for t in times],
    }


if __name__ == "__main__":
    main()
