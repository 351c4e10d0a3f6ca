"""timing-tui: diagnose the timing head of mouse-trajectory diffusion models."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["TimingStatsLogger", "__version__", "assert_timing_stats"]


def __getattr__(name: str) -> Any:
    """Export the eval hook and the stats logger lazily, so importing the package (the TUI's
    start-up, a training script that never logs) does not import torch."""
    if name == "assert_timing_stats":
        from tui_timing.hook import assert_timing_stats

        return assert_timing_stats
    if name == "TimingStatsLogger":
        from tui_timing.artifacts.stats_logger import TimingStatsLogger

        return TimingStatsLogger
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
