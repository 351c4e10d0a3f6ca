"""Append the findings summary to the user's scratchpad without ever losing a byte of it.

The file is opened for appending only, under an exclusive lock (concurrent exports from
several processes land whole, one after another), and the entry goes out in one write
loop. If the write fails halfway (a full disk), the file is cut back to its size before
the export: the user's text is never rewritten, only our partial entry is removed.
Nothing here can block for good: the file is opened without waiting (a named pipe would
wait for a reader forever) and refused unless it is a regular file, and the lock is waited
for a bounded time.

Scratchpads have habits (docs/cli.md#scratchpad): one whose last section is a list of dated bullets
(`- 2025-10-24: ...`) gets the entry as one more dated bullet, so it lands in that list;
any other gets it as its own section. Which one is decided under the lock, on the text
as it is then.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import stat
import time
from pathlib import Path

from tui_timing.errors import ArtifactError

#: How long an export waits for another one to release the scratchpad's lock.
LOCK_WAIT_S = 30.0
_NOT_REGULAR = "not a regular file (a device, pipe or socket); name a file to append to"
#: How much of the file's end is read to find its last section.
TAIL_BYTES = 256 * 1024
HEADING = re.compile(r"^#{1,6}\s")
BULLET = re.compile(r"^[-*+] ")
DATED_BULLET = re.compile(r"^([-*+]) \d{4}-\d{2}-\d{2}\b")
#: Artifacts by their suffix: never a scratchpad.
ARTIFACT_SUFFIXES = {
    ".jsonl": "a stats log (JSON lines)",
    ".csv": "a stats log (CSV)",
    ".pt": "a tensor file",
    ".pth": "a tensor file",
    ".ckpt": "a checkpoint",
    ".npz": "a tensor file",
    ".safetensors": "a tensor file",
    ".json": "a JSON file (a raw summary)",
}


def dated_bullet_marker(text: str) -> str | None:
    """The bullet character (`-`, `*`, `+`) when the last section of `text` is a list of
    dated bullets, else None.

    The last section is what follows the last heading line. It qualifies when each of its
    top-level list items starts with a date and its last top-level line is one of them
    (nested and continuation lines are indented, blank lines are ignored).
    """
    lines = text.splitlines()
    start = max((i for i, line in enumerate(lines) if HEADING.match(line)), default=-1) + 1
    top = [line for line in lines[start:] if line.strip() and not line[0].isspace()]
    bullets = [line for line in top if BULLET.match(line)]
    last = DATED_BULLET.match(top[-1]) if top else None
    if last is None or not all(DATED_BULLET.match(line) for line in bullets):
        return None
    return last.group(1)


def scratchpad_problem(path: Path, within: Path | None = None) -> str | None:
    """Why findings cannot be appended at `path`, as far as can be told before writing (a
    folder, a folder that does not exist, an artifact, a link to nothing or out of
    `within`); None when nothing stands in the way yet."""
    if path.is_dir():
        return "is a folder; name a file to append the findings to"
    if not path.parent.is_dir():
        return f"the folder {path.parent} does not exist; create it or name another file"
    return _out_of_bounds(path, within)


def append_entry(
    path: str | Path, entry: str, bullet: str | None = None, within: Path | None = None
) -> Path:
    """Append `entry` (markdown) to the scratchpad at `path`; return the resolved path.

    `within` is the project's folder when the scratchpad was found there or named by the
    project's table rather than by the user on the command line: it is then written only
    inside that folder (a cloned repository's `scratchpad.md` may be a link to a file of
    the user's elsewhere). Wherever it comes from, it is never an artifact (appended
    markdown would break a log or a tensor file) and never a link to nothing (whose
    target the export would create).

    `bullet` is the same findings as a dated bullet with nested lines, starting `- `: it is
    appended instead (with the file's own bullet character) when the file's last section
    is a list of dated bullets.

    Raises ArtifactError naming the file and the problem; the file is then unchanged.
    """
    path = Path(path)
    problem = scratchpad_problem(path, within)
    if problem is not None:
        raise ArtifactError(str(path), None, problem)
    # an existing name is opened as it is; a new one is created, never through a link
    create = 0 if os.path.lexists(path) else os.O_CREAT | os.O_EXCL
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK | create, 0o644)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a named pipe that nothing reads
            raise ArtifactError(str(path), None, _NOT_REGULAR) from None
        raise ArtifactError(
            str(path), None, f"cannot be opened for appending ({exc.strerror})"
        ) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ArtifactError(str(path), None, _NOT_REGULAR)
        _lock(path, fd)
        size = os.lseek(fd, 0, os.SEEK_END)
        tail = _tail(path, size)
        marker = dated_bullet_marker(tail) if bullet is not None and size else None
        if bullet is not None and marker is not None:
            text = ("" if tail.endswith("\n") else "\n") + marker + bullet[1:]
        else:
            text = _separator(tail, size) + entry
        data = text.encode("utf-8")
        try:
            _write_all(fd, data)
            os.fsync(fd)
        except KeyboardInterrupt:
            _cut_back(fd, size)  # interrupted halfway: the user's file as it was
            raise
        except OSError as exc:
            _cut_back(fd, size)
            reason = "the disk is full" if exc.errno == errno.ENOSPC else exc.strerror
            raise ArtifactError(
                str(path), None, f"cannot be written ({reason}); it is unchanged"
            ) from None
    finally:
        os.close(fd)  # closing releases the lock
    return path.resolve()


def _out_of_bounds(path: Path, within: Path | None) -> str | None:
    """Why the export may not write to `path` (None: it may)."""
    target = path.resolve()
    artifact = _artifact_kind(path.name) or _artifact_kind(target.name)
    if artifact is not None:
        return f"is {artifact}, not a scratchpad; name a markdown file (notes.md)"
    if path.is_symlink() and not path.exists():
        return (
            f"a symbolic link to {os.readlink(path)}, which does not exist; the export does "
            "not create it: name the scratchpad itself"
        )
    if within is not None and not target.is_relative_to(within.resolve()):
        return (
            f"leads out of the project ({within}) to {target}; a scratchpad found in the "
            "project or named in its table is written only inside it (give --scratchpad "
            "PATH to write elsewhere)"
        )
    return None


def _artifact_kind(name: str) -> str | None:
    """What artifact a file of this name is (None: not one)."""
    lowered = name.lower()
    if lowered.startswith("events.out.tfevents"):
        return "a TensorBoard event file"
    suffix = os.path.splitext(lowered)[1]
    return ARTIFACT_SUFFIXES.get(suffix)


def _lock(path: Path, fd: int) -> None:
    """Take the exclusive lock, waiting at most LOCK_WAIT_S for another export."""
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise ArtifactError(
                    str(path),
                    None,
                    f"locked by another program for over {LOCK_WAIT_S:.0f} s; it is unchanged",
                ) from None
            time.sleep(0.05)


def _tail(path: Path, size: int) -> str:
    """The last TAIL_BYTES of the file as it is now ("" when it cannot be read: a file
    the user may append to but not read gets a section, after a blank line)."""
    if size == 0:
        return ""
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, size - TAIL_BYTES))
            return handle.read(TAIL_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return ""


def _separator(tail: str, size: int) -> str:
    """A blank line before the entry, and a newline if the user's text lacks one."""
    if size == 0:
        return ""
    return "\n" if tail.endswith("\n") else "\n\n"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _cut_back(fd: int, size: int) -> None:
    """Remove a partial entry; a device such as /dev/full cannot be truncated (and needs not)."""
    with contextlib.suppress(OSError):
        os.ftruncate(fd, size)
