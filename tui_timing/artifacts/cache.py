"""The timing cache (docs/artifacts.md#timing-cache): loading under any common key names, and
validation.

Loading is deliberately lenient about *names* (aliases, `--key` maps, derivable optional
keys) and strict about *usability*: a file that is not a dict, lacks a required key or has
no rows or steps raises ArtifactError (exit 2). Shape and dtype problems of keys that are
present are not raised here: stage 1 reports them as `cache.shapes`, so the user sees every
problem at once.

The file is read into numpy arrays, without torch where the container allows it (see
safe_load.load_arrays): stage 1 runs on `CacheArrays` before torch is imported. The later
stages get `TimingCache`, the same memory as torch tensors.
"""

from __future__ import annotations

from collections.abc import Container, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tui_timing.artifacts.safe_load import load_arrays
from tui_timing.errors import ArtifactError
from tui_timing.findings import Assumption
from tui_timing.project import CONTRACT_FIELDS, check_key_map

if TYPE_CHECKING:
    import torch

    from tui_timing.config import Settings

CANONICAL = CONTRACT_FIELDS["cache"]
REQUIRED = CANONICAL[:3]  # duration, profile, features; the others are derived when absent

#: Other names of each key, in caches and in a dataset's batches (docs/artifacts.md#your-own-repo).
ALIASES: dict[str, tuple[str, ...]] = {
    "duration": ("durations", "durations_s", "duration_s", "dur", "total_duration", "seg_duration"),
    "log_duration": ("log_durations", "logdur", "log_dur"),
    "profile": ("profiles", "dt_profile", "dt_profiles", "timing_profile"),
    "mask": ("masks", "valid", "valid_mask", "step_mask", "attention_mask"),
    "length": ("lengths", "lens", "seq_len", "seq_lens", "n_steps"),
    "features": ("feature", "feats", "cond", "conditioning", "cond_vec", "condition"),
    "meta": ("metadata", "info"),
    "stats": ("summary_stats",),
}

#: Integer dtypes torch supports only in part (no index_select, no type promotion): a
#: `length` or `mask` stored so is read as int64 (a uint64 beyond int64 turns negative,
#: which the length checks then report).
_PARTIAL_INTS = (np.dtype(np.uint16), np.dtype(np.uint32), np.dtype(np.uint64))

#: Rows processed at a time by the chunked statistics, so memory stays bounded. At L = 128
#: a chunk's float64 temporaries are 4 MB, small enough to stay in the CPU's cache between
#: the scan's passes over them: 3x faster than 65,536-row chunks, with 16x less memory.
CHUNK_ROWS = 4_096


@dataclass
class RawCache:
    """A cache as found in the file: canonical names, numpy arrays not yet validated."""

    path: Path
    values: dict[str, Any]
    #: Human-readable notes: which keys came from aliases or were derived.
    notes: list[str] = field(default_factory=list)
    derived: list[str] = field(default_factory=list)
    #: Why torch had to read the file (None: read without it). Never part of a report:
    #: the values are the same either way.
    torch_reason: str | None = None
    #: Contract names read from a key of another name by the built-in aliases (not a map
    #: the user wrote): name -> the file's key.
    aliased: dict[str, str] = field(default_factory=dict)

    @property
    def assumptions(self) -> list[Assumption]:
        """Each key read under another name by an alias: an inference, shown with how to
        name another key (a key the table maps is the user's word, not an assumption)."""
        return [
            Assumption(
                "cache",
                f"key {name}",
                repr(key),
                f"{self.path.name} has no {name!r}; {key!r} is one of its aliases. If another "
                f'key holds it: [tool.timing-tui.keys.cache] {name} = "that key"',
            )
            for name, key in self.aliased.items()
        ]


class _Rows:
    """What a validated cache knows about its size, whatever holds its numbers."""

    duration: Any
    profile: Any
    features: Any
    meta: dict[str, Any]

    @property
    def n_rows(self) -> int:
        return int(self.duration.shape[0])

    @property
    def max_len(self) -> int:
        return int(self.profile.shape[1])

    @property
    def feature_dim(self) -> int:
        return int(self.features.shape[1])

    @property
    def feature_names(self) -> list[str]:
        names = self.meta.get("feature_names")
        if isinstance(names, list) and len(names) == self.feature_dim:
            return [str(n) for n in names]
        return [f"f{i}" for i in range(self.feature_dim)]

    def row_chunks(self, rows: int = CHUNK_ROWS) -> Iterator[slice]:
        """Consecutive row slices covering the cache, `rows` at a time."""
        for start in range(0, self.n_rows, rows):
            yield slice(start, min(start + rows, self.n_rows))


