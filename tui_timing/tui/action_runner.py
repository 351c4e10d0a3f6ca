"""Run a suggested action's command and stream its output into the app, line by line.

The command is split like a shell would but run without one (no expansion surprises), and
`timing-tui` itself is run as this interpreter's `-m tui_timing`, so an action works even
when the virtual environment is not activated in the shell that started the app.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from textual.message import Message

from tui_timing.tui.messages import ActionFinished, ActionOutput


def command_argv(command: str) -> list[str]:
    """The argument list for a command line; raises ValueError when it cannot be split."""
    argv = shlex.split(command)
    if not argv:
        raise ValueError("the command is empty")
    if argv[0] == "timing-tui":
        return [sys.executable, "-m", "tui_timing", *argv[1:]]
    return argv


class ActionRunner:
    """One command at a time, on a daemon thread; `stop()` terminates it."""

    def __init__(self, post: Callable[[Message], object], cwd: Path) -> None:
        self._post = post
        self._cwd = cwd
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        with self._lock:
            return self._process is not None and self._process.poll() is None

    def start(self, command: str) -> None:
        """Start the command; output and the exit status arrive as messages."""
        threading.Thread(
            target=self._run, args=(command,), name="timing-tui-action", daemon=True
        ).start()

    def stop(self) -> None:
        """Terminate a running command (on quit)."""
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                self._process.terminate()

    def _run(self, command: str) -> None:
        try:
            argv = command_argv(command)
            process = subprocess.Popen(
                argv,
                cwd=self._cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        except (OSError, ValueError) as exc:
            self._post(ActionFinished(command, None, str(exc)))
            return
        with self._lock:
            self._process = process
        for line in process.stdout or ():
            self._post(ActionOutput(line.rstrip("\n")))
        self._post(ActionFinished(command, process.wait()))
