"""JSON-lines stats logs (`stats.jsonl`, what `_log_stats` and TimingStatsLogger write).

A line that is not a JSON object is an error naming it, unless it is the last one: a run
still writing leaves a half-written last line, which is ignored and reported. Knowing
whether a bad line is the last needs the next line, so one error is held back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tui_timing.artifacts.log_lines import read_lines
from tui_timing.artifacts.stats_rows import RowCollector
from tui_timing.errors import ArtifactError


def read_jsonl(path: Path, rows: RowCollector) -> str | None:
    """Feed every JSON line to `rows`; return why the last line was ignored, or None."""
    held: ArtifactError | None = None
    for line in read_lines(path):
        if not line.data.strip():
            continue
        if held is not None:
            raise held
        where = f"line {line.number}"
        try:
            obj: Any = json.loads(line.data)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            problem = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
            held = ArtifactError(str(path), where, f"not valid JSON: {problem}")
            continue
        if not isinstance(obj, dict):
            held = ArtifactError(
                str(path), where, f"expected a JSON object, found {type(obj).__name__}"
            )
            continue
        rows.add(where, obj)
    if held is not None:
        return f"{held.key} is incomplete ({held.problem}); a run still writing?"
    return None
