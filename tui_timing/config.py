"""Tolerances, run settings and a run's artifact paths, from defaults, `[tool.timing-tui]`
and the command line.

Every threshold a check uses lives in `Tolerances`, under the name a user writes in their
`pyproject.toml` (`[tool.timing-tui]`, or its `tolerances` sub-table) or passes as
`--tol NAME=VALUE`. Later sources win: defaults, then pyproject, then the command line.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_timing.artifact_kinds import KIND_NAMES
from tui_timing.errors import UsageError
from tui_timing.project import KEY_NAMESPACES, PROJECT_KEYS, empty_keys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib


@dataclass(frozen=True, init=False)
class Tolerances:
    """Thresholds of the checks (defaults: docs/checks.md#tolerances). Relative ones are
    fractions.

    Its `__init__` is written here, not generated: a generated one for sixty fields with
    defaults is compiled at import, which every launch pays before its first frame.
    """

    def __init__(self, **values: float) -> None:
        """`Tolerances(ks_max=0.2)`: the defaults, with those given in their place."""
        for name, default in _TOLERANCE_DEFAULTS.items():
            object.__setattr__(self, name, values.pop(name, default))
        if values:
            raise TypeError(f"Tolerances has no {', '.join(sorted(values))}")

    # Stage 1: cache
    profile_row_sum: float = 1e-4
    profile_mean_sum: float = 1e-3
    log_duration_abs: float = 1e-4
    raw_duration_rel: float = 0.01
    raw_profile_rel: float = 0.05
    profile_abs_floor: float = 1e-6
    preset_factor: float = 10.0
    units_min_s: float = 0.01
    units_max_s: float = 60.0
    # Stage 2: dataset
    epoch_mean_rel: float = 1e-5
    epoch_mean_abs: float = 1e-8
    # Stage 3: model
    clamp_share: float = 0.01
    sigma_ratio_min: float = 0.5
    sigma_ratio_max: float = 2.0
    pinned_share: float = 0.5
    duration_fit_margin: float = 0.1
    padding_mass: float = 1e-6
    capacity_margin: float = 0.25
    # Stage 4: training
    val_rise_share: float = 0.25
    stats_converge_rel: float = 0.5
    converge_bin_factor: float = 3.0
    flat_ratio: float = 2.0
    sigma_collapse_ratio: float = 0.5
    # Stage 5: sampler
    quantile_rel: float = 0.10
    ks_max: float = 0.1
    first_bin_rel: float = 0.25
    bin_factor: float = 3.0
    flat_share: float = 0.5
    passthrough_share: float = 0.5
    ceiling_share: float = 0.01
    dispersion_high: float = 1.4
    dispersion_low: float = 0.25
    dispersion_head_low: float = 0.5
    # With the head to run, real rows warn only below this: a deterministic head predicts
    # each step's expected share, smoother within a row than any one real path (healthy
    # heads 0.085-0.29x real over seven Balabit users: docs/checks.md#stage-5-sampler).
    dispersion_head_real_low: float = 0.05
    # Stage 6: integration
    gate_rel: float = 0.10
    dt_sum_rel: float = 0.01
    scale_factor_rel: float = 0.05
    scale_fit_ks: float = 0.08
    ks_warn: float = 0.1
    # C2ST at 1e-3, as every judged figure (numerics/noise.py): at 0.05 it alone would flag
    # one healthy run in twenty (VALIDITY.md: a real-vs-real eval at p 0.042).
    c2st_alpha: float = 0.001
    real_cache_dt_rel: float = 0.25
    real_cache_zero_factor: float = 2.0
    real_cache_zero_points: float = 0.05
    real_cache_length_ks: float = 0.2


#: Each tolerance's default (dataclass keeps it as the class attribute).
_TOLERANCE_DEFAULTS: dict[str, float] = {
    f.name: getattr(Tolerances, f.name) for f in dataclasses.fields(Tolerances)
}


@dataclass(frozen=True)
class Settings:
    """How a run is carried out: device, sample count, seed, plug-ins, the user's names
    for the contract's keys (docs/artifacts.md#your-own-repo) and tolerances."""

    tolerances: Tolerances = field(default_factory=Tolerances)
    device: str = "auto"
    samples: int = 2048
    seed: int = 0
    batch_size: int = 256
    temperature: float = 1.0
    dataset_spec: str | None = None
    model_spec: str | None = None
    sampler_spec: str | None = None
    #: Contract name -> the user's name, per name space (cache, batch, log, eval, model).
    keys: dict[str, dict[str, str]] = field(default_factory=empty_keys)
    #: What each position of a tuple dataset item is (`keys.batch` given as a list).
    batch_positions: tuple[str, ...] = ()
    #: `[[tool.timing-tui.log_patterns]]`: each has "pattern" and optionally "split".
    log_patterns: tuple[dict[str, str], ...] = ()
    #: What first/mid/last mean in the user's log: "padded" (docs/artifacts.md#timing-cache) or
    #: "masked".
    profile_bins: str = "padded"
    #: Whether an eval dump's xy holds "points" or "steps", where its shapes leave it open
    #: (None: read from the shapes and content).
    eval_xy: str | None = None
    sampler_kwargs: dict[str, Any] = field(default_factory=dict)
    #: Folders prepended to sys.path before a plug-in is imported.
    pythonpath: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        # every name space present, so a consumer can write settings.keys["log"]
        full = {ns: dict(self.keys.get(ns, {})) for ns in KEY_NAMESPACES}
        object.__setattr__(self, "keys", full)


@dataclass
class ArtifactPaths:
    """The files a run looks at; None where the user gave (or discovery found) none. One
    field per artifact kind (artifact_kinds.KINDS; tests/test_declarations.py holds them
    equal)."""

    cache: Path | None = None
    raw_summary: Path | None = None
    checkpoint: Path | None = None
    log: Path | None = None
    eval: Path | None = None

    def given(self) -> dict[str, Path]:
        """The kinds that have a path, in report order."""
        return {k: getattr(self, k) for k in KIND_NAMES if getattr(self, k) is not None}


@dataclass
class Invocation:
    """The parsed shared options: artifact paths, settings, and the TUI/export extras."""

    paths: ArtifactPaths
    settings: Settings
    scratchpad: Path | None
    theme: str | None
    #: `--no-cache`: neither read nor write the results cache.
    no_cache: bool = False
    #: The pyproject.toml whose `[tool.timing-tui]` is in use (None: no table).
    project: Path | None = None
    #: The scratchpad was named with `--scratchpad` (written where it points), not found
    #: or named in the table (written only inside the project).
    scratchpad_given: bool = False
    #: The table's `runs` globs, matched: where `timing-tui runs` looks without PATHs.
    run_folders: tuple[Path, ...] = ()

    @property
    def any_artifact(self) -> bool:
        return bool(self.paths.given())


#: Keys of `[tool.timing-tui]` that are run settings rather than tolerances.
SETTING_KEYS = ("device", "samples", "seed", "temperature", "theme", "scratchpad")


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest `pyproject.toml` at or above `start` (the working directory), but not
    above the repository's root (the nearest folder holding `.git`): a pyproject.toml in a
    shared parent folder belongs to someone else's project, not to the user's."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if _exists(candidate, file=True):
            return candidate
        if _exists(folder / ".git"):
            return None
    return None


def _exists(path: Path, file: bool = False) -> bool:
    """Whether `path` exists (a regular file when `file`); False when it cannot be told."""
    try:
        return path.is_file() if file else path.exists()
    except OSError:
        return False


def untrusted(pyproject: Path) -> str | None:
    """Why `pyproject` may not configure timing-tui (None when it may).

    Its table can name plug-in code that timing-tui imports and runs, and the scratchpad it
    appends to. Like git's `safe.directory`, the file is obeyed only when the user owns it
    and no other user can change it or its folder (replace it, or plant one beside it).
    """
    try:
        info = pyproject.stat()
        folder = pyproject.parent.stat()
    except OSError as exc:
        return f"cannot be examined ({exc.strerror})"
    me = os.geteuid()
    if info.st_uid != me:
        return f"is owned by another user (uid {info.st_uid})"
    if folder.st_uid != me:
        return f"is in a folder owned by another user (uid {folder.st_uid})"
    if info.st_mode & 0o022:
        return "can be written by other users"
    if folder.st_mode & 0o022:
        return "is in a folder other users can write to"
    return None


#: A pyproject.toml is a few kB; a larger file than this is not read (nor held in memory).
PYPROJECT_MAX_BYTES = 4 << 20


def read_tool_table(pyproject: Path | None) -> dict[str, Any]:
    """The `[tool.timing-tui]` table of `pyproject` (empty when absent).

    A `tool` that is not a table (`tool = 5`, `[[tool]]`) holds no timing-tui settings and
    is left to the tools it breaks; a `timing-tui` entry that is not a table, or a file too
    large to be a project file, is a UsageError naming the file.
    """
    if pyproject is None:
        return {}
    try:
        with pyproject.open("rb") as handle:
            raw = handle.read(PYPROJECT_MAX_BYTES + 1)
        if len(raw) > PYPROJECT_MAX_BYTES:
            raise UsageError(
                f"{pyproject}: larger than {PYPROJECT_MAX_BYTES >> 20} MB, which no project file "
                "is; timing-tui reads [tool.timing-tui] from the nearest pyproject.toml"
            )
        data = tomllib.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{pyproject}: cannot read [tool.timing-tui] ({exc})") from None
    except RecursionError:
        raise UsageError(
            f"{pyproject}: nested too deeply to be read (arrays or tables inside each other "
            "thousands of levels deep); no project file is, so fix or remove it"
        ) from None
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        return {}
    table = tool.get("timing-tui", {})
    if not isinstance(table, dict):
        raise UsageError(
            f"{pyproject}: [tool.timing-tui] must be a table, found {type(table).__name__} "
            f"{str(table)[:80]!r}"
        )
    return table


def tolerances_from(
    table: dict[str, Any], overrides: dict[str, str], *, source: str = "pyproject.toml"
) -> Tolerances:
    """Apply the tolerance keys of a `[tool.timing-tui]` table, then `--tol` overrides."""
    values: dict[str, float] = {}
    nested = table.get("tolerances", {})
    if not isinstance(nested, dict):
        raise UsageError(f"{source}: [tool.timing-tui] key 'tolerances' must be a table")
    flat = {k: v for k, v in table.items() if k not in (*SETTING_KEYS, *PROJECT_KEYS, "tolerances")}
    for key in flat:
        if key not in _TOLERANCE_NAMES:
            raise UsageError(_unknown_table_key(key, source))
    for key, value in {**flat, **nested}.items():
        values[key] = _tolerance_value(key, value, source)
    for key, value in overrides.items():
        values[key] = _tolerance_value(key, value, "--tol")
    return dataclasses.replace(Tolerances(), **values)


_TOLERANCE_NAMES = set(_TOLERANCE_DEFAULTS)


def _unknown_table_key(key: str, source: str) -> str:
    """Which keys `[tool.timing-tui]` knows, grouped, for a key it does not."""
    return (
        f"{source}: [tool.timing-tui] has no key {key!r}. Known keys: run settings "
        f"{', '.join(SETTING_KEYS)}; project {', '.join(PROJECT_KEYS)}; tolerances "
        f"{', '.join(sorted(_TOLERANCE_NAMES))} (also under [tool.timing-tui.tolerances])"
    )


def _tolerance_value(key: str, value: Any, source: str) -> float:
    if key not in _TOLERANCE_NAMES:
        known = ", ".join(sorted(_TOLERANCE_NAMES))
        raise UsageError(f"{source}: unknown tolerance {key!r} (known: {known})")
    if isinstance(value, bool):
        raise UsageError(f"{source}: tolerance {key!r} must be a number, not {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{source}: tolerance {key!r} must be a number, not {value!r}") from None
    if not number >= 0:
        raise UsageError(f"{source}: tolerance {key!r} must be >= 0, not {value!r}")
    return number


def parse_assignments(pairs: tuple[str, ...] | list[str], option: str) -> dict[str, str]:
    """Parse repeated `NAME=VALUE` options (`--key`, `--tol`) into a dict."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise UsageError(f"{option} expects NAME=VALUE, got {pair!r}")
        out[name.strip()] = value.strip()
    return out
