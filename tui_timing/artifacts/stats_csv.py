"""CSV stats logs: the stats-log columns (docs/artifacts.md#stats-log) long (a
`split`/`phase`/`stage` column) or wide (`train_loss`, `val/loss`, ...), and Lightning's
`metrics.csv`, whose rows of one epoch are sparse and merged by the RowCollector.

The header decides whether the file is a stats log at all: a CSV with no column that
reads as a figure is unusable, and the error names the columns expected and found.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from tui_timing.artifacts.log_lines import RawLine, read_lines
from tui_timing.artifacts.stats_rows import FIGURES, SPLIT_FIELDS, RowCollector
from tui_timing.errors import ArtifactError


def read_csv(path: Path, rows: RowCollector) -> tuple[str, str | None]:
    """Feed every row to `rows`; return the format's name and why the last row was
    ignored (or None)."""
    source = _LineSource(path)
    reader = csv.reader(source)
    try:
        header = [cell.strip() for cell in next(reader)]
    except StopIteration:
        raise ArtifactError(str(path), None, "the log is empty (no epoch written yet)") from None
    except csv.Error as exc:
        raise ArtifactError(str(path), "line 1", f"not a readable CSV header ({exc})") from None
    require_known_columns(path, header, rows)
    lightning = "step" in header or any("/" in h or h.endswith(("_epoch", "_step")) for h in header)
    ignored = None
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if source.at_end and not source.last_complete:
                ignored = f"the last row (line {source.number}) is incomplete ({exc})"
                break
            raise ArtifactError(
                str(path), f"line {source.number}", f"not readable as CSV ({exc})"
            ) from None
        if not any(cell.strip() for cell in cells):
            continue
        where = f"line {source.number}"
        try:
            if len(cells) != len(header):
                raise ArtifactError(
                    str(path), where, f"{len(cells)} cells for {len(header)} columns"
                )
            rows.add(where, dict(zip(header, cells, strict=True)), text=True)
        except ArtifactError as exc:
            if source.at_end and not source.last_complete:
                ignored = f"the last row ({where}) is incomplete ({exc.problem})"
                break
            raise
    return ("lightning metrics.csv" if lightning else "csv"), ignored


def require_known_columns(path: Path, header: list[str], rows: RowCollector) -> None:
    """A CSV is a stats log only when some column reads as a docs/artifacts.md#stats-log figure."""
    if any((role := rows.role(name)) is not None and role[0] == "figure" for name in header):
        return
    found = ", ".join(repr(h[:60]) for h in header[:30]) or "none"
    raise ArtifactError(
        str(path),
        None,
        f"no known column: expected some of {', '.join(FIGURES)} (plain with a "
        f"{'/'.join(SPLIT_FIELDS)} column, or as train_x, val_x, train/x, val/x); found "
        f"{found}. Map your names in [tool.timing-tui.keys.log] (e.g. profile_first = "
        '"p0") or with --key log.profile_first=p0',
    )


class _LineSource:
    """Decoded lines for csv.reader, remembering where it is and whether the file ended
    with a complete line (a row cut off by a run still writing is not an error)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lines: Iterator[RawLine] = read_lines(path)
        self.number = 0
        self.last_complete = True
        self.at_end = False

    def __iter__(self) -> _LineSource:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.number = line.number
        self.last_complete = line.complete
        self.at_end = not line.complete
        try:
            return line.data.decode("utf-8") + "\n"
        except UnicodeDecodeError:
            raise ArtifactError(
                str(self._path), f"line {line.number}", "not a text log (not UTF-8)"
            ) from None
