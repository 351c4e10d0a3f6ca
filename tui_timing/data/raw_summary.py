"""The raw dataset summary written beside a cache (docs/artifacts.md#timing-cache
`<split>_summary.json`).

Stage 1 compares the cache with this summary to catch a cache builder that lost or
distorted data, so the figures here must not come from the cache tensors: they are
recomputed from the event timestamps and positions, given only where each segment starts
and how many steps it has.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tui_timing.data.segments import step_layout

QUANTILES = {"q05": 0.05, "q25": 0.25, "q50": 0.5, "q75": 0.75, "q95": 0.95}


def summarize_raw(
    t: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    start: np.ndarray,
    steps: np.ndarray,
    max_len: int,
) -> dict[str, Any]:
    """Figures of the segments `t[start[i]] .. t[start[i] + steps[i]]`, as plain JSON types.

    Needs at least one segment, each of positive duration (so some step has Δt > 0).
    """
    n = int(start.shape[0])
    duration = t[start + steps] - t[start]
    step, owner = step_layout(start, steps)
    position = step - (start + 1)[owner]
    dt = t[step] - t[step - 1]
    profile_mean = np.bincount(position, weights=dt / duration[owner], minlength=max_len) / n
    quantiles = np.quantile(duration, list(QUANTILES.values()))
    moving = dt > 0
    speed = np.hypot(x[step] - x[step - 1], y[step] - y[step - 1])[moving] / dt[moving]
    return {
        "n_segments": n,
        "duration": {
            "mean": float(duration.mean()),
            "std": float(duration.std()),
            **{name: float(v) for name, v in zip(QUANTILES, quantiles, strict=True)},
        },
        "length": {"mean": float(steps.mean()), "max": int(steps.max())},
        "profile_mean": [float(v) for v in profile_mean],
        "profile_first": float(profile_mean[0]),
        "profile_mid": float(profile_mean[max_len // 2]),
        "profile_last": float(profile_mean[max_len - 1]),
        "dt_median": float(np.median(dt)),
        "vel_p95": float(np.quantile(speed, 0.95)),
        "n_steps": int(step.shape[0]),
        "n_zero_dt": int(np.count_nonzero(dt == 0)),
    }