@dataclass
class CacheArrays(_Rows):
    """A validated cache as numpy arrays: the keys of docs/artifacts.md#timing-cache with consistent
    N, L, D."""

    path: Path
    duration: np.ndarray  # float [N]
    log_duration: np.ndarray  # float [N]
    profile: np.ndarray  # float [N, L]
    mask: np.ndarray  # bool or numeric [N, L], as stored
    length: np.ndarray  # int [N]
    features: np.ndarray  # float [N, D]
    meta: dict[str, Any]
    derived: list[str] = field(default_factory=list)
    #: The cache's own `stats` (a builder's summary of these same arrays), if it has one.
    stats: dict[str, Any] | None = None

    def bool_mask(self, rows: slice) -> np.ndarray:
        """The mask of `rows` as booleans (numeric masks: nonzero means valid)."""
        chunk = self.mask[rows]
        return chunk if chunk.dtype == np.bool_ else chunk != 0


@dataclass
class TimingCache(_Rows):
    """The same cache as torch tensors sharing the arrays' memory (stages 2 to 5)."""

    path: Path
    duration: torch.Tensor  # float [N]
    log_duration: torch.Tensor  # float [N]
    profile: torch.Tensor  # float [N, L]
    mask: torch.Tensor  # bool or numeric [N, L], as stored
    length: torch.Tensor  # int [N]
    features: torch.Tensor  # float [N, D]
    meta: dict[str, Any]
    derived: list[str] = field(default_factory=list)
    #: The cache's own `stats` (a builder's summary of these same tensors), if it has one.
    stats: dict[str, Any] | None = None

    def bool_mask(self, rows: slice) -> torch.Tensor:
        """The mask of `rows` as booleans (numeric masks: nonzero means valid)."""
        import torch

        chunk = self.mask[rows]
        return chunk if chunk.dtype == torch.bool else chunk != 0


def load_cache_for(path: Path, settings: Settings) -> RawCache:
    """The cache as the runner loads it: under the names `keys.cache` gives."""
    return load_cache(path, settings.keys["cache"])


def load_cache(path: str | Path, key_map: dict[str, str] | None = None) -> RawCache:
    """Load a cache file and map its keys to canonical names; derive missing optional keys."""
    path = Path(path)
    key_map = dict(key_map or {})
    check_key_map(
        "cache",
        key_map,
        "the cache's key map (--key cache.NAME=... or [tool.timing-tui.keys.cache])",
    )
    container, torch_reason = load_arrays(path)  # a fall back to torch is logged there
    return raw_cache(path, container, key_map, torch_reason)


def raw_cache(
    path: Path, container: Any, key_map: dict[str, str], torch_reason: str | None
) -> RawCache:
    """The contract's keys of a loaded container (numpy arrays where tensors were),
    whichever reader loaded it; ArtifactError for a file that cannot be a cache at all."""
    if not isinstance(container, dict):
        raise ArtifactError(
            str(path),
            None,
            f"wrong container: expected a dict of tensors, found {_kind(container)}",
        )
    values: dict[str, Any] = {}
    notes: list[str] = []
    aliased: dict[str, str] = {}
    for name in CANONICAL:
        source = _find_key(container, name, key_map, path)
        if source is None:
            continue
        values[name] = container[source]
        if source != name:
            notes.append(f"{name} read from key {source!r}")
            if name not in key_map:
                aliased[name] = source
    missing = [name for name in REQUIRED if name not in values]
    if missing:  # all of them at once: one table edit, not one run per key
        found = key_list(container)
        name = missing[0]
        which = "required key missing" if len(missing) == 1 else "required keys missing"
        lines = " and ".join(f'{each} = "that key"' for each in missing)
        raise ArtifactError(
            str(path),
            ", ".join(missing),
            f"{which} (found keys: {found}); if some of them hold the "
            f"{' and the '.join(missing)}, name them: --key cache.{name}=THAT_KEY, or "
            f"[tool.timing-tui.keys.cache] {lines}",
        )
    for name in ("length", "mask"):
        value = values.get(name)
        if isinstance(value, np.ndarray) and value.dtype in _PARTIAL_INTS:
            values[name] = value.astype(np.int64)
            notes.append(f"{name} read as int64 (stored as {dtype_name(value)})")
    raw = RawCache(
        path=path, values=values, notes=notes, torch_reason=torch_reason, aliased=aliased
    )
    _require_rows_and_steps(raw)
    _derive_optional(raw)
    return raw


