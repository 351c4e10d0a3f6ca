"""`timing-tui runs --follow`: the runs table, then a row for every checkpoint, log line or
eval dump that lands, until ctrl+c.

Polling, not inotify: a few `stat` calls a quarter second, on every file system (NFS
too). A change is diagnosed once its files have settled (a checkpoint mid-save is never
read; see artifacts/file_watch.py); every row is asked for again and only those whose
files changed are computed (the diagnoser remembers the others), so a sweep of a hundred
runs costs one checkpoint's stages per new checkpoint.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

from tui_timing.artifacts.discovery import candidate_files
from tui_timing.artifacts.file_watch import TreeWatcher
from tui_timing.config import Settings
from tui_timing.report.runs import RunDiagnoser, RunRow, diagnose_runs, find_runs, versions

POLL_S = 0.25


class RunFollower:
    """The rows of a repo's runs, again whenever its files changed and settled: what
    `runs --follow` prints and what the TUI's runs view shows."""

    def __init__(
        self,
        roots: list[Path],
        settings: Settings,
        diagnoser: RunDiagnoser,
        every_checkpoint: bool,
    ) -> None:
        self.roots = roots
        self.settings = settings
        self.diagnoser = diagnoser
        self.every_checkpoint = every_checkpoint
        self._watcher = TreeWatcher(
            lambda: [path for root in roots for path in candidate_files(root)]
        )
        self._emitted: set[tuple[object, ...]] = set()

    def rows(self, on_row: Callable[[RunRow], None] | None = None) -> list[RunRow]:
        """Every row now (those whose files did not change come from the diagnoser's
        memory); `on_row` sees each as it is done."""
        runs, _ = find_runs(self.roots, self.settings)
        return diagnose_runs(runs, self.diagnoser, self.every_checkpoint, on_row)

    def changed(self) -> bool:
        """Whether a run, checkpoint, log or eval dump appeared or changed and settled."""
        return self._watcher.poll()

    def is_new(self, row: RunRow) -> bool:
        """Whether this row (its files as they are now) was not seen before; marks it seen."""
        paths = self.diagnoser.paths(row.target)
        if (row.target.run, versions(paths, not row.latest)) in self._emitted:
            return False
        # Seen as it is now, and as it will read once a newer checkpoint lands (its log
        # pinned): a row that stops being its run's newest is not printed again.
        self._emitted |= {(row.target.run, versions(paths, pin)) for pin in (False, True)}
        return True


def follow_runs(
    follower: RunFollower, emit: Callable[[RunRow], None], poll_s: float = POLL_S
) -> None:
    """Emit every row now, then each new or changed row as it lands; return on ctrl+c
    (SIGINT), never in the middle of emitting a row."""
    stop = _Interrupt()

    def emit_new(row: RunRow) -> None:
        if follower.is_new(row):
            with stop.deferred():
                emit(row)

    with stop.installed():
        try:
            follower.rows(emit_new)
            while not stop.asked:
                time.sleep(poll_s)
                if follower.changed():
                    follower.rows(emit_new)
        except KeyboardInterrupt:
            return


class _Interrupt:
    """SIGINT as KeyboardInterrupt, except while a row is being written: then it is held
    until the row is whole."""

    def __init__(self) -> None:
        self.asked = False
        self._holding = False

    def _handle(self, _signum: int, _frame: FrameType | None) -> None:
        self.asked = True
        if not self._holding:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        previous = signal.signal(signal.SIGINT, self._handle)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
        if self.asked:
            raise KeyboardInterrupt
