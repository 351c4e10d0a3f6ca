"""The torch floor: `import torch`, timed until it has imported, not until the process exits.

It prints a marker once the import is done, for the screen poller to wait for, and then
waits to be killed: the interpreter's teardown after importing torch takes about 0.6 s
more, which a spawn-to-exit timing counted as import time and which flattered every ratio
against it (timing-tui is timed until its screen shows something, not until it exits).
"""

from __future__ import annotations

import signal

import torch  # noqa: F401  (imported for its start-up cost: the floor of any torch tool)

MARKER = "torch imported"

if __name__ == "__main__":
    print(MARKER, flush=True)
    signal.pause()
