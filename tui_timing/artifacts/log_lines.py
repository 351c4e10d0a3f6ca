"""Read a text log line by line in bounded memory (docs/artifacts.md#stats-log).

A stats log can be hundreds of megabytes and still growing, and a damaged one can be a
single line of gigabytes. Lines are read from fixed-size chunks, so memory never holds
more than one chunk and one line, and a line longer than MAX_LINE_BYTES stops the read
with an ArtifactError naming it instead of being accumulated.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tui_timing.errors import ArtifactError

#: A line longer than this makes a log unusable (docs/artifacts.md#stats-log): no stats line is that
#: long.
MAX_LINE_BYTES = 1 << 20
_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class RawLine:
    """One line of the file: its 1-based number, its bytes without the line end, and
    whether a newline ended it (a last line without one may still be being written)."""

    number: int
    data: bytes
    complete: bool


def open_log(path: Path) -> None:
    """Refuse what cannot be read as a file before reading it (a FIFO would block)."""
    if not path.exists():
        raise ArtifactError(str(path), None, "file not found")
    if not path.is_file():
        raise ArtifactError(str(path), None, "not a regular file")


def read_lines(path: Path) -> Iterator[RawLine]:
    """Every line of `path`, in order; raises ArtifactError for an over-long line."""
    open_log(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ArtifactError(str(path), None, f"cannot be read ({exc.strerror})") from None
    with handle:
        pending = bytearray()
        number = 0
        while True:
            try:
                chunk = handle.read(_CHUNK_BYTES)
            except OSError as exc:
                raise ArtifactError(str(path), None, f"cannot be read ({exc.strerror})") from None
            if not chunk:
                break
            start = 0
            while True:
                end = chunk.find(b"\n", start)
                if end < 0:
                    pending += chunk[start:]
                    _require_short(path, number + 1, len(pending))
                    break
                data = chunk[start:end]
                if pending:
                    data = bytes(pending) + data
                    pending.clear()
                number += 1
                _require_short(path, number, len(data))
                yield RawLine(number, data.removesuffix(b"\r"), True)
                start = end + 1
        if pending:
            yield RawLine(number + 1, bytes(pending), False)


def _require_short(path: Path, number: int, size: int) -> None:
    if size > MAX_LINE_BYTES:
        raise ArtifactError(
            str(path),
            f"line {number}",
            f"longer than {MAX_LINE_BYTES >> 20} MB (over {size:,} bytes without a line end): "
            "not a stats log line, so the log cannot be used",
        )
