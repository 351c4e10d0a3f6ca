"""The raw dataset summary (`<split>_summary.json`, SPEC 2.1) that stage 1 checks against.

It is computed by the cache builder straight from the raw events, so comparing it with
statistics recomputed from the cache tensors catches a cache that drifted from its source.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_timing.artifacts.files import open_artifact
from tui_timing.errors import ArtifactError

if TYPE_CHECKING:
    from tui_timing.config import Settings

#: A summary is a few kB (its longest entry is the L-bin mean profile); a larger file is
#: not one, and parsing it would take ten times its size in memory.
MAX_BYTES = 64 << 20

#: Keys stage 1 compares; each must be present (dotted names are nested).
REQUIRED_KEYS = (
    "n_segments",
    "duration.mean",
    "duration.std",
    "profile_first",
    "profile_mid",
    "profile_last",
)


def load_raw_summary_for(path: Path, settings: Settings) -> dict[str, Any]:
    """The raw summary as the runner loads it (no setting changes how it is read)."""
    return load_raw_summary(path)


def load_raw_summary(path: str | Path) -> dict[str, Any]:
    """Read and validate a raw summary; ArtifactError names the file and the bad key."""
    path = Path(path)
    try:
        with open_artifact(path) as handle:
            raw = handle.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise ArtifactError(
                str(path), None, f"larger than {MAX_BYTES >> 20} MB, which no raw summary is"
            )
        data = json.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtifactError(str(path), None, f"cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ArtifactError(
            str(path), None, f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(data, dict):
        raise ArtifactError(str(path), None, f"expected a JSON object, found {type(data).__name__}")
    for dotted in REQUIRED_KEYS:
        value = summary_value(data, dotted)
        if value is None:
            raise ArtifactError(str(path), dotted, "required key missing")
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise ArtifactError(str(path), dotted, f"expected a finite number, found {value!r}")
    return data


def summary_value(data: dict[str, Any], dotted: str) -> Any:
    """`data["a"]["b"]` for "a.b"; None when any part is missing."""
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def summary_path_for(cache_path: str | Path) -> Path:
    """`<split>_timing.pt` → `<split>_summary.json` in the same folder."""
    cache_path = Path(cache_path)
    stem = cache_path.name
    for suffix in ("_timing.pt", "_timing.npz", "_timing.safetensors"):
        if stem.endswith(suffix):
            return cache_path.with_name(stem[: -len(suffix)] + "_summary.json")
    return cache_path.with_name(cache_path.stem + "_summary.json")
