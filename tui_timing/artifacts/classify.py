"""Which timing artifact a file is, told by its contents, not its name
(docs/artifacts.md#discovery).

Tensor files are classified from their skeleton (peek): an eval dump has a real and a fake
group (or their aliases, or the names `keys.eval` gives); a cache has the keys the cache
loader requires under the names it reads (the contract's, the aliases, `keys.cache`); a
checkpoint has a state dict where the checkpoint loader looks for one (weights_layout.py).
The recognisers are named in artifact_kinds.KINDS. Logs are classified by their first
record, header or lines: a JSONL record, CSV header or TensorBoard scalar with a
docs/artifacts.md#stats-log field, a text log with a line matching `log_patterns` (only when the
project has some). Every file that is not kept says why.
"""

from __future__ import annotations

import csv
import functools
import json
import math
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui_timing.artifact_kinds import discovered_kinds
from tui_timing.artifacts.cache import REQUIRED as CACHE_REQUIRED
from tui_timing.artifacts.cache import key_source
from tui_timing.artifacts.eval_channels import is_channel_tensor
from tui_timing.artifacts.eval_dump import GROUP_ALIASES
from tui_timing.artifacts.log_lines import read_lines
from tui_timing.artifacts.peek import PeekError, peek
from tui_timing.artifacts.pickle_skeleton import ObjectStub, TensorStub
from tui_timing.artifacts.stats_rows import RowCollector
from tui_timing.artifacts.stats_tensorboard import EventReader
from tui_timing.artifacts.stats_text import compile_patterns
from tui_timing.artifacts.stats_trainer_state import NAME as TRAINER_STATE
from tui_timing.artifacts.stats_trainer_state import read_trainer_state
from tui_timing.artifacts.weights_layout import STATE_KEYS, find_weights
from tui_timing.config import Settings
from tui_timing.errors import ArtifactError

