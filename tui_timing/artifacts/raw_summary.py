"""The raw dataset summary (`<split>_summary.json`, docs/artifacts.md#timing-cache) that stage 1
checks against.

It is computed by the cache builder straight from the raw events, so comparing it with
statistics recomputed from the cache tensors catches a cache that drifted from its source.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_timing.artifacts.files import open_artifact
from tui_timing.errors import ArtifactError

if TYPE_CHECKING:
    from tui_timing.config import ArtifactPaths, Settings

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


@dataclass(frozen=True)
class Beside:
    """The raw summary found beside a cache (None when none is), and what to say about it:
    how it was paired when its name does not follow the cache's, or why none was."""

    path: Path | None
    note: str


def resolve_paths(paths: ArtifactPaths) -> ArtifactPaths:
    """Add the raw summary that sits beside the cache (docs/artifacts.md#timing-cache) unless one
    was named. Here rather than in the runner, so that a launch's look in the results cache
    (tui/launch_lookup.py) finds the same files without importing the runner."""
    if paths.raw_summary is None and paths.cache is not None:
        beside = summary_beside(paths.cache).path
        if beside is not None:
            return replace(paths, raw_summary=beside)
    return paths


def summary_beside(cache_path: Path) -> Beside:
    """The raw summary of a cache: `<split>_summary.json` beside `<split>_timing.pt`; else,
    where the cache's name does not follow that pattern, the one `*_summary.json` in its
    folder (a `data/cache.pt` beside `data/train_summary.json`). Several, or none: no
    summary, and the note names what was looked for and what was there."""
    named = summary_path_for(cache_path)
    if named.is_file():
        return Beside(named, "")
    try:
        others = sorted(p for p in cache_path.parent.glob("*_summary.json") if p.is_file())
    except OSError:
        others = []
    if len(others) == 1 and not _follows_pattern(cache_path):
        return Beside(
            others[0],
            f"raw summary {others[0]}: the only one beside {cache_path.name} (whose name does "
            "not follow <split>_timing.pt), so taken as its summary",
        )
    if not others:
        return Beside(None, f"no raw summary beside the cache ({named.name} does not exist)")
    names = ", ".join(p.name for p in others[:4])
    why = "none is named after it" if len(others) > 1 else "it is named after another split"
    return Beside(
        None,
        f"no raw summary paired with the cache: {named.name} does not exist and beside it are "
        f"{names} ({why}); name one with --raw-summary",
    )


def _follows_pattern(cache_path: Path) -> bool:
    return summary_path_for(cache_path).name != cache_path.stem + "_summary.json"


def summary_path_for(cache_path: str | Path) -> Path:
    """`<split>_timing.pt` → `<split>_summary.json` in the same folder."""
    cache_path = Path(cache_path)
    stem = cache_path.name
    for suffix in ("_timing.pt", "_timing.npz", "_timing.safetensors"):
        if stem.endswith(suffix):
            return cache_path.with_name(stem[: -len(suffix)] + "_summary.json")
    return cache_path.with_name(cache_path.stem + "_summary.json")
