"""Turn the rows of any stats-log format into per-split, per-figure series (see
docs/artifacts.md, Stats log).

Every reader (JSONL, CSV, TensorBoard, text, trainer_state.json) hands rows of
`name -> value` to one RowCollector, so names mean the same in every format:

- the split comes from a `split` / `phase` / `stage` field, or from the name itself: a
  leading path component (`eval/loss`, `train/loss/nll`), any component of a longer path
  (`timing/val/dur_mu`: scalars under any prefix; `loss/val` as TensorBoard users write
  it) or a prefix (`val_loss`, HF's `eval_loss`); `eval`, `valid` and `validation` are
  `val`, `training` is `train`; each split's values stay its own;
- names the user's code uses map through `settings.keys["log"]`, matched on the whole name
  and on the name with its split prefix removed (`eval/loss/nll` and `loss/nll` both map
  through `duration_nll = "loss/nll"`);
- the x axis is the epoch when one is logged (`epoch`, `ep`, `train/epoch`; fractional
  epochs, as HF writes them, are step-level records: each epoch keeps its last record,
  the one at its boundary), converted from the step where a record has only a step; else
  the step (`step`, `global_step`, TensorBoard's event step); else rows are numbered in
  the order they appear;
- mean log σ (`log_sigma`) is a figure of its own; σ = exp(log σ) where no σ is logged,
  and a σ with negative values is refused (it was log σ under σ's name);
- Lightning's `_epoch` suffix is dropped and `_step` columns (per-batch values) are not
  figures; fields that are not figures (`lr`, ...) are ignored, never fatal; HF's
  end-of-training summary record (`train_runtime`, whose `train_loss` is the mean over the
  whole run) is left out.

Values are kept in compact arrays (32 bytes each), never as a dict per row, so a log of a
million lines costs tens of megabytes; rows of one x position and split logged on separate
lines merge (a later value wins).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from tui_timing.errors import ArtifactError

#: The per-split statistics of one epoch that `_log_stats` writes (docs/artifacts.md#stats-log).
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
#: The figures read from a log: a string where one of these belongs is an error, not a
#: note. `log_sigma` is the mean predicted log σ (σ = exp where no σ is logged).
FIGURES = (*STAT_KEYS, "log_sigma", "time")
#: Names of the mean log σ besides `log_sigma` itself.
LOG_SIGMA_ALIASES = ("dur_log_sigma", "mean_log_sigma", "log_std", "dur_log_std")
SPLIT_NAMES = {
    "train": "train",
    "training": "train",
    "eval": "val",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
}
SPLIT_FIELDS = ("split", "phase", "stage")
EPOCH_FIELDS = ("epoch", "ep")
#: Epochs and steps are kept as int64: a larger one is no training's.
EPOCH_LIMIT = 2**63
STEP_FIELDS = ("step", "global_step")
#: A record holding this is HF's end-of-training summary, not a step's figures.
SUMMARY_MARK = "train_runtime"
_NAME_PREFIXES = tuple((f"{name}_", split) for name, split in SPLIT_NAMES.items())
#: Distinct names remembered (for roles and for messages); a hostile log with a new name
#: on every line must not grow memory without bound.
_MAX_NAMES = 10_000
#: No (step, epoch) pairs: for a log whose every record has its epoch.
_NO_STEP_EPOCHS = (np.zeros(0, dtype=np.int64), np.zeros(0))
#: Epochs within this of an integer are that integer (float32 TensorBoard scalars).
_EPOCH_EPS = 1e-6

Role = tuple[str, str | None, str] | None  # ("figure"|"epoch"|"step"|"split", split, name)
Series = dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]
_Arrays = tuple["array[float]", "array[int]", "array[float]"]  # epoch (nan: none), step, value


@dataclass
class Reading:
    """How the collected rows were read: the facts stage 4 and its assumptions report."""

    #: "epoch" or "step" (a log with neither numbers its rows as epochs, in order).
    x_axis: str = "epoch"
    #: The fields the x axis came from ("epoch", "train/epoch", "step", "the TensorBoard
    #: event step", "record order").
    x_source: str = ""
    #: Epochs logged as fractions (step-level records), each epoch its last record.
    fractional: bool = False
    #: Steps whose figures had no epoch and took the one logged at or before the step.
    converted: int = 0
    #: Split prefixes met in names, as written → the split they mean ("eval/" → "val").
    prefixes: dict[str, str] = field(default_factory=dict)
    #: The log-σ column σ was computed from (σ = exp), when no σ was logged.
    sigma_from: str | None = None
    #: HF summary records left out.
    summaries: int = 0
    #: Field names read as no contract field (split prefix removed), in order met: what a
    #: keys.log line may map.
    unread: dict[str, None] = field(default_factory=dict)


class RowCollector:
    """Accumulates rows into series; `finish()` returns them sorted and merged by x."""

    def __init__(self, path: Path, key_map: Mapping[str, str] | None = None) -> None:
        self.path = path
        self.key_map = dict(key_map or {})
        self._by_user = {user: contract for contract, user in self.key_map.items()}
        self._roles: dict[str, Role] = {}
        self._seen: dict[str, None] = {}
        self._sources: dict[str, str] = {}  # contract figure -> the first name read as it
        self._series: dict[str, dict[str, _Arrays]] = {}
        self._counters: dict[str, int] = {}
        self._epoch_names: dict[str, None] = {}
        self._step_names: dict[str, None] = {}
        self._converted: list[np.ndarray] = []  # the steps given an epoch, per series
        self.reading = Reading()
        self.missing_epoch = False
        self.bad_time: str | None = None
        self.rows = 0

    # --- names -------------------------------------------------------------------------

    def role(self, key: str) -> Role:
        """What a field name stands for: a figure (with the split its name carries, if any),
        the epoch, the step, the split, or None for a field that is ignored."""
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

    def _prefix(self, written: str, split: str) -> str:
        if len(self.reading.prefixes) < 32:
            self.reading.prefixes.setdefault(written, split)
        return split

    def _resolve(self, key: str) -> Role:
        self._remember(key)
        if key in self._by_user:
            return self._contract(self._by_user[key], None, key)
        parts = key.split("/")
        if len(parts) > 1 and parts[0].lower() in SPLIT_NAMES:
            rest = "/".join(parts[1:])
            self._remember(rest)
            if rest in self._by_user:
                leading = self._prefix(f"{parts[0]}/", SPLIT_NAMES[parts[0].lower()])
                return self._contract(self._by_user[rest], leading, rest)
        split: str | None = None
        for part in parts[:-1]:
            if part.lower() in SPLIT_NAMES:
                split = self._prefix(f"{part}/", SPLIT_NAMES[part.lower()])
        name = parts[-1]
        if split is None and len(parts) > 1 and name.lower() in SPLIT_NAMES:
            split = self._prefix(f"/{name}", SPLIT_NAMES[name.lower()])  # TensorBoard's loss/train
            name = parts[-2]
        if split is None:
            for prefix, prefix_split in _NAME_PREFIXES:
                if name.lower().startswith(prefix) and len(name) > len(prefix):
                    split = self._prefix(name[: len(prefix)], prefix_split)
                    name = name[len(prefix) :]
                    break
        self._remember(name)
        if name in self._by_user:
            return self._contract(self._by_user[name], split, name)
        if name.endswith("_step"):
            return None  # a per-batch value
        name = name.removesuffix("_epoch")
        self._remember(name)
        return self._contract(self._by_user.get(name, name), split, name)

    def _contract(self, name: str, split: str | None, written: str) -> Role:
        """The role of a contract name; a literal `epoch`/`step` field stands down when
        keys.log names another field as the epoch or the step."""
        mapped = self._by_user.get(written) == name
        if name in EPOCH_FIELDS:
            if "epoch" in self.key_map and not mapped:
                return None
            return ("epoch", None, "epoch")
        if name in STEP_FIELDS:
            if "step" in self.key_map and not mapped:
                return None
            return ("step", None, "step")
        if split is None and name in SPLIT_FIELDS:
            return ("split", None, "split")
        if name in LOG_SIGMA_ALIASES:
            name = "log_sigma"
        if name in FIGURES:
            self._sources.setdefault(name, written)
            return ("figure", split, name)
        if len(self.reading.unread) < 32:
            self.reading.unread.setdefault(written, None)
        return None

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
        epoch: float | None = None,
        step: int | None = None,
        text: bool = False,
    ) -> int:
        """Add one row; `where` ("line 12") names it in errors. `text` rows hold strings
        (CSV cells, regex groups) that are parsed as numbers; `step` is a step the format
        carries outside the row (TensorBoard's). Returns the figures stored."""
        if SUMMARY_MARK in row:
            self.reading.summaries += 1
            return 0
        figures: list[tuple[str | None, str, float]] = []
        times: list[float] = []
        row_split = split
        row_epoch = epoch
        row_step = step
        if step is not None and self._by_user.get("step") == "epoch":
            row_epoch = float(step)  # keys.log says the format's step is the epoch
            self._remember("step")
            self._epoch_names.setdefault("step", None)
        elif step is not None:
            self._step_names.setdefault("the TensorBoard event step", None)
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
            elif kind == "epoch":
                if isinstance(value, str) and not value.strip():
                    continue
                row_epoch = self.parse_epoch(where, key, value)
            elif kind == "step":
                if isinstance(value, str) and not value.strip():
                    continue
                row_step = int(self.parse_epoch(where, key, value, integer=True))
        self.rows += 1
        default = row_split or "train"
        targets: dict[str, tuple[float, dict[str, _Arrays]]] = {}
        for name_split, name, value in figures:
            target = name_split or default
            found = targets.get(target)
            if found is None:
                found = targets[target] = (
                    self._epoch_for(target, row_epoch, row_step),
                    self._series.setdefault(target, {}),
                )
                for seconds in times:
                    _append(found[1], "time", found[0], row_step, seconds)
            _append(found[1], name, found[0], row_step, value)
        return len(figures)

    def _epoch_for(self, split: str, epoch: float | None, step: int | None) -> float:
        """The row's epoch; NaN when only its step is known (converted by `finish`); the
        next number of `split` when the log gives neither."""
        if epoch is not None:
            return epoch
        if step is not None:
            return math.nan
        self.missing_epoch = True
        number = self._counters.get(split, 0) + 1
        self._counters[split] = number
        return float(number)

    def finish(self) -> Series:
        """The series, each sorted by x with one value per position (the last logged)."""
        self._require_mapped_names()
        # views of the collected arrays (no copy); each goes once its series is made
        columns = {
            (split, name): (
                np.frombuffer(arrays[0], dtype=np.float64),
                np.frombuffer(arrays[1], dtype=np.int64),
                np.frombuffer(arrays[2], dtype=np.float64),
            )
            for split, by_name in self._series.items()
            for name, arrays in by_name.items()
        }
        self._series.clear()
        axis = self._axis(columns)
        step_epochs = None
        if axis == "epoch":  # the (step, epoch) pairs, needed only where a record lacks one
            lacking = any(bool(np.any(np.isnan(c[0]))) for c in columns.values())
            step_epochs = _step_epochs(columns) if lacking else _NO_STEP_EPOCHS
        out: Series = {}
        for key in list(columns):
            epochs, steps, values = columns.pop(key)
            if step_epochs is None:
                position, order_by = steps, steps.astype(np.float64)
            else:
                position = self._epochs(epochs, steps, step_epochs)
                order_by = np.where(np.isnan(epochs), position.astype(np.float64), epochs)
            if position.size > 1 and not np.all(np.diff(order_by) > 0):
                # rows of one position logged on several lines: the last value logged wins
                order = np.argsort(order_by, kind="stable")
                position, values = position[order], values[order]
            if position.size > 1:
                last = np.append(position[1:] != position[:-1], True)
                position, values = position[last], values[last]
            out[key] = (position.copy(), values.copy())
        if self._converted:
            self.reading.converted = int(np.unique(np.concatenate(self._converted)).size)
        self._log_sigma(out)
        return out

    def _axis(self, columns: Mapping[tuple[str, str], tuple[np.ndarray, ...]]) -> str:
        """Decide the x axis from what the records carry, and note it in `reading`."""
        has_epoch = any(bool(np.any(~np.isnan(c[0]))) for c in columns.values())
        has_step = any(bool(np.any(c[1] >= 0)) for c in columns.values())
        reading = self.reading
        if has_epoch and self._epoch_names:
            reading.x_axis = "epoch"
            reading.x_source = ", ".join(self._epoch_names)
            reading.fractional = any(
                bool(np.any(np.abs(c[0] - np.round(c[0])) > _EPOCH_EPS))
                for c in columns.values()
                if np.any(~np.isnan(c[0]))
            )
        elif has_step:
            reading.x_axis = "step"
            reading.x_source = ", ".join(self._step_names)
        else:
            reading.x_axis = "epoch"
            reading.x_source = "record order"  # rows without epoch or step, numbered
        return reading.x_axis

    def _epochs(
        self, epochs: np.ndarray, steps: np.ndarray, step_epochs: tuple[np.ndarray, np.ndarray]
    ) -> np.ndarray:
        """Integer epochs: a fractional epoch e is epoch ceil(e) (the epoch it falls in,
        counted from 1 as HF's 1.0 ends the first); a record with only a step takes the
        epoch last logged at or before its step (`step_epochs`: every (step, epoch) pair
        logged, by step)."""
        missing = np.isnan(epochs)
        if np.any(missing):
            known_steps, known_epochs = step_epochs
            if known_steps.size:
                at = np.searchsorted(known_steps, steps[missing], side="right") - 1
                epochs = epochs.copy()
                epochs[missing] = known_epochs[np.maximum(at, 0)]
                self._converted.append(np.unique(steps[missing]))
        rounded = np.round(epochs)
        near = np.abs(epochs - rounded) <= _EPOCH_EPS
        return np.where(near, rounded, np.ceil(epochs)).astype(np.int64)

    def _log_sigma(self, out: Series) -> None:
        """σ = exp(mean log σ) where only log σ is logged; a negative σ is log σ misnamed."""
        for split in {s for s, _ in out}:
            sigma = out.get((split, "dur_sigma"))
            if sigma is not None:
                negative = np.flatnonzero(sigma[1] < 0)
                if negative.size:
                    column = self._sources.get("dur_sigma", "dur_sigma")
                    first = int(negative[0])
                    raise ArtifactError(
                        str(self.path),
                        column,
                        f"a σ cannot be negative, and {negative.size} of {split}'s are (e.g. "
                        f"{sigma[1][first]:.4g} at {self.reading.x_axis} "
                        f"{int(sigma[0][first])}): if `{column}` is log σ, map it with "
                        f'log_sigma = "{column}" in [tool.timing-tui.keys.log] (or --key '
                        f"log.log_sigma={column})",
                    )
                continue
            log_sigma = out.get((split, "log_sigma"))
            if log_sigma is not None:
                out[(split, "dur_sigma")] = (log_sigma[0].copy(), np.exp(log_sigma[1]))
                self.reading.sigma_from = self._sources.get("log_sigma", "log_sigma")

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

    def parse_epoch(self, where: str, key: str, value: Any, *, integer: bool = False) -> float:
        """An epoch as a number (fractional epochs are step-level records), or with
        `integer` a step: an integer, an integral float, or such a number as text."""
        number = value
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                number = None
        if (
            isinstance(number, bool)
            or not isinstance(number, (int, float))
            or not 0 <= number < EPOCH_LIMIT  # NaN fails it too; beyond it, int64 overflows
            or (integer and number != int(number))
        ):
            what = "an integer step" if integer else "an epoch (a number ≥ 0)"
            what += " below 2**63"
            raise ArtifactError(str(self.path), key, f"{where}: expected {what}, found {value!r}")
        names = self._step_names if integer else self._epoch_names
        if len(names) < 8:
            names.setdefault(key, None)
        return float(number)

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
    series: dict[str, _Arrays], name: str, epoch: float, step: int | None, value: float
) -> None:
    found = series.get(name)
    if found is None:
        found = series[name] = (array("d"), array("q"), array("d"))
    found[0].append(epoch)
    found[1].append(-1 if step is None else step)
    found[2].append(value)


def _step_epochs(
    columns: Mapping[tuple[str, str], tuple[np.ndarray, ...]],
) -> tuple[np.ndarray, np.ndarray]:
    """(steps, epochs) of every record that carries both, sorted by step."""
    steps = [c[1][(c[1] >= 0) & ~np.isnan(c[0])] for c in columns.values()]
    epochs = [c[0][(c[1] >= 0) & ~np.isnan(c[0])] for c in columns.values()]
    if not steps:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    all_steps, all_epochs = np.concatenate(steps), np.concatenate(epochs)
    order = np.argsort(all_steps, kind="stable")
    return all_steps[order], all_epochs[order]


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
