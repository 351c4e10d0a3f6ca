"""timing-tui: diagnose the timing head of mouse-trajectory diffusion models."""

from __future__ import annotations

__version__ = "0.1.0"
