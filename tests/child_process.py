"""Starting the CLI as a child process the way a terminal would."""

from __future__ import annotations

import signal


def interruptible() -> None:
    """In the child, before it runs: Ctrl-C is delivered. A shell that starts the tests in
    the background (`pytest &`, nohup) hands its children SIGINT ignored, and Python keeps
    an inherited ignore, so a test of Ctrl-C would wait on a child that never hears it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
