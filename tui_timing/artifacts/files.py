"""Open an artifact for reading: a regular file, or a clear reason why not, never a hang.

Opening is non-blocking (a named pipe would otherwise wait for a writer forever) and what
was opened is checked with `fstat`, so a pipe, a device or a folder is refused by what it
is, not by what its name says. A file that changes while it is read (a user's script
re-saving a cache in place) is caught by comparing its size and modification time before
and after: the reader gets a clear error instead of a mix of two versions.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from pathlib import Path

from tui_timing.errors import ArtifactError


def open_artifact(path: Path) -> io.BufferedReader:
    """Open `path` for binary reading; ArtifactError when it is not a readable regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ArtifactError(str(path), None, open_problem(path, exc)) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        problem = (
            "is a folder, not a file"
            if stat.S_ISDIR(info.st_mode)
            else "not a regular file (a device, pipe or socket)"
        )
        raise ArtifactError(str(path), None, problem)
    return io.BufferedReader(io.FileIO(fd, "rb"))


def open_problem(path: Path, exc: OSError) -> str:
    """What an OSError from opening `path` means, in the user's words."""
    if exc.errno == errno.ELOOP:
        return "a symbolic link loop (following its links leads back to one of them)"
    if exc.errno == errno.ENOENT:
        if os.path.islink(path):
            return f"a symbolic link to {os.readlink(path)}, which does not exist"
        return "file not found"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return f"cannot be opened ({exc.strerror or exc})"


def fingerprint(handle: io.BufferedReader) -> tuple[int, int]:
    """The open file's size and modification time, to tell whether it changed."""
    info = os.fstat(handle.fileno())
    return info.st_size, info.st_mtime_ns


def changed_while_read(path: Path) -> ArtifactError:
    """The error for a file that another program rewrote while it was being read."""
    return ArtifactError(
        str(path),
        None,
        "the file changed while it was being read (another program is writing it in "
        "place); read it again once it is fully written",
    )
