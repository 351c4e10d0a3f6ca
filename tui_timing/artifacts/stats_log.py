"""Training stats logs (docs/artifacts.md#stats-log), in whatever form the training loop wrote them,
read into one StatsLog: per split, per figure, a series over epochs (or steps, when no epoch is
logged).

Forms: `stats.jsonl` (what `_log_stats` and TimingStatsLogger write), CSV long or wide,
Lightning's `metrics.csv`, TensorBoard event files (a file, or a folder of them), HF's
`trainer_state.json`, and plain text logs read through `[[tool.timing-tui.log_patterns]]`
(any file that is none of the others, when patterns are set). The form is told by the
file's name and first line, not its extension alone; the names inside mean the same in
every form (see stats_rows).

Every form is read as a stream in bounded memory, and the log may belong to a run that is
still going: a half-written last line or record is ignored and reported, never fatal.
Anything else that is wrong (a line in the middle that is not JSON, a number written as a
string, a line over 1 MB, a CSV with no known column) raises ArtifactError naming the line
and the key, because silently skipping it would bend the curves stage 4 reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tui_timing.artifacts.log_lines import read_lines
from tui_timing.artifacts.stats_csv import read_csv
from tui_timing.artifacts.stats_jsonl import read_jsonl
from tui_timing.artifacts.stats_rows import FIGURES, STAT_KEYS, Reading, RowCollector, Series
from tui_timing.artifacts.stats_tensorboard import is_event_file, read_events
from tui_timing.artifacts.stats_text import EXAMPLE, read_text
from tui_timing.artifacts.stats_trainer_state import NAME as TRAINER_STATE
from tui_timing.artifacts.stats_trainer_state import read_trainer_state
from tui_timing.config import Settings
from tui_timing.errors import ArtifactError
from tui_timing.findings import Assumption

__all__ = ["FIGURES", "STAT_KEYS", "StatsLog", "load_stats_log"]

#: Names of text logs, read only through log_patterns.
TEXT_SUFFIXES = (".log", ".txt", ".out")


@dataclass
class StatsLog:
    """Per split and figure, the logged values by x position (each once, in order): the
    epoch, or the step when `x_axis` is "step"."""

    path: Path
    format: str
    data: Series
    #: Why the last line was ignored (a run still writing), or None.
    ignored_last_line: str | None = None
    notes: list[str] = field(default_factory=list)
    #: How the rows were read (x axis, split prefixes, σ from log σ).
    reading: Reading = field(default_factory=Reading)

    @classmethod
    def from_records(
        cls, path: Path, fmt: str, records: list[dict[str, Any]], settings: Settings | None = None
    ) -> StatsLog:
        """A log from records already in memory ({"epoch", "split", figure: value}), read
        by the same rules as a file's lines."""
        rows = RowCollector(path, (settings or Settings()).keys.get("log", {}))
        for number, record in enumerate(records, start=1):
            rows.add(f"record {number}", record)
        data = rows.finish()
        return cls(path=path, format=fmt, data=data, reading=rows.reading)

    @property
    def x_axis(self) -> str:
        """What the positions of every series count: "epoch" or "step"."""
        return self.reading.x_axis

    @property
    def splits(self) -> list[str]:
        """The splits present, train first."""
        found = {split for split, _ in self.data}
        return sorted(found, key=lambda s: (s != "train", s != "val", s))

    @property
    def columns(self) -> set[str]:
        """Every figure name present on some split."""
        return {name for _, name in self.data}

    @property
    def positions(self) -> list[int]:
        """Every x position (epoch or step) logged on any split, in order."""
        if not self.data:
            return []
        return [int(e) for e in np.unique(np.concatenate([e for e, _ in self.data.values()]))]

    def series(self, split: str, key: str) -> tuple[list[int], list[float]]:
        """(positions, values) of one figure on one split, in order."""
        found = self.data.get((split, key))
        if found is None:
            return [], []
        return [int(e) for e in found[0]], [float(v) for v in found[1]]

    def last(self, split: str) -> dict[str, float | int]:
        """The figures at the last position logged on `split`, with that position under
        its axis's name (`epoch` or `step`)."""
        mine = {name: arrays for (s, name), arrays in self.data.items() if s == split}
        if not mine:
            return {}
        at = max(int(positions[-1]) for positions, _ in mine.values())
        out: dict[str, float | int] = {self.x_axis: at}
        for name, (positions, values) in mine.items():
            if int(positions[-1]) == at:
                out[name] = float(values[-1])
        return out

    @property
    def assumptions(self) -> list[Assumption]:
        """The readings a wrong guess would bend: the x axis, the split prefixes, σ."""
        reading = self.reading
        if reading.x_axis == "step":
            axis = Assumption(
                "log",
                "x axis",
                "step",
                f"no epoch logged; steps from {reading.x_source}, never called epochs; an "
                'epoch field is named with keys.log epoch = "NAME"',
            )
        elif reading.fractional:
            axis = Assumption(
                "log",
                "x axis",
                "epoch",
                f"{reading.x_source} holds fractional epochs, so its records are per step: "
                "epoch k is the last record after k - 1 and up to k, its boundary; another "
                'field is named with keys.log epoch = "NAME"',
            )
        else:
            converted = (
                f"; the figures at {reading.converted} steps with no epoch took the one "
                "logged at or before their step"
                if reading.converted
                else ""
            )
            axis = Assumption(
                "log",
                "x axis",
                "epoch",
                f"from {reading.x_source or 'the log'}{converted}; another field is named "
                'with keys.log epoch = "NAME"',
            )
        out = [axis]
        if reading.prefixes:
            found = ", ".join(f"{w} → {s}" for w, s in reading.prefixes.items())
            out.append(
                Assumption(
                    "log",
                    "split prefixes",
                    found,
                    "read from the names, eval = val; a name that is not a split is mapped "
                    'whole in keys.log, e.g. loss = "eval/total"',
                )
            )
        if reading.sigma_from is not None:
            out.append(
                Assumption(
                    "log",
                    "σ",
                    f"exp({reading.sigma_from})",
                    f"{reading.sigma_from} read as mean log σ and no σ logged; a σ column "
                    'is named with keys.log dur_sigma = "NAME"',
                )
            )
        return out


