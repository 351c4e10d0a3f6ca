"""Training stats logs (SPEC 2.4): `stats.jsonl`, the same columns as CSV, Lightning's
`metrics.csv`; all read into one list of per-epoch, per-split records.

The log may belong to a run that is still going: a last line that does not parse (half
written) is ignored and reported, never fatal. Anything else that is wrong (a line in the
middle that is not JSON, a number written as a string) raises ArtifactError naming the line
and the key, because silently skipping it would bend the curves stage 4 reads.

Lightning writes `train/loss_epoch`, `val/loss` and step-level columns on sparse rows:
`train/` and `val/` prefixes become the split, an `_epoch` suffix is dropped, `_step`
columns are ignored, and the rows of one epoch and split are merged.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_timing.config import Settings
from tui_timing.errors import ArtifactError

SPLIT_PREFIXES = {"train/": "train", "val/": "val", "valid/": "val", "validation/": "val"}
#: The per-split statistics of one epoch that `_log_stats` writes (SPEC 2.4).
STAT_KEYS = (
    "loss",
    "duration_nll",
    "profile_loss",
    "dur_mu",
    "dur_sigma",
    "profile_first",
    "profile_mid",
    "profile_last",
)
#: The SPEC 2.4 figures: a string where one of these belongs is an error, not a note.
FIGURES = (*STAT_KEYS, "time")
#: Columns that are not figures.
_SKIP_COLUMNS = {"step", "global_step", "split", "epoch"}


@dataclass
class StatsLog:
    """Per-epoch records, each {"epoch": int, "split": str, figure: float, ...}."""

    path: Path
    format: str
    records: list[dict[str, Any]]
    #: Why the last line was ignored (a run still writing), or None.
    ignored_last_line: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def splits(self) -> list[str]:
        """The splits present, train first."""
        found = {r["split"] for r in self.records}
        return sorted(found, key=lambda s: (s != "train", s != "val", s))

    @property
    def columns(self) -> set[str]:
        """Every figure name present in some record."""
        return {k for r in self.records for k in r if k not in ("epoch", "split")}

    def series(self, split: str, key: str) -> tuple[list[int], list[float]]:
        """(epochs, values) of one figure on one split, in epoch order."""
        pairs = sorted(
            (r["epoch"], r[key]) for r in self.records if r["split"] == split and key in r
        )
        return [e for e, _ in pairs], [v for _, v in pairs]


def load_stats_log(path: str | Path, settings: Settings | None = None) -> StatsLog:
    """Read a JSONL or CSV stats log; raise ArtifactError for one that cannot be used."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(
            str(path), None, "file not found" if not path.exists() else "not a file"
        )
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ArtifactError(str(path), None, f"cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ArtifactError(str(path), None, "not a text log (not UTF-8)") from None
    if not text.strip():
        raise ArtifactError(str(path), None, "the log is empty (no epoch written yet)")
    is_jsonl = text.lstrip().startswith("{")
    log = _read_jsonl(path, text) if is_jsonl else _read_csv(path, text)
    if not log.records:
        raise ArtifactError(str(path), None, "the log holds no complete record")
    return log


def _read_jsonl(path: Path, text: str) -> StatsLog:
    lines = text.split("\n")
    numbered = [(i + 1, line) for i, line in enumerate(lines) if line.strip()]
    rows: list[tuple[int, dict[str, Any]]] = []
    ignored = None
    for position, (number, line) in enumerate(numbered):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            if position == len(numbered) - 1:
                ignored = f"line {number} is incomplete ({exc.msg}); a run still writing?"
                break
            raise ArtifactError(
                str(path), f"line {number}", f"not valid JSON ({exc.msg})"
            ) from None
        if not isinstance(obj, dict):
            raise ArtifactError(
                str(path), f"line {number}", f"expected a JSON object, found {type(obj).__name__}"
            )
        rows.append((number, obj))
    log = StatsLog(path=path, format="jsonl", records=[], ignored_last_line=ignored)
    log.records = _records(path, rows, log.notes)
    return log


def _read_csv(path: Path, text: str) -> StatsLog:
    complete = text.endswith("\n")
    try:
        table = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise ArtifactError(str(path), None, f"not a readable CSV ({exc})") from None
    table = [row for row in table if any(cell.strip() for cell in row)]
    if not table:
        raise ArtifactError(str(path), None, "the log is empty")
    header = [h.strip() for h in table[0]]
    lightning = any(h.startswith(tuple(SPLIT_PREFIXES)) for h in header)
    rows: list[tuple[int, dict[str, Any]]] = []
    ignored = None
    for offset, row in enumerate(table[1:]):
        number = offset + 2
        try:
            rows.append((number, _csv_row(path, number, header, row)))
        except ArtifactError as exc:
            if not complete and offset == len(table) - 2:
                ignored = f"the last row (line {number}) is incomplete ({exc.problem})"
                break
            raise
    log = StatsLog(
        path=path,
        format="lightning metrics.csv" if lightning else "csv",
        records=[],
        ignored_last_line=ignored,
    )
    log.records = _records(path, rows, log.notes)
    return log


def _csv_row(path: Path, number: int, header: list[str], row: list[str]) -> dict[str, Any]:
    if len(row) != len(header):
        raise ArtifactError(
            str(path), f"line {number}", f"{len(row)} cells for {len(header)} columns"
        )
    values: dict[str, Any] = {}
    for name, cell in zip(header, row, strict=True):
        cell = cell.strip()
        if cell:
            values[name] = cell if name == "split" else _csv_number(path, number, name, cell)
    return values


def _csv_number(path: Path, line: int, key: str, cell: str) -> float:
    try:
        return float(cell)
    except ValueError:
        raise ArtifactError(
            str(path), key, f"line {line}: expected a number, found {cell!r}"
        ) from None


def _records(
    path: Path, rows: list[tuple[int, dict[str, Any]]], notes: list[str]
) -> list[dict[str, Any]]:
    """Normalize rows to {"epoch", "split", figures}, merging rows of one epoch and split."""
    merged: dict[tuple[int, str], dict[str, Any]] = {}
    counters: dict[str, int] = {}
    missing_epoch = False
    for number, row in rows:
        split_values: dict[str, dict[str, float]] = {}
        for key, value in row.items():
            if key in _SKIP_COLUMNS or key == "time" or value is None:
                continue
            if isinstance(value, str) and key not in FIGURES:
                continue  # a free-text field (a run name, a note): not a figure
            split, name = _split_key(key, row.get("split"))
            if name is None:
                continue
            split_values.setdefault(split, {})[name] = _number(path, number, key, value)
        if "time" in row:
            for values in split_values.values():
                values["time"] = _number(path, number, "time", row["time"])
        for split, values in split_values.items():
            if "epoch" in row:
                epoch = _epoch(path, number, row["epoch"])
            else:
                missing_epoch = True
                epoch = counters.get(split, 0) + 1
                counters[split] = epoch
            merged.setdefault((epoch, split), {"epoch": epoch, "split": split}).update(values)
    if missing_epoch:
        notes.append("some records have no epoch: numbered in the order they appear")
    return sorted(merged.values(), key=lambda r: (r["epoch"], r["split"]))


def _split_key(key: str, row_split: Any) -> tuple[str, str | None]:
    """(split, figure name) of a column; name None for columns that are not per-epoch."""
    for prefix, split in SPLIT_PREFIXES.items():
        if key.startswith(prefix):
            name = key[len(prefix) :]
            if name.endswith("_step"):
                return split, None
            return split, name.removesuffix("_epoch")
    split = row_split if isinstance(row_split, str) and row_split else "train"
    if key.endswith("_step"):
        return split, None
    return split, key


def _number(path: Path, line: int, key: str, value: Any) -> float:
    """A figure as a float (NaN and ±inf kept, so stage 4 can report them)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        found = f"the string {value!r}" if isinstance(value, str) else type(value).__name__
        raise ArtifactError(str(path), key, f"line {line}: expected a number, found {found}")
    return float(value)


def _epoch(path: Path, line: int, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ArtifactError(
            str(path), "epoch", f"line {line}: expected an integer, found {value!r}"
        )
    if value != int(value):
        raise ArtifactError(
            str(path), "epoch", f"line {line}: expected an integer, found {value!r}"
        )
    return int(value)
