"""File watching by polling: a change is reported once settled, a growing file within the
maximum wait, a replaced file by its new inode, and nothing when nothing changed."""

from __future__ import annotations

import os
from pathlib import Path

from tui_timing.artifacts.file_watch import ArtifactWatcher


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def touch(path: Path, text: str, mtime_ns: int) -> None:
    with path.open("a") as handle:
        handle.write(text)
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_a_settled_edit_is_reported_once(tmp_path: Path) -> None:
    log = tmp_path / "stats.jsonl"
    log.write_text("{}\n")
    clock = Clock()
    watcher = ArtifactWatcher(settle_s=0.5, max_wait_s=1.25, clock=clock)
    watcher.watch({"log": log})
    assert watcher.poll() == set()
    touch(log, "{}\n", 10**18)
    assert watcher.poll() == set()  # seen, not yet settled
    clock.now = 0.25
    assert watcher.poll() == set()
    clock.now = 0.5
    assert watcher.poll() == {"log"}
    clock.now = 1.0
    assert watcher.poll() == set()


def test_a_growing_file_is_reported_within_the_maximum_wait(tmp_path: Path) -> None:
    log = tmp_path / "stats.jsonl"
    log.write_text("")
    clock = Clock()
    watcher = ArtifactWatcher(settle_s=0.5, max_wait_s=1.25, clock=clock)
    watcher.watch({"log": log})
    reported_at = None
    for tick in range(10):
        clock.now = tick * 0.25
        touch(log, "{}\n", 10**18 + tick)
        if watcher.poll():
            reported_at = clock.now
            break
    assert reported_at is not None and reported_at <= 1.5


def test_an_atomic_replace_and_a_deleted_file_are_changes(tmp_path: Path) -> None:
    cache = tmp_path / "train_timing.pt"
    cache.write_bytes(b"a")
    clock = Clock()
    watcher = ArtifactWatcher(settle_s=0.5, clock=clock)
    watcher.watch({"cache": cache})
    stat = cache.stat()
    replacement = tmp_path / "new.pt"
    replacement.write_bytes(b"b")
    os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(replacement, cache)  # same size and mtime, new inode
    watcher.poll()
    clock.now = 1.0
    assert watcher.poll() == {"cache"}
    cache.unlink()
    watcher.poll()
    clock.now = 2.0
    assert watcher.poll() == {"cache"}


def test_a_change_that_is_undone_is_not_reported(tmp_path: Path) -> None:
    log = tmp_path / "stats.jsonl"
    log.write_text("x")
    before = log.stat().st_mtime_ns
    clock = Clock()
    watcher = ArtifactWatcher(settle_s=0.5, clock=clock)
    watcher.watch({"log": log})
    os.utime(log, ns=(before + 10**9, before + 10**9))
    watcher.poll()
    os.utime(log, ns=(before, before))
    clock.now = 1.0
    assert watcher.poll() == set()
