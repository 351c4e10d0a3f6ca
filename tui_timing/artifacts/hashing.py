"""Content hashes of artifact files: the report names each artifact by one, and a checkpoint
written by `timing-tui train` records its cache's (`cache_sha256`), so a check can tell a
checkpoint trained on another cache."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path) -> str | None:
    """The SHA-256 of a file's bytes, read in blocks; None for a missing/unreadable file,
    and for anything but a regular file (hashing a pipe or /dev/zero would never end)."""
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()
