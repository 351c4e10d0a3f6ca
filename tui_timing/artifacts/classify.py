"""Which timing artifact a file is, told by its contents, not its name (SPEC 2.6 Discovery).

Tensor files are classified from their skeleton (peek): an eval dump has a real and a
fake group (or their aliases, or the names `keys.eval` gives); a cache has a duration-like
vector and a profile-like [N, L] matrix with the same N (the cache loader's aliases,
`keys.cache`, or names that say duration and profile); a checkpoint has a state dict of
weights. Logs are classified by their first record, header or lines: a JSONL record, CSV
header or TensorBoard scalar with a SPEC 2.4 field, a text log with a line matching
`log_patterns` (only when the project has some). Every file that is not kept says why.
"""

from __future__ import annotations

import csv
import json
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui_timing.artifacts.cache import ALIASES as CACHE_ALIASES
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
from tui_timing.config import Settings
from tui_timing.errors import ArtifactError

TENSOR_SUFFIXES = (".pt", ".pth", ".ckpt", ".npz", ".safetensors")
STATE_DICT_KEYS = ("state_dict", "model", "model_state_dict", "module", "net", "ema", "weights")
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


def classify(path: Path, settings: Settings) -> Verdict | None:
    """The verdict on a file discovery looks at, or None for a file it does not consider
    (not a tensor file or log by its name)."""
    name = path.name
    if not path.is_file():  # a FIFO would block the read, a dangling link cannot be read
        return Verdict(None, "not a regular file")
    if name.startswith("events.out.tfevents"):
        return _guard(path, lambda: _tensorboard(path, settings))
    if name == TRAINER_STATE:
        return _guard(path, lambda: _trainer_state(path, settings))
    suffix = path.suffix.lower()
    if suffix in TENSOR_SUFFIXES:
        return _guard(path, lambda: _tensor_file(path, settings))
    if suffix == ".jsonl":
        return _guard(path, lambda: _jsonl(path, settings))
    if suffix == ".csv":
        return _guard(path, lambda: _csv(path, settings))
    if suffix == ".log":
        if not settings.log_patterns:
            return Verdict(None, "a text log: read only through [[tool.timing-tui.log_patterns]]")
        return _guard(path, lambda: _text(path, settings))
    return None


def _guard(path: Path, judge: Any) -> Verdict:
    try:
        verdict: Verdict = judge()
    except ArtifactError as exc:
        return Verdict(None, f"cannot be read ({exc.problem})")
    except (PeekError, zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        return Verdict(None, f"cannot be read ({exc})")
    return verdict


# --- tensor files --------------------------------------------------------------------------


def _tensor_file(path: Path, settings: Settings) -> Verdict:
    found = peek(path)
    if isinstance(found, TensorStub):
        return Verdict(None, f"a bare tensor {list(found.shape)}, not a dict")
    if isinstance(found, ObjectStub):
        return Verdict(None, f"a pickled {found.cls} object, not a dict of tensors")
    if not isinstance(found, Mapping):
        return Verdict(None, f"holds a {type(found).__name__}, not a dict")
    for judge in (_eval_dump, _cache, _checkpoint):
        verdict = judge(found, settings)
        if verdict is not None:
            return verdict
    return Verdict(None, f"no timing keys (found {_keys(found)})")


def _keys(container: Mapping[Any, Any], limit: int = 12) -> str:
    names = [str(k)[:40] for k in list(container)[:limit]]
    return ", ".join(names) + (f", … ({len(container)} keys)" if len(container) > limit else "")


def _eval_dump(container: Mapping[Any, Any], settings: Settings) -> Verdict | None:
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


def _cache(container: Mapping[Any, Any], settings: Settings) -> Verdict | None:
    keys = settings.keys.get("cache", {})
    duration = _named_tensor(container, "duration", keys, "dur", dims=1)
    profile = _named_tensor(container, "profile", keys, "profile", dims=2)
    if duration is None or profile is None:
        return None
    (d_name, d), (p_name, p) = duration, profile
    if d.shape[0] != p.shape[0]:
        return None
    return Verdict("cache", f"timing cache ({d_name} {list(d.shape)}, {p_name} {list(p.shape)})")


def _named_tensor(
    container: Mapping[Any, Any], canonical: str, keys: Mapping[str, str], part: str, dims: int
) -> tuple[str, TensorStub] | None:
    """The tensor a cache keeps under this contract name, its aliases, the user's name, or
    a name that contains `part` (not a log-duration), with `dims` dimensions."""
    names = [keys[canonical]] if canonical in keys else [canonical, *CACHE_ALIASES[canonical]]
    names += [k for k in container if isinstance(k, str) and part in k.lower() and "log" not in k]
    for name in names:
        value = container.get(name)
        if isinstance(value, TensorStub) and len(value.shape) == dims:
            return name, value
    return None


def _checkpoint(container: Mapping[Any, Any], settings: Settings) -> Verdict | None:
    for key in STATE_DICT_KEYS:
        state = container.get(key)
        if isinstance(state, Mapping) and _weights(state):
            return _checkpoint_verdict(container, state, f"under {key!r}")
        if key == "model" and isinstance(state, ObjectStub):
            return Verdict(
                None,
                f"a whole pickled {state.cls} under 'model': save model.state_dict() instead "
                "(a pickled module runs code to load)",
            )
    if _weights(container) >= max(1, len(container) // 2):
        return _checkpoint_verdict(container, container, "as a bare state dict")
    return None


def _weights(state: Mapping[Any, Any]) -> int:
    return sum(
        1 for k, v in state.items() if isinstance(v, TensorStub) and isinstance(k, str) and "." in k
    )


def _checkpoint_verdict(
    container: Mapping[Any, Any], state: Mapping[Any, Any], where: str
) -> Verdict:
    parts = [f"checkpoint ({_weights(state)} weights {where}"]
    version = container.get("pytorch-lightning_version")
    if isinstance(version, str):
        parts.append(f", Lightning {version}")
    config = container.get("config")
    if isinstance(config, ObjectStub):
        parts.append(f", config {config.cls}")
    timing = any(isinstance(k, str) and _TIMING_NAME.search(k) for k in state)
    return Verdict("checkpoint", "".join(parts) + ")", timing=timing)


# --- logs ---------------------------------------------------------------------------------


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
