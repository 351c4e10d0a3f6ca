"""Short, readable renderings of the JSON-ready values checks carry (measured, expected).

A measured value can be a number, a dict of quantiles or a list of a hundred profile bins;
a pane 50 columns wide needs a few significant digits and a bounded length.
"""

from __future__ import annotations

from typing import Any

from tui_timing.numerics.fmt import fmt

MAX_ITEMS = 6
MAX_CHARS = 160


def format_value(value: Any) -> str:
    """A compact one-line rendering of a check's measured or expected value."""
    text = _render(value)
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"


def _render(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return fmt(value)
    if isinstance(value, dict):
        items = [f"{k} {_render(v)}" for k, v in list(value.items())[:MAX_ITEMS]]
        more = len(value) - MAX_ITEMS
        return ", ".join(items) + (f", … (+{more})" if more > 0 else "")
    if isinstance(value, (list, tuple)):
        items = [_render(v) for v in value[:MAX_ITEMS]]
        more = len(value) - MAX_ITEMS
        return "[" + ", ".join(items) + (f", … {len(value)} items" if more > 0 else "") + "]"
    return str(value)
