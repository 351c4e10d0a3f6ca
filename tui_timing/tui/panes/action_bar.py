"""Two lines under the header while a suggested action runs, on every stage: `running:`
and its command, then the elapsed time, its last line of output and `x cancel`.

An action can run for minutes (a training run); whichever stage the user reads, the bar
says it is still going and how to stop it. It stays for a while after the command ends,
saying how it ended, until a key is pressed.
"""

from __future__ import annotations

import time

from textual.timer import Timer
from textual.widgets import Static

from tui_timing.tui.safe_text import clean, lines, markup

#: Seconds the bar stays after the command ended.
LINGER_S = 15.0


def elapsed_text(seconds: float) -> str:
    """`0:07`, `12:34`, `1:02:03`."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def fit_command(command: str, width: int) -> str:
    """The command in `width` columns: long paths shortened to `…/parent/name` (longest
    first), then to `…/name`, then the end cut with an ellipsis."""
    if len(command) <= width:
        return command
    words = command.split(" ")
    for keep in (2, 1):
        for index in sorted(range(len(words)), key=lambda i: -len(words[i])):
            parts = words[index].split("/")
            if len(parts) > keep + 1 and len(words[index]) > len(parts[-1]) + 2:
                words[index] = "…/" + "/".join(parts[-keep:])
            if len(" ".join(words)) <= width:
                return " ".join(words)
    short = " ".join(words)
    return short if len(short) <= width else short[: max(0, width - 1)] + "…"


class ActionBar(Static):
    """Hidden until an action starts; then its state, refreshed every second."""

    DEFAULT_CSS = """
    ActionBar {
        height: 2;
        width: 1fr;
        padding: 0 1;
        background: $boost;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        display: none;
    }
    """

    def __init__(self) -> None:
        super().__init__(id="action-bar")
        self.command = ""
        self.state = "idle"
        self._started = 0.0
        self._ended: float | None = None
        self._last_line = ""
        self._ending = ""
        self._ticker: Timer | None = None
        self._hider: Timer | None = None

    @property
    def elapsed(self) -> str:
        end = self._ended if self._ended is not None else time.monotonic()
        return elapsed_text(end - self._started)

    def start(self, command: str) -> None:
        """A command started: show it, and tick every second."""
        self.command, self.state = command, "running"
        self._started, self._ended = time.monotonic(), None
        self._last_line, self._ending = "", ""
        if self._hider is not None:
            self._hider.stop()
        if self._ticker is None:
            self._ticker = self.set_interval(1.0, self._redraw)
        self.display = True
        self._redraw()

    def output(self, line: str) -> None:
        """The command printed a line: it becomes the last line shown."""
        if line.strip():
            self._last_line = line.strip()
            self._redraw()

    def cancelling(self) -> None:
        self.state = "cancelling"
        self._redraw()

    def finish(self, state: str, ending: str) -> None:
        """The command ended (`state` says how); the bar goes after LINGER_S seconds."""
        self.state, self._ending, self._ended = state, ending, time.monotonic()
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        self._hider = self.set_timer(LINGER_S, self._hide)
        self._redraw()

    def clear_ended(self) -> None:
        """A key pressed once the command ended: its ending was read, the bar goes (not
        only LINGER_S later)."""
        if self.display and self.state not in ("running", "cancelling"):
            if self._hider is not None:
                self._hider.stop()
            self._hide()

    def _hide(self) -> None:
        self.display = False
        self.state = "idle"

    def on_resize(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        width = self.size.width - 2 if self.size.width > 22 else 78
        label = {"running": "running", "cancelling": "cancelling"}.get(self.state, self.state)
        head = f"{label}: "
        command = fit_command(clean(self.command), width - len(head))
        first = markup(f"[b $accent]{head}[/]$command", command=command)
        if self.state in ("running", "cancelling"):
            detail = self._last_line or "(no output yet)"
            second = markup(
                "$elapsed · [b]x[/b] cancel · $last",
                elapsed=self.elapsed,
                last=detail,
            )
        else:
            second = markup("after $elapsed · $ending", elapsed=self.elapsed, ending=self._ending)
        self.update(lines([first, second]))
