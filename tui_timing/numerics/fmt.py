"""How every figure is printed, in reports, check sentences and the TUI alike (no numpy)."""

from __future__ import annotations

import math


def fmt(value: float) -> str:
    """A compact human figure: 4 significant digits, scientific when tiny or huge."""
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e5:
        return f"{value:.4g}"
    return f"{value:.3g}"