def key_list(container: dict[Any, Any], limit: int = 20) -> str:
    """The keys of a file for a message: the first `limit`, then how many in all (a file
    with a million keys must not make a message of megabytes)."""
    names = [str(k)[:80] for k in list(container)[:limit]]
    more = f", … ({len(container)} keys)" if len(container) > limit else ""
    return (", ".join(names) or "none") + more


def _kind(obj: Any) -> str:
    if isinstance(obj, np.ndarray):
        return f"a bare tensor of shape {list(obj.shape)}"
    return f"a {type(obj).__name__}"


def key_source(keys: Container[Any], name: str, key_map: Mapping[str, str]) -> str | None:
    """The file's key that holds the contract key `name`: the one the key map names (present
    or not), else `name` or the first of its aliases that the file has. Discovery recognises
    a cache by the same names."""
    if name in key_map:
        return key_map[name]
    return next((c for c in (name, *ALIASES.get(name, ())) if c in keys), None)


def _find_key(
    container: dict[Any, Any], name: str, key_map: dict[str, str], path: Path
) -> str | None:
    source = key_source(container, name, key_map)
    if name in key_map and source not in container:
        raise ArtifactError(
            str(path),
            source,
            f"the cache map {name} = {source!r} (--key cache.{name}=... or "
            "[tool.timing-tui.keys.cache]) names a key that is not in the file; "
            f"its keys are: {key_list(container)} (a name of your dataset's batches "
            f"goes in --key batch.{name}={source} or [tool.timing-tui.keys.batch])",
        )
    return source


def _require_rows_and_steps(raw: RawCache) -> None:
    """A cache with no rows or no steps cannot be diagnosed at all (exit 2)."""
    duration = raw.values["duration"]
    profile = raw.values["profile"]
    if isinstance(duration, np.ndarray) and duration.size == 0:
        raise ArtifactError(str(raw.path), "duration", "the cache has no rows (N = 0)")
    if isinstance(profile, np.ndarray):
        if profile.size == 0 and profile.ndim >= 1 and profile.shape[0] == 0:
            raise ArtifactError(str(raw.path), "profile", "the cache has no rows (N = 0)")
        if profile.ndim == 2 and profile.shape[1] == 0:
            raise ArtifactError(str(raw.path), "profile", "the cache has no steps (L = 0)")


def _derive_optional(raw: RawCache) -> None:
    """Fill log_duration, mask, length and meta when absent, and say so."""
    v = raw.values
    if "log_duration" not in v and _is_float(v["duration"]):
        with np.errstate(all="ignore"):  # a duration <= 0 is stage 1's finding, not a warning
            v["log_duration"] = np.log(v["duration"].astype(np.float64)).astype(v["duration"].dtype)
        raw.derived.append("log_duration")
    profile = v["profile"]
    if isinstance(profile, np.ndarray) and profile.ndim == 2:
        steps = np.arange(profile.shape[1])
        length = v.get("length")
        if (
            "mask" not in v
            and isinstance(length, np.ndarray)
            and _is_int(length)
            and length.ndim == 1
        ):
            v["mask"] = steps[None, :] < length[:, None]
            raw.derived.append("mask")
        if "length" not in v and isinstance(v.get("mask"), np.ndarray):
            mask = v["mask"]
            if mask.ndim == 2:
                v["length"] = (mask != 0).sum(axis=1).astype(np.int64)
                raw.derived.append("length")
    if "meta" not in v:
        v["meta"] = {}
        raw.derived.append("meta")
    raw.notes.extend(f"{name} derived (absent from the file)" for name in raw.derived)