#: How far into a log classification reads before it gives up on finding a known field.
LOG_SCAN_RECORDS = 5_000
_TIMING_NAME = re.compile(r"dur|profile|sigma|timing|templat", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    """A file's kind ("cache", "checkpoint", "eval", "log") or None, and why."""

    kind: str | None
    detail: str
    #: A checkpoint whose weight names look like a timing head (ranks its run first).
    timing: bool = False


class _NotAContainer(ValueError):
    """A tensor file that holds no dict (the reason is the message)."""


#: The reason given for a tensor file none of whose keys is known (init lists such files
#: as candidates for a key map).
UNKNOWN_KEYS = "no timing keys"


def classify(path: Path, settings: Settings) -> Verdict | None:
    """The verdict on a file discovery looks at, or None for a file it does not consider
    (no artifact kind opens a file of its name).

    The kinds' recognisers (artifact_kinds.KINDS) are tried in recognition order; the first
    that says what the file is, or refuses it, decides.
    """
    kinds = discovered_kinds(path.name)
    if not kinds:
        return None
    if not path.is_file():  # a FIFO would block the read, a dangling link cannot be read
        return Verdict(None, "not a regular file")
    for kind in kinds:
        recognise = kind.recognise()
        assert recognise is not None  # discovered_kinds holds only kinds with one
        verdict = _guard(path, lambda judge=recognise: judge(path, settings))
        if verdict is not None:
            return verdict
    return _guard(path, lambda: Verdict(None, f"{UNKNOWN_KEYS} (found {_keys(_container(path))})"))


def _guard(path: Path, judge: Any) -> Verdict | None:
    try:
        verdict: Verdict | None = judge()
    except _NotAContainer as exc:
        return Verdict(None, str(exc))
    except ArtifactError as exc:
        return Verdict(None, f"cannot be read ({exc.problem})")
    except (PeekError, zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        return Verdict(None, f"cannot be read ({exc})")
    return verdict


# --- tensor files --------------------------------------------------------------------------


def _container(path: Path) -> Mapping[Any, Any]:
    """The skeleton of a tensor file's dict; _NotAContainer when it holds something else."""
    stat = path.stat()
    found = _peeked(path, stat.st_mtime_ns, stat.st_size)
    if isinstance(found, TensorStub):
        raise _NotAContainer(f"a bare tensor {list(found.shape)}, not a dict")
    if isinstance(found, ObjectStub):
        raise _NotAContainer(f"a pickled {found.cls} object, not a dict of tensors")
    if not isinstance(found, Mapping):
        raise _NotAContainer(f"holds a {type(found).__name__}, not a dict")
    return found


@functools.lru_cache(maxsize=4)
def _peeked(path: Path, mtime_ns: int, size: int) -> Any:
    """One file's skeleton, read once for all the recognisers that look at it."""
    return peek(path)


def _keys(container: Mapping[Any, Any], limit: int = 12) -> str:
    names = [str(k)[:40] for k in list(container)[:limit]]
    return ", ".join(names) + (f", … ({len(container)} keys)" if len(container) > limit else "")


def eval_verdict(path: Path, settings: Settings) -> Verdict | None:
    """An eval dump: a real and a fake group (their aliases, or the names keys.eval gives)."""
    container = _container(path)
    keys = settings.keys.get("eval", {})
    groups = []
    for side in ("real", "fake"):
        names = (keys[side],) if side in keys else GROUP_ALIASES[side]
        group = next((g for g in names if _holds_group(container, g)), None)
        if group is None:
            return None
        groups.append(group)
    return Verdict("eval", f"eval dump ({groups[0]} / {groups[1]})")


def _holds_group(container: Mapping[Any, Any], group: str) -> bool:
    value = container.get(group)
    if isinstance(value, Mapping) or is_channel_tensor(value):
        return True
    prefixes = tuple(f"{group}{sep}" for sep in ("/", ".", "_"))
    return any(isinstance(k, str) and k.startswith(prefixes) for k in container)


def cache_verdict(path: Path, settings: Settings) -> Verdict | None:
    """A cache: the keys the cache loader requires, found under the names it looks for
    (the contract's, its aliases, or those `keys.cache` gives), with rows and steps."""
    container = _container(path)
    keys = settings.keys.get("cache", {})
    sources = {name: key_source(container, name, keys) for name in CACHE_REQUIRED}
    if any(source is None or source not in container for source in sources.values()):
        return None
    duration, profile = container[sources["duration"]], container[sources["profile"]]
    shapes = {
        name: list(value.shape)
        for name, value in (("duration", duration), ("profile", profile))
        if isinstance(value, TensorStub)
    }
    no_duration = "duration" in shapes and math.prod(shapes["duration"]) == 0
    if no_duration or shapes.get("profile", [1])[:1] == [0]:
        return Verdict(None, "a timing cache with no rows (N = 0)")
    if len(shapes.get("profile", [])) == 2 and shapes["profile"][1] == 0:
        return Verdict(None, "a timing cache with no steps (L = 0)")
    named = ", ".join(f"{sources[n]} {shape}" for n, shape in shapes.items())
    return Verdict("cache", f"timing cache ({named})")


def checkpoint_verdict(path: Path, settings: Settings) -> Verdict | None:
    """A checkpoint: weights where the loader looks for them (weights_layout, one rule)."""
    container = _container(path)
    found = find_weights(container, lambda value: isinstance(value, TensorStub))
    if found is not None:
        _, key, state = found
        where = f"under {key!r}" if key is not None else "as a bare state dict"
        return _checkpoint_verdict(container, state, where)
    model = container.get("model")
    if isinstance(model, ObjectStub):
        return Verdict(
            None,
            f"a whole pickled {model.cls} under 'model': save model.state_dict() instead "
            "(a pickled module runs code to load)",
        )
    for key, _ in STATE_KEYS:
        if isinstance(container.get(key), Mapping):
            return Verdict(None, f"{key!r} holds a dict that is not only named tensors")
    return None


def _checkpoint_verdict(
    container: Mapping[Any, Any], state: Mapping[Any, Any], where: str
) -> Verdict:
    parts = [f"checkpoint ({len(state)} weights {where}"]
    version = container.get("pytorch-lightning_version")
    if isinstance(version, str):
        parts.append(f", Lightning {version}")
    config = container.get("config")
    if isinstance(config, ObjectStub):
        parts.append(f", config {config.cls}")
    timing = any(isinstance(k, str) and _TIMING_NAME.search(k) for k in state)
    return Verdict("checkpoint", "".join(parts) + ")", timing=timing)


# --- logs ---------------------------------------------------------------------------------


def log_verdict(path: Path, settings: Settings) -> Verdict | None:
    """A log, by its form: TensorBoard events, JSONL, CSV, or a text log read through
    `log_patterns` (only when the project has some)."""
    suffix = path.suffix.lower()
    if path.name.startswith("events.out.tfevents"):
        return _tensorboard(path, settings)
    if path.name == TRAINER_STATE:
        return _trainer_state(path, settings)
    if suffix == ".jsonl":
        return _jsonl(path, settings)
    if suffix == ".csv":
        return _csv(path, settings)
    if suffix == ".log":
        if not settings.log_patterns:
            return Verdict(None, "a text log: read only through [[tool.timing-tui.log_patterns]]")
        return _text(path, settings)
    return None


def _some(names: list[str], limit: int = 4) -> str:
    return ", ".join(names[:limit]) + (", …" if len(names) > limit else "")


def _known(rows: RowCollector, name: str) -> bool:
    role = rows.role(name)
    return role is not None and role[0] == "figure" and role[2] != "time"


def _jsonl(path: Path, settings: Settings) -> Verdict:
    rows = RowCollector(path, settings.keys.get("log", {}))
    for line in read_lines(path):
        if not line.data.strip():
            continue
        record = json.loads(line.data)
        if not isinstance(record, dict):
            return Verdict(None, f"line {line.number} is not a JSON object")
        known = [k for k in record if _known(rows, str(k))]
        if known:
            return Verdict("log", f"stats log (JSONL: {_some(known)})")
        return Verdict(None, f"no known field in its first record (found {_keys(record)})")
    return Verdict(None, "empty")


def _trainer_state(path: Path, settings: Settings) -> Verdict:
    rows = RowCollector(path, settings.keys.get("log", {}))
    read_trainer_state(path, rows)
    known = [name for name in rows.seen_names(limit=10_000).split(", ") if _known(rows, name)]
    if known:
        return Verdict("log", f"stats log (trainer_state log_history: {_some(known)})")
    return Verdict(None, f"a trainer_state.json with no known field (found {rows.seen_names(8)})")


def _csv(path: Path, settings: Settings) -> Verdict:
    rows = RowCollector(path, settings.keys.get("log", {}))
    for line in read_lines(path):
        header = next(csv.reader([line.data.decode("utf-8")]), [])
        known = [h for h in header if _known(rows, h.strip())]
        if known:
            return Verdict("log", f"stats log (CSV: {_some(known)})")
        shown = ", ".join(h[:30] for h in header[:10])
        return Verdict(None, f"a CSV with no known column (found {shown})")
    return Verdict(None, "empty")


def _tensorboard(path: Path, settings: Settings) -> Verdict:
    rows = RowCollector(path, settings.keys.get("log", {}))
    tags: dict[str, None] = {}
    for count, (_, tag, _, _) in enumerate(EventReader(path)):
        if _known(rows, tag):
            return Verdict("log", f"TensorBoard events (scalar {tag!r}, …)")
        if tag != "time":
            tags[tag] = None
        if count > LOG_SCAN_RECORDS:
            break
    shown = ", ".join(list(tags)[:8]) or "no scalars"
    return Verdict(None, f"TensorBoard events with no timing scalar (tags: {shown})")


def _text(path: Path, settings: Settings) -> Verdict:
    patterns = compile_patterns(path, settings.log_patterns)
    for line in read_lines(path):
        text = line.data.decode("utf-8", "replace")
        if any(regex.search(text) for regex, _ in patterns):
            return Verdict("log", f"text log (line {line.number} matches log_patterns)")
        if line.number >= LOG_SCAN_RECORDS:
            break
    return Verdict(None, f"no line of the first {LOG_SCAN_RECORDS} matches log_patterns")
