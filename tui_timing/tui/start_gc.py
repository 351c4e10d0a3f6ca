"""The garbage collector held off while the TUI starts, until its first frame is drawn.

Importing Textual and the app, parsing their stylesheets and composing the first screen
allocate a few hundred thousand objects that live as long as the app (modules, classes,
rules, widgets). CPython's cyclic collector walks them again every few hundred allocations
(generation 0), more of them in each older generation, and all of them once they have
grown by a quarter (a full collection): 55 ms of CPU in a cold launch's ~0.31 s until its
first frame, against 12-16 ms in a minimal Textual app's (BENCHMARKS.md, "First paint at
Textual's own floor"). Starting up makes next to no cyclic garbage, so the collector is
off from the command line's TUI branch until the app has drawn its first frame. Then what
is alive is frozen (`gc.freeze`: set apart where no collection walks it; otherwise the
first collections after the frame would walk all of it, three times, just when stage 1's
chart is drawn) and the collector is on again for what comes after. What was frozen and
later becomes garbage in a cycle stays (the first frame's few widgets a re-run replaces:
a bounded, once-only cost). The child forked to compute stage 1 meanwhile does the same
at once (it draws nothing, and its copy of the parent's objects is never walked).
"""

from __future__ import annotations

import gc

#: Whether `hold` turned the collector off (and `release` should turn it back on): one
#: that was off already (a caller's choice) is left off.
_held = False


def hold() -> None:
    """Turn the collector off until `release` (nothing if it is off already)."""
    global _held
    if gc.isenabled():
        gc.disable()
        _held = True


def release() -> None:
    """Freeze what is alive and turn the collector back on, if `hold` turned it off; safe
    to call again."""
    global _held
    if _held:
        _held = False
        gc.freeze()
        gc.enable()
