"""Finding and parsing raw Balabit-format session files (docs/artifacts.md#building-a-cache).

A session file is CSV with a header row: record timestamp, client timestamp, button,
state, x, y. Parsing is one C call per file (`np.loadtxt` into a structured array), which
also enforces six columns on every row; only when that call or the checks after it fail is
the file read again line by line, to name the exact line and column in the error. The
careful pass is never used to produce data, so there is one parser and one set of figures.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import zlib
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tui_timing.artifacts.budget import memory_budget, require_memory
from tui_timing.artifacts.files import open_artifact
from tui_timing.errors import ArtifactError

COLUMNS = ("record timestamp", "client timestamp", "button", "state", "x", "y")
STATES = ("Move", "Drag", "Pressed", "Released", "Down", "Up")
MOTION_STATES = ("Move", "Drag")
_GZIP_MAGIC = b"\x1f\x8b"
_UTF8_BOM = b"\xef\xbb\xbf"
_NUMERIC = (0, 1, 4, 5)
_READ_AHEAD = 2
#: A session row is about 60 bytes: a line longer than this means the file is not a session
#: (one endless line from a gzip bomb, say), and reading stops there.
MAX_LINE_BYTES = 1 << 20
_BLOCK = MAX_LINE_BYTES
#: Parsing holds the text, the rows after the header and the parsed columns at once.
_PARSE_COST = 4
# The button is not used, so one byte of it is kept. The state gets one byte more than its
# longest word, so a longer, unknown word can never be truncated into a known one.
_ROW = np.dtype(
    [("record", "f8"), ("t", "f8"), ("button", "S1"), ("state", "S9"), ("x", "f8"), ("y", "f8")]
)


@dataclass(frozen=True)
class Session:
    """The events of one file: client time (s), position (px) and whether each is motion."""

    path: Path
    t: np.ndarray  # float64 [n]
    x: np.ndarray  # float64 [n]
    y: np.ndarray  # float64 [n]
    motion: np.ndarray  # bool [n]

    @property
    def n_events(self) -> int:
        return int(self.t.shape[0])


def discover_session_files(raw_dir: Path) -> list[Path]:
    """Every non-hidden regular file under `raw_dir`, recursively, in a stable order.

    Names and extensions mean nothing (Balabit's files have none); hidden folders are not
    entered, so a `.git` or `.cache` beside the data is never read as sessions.
    """
    if not raw_dir.is_dir():
        raise ArtifactError(str(raw_dir), None, "not a folder of session files")
    found: list[Path] = []
    for folder, dirs, names in os.walk(raw_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            path = Path(folder) / name
            if not name.startswith(".") and path.is_file():
                found.append(path)
    return sorted(found)


def read_sessions(paths: Sequence[Path]) -> Iterator[Session]:
    """Parse the files in order; the next ones are read and decompressed meanwhile.

    Decompression releases the GIL while parsing holds it, so a background thread hides
    most of the gzip time; `_READ_AHEAD` bounds how many decompressed files wait in memory.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = deque(pool.submit(_read_text_bytes, p) for p in paths[:_READ_AHEAD])
        for index, path in enumerate(paths):
            data = pending.popleft().result()
            if index + _READ_AHEAD < len(paths):
                pending.append(pool.submit(_read_text_bytes, paths[index + _READ_AHEAD]))
            yield _parse_session(path, data)


def _parse_session(path: Path, data: bytes) -> Session:
    """Parse the (decompressed) bytes of one session file."""
    body = _drop_header(path, data)
    if not body.strip():  # a header-only session: no events (and no loadtxt warning)
        empty = np.zeros(0)
        return Session(path, empty, empty.copy(), empty.copy(), np.zeros(0, dtype=bool))
    try:
        rows = np.loadtxt(io.BytesIO(body), delimiter=",", dtype=_ROW, comments=None, ndmin=1)
    except ValueError as exc:
        raise _locate_problem(path, body, str(exc)) from None
    state = rows["state"]
    known = _is_one_of(state, STATES)
    finite = np.ones(len(rows), dtype=bool)
    for name in ("record", "t", "x", "y"):
        finite &= np.isfinite(rows[name])
    if not (known.all() and finite.all()):
        raise _locate_problem(path, body, "unknown state or non-finite number")
    return Session(
        path=path,
        t=np.ascontiguousarray(rows["t"]),
        x=np.ascontiguousarray(rows["x"]),
        y=np.ascontiguousarray(rows["y"]),
        motion=_is_one_of(state, MOTION_STATES),
    )


def _is_one_of(values: np.ndarray, words: tuple[str, ...]) -> np.ndarray:
    """Elementwise membership of a bytes array in a few words (cheaper than np.isin here)."""
    found = np.zeros(values.shape, dtype=bool)
    for word in words:
        found |= values == word.encode()
    return found


def _read_text_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when they start with the gzip magic number.

    Read as a stream, a block at a time: a line longer than MAX_LINE_BYTES, or more text
    than the memory budget allows, stops the read before the rest is inflated.
    """
    with open_artifact(path) as raw:
        try:
            compressed = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw) if compressed else raw
            data = _read_bounded(path, stream)
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise ArtifactError(str(path), None, f"corrupt gzip data: {exc}") from None
        except OSError as exc:
            raise ArtifactError(str(path), None, f"cannot read: {exc.strerror or exc}") from None
    return data.removeprefix(_UTF8_BOM)


def _read_bounded(path: Path, stream: io.BufferedIOBase | gzip.GzipFile) -> bytes:
    budget = memory_budget()
    parts: list[bytes] = []
    total, line, line_number = 0, 0, 1  # `line`: bytes of the line not yet ended
    while block := stream.read(_BLOCK):
        first = block.find(b"\n")
        if first >= 0:
            if line + first > MAX_LINE_BYTES:
                break
            line_number += block.count(b"\n")
            line = len(block) - block.rfind(b"\n") - 1
        else:
            line += len(block)
        if line > MAX_LINE_BYTES:
            break
        total += len(block)
        if budget is not None and total * _PARSE_COST > budget:
            require_memory(path, None, total * _PARSE_COST, "reading and parsing the session")
        parts.append(block)
    else:
        return b"".join(parts)
    raise ArtifactError(
        str(path),
        None,
        f"line {line_number}: longer than {MAX_LINE_BYTES // (1 << 20)} MB (a session's rows "
        "are about 60 bytes); not a session file",
    )


def _drop_header(path: Path, data: bytes) -> bytes:
    """Check the header row and return the data rows after it."""
    header, newline, body = data.partition(b"\n")
    fields = header.decode("utf-8", errors="replace").rstrip("\r").split(",")
    if not header.strip():
        raise ArtifactError(str(path), None, "line 1: empty, expected the header row")
    if len(fields) != len(COLUMNS):
        raise ArtifactError(
            str(path),
            None,
            f"line 1: header has {len(fields)} columns, expected {len(COLUMNS)} "
            f"({', '.join(COLUMNS)})",
        )
    if _is_number(fields[1]):
        raise ArtifactError(
            str(path), None, f"line 1: no header row (expected {', '.join(COLUMNS)})"
        )
    return body if newline else b""


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _locate_problem(path: Path, body: bytes, fallback: str) -> ArtifactError:
    """Re-read the rows one by one to say which line and column is wrong.

    Runs only after the fast parse failed, so its cost is paid once, for the error message.
    """
    text = body.decode("utf-8", errors="replace")
    for number, line in enumerate(text.split("\n"), start=2):  # line 1 is the header
        problem = _line_problem(line.rstrip("\r"))
        if problem:
            return ArtifactError(str(path), None, f"line {number}: {problem}")
    return ArtifactError(str(path), None, f"cannot parse: {fallback}")


def _line_problem(line: str) -> str | None:
    if not line.strip():
        return None
    if "\r" in line:
        return "a carriage return inside the line (mixed line endings)"
    fields = line.split(",")
    if len(fields) != len(COLUMNS):
        return f"expected {len(COLUMNS)} columns, found {len(fields)}"
    for index in _NUMERIC:
        value = fields[index]
        try:
            number = float(value)
        except ValueError:
            return f"column {index + 1} ({COLUMNS[index]}): {value!r} is not a number"
        if not math.isfinite(number):
            return f"column {index + 1} ({COLUMNS[index]}): {value!r} is not a finite number"
    if fields[3] not in STATES:
        return (
            f"column 4 (state): unknown state {fields[3]!r} (expected one of {', '.join(STATES)})"
        )
    return None
