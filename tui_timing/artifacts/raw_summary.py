"""The raw dataset summary (`<split>_summary.json`, SPEC 2.1) that stage 1 checks against.

It is computed by the cache builder straight from the raw events, so comparing it with
statistics recomputed from the cache tensors catches a cache that drifted from its source.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from tui_timing.errors import ArtifactError

#: Keys stage 1 compares; each must be present (dotted names are nested).
REQUIRED_KEYS = (
    "n_segments",
    "duration.mean",
    "duration.std",
    "profile_first",
    "profile_mid",
    "profile_last",
)


def load_raw_summary(path: str | Path) -> dict[str, Any]:
    """Read and validate a raw summary; ArtifactError names the file and the bad key."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(
            str(path), None, "file not found" if not path.exists() else "not a file"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
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
