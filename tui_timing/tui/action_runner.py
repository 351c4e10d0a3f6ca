"""Run a suggested action's command and stream its output into the app, line by line.

The command is split like a shell would but run without one (no expansion surprises), and
`timing-tui` itself is run as this interpreter's `-m tui_timing`, so an action works even
when the virtual environment is not activated in the shell that started the app.

It runs in a session of its own, so that cancelling ends it and every process it started:
first an interrupt (Python unwinds, and our atomic writes drop their temporary files),
then a terminate, then a kill. What a cancelled command had made is then removed (see
action_outputs.py), so nothing half-written stays behind.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from textual.message import Message

from tui_timing.tui.action_outputs import outputs_of
from tui_timing.tui.messages import ActionCancelled, ActionFinished, ActionOutput

#: (signal, seconds to wait for the command to end after it) when cancelling.
ESCALATION: tuple[tuple[signal.Signals, float], ...] = (
    (signal.SIGINT, 5.0),
    (signal.SIGTERM, 3.0),
    (signal.SIGKILL, 5.0),
)


def command_argv(command: str) -> list[str]:
    """The argument list for a command line; raises ValueError when it cannot be split."""
    argv = shlex.split(command)
    if not argv:
        raise ValueError("the command is empty")
    if argv[0] == "timing-tui":
        return [sys.executable, "-m", "tui_timing", *argv[1:]]
    return argv


class ActionRunner:
    """One command at a time, on a daemon thread; `cancel()` ends it and cleans up."""

    def __init__(self, post: Callable[[Message], object], cwd: Path) -> None:
        self._post = post
        self._cwd = cwd
        self._process: subprocess.Popen[str] | None = None
        self._thread: threading.Thread | None = None
        self._cancelled = False
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        """Whether a command was started and has not finished (cleanup included)."""
        with self._lock:
            return self._thread is not None and self._thread.is_alive()

    def start(self, command: str) -> None:
        """Start the command; output and the exit status arrive as messages."""
        with self._lock:
            self._cancelled = False
            self._process = None
            self._thread = threading.Thread(
                target=self._run, args=(command,), name="timing-tui-action", daemon=True
            )
            self._thread.start()

    def cancel(self) -> None:
        """End the running command (interrupt, terminate, kill) without waiting for it."""
        with self._lock:
            self._cancelled = True
            process = self._process
        if process is not None and process.poll() is None:
            threading.Thread(target=_end, args=(process,), daemon=True).start()

    def stop(self, timeout: float) -> None:
        """Cancel, and wait up to `timeout` seconds for the command to end and be cleaned
        up (on quit, where a daemon thread would otherwise die mid-cleanup)."""
        with self._lock:
            thread = self._thread
        if thread is None or not thread.is_alive():
            return
        self.cancel()
        thread.join(timeout)

    def _run(self, command: str) -> None:
        outputs = outputs_of(command, self._cwd)
        before = outputs.existing(self._cwd)
        try:
            process = subprocess.Popen(
                command_argv(command),
                cwd=self._cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                bufsize=1,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                start_new_session=True,
            )
        except (OSError, ValueError) as exc:
            self._post(ActionFinished(command, None, str(exc)))
            return
        with self._lock:
            self._process = process
            cancelled = self._cancelled
        if cancelled:  # cancelled while it was starting
            _end(process)
        for line in process.stdout or ():
            self._post(ActionOutput(line.rstrip("\n")))
        returncode = process.wait()
        with self._lock:
            cancelled = self._cancelled
        if not cancelled:
            self._post(ActionFinished(command, returncode))
            return
        try:
            removed = outputs.remove_new(before, self._cwd)
        except OSError as exc:
            self._post(ActionCancelled(command, [], f"could not remove its output: {exc}"))
            return
        self._post(ActionCancelled(command, [_shown(p, self._cwd) for p in removed]))


def _end(process: subprocess.Popen[str]) -> None:
    """Signal the command's whole session, harder each time it outlives the wait."""
    for sig, wait in ESCALATION:
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _shown(path: Path, cwd: Path) -> str:
    """A path relative to the working directory where it is under it."""
    try:
        return str(path.relative_to(cwd))
    except ValueError:
        return str(path)
