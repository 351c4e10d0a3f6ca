"""Atomic writes: a reader sees the old file or the new one, never half of either.

Everything timing-tui writes (caches, summaries, checkpoints, eval dumps) goes through
here: the bytes land in a temporary file in the target's folder, are flushed to disk, and
the temporary file is renamed over the target. A process killed halfway leaves at most a
hidden `.tmp-` file, never a truncated artifact under the real name. The file gets the
permissions a plain `open()` would give it (or keeps those of the file it replaces), not
the owner-only mode of a temporary file: a cache in a shared datasets folder stays readable.
A write that fails (a full disk, a folder in the way) raises ArtifactError naming the file
and the reason, whatever layer noticed it first (torch's writer wraps the OS error in a
RuntimeError of its own).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from tui_timing.errors import ArtifactError


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb", private: bool = False) -> Iterator[IO[Any]]:
    """Open a temporary sibling of `path` for writing; rename it over `path` on success.
    `private`: readable and writable by the owner alone (timing-tui's own records)."""
    target = Path(path)
    existed = target.exists()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.tmp-", dir=target.parent)
    except OSError as exc:
        raise write_error(target, exc, existed) from None
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, 0o600 if private else _final_mode(target))
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        cause = _os_error(exc)
        if cause is None:
            raise
        raise write_error(target, cause, existed) from None
    _fsync_dir(target.parent)


def write_error(target: Path, exc: OSError, existed: bool) -> ArtifactError:
    """The ArtifactError for a write to `target` that failed with `exc`."""
    if exc.errno == errno.ENOSPC:
        reason = "the disk is full"
    elif exc.errno == errno.EDQUOT:
        reason = "the disk quota is used up"
    else:
        reason = exc.strerror or str(exc)
    left = "the file is unchanged" if existed else "nothing was written"
    return ArtifactError(str(target), None, f"cannot be written ({reason}); {left}")


def _os_error(exc: BaseException) -> OSError | None:
    """The OSError behind `exc` (itself, or what a RuntimeError of torch's was raised
    while handling); None for other failures (an object that cannot be pickled, say)."""
    if isinstance(exc, ArtifactError):
        return None
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            return None
        if isinstance(seen, OSError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _final_mode(target: Path) -> int:
    """The replaced file's permission bits, or those `open()` gives a new file (umask)."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (thread-safe)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (best effort: not every file system allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes, private: bool = False) -> None:
    """Write `data` to `path` atomically (`private`: as atomic_open)."""
    with atomic_open(path, "wb", private) as handle:
        handle.write(data)


def atomic_write_text(path: str | Path, text: str, private: bool = False) -> None:
    """Write UTF-8 `text` to `path` atomically (`private`: as atomic_open)."""
    atomic_write_bytes(path, text.encode("utf-8"), private)


def atomic_write_json(path: str | Path, obj: Any, private: bool = False) -> None:
    """Write `obj` as indented JSON, atomically (`private`: as atomic_open)."""
    atomic_write_text(path, json.dumps(obj, indent=2, allow_nan=False) + "\n", private)


def private_folder(folder: Path) -> Path:
    """`folder`, created if need be as the user's alone (0700 whatever the umask), and
    checked to be one: a real folder (not a link), the user's own, that no other user can
    write to. OSError otherwise: what timing-tui keeps for itself there (results,
    preferences) must not be readable as another user's forgery, nor a way to make it
    write or delete elsewhere."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        folder.mkdir(mode=0o700)
        os.chmod(folder, 0o700)  # mkdir's mode is filtered by the umask only one way
    except FileExistsError:
        pass
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise OSError(errno.ENOTDIR, "not a folder of its own (a link or a file)", str(folder))
    if info.st_uid != os.geteuid():
        raise OSError(errno.EPERM, f"owned by another user (uid {info.st_uid})", str(folder))
    if info.st_mode & 0o022:
        raise OSError(errno.EPERM, "writable by other users", str(folder))
    return folder


def atomic_torch_save(path: str | Path, obj: Any) -> None:
    """`torch.save` to `path` atomically (torch's default zip format)."""
    import torch  # here, so that the results cache writes without importing torch

    with atomic_open(path, "wb") as handle:
        torch.save(obj, handle)