def load_stats_log(path: str | Path, settings: Settings | None = None) -> StatsLog:
    """Read a stats log in any docs/artifacts.md#stats-log form; raise ArtifactError for one that
    cannot be used."""
    path = Path(path)
    settings = settings or Settings()
    rows = RowCollector(path, settings.keys.get("log", {}))
    kind, files = _form(path, settings)
    notes: list[str] = []
    ignored: str | None = None
    if kind == "tensorboard":
        fmt, ignored = "tensorboard", read_events(files, rows)
        if len(files) > 1:
            notes.append(f"{len(files)} event files read together")
    elif kind == "trainer_state":
        fmt = "trainer_state.json"
        read_trainer_state(path, rows)
    elif kind == "jsonl":
        fmt, ignored = "jsonl", read_jsonl(path, rows)
    elif kind == "text":
        fmt, ignored = "text", read_text(path, rows, settings.log_patterns)
    else:
        fmt, ignored = read_csv(path, rows)
    data = rows.finish()
    if not data:
        raise ArtifactError(str(path), None, _nothing_found(rows, fmt))
    if rows.missing_epoch:
        notes.append("some records have no epoch: numbered in the order they appear")
    if rows.bad_time:
        notes.append(f"{rows.bad_time}: time left out")
    if rows.reading.summaries:
        notes.append("the end-of-training summary (train_runtime, its mean train_loss) left out")
    return StatsLog(
        path=path,
        format=fmt,
        data=data,
        ignored_last_line=ignored,
        notes=notes,
        reading=rows.reading,
    )


def _form(path: Path, settings: Settings) -> tuple[str, list[Path]]:
    """Which reader a log needs, and the files it reads (a folder of event files)."""
    if path.is_dir():
        events = sorted(p for p in path.iterdir() if is_event_file(p) and p.is_file())
        if not events:
            raise ArtifactError(
                str(path),
                None,
                "is a folder with no TensorBoard event file (events.out.tfevents.*) in it: "
                "name the log file itself (stats.jsonl, metrics.csv, ...)",
            )
        return "tensorboard", events
    if is_event_file(path):
        return "tensorboard", [path]
    if path.name == TRAINER_STATE:
        return "trainer_state", [path]
    first = _first_line(path)
    if path.suffix.lower() == ".json" and (first == b"{" or b'"log_history"' in first):
        return "trainer_state", [path]  # one JSON document, indented or on one line
    if first.startswith(b"{") or path.suffix.lower() in (".jsonl", ".json"):
        return "jsonl", [path]
    if path.suffix.lower() == ".csv":
        return "csv", [path]
    if settings.log_patterns:
        return "text", [path]
    if path.suffix.lower() in TEXT_SUFFIXES:
        raise ArtifactError(
            str(path),
            None,
            "a text log is read through regular expressions, and none is configured: add "
            f"to pyproject.toml\n{EXAMPLE}\n(named groups: epoch, split, fields or field "
            "names such as loss, dur_sigma)",
        )
    return "csv", [path]


def _first_line(path: Path) -> bytes:
    """The first non-blank line, stripped (empty for an empty file)."""
    for line in read_lines(path):
        if line.data.strip():
            try:
                line.data.decode("utf-8")
            except UnicodeDecodeError:
                raise ArtifactError(
                    str(path), None, f"not a text log (line {line.number} is not UTF-8)"
                ) from None
            return line.data.strip()
    raise ArtifactError(str(path), None, "the log is empty (no epoch written yet)")


def _nothing_found(rows: RowCollector, fmt: str) -> str:
    if rows.rows == 0:
        return "the log holds no complete record"
    return (
        f"the log holds no complete record with a known field: expected some of "
        f"{', '.join(FIGURES)}, found {rows.seen_names()} in the {fmt} log. Map your names "
        'in [tool.timing-tui.keys.log] (e.g. profile_first = "p0") or with --key '
        "log.profile_first=p0"
    )
