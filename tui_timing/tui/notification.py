"""A notification whose toast always has some time left to show.

Textual's toast rack checks that a notification has not expired, then makes its toast,
which starts a timer for the time left. On a busy machine the notification can expire
between the two, and a timer with a negative interval loops without ever yielding: the
app stops drawing and reading keys. Here the time left is never below MIN_TOAST_S (the
toast flashes and goes), while expiry is still judged on the real time.
"""

from __future__ import annotations

from dataclasses import dataclass
from time import time

from textual.notifications import Notification

#: Seconds a toast shows at least, once made.
MIN_TOAST_S = 0.1


@dataclass
class TimedNotification(Notification):
    """A Textual notification whose `time_left` is never below MIN_TOAST_S."""

    @property
    def time_left(self) -> float:
        return max(MIN_TOAST_S, self.raised_at + self.timeout - time())

    @property
    def has_expired(self) -> bool:
        return self.raised_at + self.timeout <= time()
