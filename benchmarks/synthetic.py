"""Synthetic inputs for the benchmarks: raw session files and timing caches of any size.

The shared Balabit subset gives one cache of 72,741 rows; the scaling benchmark needs 100k
and 1M rows, the smoke test needs inputs in seconds without the shared data, and the GPU
machine has no Balabit data at all. The synthetic data has Balabit's layout and rough
statistics (lengths 3..L with a mean near 22, a decaying profile with zero steps,
log-normal durations, 10 path features), so every stage does its real work on it.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np

from tui_timing.data.features import feature_names

#: The builder's own feature names, so synthetic caches look like built ones.
FEATURE_NAMES = feature_names(dt_features=False)
_STATES = np.array(["Move", "Move", "Move", "Move", "Move", "Move", "Drag", "Pressed", "Released"])
_CHUNK = 65_536


def write_raw_sessions(folder: Path, files: int, events: int, seed: int = 0) -> Path:
    """`files` gzipped Balabit-format session files of `events` events each, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index in range(files):
        # steps of ~16 ms with a pause now and then, so the runs break into segments
        dt = np.where(rng.random(events) < 0.03, rng.uniform(0.6, 3.0, events), 0.016)
        t = np.round(np.cumsum(dt), 3)
        x = np.clip(np.cumsum(rng.integers(-4, 5, events)) + 800, 0, 1920)
        y = np.clip(np.cumsum(rng.integers(-4, 5, events)) + 500, 0, 1080)
        state = _STATES[rng.integers(0, len(_STATES), events)]
        lines = ["record timestamp,client timestamp,button,state,x,y"]
        lines += [
            f"{tt:.3f},{tt:.3f},NoButton,{s},{xx},{yy}"
            for tt, s, xx, yy in zip(t, state, x, y, strict=True)
        ]
        (folder / f"session_{index:04d}").write_bytes(
            gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=6)
        )
    return folder


def make_cache(rows: int, max_len: int = 128, seed: int = 0) -> dict[str, object]:
    """A timing-cache dict (docs/artifacts.md#timing-cache) of `rows` rows (tensors, plus a plain
    `meta` dict)."""
    import torch

    rng = np.random.default_rng(seed)
    profile = torch.zeros((rows, max_len), dtype=torch.float32)
    mask = torch.zeros((rows, max_len), dtype=torch.bool)
    length = np.clip(np.round(np.exp(rng.normal(2.7, 0.8, rows))), 3, max_len).astype(np.int64)
    steps = np.arange(max_len)
    decay = np.exp(-steps / 6.0) + 0.02
    for start in range(0, rows, _CHUNK):
        stop = min(start + _CHUNK, rows)
        valid = steps[None, :] < length[start:stop, None]
        weights = rng.exponential(1.0, (stop - start, max_len)) * decay[None, :]
        weights[rng.random(weights.shape) < 0.15] = 0.0
        weights[:, 0] += 1e-3  # every row keeps some mass on its first step
        weights *= valid
        share = weights / weights.sum(axis=1, keepdims=True)
        profile[start:stop] = torch.from_numpy(share.astype(np.float32))
        mask[start:stop] = torch.from_numpy(valid)
    duration = np.exp(rng.normal(0.0, 0.8, rows)).astype(np.float32)
    features = rng.normal(0.0, 1.0, (rows, len(FEATURE_NAMES))).astype(np.float32)
    features[:, 7] = length + 1  # n_points, as the builder writes it
    return {
        "duration": torch.from_numpy(duration),
        "log_duration": torch.from_numpy(np.log(duration.astype(np.float64)).astype(np.float32)),
        "profile": profile,
        "mask": mask,
        "length": torch.from_numpy(length),
        "features": torch.from_numpy(features),
        "meta": {
            "dataset_id": f"synthetic{rows}",
            "split": "train",
            "max_len": max_len,
            "feature_names": list(FEATURE_NAMES),
            "source": f"synthetic:seed={seed}",
            "format_version": 1,
        },
    }


def cache_file(folder: Path, rows: int, max_len: int = 128, seed: int = 0) -> Path:
    """A synthetic cache saved under `folder`: built once, by a child process, then reused.

    Built in a child so that the benchmark process stays small: Linux carries a process's
    peak RSS into the ru_maxrss of every program it starts, which would raise the peak
    memory measured for timing-tui and its floors to this process's own.
    """
    path = folder / f"synthetic_{rows}_{max_len}_{seed}" / "train_timing.pt"
    if not path.exists():
        command = [sys.executable, __file__, str(path), str(rows), str(max_len), str(seed)]
        subprocess.run(command, check=True)
    return path


def _save(path: Path, rows: int, max_len: int, seed: int) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    torch.save(make_cache(rows, max_len, seed), partial)
    partial.rename(path)


if __name__ == "__main__":
    _save(Path(sys.argv[1]), *(int(v) for v in sys.argv[2:5]))
