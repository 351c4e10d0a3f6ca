"""How the interpreter runs while the TUI starts, until its first frame is drawn: the
garbage collector off, and threads handed the GIL after 1 ms rather than Python's 5.

The collector. Importing Textual and the app, parsing their stylesheets and composing
the first screen allocate a few hundred thousand objects that live as long as the app
(modules, classes, rules, widgets). CPython's cyclic collector walks them again every few
hundred allocations (generation 0), more of them in each older generation, and all of
them once they have grown by a quarter (a full collection): 55 ms of CPU in a cold
launch's ~0.31 s until its first frame, against 12-16 ms in a minimal Textual app's
(BENCHMARKS.md, "First paint at Textual's own floor"). Starting up makes next to no cyclic
garbage, so the collector is off from the command line's TUI branch until the app has
drawn its first frame. Then what is alive is frozen (`gc.freeze`: set apart where no
collection walks it; otherwise the first collections after the frame would walk all of
it, three times, just when stage 1's chart is drawn) and the collector is on again for
what comes after. What was frozen and later becomes garbage in a cycle stays (the first
frame's few widgets a re-run replaces: a bounded, once-only cost). The child forked to
compute stage 1 meanwhile does the same at once (it draws nothing, and its copy of the
parent's objects is never walked).

The GIL. Textual hands each frame to a writer thread, which needs the GIL to write it;
the UI thread goes on at once with what comes after the first frame (stage 1's result
from its child, then the import of the charts), and a thread waiting for the GIL asks for
it only after the switch interval. At 5 ms the first frame reached the terminal while
the charts' import was under way, in most launches (`tests/test_tui_startup.py`); at 1 ms
it is written first (BENCHMARKS.md, "Stage 1 drawn right after the first frame").
"""

from __future__ import annotations

import gc
import sys

#: How soon a thread waiting for the GIL asks for it while the TUI starts.
START_SWITCH_INTERVAL_S = 0.001

#: Whether `hold` turned the collector off (and `release` should turn it back on): one
#: that was off already (a caller's choice) is left off.
_held = False
#: The switch interval `hold` replaced, put back by `release`; None when not held.
_interval: float | None = None


def hold() -> None:
    """Turn the collector off (nothing if it is off already) and shorten the switch
    interval, until `release`."""
    global _held, _interval
    if gc.isenabled():
        gc.disable()
        _held = True
    if _interval is None:
        _interval = sys.getswitchinterval()
        sys.setswitchinterval(START_SWITCH_INTERVAL_S)


def release() -> None:
    """Put the switch interval back; freeze what is alive and turn the collector back on,
    if `hold` turned it off. Safe to call again."""
    global _held, _interval
    if _interval is not None:
        sys.setswitchinterval(_interval)
        _interval = None
    if _held:
        _held = False
        gc.freeze()
        gc.enable()
