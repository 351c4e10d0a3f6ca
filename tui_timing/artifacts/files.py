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


def read_own_file(path: Path, max_bytes: int, *, private: bool = False) -> bytes:
    """The bytes of a small file timing-tui keeps for itself (a theme, the preferences, a
    results-cache record); OSError, with the reason as its strerror, for anything else.

    Such a file is read at every launch, so it is never waited on (a named pipe), never
    read past `max_bytes` (a file grown to gigabytes), and with `private` it must be the
    user's own and writable by nobody else, and not a link (a record another user could
    write would be results they forged).
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags | (os.O_NOFOLLOW if private else 0))
    with io.FileIO(fd, "rb") as handle:
        info = os.fstat(fd)
        problem = None
        if not stat.S_ISREG(info.st_mode):
            problem = "not a regular file (a folder, device, pipe or socket)"
        elif info.st_size > max_bytes:
            problem = f"larger than {max_bytes:,} bytes, more than such a file ever holds"
        elif private and info.st_uid != os.geteuid():
            problem = f"owned by another user (uid {info.st_uid})"
        elif private and info.st_mode & 0o022:
            problem = "writable by other users"
        if problem is not None:
            raise OSError(errno.EINVAL, problem, str(path))
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise OSError(errno.EFBIG, f"grew past {max_bytes:,} bytes while read", str(path))
    return data
