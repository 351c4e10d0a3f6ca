"""The results cache (docs/cli.md): stage results kept between launches, keyed by what made them.

A second launch on unchanged artifacts shows every stage at once instead of importing torch
and recomputing. An entry is keyed by the artifacts' paths and sha256, the settings (the
tolerances included), timing-tui's version and code, the versions of Python, numpy and
torch, and the machine (`--device auto` samples on its GPU). A hash is trusted only while
the file's size, mtime and inode are those recorded beside it, so a launch hashes nothing;
a file that changed misses.

Layout under `$XDG_CACHE_HOME/timing-tui/results/` (default `~/.cache/...`):
`entries/<key>.json` (the results, each stage with the time it was computed) and
`hashes/<path digest>.json` (a file's stamp and sha256). Every file is written atomically;
an entry that does not parse, or whose recorded key is not the one looked up (another
version, a collision, a stray file), is a miss and is rewritten. The folder is pruned to
MAX_BYTES, least recently used first. The folders are the user's alone (0700 whatever the
umask) and a record is read only when it is the user's own regular file, writable by no
one else and of a bounded size: a folder another user can write to, or a link, is not
used at all (no forged entry is read, no file elsewhere is pruned). Nothing here is
fatal: a cache that cannot be read or written is a miss, and the stages run.

Runs that call the user's own code (`--dataset`, `--model`, `--sampler`) are not cached:
that code is part of the result and nothing tells when it changed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.util
import json
import os
import socket
import stat
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui_timing.artifacts.atomic import atomic_write_text, private_folder
from tui_timing.artifacts.files import read_own_file
from tui_timing.errors import ArtifactError
from tui_timing.findings import Report, StageResult
from tui_timing.report.result_codec import Unencodable, decode_result, encode_result

if TYPE_CHECKING:
    from tui_timing.config import ArtifactPaths, Settings
    from tui_timing.stages.context import StageContext

FORMAT = 1
#: The folder is pruned to this size (a run's entry is tens of kilobytes).
MAX_BYTES = 64 << 20
#: Hash records kept (one per artifact path seen).
MAX_HASHES = 2000
#: The largest entry read (a run's is tens of kilobytes) and the largest hash record.
MAX_ENTRY_BYTES = 16 << 20
MAX_HASH_BYTES = 64 << 10
#: Leftovers of a write killed halfway are removed after this long.
STALE_TMP_S = 3600.0


def cache_folder() -> Path:
    """`$XDG_CACHE_HOME/timing-tui/results` (an absolute XDG_CACHE_HOME only, as the XDG
    spec says), else `~/.cache/timing-tui/results`."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return root / "timing-tui" / "results"


def not_cacheable(settings: Settings) -> str | None:
    """Why a run's results are not kept (it runs the user's own code), or None."""
    given = [
        option
        for option, spec in (
            ("--dataset", settings.dataset_spec),
            ("--model", settings.model_spec),
            ("--sampler", settings.sampler_spec),
        )
        if spec
    ]
    if given:
        return f"{', '.join(given)}: your own code is part of the results"
    return None


@dataclass(frozen=True)
class Stamp:
    """What must not change for a recorded hash to stay true."""

    size: int
    mtime_ns: int
    inode: int

    def as_list(self) -> list[int]:
        """As JSON keeps it (a hash record, the stage-1 child's line)."""
        return list(dataclasses.astuple(self))

    @classmethod
    def from_list(cls, values: list[Any]) -> Stamp:
        """Back from `as_list` (TypeError or ValueError when it is not one)."""
        size, mtime_ns, inode = (int(v) for v in values)
        return cls(size, mtime_ns, inode)


def stamp(path: Path) -> Stamp | None:
    """The file's stamp; None when it does not exist. OSError for anything but a regular
    file (a pipe or a device has no content to key on)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        raise OSError(f"{path} is not a regular file")
    return Stamp(info.st_size, info.st_mtime_ns, info.st_ino)


def stamps(paths: ArtifactPaths) -> dict[str, Stamp | None]:
    """Every given artifact's stamp, taken before loading (OSError as for `stamp`)."""
    return {kind: stamp(path) for kind, path in paths.given().items()}


@dataclass
class CachedStage:
    """A stage's result and when it was computed (local time, ISO 8601 to the second)."""

    result: StageResult
    computed: str


@dataclass
class CachedRun:
    """What a launch needs to show every stage without running one."""

    stages: dict[int, CachedStage]
    errors: dict[str, ArtifactError]
    stamps: dict[str, Stamp | None]


