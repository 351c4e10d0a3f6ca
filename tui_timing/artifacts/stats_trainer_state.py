"""HuggingFace `trainer_state.json`: its `log_history` is a stats log (see
docs/artifacts.md, Stats log).

Each entry of `log_history` is one record: the training figures every `logging_steps`
(`loss`, with a fractional `epoch` and the global `step`), the eval figures under HF's
`eval_` prefix, and a last summary (`train_runtime`, whose `train_loss` is the mean over
the whole run) that the RowCollector leaves out. The file is one JSON document, written
whole at each save, so it is read whole, up to MAX_BYTES.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_timing.artifacts.log_lines import open_log
from tui_timing.errors import ArtifactError

if TYPE_CHECKING:  # discovery imports NAME without numpy
    from tui_timing.artifacts.stats_rows import RowCollector

#: A trainer_state.json larger than this is not one (a million log entries is ~200 MB).
MAX_BYTES = 256 << 20
NAME = "trainer_state.json"


def read_trainer_state(path: Path, rows: RowCollector) -> None:
    """Feed every `log_history` entry to `rows`."""
    open_log(path)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ArtifactError(
            str(path), None, f"{size:,} bytes: larger than a trainer_state.json can be"
        )
    try:
        state: Any = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        problem = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        raise ArtifactError(str(path), None, f"not a readable JSON document ({problem})") from None
    history = state.get("log_history") if isinstance(state, dict) else None
    if not isinstance(history, list):
        raise ArtifactError(
            str(path),
            "log_history",
            "missing: a JSON log is read as JSON lines (one object a line) or as HF's "
            "trainer_state.json (a document whose log_history lists the records)",
        )
    for number, entry in enumerate(history, start=1):
        where = f"log_history[{number - 1}]"
        if not isinstance(entry, dict):
            raise ArtifactError(
                str(path), where, f"expected a JSON object, found {type(entry).__name__}"
            )
        rows.add(where, entry)
