"""A notification whose toast always has some time left to show, and reads whole words.

Textual's toast rack checks that a notification has not expired, then makes its toast,
which starts a timer for the time left. On a busy machine the notification can expire
between the two, and a timer with a negative interval loops without ever yielding: the
app stops drawing and reading keys. Here the time left is never below MIN_TOAST_S (the
toast flashes and goes), while expiry is still judged on the real time.

A toast that has gone can stay drawn: Textual removes it from the screen but, now and
then, repaints none of the cells it covered, and its text stays over the stage list
until something else redraws them (seen under typing, resizes and the help screen
opened and closed within a frame; a tmux test read the stale frame for four minutes).
`ToastSweeper` looks, while toasts are up, whether one has gone and then repaints the
whole screen: a repaint of every cell is what clears it.

A toast is narrow (it sits in the foot of the stage list), and Textual breaks a word
longer than its line anywhere: `.../projec` then `t/folder`. `toast_lines` wraps the
message before Textual sees it: at spaces, and a word longer than the line (a path, a
command) after its `/` (then its `_`, `-` or `.`), cut elsewhere only where a part
alone is longer than the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from time import time
from typing import Any

from rich.cells import cell_len
from textual.app import App
from textual.css.query import NoMatches
from textual.notifications import Notification
from textual.screen import Screen
from textual.timer import Timer

#: Seconds a toast shows at least, once made.
MIN_TOAST_S = 0.1
#: Seconds between two looks, while toasts are up, for one that has gone.
SWEEP_S = 0.25
#: The DOM id Textual gives the toast rack it puts on every screen.
TOAST_RACK_ID = "textual-toastrack"
#: A toast's width in app.tcss (`Toast { width }`), and the text's: less its left border
#: and its padding of one on each side. A test reads both off a rendered toast.
TOAST_WIDTH = 24
TOAST_TEXT_WIDTH = TOAST_WIDTH - 3
#: Where a word longer than a line is broken: after a path's `/`; in a part still longer
#: than the line, after a `_`, `-` or `.` (a file name's own words).
_PATH_PARTS = re.compile(r"[^/]*/|[^/]+")
_NAME_PARTS = re.compile(r"[^_.-]*[_.-]|[^_.-]+")


def toast_lines(text: str, width: int = TOAST_TEXT_WIDTH) -> str:
    """`text` wrapped to `width` cells: whole words per line, a longer word broken after
    a `/` where it has one (a path reads on), else cut at the width."""
    out: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            for index, piece in enumerate(_pieces(word, width)):
                glued = index > 0  # the rest of a broken word starts its own line
                if line and not glued and cell_len(line) + 1 + cell_len(piece) <= width:
                    line += " " + piece
                else:
                    if line:
                        out.append(line)
                    line = piece
        out.append(line)
    return "\n".join(out)


def _pieces(word: str, width: int) -> list[str]:
    """A word as lines of at most `width` cells: itself when it fits, else its path parts
    packed greedily; a part longer than the line by its name's parts, and one of those
    still longer cut at the width."""
    if cell_len(word) <= width:
        return [word]
    return _pack(_PATH_PARTS.findall(word), width, _NAME_PARTS)


def _pack(parts: list[str], width: int, finer: re.Pattern[str] | None) -> list[str]:
    """`parts` joined into as few lines of at most `width` cells as they go, a part
    longer than a line split by `finer` (or cut, without it)."""
    lines: list[str] = []
    current = ""
    for part in parts:
        if cell_len(current + part) <= width:
            current += part
            continue
        if current:
            lines.append(current)
        current = ""
        if cell_len(part) <= width:
            current = part
            continue
        split = _pack(finer.findall(part), width, None) if finer else _cuts(part, width)
        lines += split[:-1]
        current = split[-1]
    if current:
        lines.append(current)
    return lines


def _cuts(text: str, width: int) -> list[str]:
    """`text` cut into lines of `width` cells (the last one shorter)."""
    lines = []
    while cell_len(text) > width:
        cut = _cut(text, width)
        lines.append(text[:cut])
        text = text[cut:]
    return [*lines, text]


def _cut(text: str, width: int) -> int:
    """How many characters of `text` fill `width` cells (at least one)."""
    used = 0
    for index, char in enumerate(text):
        used += cell_len(char)
        if used > width:
            return max(index, 1)
    return len(text)


@dataclass
class TimedNotification(Notification):
    """A Textual notification whose `time_left` is never below MIN_TOAST_S."""

    @property
    def time_left(self) -> float:
        return max(MIN_TOAST_S, self.raised_at + self.timeout - time())

    @property
    def has_expired(self) -> bool:
        return self.raised_at + self.timeout <= time()


def toasts_on(screen: Screen[Any]) -> int:
    """How many toasts `screen` has in its DOM (each sits in a holder in the rack)."""
    try:
        return len(screen.get_widget_by_id(TOAST_RACK_ID).children)
    except NoMatches:
        return 0


class ToastSweeper:
    """Repaints the screen on show once one of its toasts has gone (see the module's
    docstring). Its timer runs only while toasts are up or due."""

    def __init__(self, app: App[Any]) -> None:
        self._app = app
        self._timer: Timer | None = None
        self._shown = 0
        #: When the last toast raised is due to have gone (`time()`).
        self._until = 0.0

    def raised(self, notification: Notification) -> None:
        """A notification was posted: look until its toast has come and gone."""
        self._until = max(self._until, time() + notification.timeout + 4 * SWEEP_S)
        if self._timer is None:
            self._timer = self._app.set_interval(SWEEP_S, self._sweep)

    def _sweep(self) -> None:
        if not self._app.screen_stack:  # the app is closing: its screens go before its timers
            return
        screen = self._app.screen
        shown = toasts_on(screen)
        if shown < self._shown:
            screen.refresh()
        self._shown = shown
        if not shown and time() > self._until and self._timer is not None:
            self._timer.stop()
            self._timer = None
