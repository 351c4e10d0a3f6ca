"""Notice edited, replaced, new or growing artifact files by polling, with no extra dependency.

A few `stat` calls every quarter second cost nothing, work on every file system (NFS
included, where inotify does not) and need no watchdog package. A change is reported once
the file has stopped changing for a moment (a cache half-written by `torch.save` is not
worth loading), or after at most `max_wait_s` for a file that keeps growing (a training
run appending to stats.jsonl), so a re-run starts within two seconds either way.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: (inode, size, mtime in ns), or None while the file is missing.
Signature = tuple[int, int, int] | None

POLL_INTERVAL_S = 0.25


def signature(path: Path) -> Signature:
    """What identifies a file's content cheaply: an atomic replace changes the inode."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass
class _Change:
    first_seen: float
    last_change: float
    latest: Signature


class ArtifactWatcher:
    """Polls the watched files; `poll()` returns the kinds whose change has settled."""

    def __init__(
        self,
        settle_s: float = 0.5,
        max_wait_s: float = 1.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settle_s = settle_s
        self._max_wait_s = max_wait_s
        self._clock = clock
        self._paths: dict[str, Path] = {}
        self._baseline: dict[str, Signature] = {}
        self._changing: dict[str, _Change] = {}

    def watch(self, paths: dict[str, Path]) -> None:
        """Watch these files (kind -> path) from their current state on."""
        self._paths = dict(paths)
        self._baseline = {kind: signature(path) for kind, path in self._paths.items()}
        self._changing = {}

    def poll(self) -> set[str]:
        """The kinds whose file changed and has settled since the last report."""
        now = self._clock()
        settled: set[str] = set()
        for kind, path in self._paths.items():
            current = signature(path)
            change = self._changing.get(kind)
            if current == self._baseline[kind]:
                self._changing.pop(kind, None)  # changed back (or never changed)
                continue
            if change is None:
                self._changing[kind] = _Change(now, now, current)
                continue
            if current != change.latest:
                change.latest = current
                change.last_change = now
            quiet = now - change.last_change >= self._settle_s
            overdue = now - change.first_seen >= self._max_wait_s
            if quiet or overdue:
                settled.add(kind)
                self._baseline[kind] = current
                del self._changing[kind]
        return settled


#: Files that only grow by whole lines (logs): read while they grow, a half-written last
#: line is ignored. Every other file (a checkpoint mid-save) is read only once it is still.
_GROWING = (".jsonl", ".csv", ".log", ".txt", ".json")


def grows_by_lines(path: Path) -> bool:
    """Whether the file is a log that may be read while it grows."""
    return path.name.startswith("events.out.tfevents") or path.name.endswith(_GROWING)


class TreeWatcher:
    """Polls the files that `files()` lists (discovery's candidates under a folder):
    `poll()` returns True once a file appeared, changed or went away and has settled.

    A checkpoint is settled when its size and mtime held still for `settle_s` (a
    `torch.save` in progress is never read half-way); a growing log also after
    `max_wait_s`, so a training that appends every second is still followed.
    """

    def __init__(
        self,
        files: Callable[[], list[Path]],
        settle_s: float = 0.5,
        max_wait_s: float = 1.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._files = files
        self._settle_s = settle_s
        self._max_wait_s = max_wait_s
        self._clock = clock
        self._baseline = self._snapshot()
        self._changing: dict[Path, _Change] = {}

    def _snapshot(self) -> dict[Path, Signature]:
        return {path: signature(path) for path in self._files()}

    def poll(self) -> bool:
        """Whether a change has settled since the last True (and no file is mid-change)."""
        now = self._clock()
        current = self._snapshot()
        for path in current.keys() | self._baseline.keys():
            sig = current.get(path)
            if sig == self._baseline.get(path):
                self._changing.pop(path, None)
                continue
            change = self._changing.get(path)
            if change is None:
                self._changing[path] = _Change(now, now, sig)
            elif sig != change.latest:
                change.latest, change.last_change = sig, now
        if not self._changing:
            return False
        for path, change in self._changing.items():
            quiet = now - change.last_change >= self._settle_s
            overdue = grows_by_lines(path) and now - change.first_seen >= self._max_wait_s
            if not (quiet or overdue):
                return False  # wait until every file in flux has settled
        self._baseline = current
        self._changing = {}
        return True
