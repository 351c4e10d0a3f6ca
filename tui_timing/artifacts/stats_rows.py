"""Turn the rows of any stats-log format into per-split, per-figure series (SPEC 2.4).

Every reader (JSONL, CSV, TensorBoard, text) hands rows of `name -> value` to one
RowCollector, so names mean the same in every format:

- the split comes from a `split` / `phase` / `stage` field, or from the name itself: a
  path component (`val/loss`, `timing/val/dur_mu`: scalars under any prefix; `loss/val`
  as TensorBoard users write it) or a prefix (`val_loss`); `valid` / `validation` are
  `val`, `training` is `train`;
- the epoch comes from `epoch` / `ep`, or is given by the reader (a text line without one
  takes the last epoch seen), or else rows are numbered in the order they appear;
- Lightning's `_epoch` suffix is dropped and `_step` columns (per-batch values) are not
  figures; names the user's code uses map through `settings.keys["log"]`;
- fields that are not SPEC 2.4 figures (`lr`, `step`, ...) are ignored, never fatal.

Values are kept in compact arrays (16 bytes each), never as a dict per row, so a log of a
million lines costs tens of megabytes; rows of one epoch and split logged on separate
lines merge (a later value wins).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from tui_timing.errors import ArtifactError

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
SPLIT_NAMES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
}
SPLIT_FIELDS = ("split", "phase", "stage")
EPOCH_FIELDS = ("epoch", "ep")
_NAME_PREFIXES = tuple((f"{name}_", split) for name, split in SPLIT_NAMES.items())
#: Distinct names remembered (for roles and for messages); a hostile log with a new name
#: on every line must not grow memory without bound.
_MAX_NAMES = 10_000

Role = tuple[str, str | None, str] | None  # ("figure"|"epoch"|"split", split, figure name)
Series = dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]


class RowCollector:
    """Accumulates rows into series; `finish()` returns them sorted and merged by epoch."""

    def __init__(self, path: Path, key_map: Mapping[str, str] | None = None) -> None:
        self.path = path
        self.key_map = dict(key_map or {})
        self._by_user = {user: contract for contract, user in self.key_map.items()}
        self._roles: dict[str, Role] = {}
        self._seen: dict[str, None] = {}
        self._series: dict[str, dict[str, tuple[array[int], array[float]]]] = {}
        self._counters: dict[str, int] = {}
        self.missing_epoch = False
        self.bad_time: str | None = None
        self.rows = 0

    # --- names -------------------------------------------------------------------------

    def role(self, key: str) -> Role:
        """What a field name stands for: a figure (with the split its name carries, if any),
        the epoch, the split, or None for a field that is ignored."""
        found = self._roles.get(key, ...)
        if found is not ...:
            return found
        role = self._resolve(key)
        if len(self._roles) < _MAX_NAMES:
            self._roles[key] = role
        return role

    def _remember(self, name: str) -> None:
        if len(self._seen) < _MAX_NAMES:
            self._seen[name] = None

    def _resolve(self, key: str) -> Role:
        self._remember(key)
        if key in self._by_user:
            return _contract_role(self._by_user[key], None)
        parts = key.split("/")
        split = None
        for part in parts[:-1]:
            split = SPLIT_NAMES.get(part.lower(), split)
        name = parts[-1]
        if split is None and len(parts) > 1 and name.lower() in SPLIT_NAMES:
            split, name = SPLIT_NAMES[name.lower()], parts[-2]  # TensorBoard's `loss/train`
        if split is None:
            for prefix, prefix_split in _NAME_PREFIXES:
                if name.lower().startswith(prefix) and len(name) > len(prefix):
                    split, name = prefix_split, name[len(prefix) :]
                    break
        self._remember(name)
        if name in self._by_user:
            return _contract_role(self._by_user[name], split)
        if name.endswith("_step"):
            return None  # a per-batch value
        name = name.removesuffix("_epoch")
        self._remember(name)
        return _contract_role(self._by_user.get(name, name), split)

    def seen_names(self, limit: int = 30) -> str:
        """The names met so far, for a message."""
        names = list(self._seen)
        more = f", … ({len(names)} names)" if len(names) > limit else ""
        return (", ".join(n[:60] for n in names[:limit]) or "none") + more

    # --- rows --------------------------------------------------------------------------

    def add(
        self,
        where: str,
        row: Mapping[str, Any],
        *,
        split: str | None = None,
        epoch: int | None = None,
        text: bool = False,
    ) -> int:
        """Add one row; `where` ("line 12") names it in errors. `text` rows hold strings
        (CSV cells, regex groups) that are parsed as numbers. Returns the figures stored."""
        figures: list[tuple[str | None, str, float]] = []
        times: list[float] = []
        row_split = split
        row_epoch = epoch
        roles = self._roles
        for key, value in row.items():
            role = roles[key] if key in roles else self.role(key)
            if role is None or value is None:
                continue
            kind, name_split, name = role
            if kind == "figure":
                if type(value) is not float:
                    if isinstance(value, str) and not value.strip():
                        continue  # an empty CSV cell: not logged on this row
                    if name == "time":
                        seconds = self._time(where, value)
                        if seconds is None:
                            continue
                        value = seconds
                    else:
                        value = self._number(where, key, value, text)
                if name == "time" and name_split is None:
                    times.append(value)  # the row's time, for each split it holds
                else:
                    figures.append((name_split, name, value))
            elif kind == "split":
                row_split = self._split(where, key, value)
            else:
                row_epoch = self.parse_epoch(where, key, value)
        self.rows += 1
        default = row_split or "train"
        targets: dict[str, tuple[int, dict[str, tuple[array[int], array[float]]]]] = {}
        for name_split, name, value in figures:
            target = name_split or default
            found = targets.get(target)
            if found is None:
                found = targets[target] = (
                    self._epoch_for(target, row_epoch),
                    self._series.setdefault(target, {}),
                )
                for seconds in times:
                    _append(found[1], "time", found[0], seconds)
            _append(found[1], name, found[0], value)
        return len(figures)

    def _epoch_for(self, split: str, epoch: int | None) -> int:
        """The row's epoch, or the next number of `split` when the log gives none."""
        if epoch is not None:
            return epoch
        self.missing_epoch = True
        number = self._counters.get(split, 0) + 1
        self._counters[split] = number
        return number

    def finish(self) -> Series:
        """The series, each sorted by epoch with one value per epoch (the last logged)."""
        self._require_mapped_names()
        out: Series = {}
        for split, by_name in self._series.items():
            for name, (epochs_array, values_array) in list(by_name.items()):
                epochs = np.frombuffer(epochs_array, dtype=np.int64)
                values = np.frombuffer(values_array, dtype=np.float64)
                if epochs.size > 1 and not np.all(np.diff(epochs) > 0):
                    # rows of one epoch logged on several lines: the last value logged wins
                    order = np.argsort(epochs, kind="stable")
                    epochs, values = epochs[order], values[order]
                    last = np.append(epochs[1:] != epochs[:-1], True)
                    epochs, values = epochs[last], values[last]
                out[(split, name)] = (epochs.copy(), values.copy())
                del by_name[name]  # the arrays go as their copies are made
        self._series.clear()
        return out

    def _require_mapped_names(self) -> None:
        """A name mapped in keys.log that the log never holds is the user's to fix."""
        for contract, user in self.key_map.items():
            if user not in self._seen:
                raise ArtifactError(
                    str(self.path),
                    user,
                    f"keys.log maps {contract} to {user!r}, which is not in this log "
                    f"(names found: {self.seen_names()}); fix the name in "
                    f"[tool.timing-tui.keys.log] or in --key log.{contract}=NAME",
                )

    # --- values ------------------------------------------------------------------------

    def _number(self, where: str, key: str, value: Any, text: bool) -> float:
        """A figure as a float (NaN and ±inf kept, so stage 4 can report them)."""
        if text and isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                raise ArtifactError(
                    str(self.path), key, f"{where}: expected a number, found {value!r}"
                ) from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            found = f"the string {value!r}" if isinstance(value, str) else type(value).__name__
            raise ArtifactError(str(self.path), key, f"{where}: expected a number, found {found}")
        return float(value)

    def parse_epoch(self, where: str, key: str, value: Any) -> int:
        """An epoch as an int: an integer, an integral float, or such a number as text."""
        number = value
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                number = None
        if (
            isinstance(number, bool)
            or not isinstance(number, (int, float))
            or not math.isfinite(number)
            or number != int(number)
        ):
            raise ArtifactError(
                str(self.path), key, f"{where}: expected an integer epoch, found {value!r}"
            )
        return int(number)

    def _split(self, where: str, key: str, value: Any) -> str:
        if not isinstance(value, str):
            raise ArtifactError(
                str(self.path), key, f"{where}: expected a split name, found {value!r}"
            )
        name = value.strip()
        return SPLIT_NAMES.get(name.lower(), name)

    def _time(self, where: str, value: Any) -> float | None:
        """Seconds from a number or an ISO 8601 string; anything else is noted, not fatal."""
        seconds = parse_time(value)
        if seconds is None and self.bad_time is None:
            self.bad_time = f"{where}: time {str(value)[:40]!r} is not seconds nor ISO 8601"
        return seconds


def _append(
    series: dict[str, tuple[array[int], array[float]]], name: str, epoch: int, value: float
) -> None:
    found = series.get(name)
    if found is None:
        found = series[name] = (array("q"), array("d"))
    found[0].append(epoch)
    found[1].append(value)


def _contract_role(name: str, split: str | None) -> Role:
    if split is None and name in EPOCH_FIELDS:
        return ("epoch", None, "epoch")
    if split is None and name in SPLIT_FIELDS:
        return ("split", None, "split")
    if name in FIGURES:
        return ("figure", split, name)
    return None


def parse_time(value: Any) -> float | None:
    """Seconds as logged: a number, or an ISO 8601 time (as POSIX seconds) such as
    `2025-10-24T12:01:02Z` or `logging`'s `2025-10-24 12:01:02,123`."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    text = text.replace(",", ".")
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text).timestamp()
    except (ValueError, OverflowError, OSError):
        return None