def now() -> str:
    """The time a stage finished, as an entry records it."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


class ResultsCache:
    """One cache folder. Every method catches its own failures: a miss, or nothing stored."""

    def __init__(self, folder: Path | None = None, max_bytes: int = MAX_BYTES) -> None:
        self.folder = folder or cache_folder()
        self.max_bytes = max_bytes

    # ----- looking up --------------------------------------------------------------------

    def lookup(self, paths: ArtifactPaths, settings: Settings) -> CachedRun | None:
        """The entry for these artifacts and settings, when every artifact still has the
        stamp recorded with its hash (nothing is hashed here); else None."""
        if not_cacheable(settings) is not None:
            return None
        try:
            found = stamps(paths)
            hashes: dict[str, str | None] = {}
            for kind, path in paths.given().items():
                recorded = self._recorded_hash(path, found[kind])
                if isinstance(recorded, bool):
                    return None
                hashes[kind] = recorded
            key = key_material(paths, settings, hashes)
            entry = self._entry_path(key)
            data = json.loads(read_own_file(entry, MAX_ENTRY_BYTES, private=True))
            run = _parse_entry(data, key, found)
            os.utime(entry)  # recently used: pruned last
            return run
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            return None  # absent, unreadable, corrupt or foreign: computed and rewritten

    def _recorded_hash(self, path: Path, now_stamp: Stamp | None) -> str | bool | None:
        """The sha256 recorded for the file with this stamp; None for a file that does not
        exist; False when none is recorded for it as it is now."""
        if now_stamp is None:
            return None
        try:
            record = json.loads(read_own_file(self._hash_path(path), MAX_HASH_BYTES, private=True))
            if record["path"] == str(path.resolve()) and record["stamp"] == now_stamp.as_list():
                return str(record["sha256"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return False

    # ----- storing -----------------------------------------------------------------------

    def store(
        self,
        paths: ArtifactPaths,
        settings: Settings,
        loaded_stamps: dict[str, Stamp | None],
        stages: dict[int, CachedStage],
        errors: dict[str, ArtifactError],
        known: dict[str, str | None] | None = None,
    ) -> bool:
        """Write (or extend) the entry for these artifacts; False when nothing was stored:
        the run is not cacheable, an artifact changed since it was loaded (the results
        would not be its), a result cannot be encoded exactly, or the folder cannot be
        written. `known`: sha256s already read since loading (a report's), not read again."""
        if not_cacheable(settings) is not None or not stages:
            return False
        try:
            hashes: dict[str, str | None] = {}
            for kind, path in paths.given().items():
                current = stamp(path)
                if current != loaded_stamps.get(kind, False):
                    return False
                hashes[kind] = self._hash(path, current, (known or {}).get(kind))
            key = key_material(paths, settings, hashes)
            entry = self._entry_path(key)
            merged = self._existing_stages(entry, key, loaded_stamps)
            merged.update(stages)
            data = {
                "format": FORMAT,
                "key": key,
                "stages": {
                    str(sid): {"computed": s.computed, "result": encode_result(s.result)}
                    for sid, s in sorted(merged.items())
                },
                "errors": {kind: error.as_dict() for kind, error in errors.items()},
            }
            atomic_write_text(
                entry, json.dumps(data, allow_nan=False, separators=(",", ":")), private=True
            )
            self.prune()
            return True
        except (OSError, ArtifactError, ValueError, TypeError, Unencodable, RecursionError):
            return False  # atomic writes name their failures as ArtifactError

    def _existing_stages(
        self, entry: Path, key: dict[str, Any], loaded_stamps: dict[str, Stamp | None]
    ) -> dict[int, CachedStage]:
        """The stages already stored under this key (a run stopped halfway adds to them)."""
        try:
            data = json.loads(read_own_file(entry, MAX_ENTRY_BYTES, private=True))
            return _parse_entry(data, key, loaded_stamps).stages
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            return {}

    def _hash(self, path: Path, current: Stamp | None, given: str | None) -> str | None:
        """The file's sha256: the recorded one while its stamp is unchanged, else `given`
        or read; recorded with the stamp."""
        if current is None:
            return None
        recorded = self._recorded_hash(path, current)
        if isinstance(recorded, str):
            return recorded
        sha256 = given or _file_sha256(path)
        if stamp(path) != current:
            raise OSError(f"{path} changed while it was hashed")
        record = {
            "path": str(path.resolve()),
            "stamp": current.as_list(),
            "sha256": sha256,
        }
        atomic_write_text(self._hash_path(path), json.dumps(record), private=True)
        return sha256

    def store_context(
        self, ctx: StageContext, loaded_stamps: dict[str, Stamp | None], report: Report
    ) -> bool:
        """Keep what `check` computed: every result in the context, computed now."""
        computed = now()
        stages = {sid: CachedStage(r, computed) for sid, r in ctx.results.items()}
        errors = {k: loaded.error for k, loaded in ctx.artifacts.items() if loaded.error}
        known = {kind: ref.sha256 for kind, ref in report.artifacts.items()}
        return self.store(ctx.paths, ctx.settings, loaded_stamps, stages, errors, known)

    # ----- the folder --------------------------------------------------------------------

    def _entry_path(self, key: dict[str, Any]) -> Path:
        text = json.dumps(key, sort_keys=True, separators=(",", ":"))
        return self._records("entries") / f"{_digest(text)}.json"

    def _hash_path(self, path: Path) -> Path:
        return self._records("hashes") / f"{_digest(str(path.resolve()))}.json"

    def _records(self, sub: str) -> Path:
        """The folder of entries or hash records, made the user's alone; OSError when it
        is not (a link, another user's, writable by others): nothing is read from it or
        written or deleted there."""
        private_folder(self.folder)
        return private_folder(self.folder / sub)

    def prune(self) -> None:
        """Keep the entries under max_bytes and the hash records under MAX_HASHES, least
        recently used out first; remove what killed writes left behind."""
        for sub, limit_bytes, limit_count in (
            ("entries", self.max_bytes, None),
            ("hashes", None, MAX_HASHES),
        ):
            try:
                folder = self._records(sub)
                items = list(folder.iterdir())
            except OSError:
                continue  # not ours to prune
            files = []
            for item in items:
                try:  # one odd item (a folder, a pipe, gone meanwhile) never stops the rest
                    info = item.lstat()
                    if not stat.S_ISREG(info.st_mode):
                        continue
                    if item.name.startswith(".") and time.time() - info.st_mtime > STALE_TMP_S:
                        item.unlink(missing_ok=True)
                    elif item.suffix == ".json":
                        files.append((info.st_mtime, info.st_size, item))
                except OSError:
                    continue
            files.sort()
            total = sum(size for _, size, _ in files)
            while files and (
                (limit_bytes is not None and total > limit_bytes)
                or (limit_count is not None and len(files) > limit_count)
            ):
                _, size, oldest = files.pop(0)
                with contextlib.suppress(OSError):
                    oldest.unlink(missing_ok=True)
                total -= size


def key_material(
    paths: ArtifactPaths, settings: Settings, hashes: dict[str, str | None]
) -> dict[str, Any]:
    """Everything the results depend on, as JSON values (an entry stores it and is used
    only when it is equal)."""
    return {
        "format": FORMAT,
        "code": code_fingerprint(),
        "versions": versions(),
        "host": socket.gethostname(),
        "settings": json.loads(
            json.dumps(dataclasses.asdict(settings), sort_keys=True, default=str)
        ),
        "artifacts": {
            kind: {"path": str(path), "sha256": hashes[kind]}
            for kind, path in paths.given().items()
        },
    }


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """timing-tui's version, as its own modules by name, size and mtime: an edited
    checkout (same version number, other code) must not reuse results computed by the code
    before the edit."""
    package = Path(__file__).resolve().parents[1]
    parts = []
    # os.walk, not pathlib's rglob: a launch asks this before its first frame, and the
    # rglob took twice as long (2.4 ms)
    for root, _, files in os.walk(package):
        at = Path(root).relative_to(package)
        for name in (f for f in files if f.endswith(".py")):
            info = os.stat(os.path.join(root, name))
            parts.append(((*at.parts, name), f"{at / name}:{info.st_size}:{info.st_mtime_ns}"))
    return _digest("\n".join(line for _, line in sorted(parts)))  # in pathlib's order


@lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    """Python's, numpy's and torch's versions, read from their files: a warm launch
    imports neither numpy nor torch."""
    return {
        "python": sys.version.split()[0],
        "numpy": _package_version("numpy"),
        "torch": _package_version("torch"),
    }


def _package_version(name: str) -> str:
    """A digest of the package's `version.py` (both write their version there)."""
    try:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            return "absent"
        text = (Path(spec.origin).parent / "version.py").read_text(encoding="utf-8")
    except (OSError, ImportError, ValueError):
        return "unknown"
    return _digest(text)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _parse_entry(data: Any, key: dict[str, Any], found: dict[str, Stamp | None]) -> CachedRun:
    """An entry's stages and errors; ValueError when it is not an entry of this key."""
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("key") != key:
        raise ValueError("not an entry of this key")
    stages = {}
    for sid, item in data["stages"].items():
        result = decode_result(item["result"])
        if str(result.id) != sid or not isinstance(item["computed"], str):
            raise ValueError("a stage stored under another number")
        stages[result.id] = CachedStage(result, item["computed"])
    errors = {kind: ArtifactError.from_dict(e) for kind, e in data["errors"].items()}
    return CachedRun(stages=stages, errors=errors, stamps=dict(found))