def _is_float(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind == "f"


def _is_int(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind in "iu"


#: A dtype as torch names it: the names users see in the messages of their `.pt` files.
_DTYPE_NAMES = {
    np.dtype(t): f"torch.{name}"
    for t, name in (
        (np.bool_, "bool"),
        (np.uint8, "uint8"),
        (np.int8, "int8"),
        (np.int16, "int16"),
        (np.int32, "int32"),
        (np.int64, "int64"),
        (np.uint16, "uint16"),
        (np.uint32, "uint32"),
        (np.uint64, "uint64"),
        (np.float16, "float16"),
        (np.float32, "float32"),
        (np.float64, "float64"),
        (np.complex64, "complex64"),
        (np.complex128, "complex128"),
    )
}


def dtype_name(array: np.ndarray) -> str:
    """`torch.float32` for a float32 array (numpy's own name for any other dtype)."""
    return _DTYPE_NAMES.get(array.dtype, str(array.dtype))


def shape_problems(raw: RawCache) -> list[str]:
    """Every type/shape problem of the present keys (empty when the cache is well formed)."""
    v = raw.values
    problems: list[str] = []
    for name in ("duration", "log_duration", "profile", "mask", "length", "features"):
        if name not in v:
            problems.append(f"{name}: missing and cannot be derived")
        elif not isinstance(v[name], np.ndarray):
            problems.append(f"{name}: expected a tensor, found {type(v[name]).__name__}")
    if problems:
        return problems
    ranks = {"duration": 1, "log_duration": 1, "profile": 2, "mask": 2, "length": 1, "features": 2}
    for name, rank in ranks.items():
        if v[name].ndim != rank:
            problems.append(f"{name}: expected rank {rank}, found shape {list(v[name].shape)}")
    for name in ("duration", "log_duration", "profile", "features"):
        if not _is_float(v[name]):
            problems.append(f"{name}: expected a float dtype, found {dtype_name(v[name])}")
    if not _is_int(v["length"]):
        problems.append(f"length: expected an integer dtype, found {dtype_name(v['length'])}")
    if v["mask"].dtype.kind not in "biuf":
        problems.append(f"mask: expected bool or numeric, found {dtype_name(v['mask'])}")
    if problems:
        return problems
    n = v["duration"].shape[0]
    for name in ("log_duration", "profile", "mask", "length", "features"):
        if v[name].shape[0] != n:
            problems.append(f"{name}: {v[name].shape[0]} rows, but duration has {n}")
    if v["mask"].shape[1] != v["profile"].shape[1]:
        problems.append(
            f"mask: {v['mask'].shape[1]} steps, but profile has {v['profile'].shape[1]}"
        )
    if v["features"].shape[1] == 0:
        problems.append("features: zero columns")
    if "stats" in v and not isinstance(v["stats"], dict):
        problems.append(f"stats: expected a dict, found {type(v['stats']).__name__}")
    meta = v["meta"]
    if not isinstance(meta, dict):
        problems.append(f"meta: expected a dict, found {type(meta).__name__}")
        return problems
    max_len = meta.get("max_len")
    if max_len is not None:
        if isinstance(max_len, bool) or not isinstance(max_len, int):
            problems.append(f"meta.max_len: expected an integer, found {max_len!r}")
        elif max_len != v["profile"].shape[1]:
            problems.append(
                f"profile: L = {v['profile'].shape[1]} but meta.max_len = {max_len} "
                "(L must be max_len, never trimmed to the longest row)"
            )
    names = meta.get("feature_names")
    if names is not None and (not isinstance(names, list) or len(names) != v["features"].shape[1]):
        count = len(names) if isinstance(names, list) else type(names).__name__
        problems.append(
            f"meta.feature_names: {count} names for {v['features'].shape[1]} feature columns"
        )
    return problems


def as_cache_arrays(raw: RawCache) -> CacheArrays:
    """The validated arrays; call only when `shape_problems(raw)` is empty."""
    v = raw.values
    return CacheArrays(
        path=raw.path,
        duration=v["duration"],
        log_duration=v["log_duration"],
        profile=v["profile"],
        mask=v["mask"],
        length=v["length"],
        features=v["features"],
        meta=v["meta"],
        derived=list(raw.derived),
        stats=v.get("stats"),
    )


def as_timing_cache(raw: RawCache | CacheArrays) -> TimingCache:
    """The validated cache as torch tensors over the same memory (imports torch); call
    only when `shape_problems(raw)` is empty."""
    import torch

    arrays = as_cache_arrays(raw) if isinstance(raw, RawCache) else raw

    def tensor(array: np.ndarray) -> torch.Tensor:
        # torch warns about (and would share) memory numpy marked read-only
        return torch.from_numpy(array if array.flags.writeable else array.copy())

    return TimingCache(
        path=arrays.path,
        duration=tensor(arrays.duration),
        log_duration=tensor(arrays.log_duration),
        profile=tensor(arrays.profile),
        mask=tensor(arrays.mask),
        length=tensor(arrays.length),
        features=tensor(arrays.features),
        meta=arrays.meta,
        derived=list(arrays.derived),
        stats=arrays.stats,
    )
