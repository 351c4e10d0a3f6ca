"""What `[tool.timing-tui]` says about the user's own repo (docs/artifacts.md#your-own-repo).

Researchers keep their own layout and names; the table tells timing-tui where the
artifacts are (paths relative to the `pyproject.toml`), which of their functions and
classes to call, and what their files call each contract name. Every value is checked
here, once, so that a typo is a usage error naming the table key and what to write,
rather than a failure deep inside a stage. `--key` maps from the command line go through
the same parser and win over the table's.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui_timing.artifact_kinds import KIND_NAMES
from tui_timing.errors import UsageError

#: Table keys that name the user's code, `module:attribute[.attribute]`.
PLUGIN_KEYS = ("dataset", "model", "sampler")
#: The contract's names in each key group (`[tool.timing-tui.keys.<group>]`, `--key
#: <group>.NAME=THEIRS`): what the left side of a map may name. The readers take their
#: lists from here, so a map is checked against the names they know.
CONTRACT_FIELDS: dict[str, tuple[str, ...]] = {
    # the cache's tensors: the required three first, then those derived when absent
    "cache": ("duration", "profile", "features", "log_duration", "mask", "length", "meta", "stats"),
    # a dataset's batches: the cache's tensors and the row number
    "batch": ("duration", "log_duration", "profile", "mask", "length", "features", "index"),
    # the stats log's figures and what places them (split, epoch or step, time)
    "log": (
        "split",
        "epoch",
        "step",
        "time",
        "loss",
        "duration_nll",
        "profile_loss",
        "dur_mu",
        "dur_sigma",
        "log_sigma",
        "profile_first",
        "profile_mid",
        "profile_last",
    ),
    # the eval dump's groups, their arrays, and a channel-packed side's order and scale
    "eval": ("real", "fake", "xy", "dt", "mask", "length", "channels", "mean", "std"),
    # what the user's model's forward returns
    "model": ("mu", "log_sigma", "logits", "profile"),
    # a checkpoint's config (the reference head's knobs and what they are checked against)
    "config": (
        "cond_dim",
        "hidden",
        "max_len",
        "profile_head",
        "n_templates",
        "logsigma_min",
        "logsigma_max",
        "logit_bound",
        "length_input",
        "mask_padding",
        "profile_loss",
        "feature_names",
        "diffusion_cond_dim",
        "cache_sha256",
        "cache_path",
    ),
}
#: The name spaces of `[tool.timing-tui.keys.*]` and of `--key NAMESPACE.NAME=THEIRS`.
KEY_NAMESPACES = tuple(CONTRACT_FIELDS)
#: Everything the table may hold besides run settings and tolerances.
PROJECT_KEYS = (
    *KIND_NAMES,
    *PLUGIN_KEYS,
    "pythonpath",
    "keys",
    "sampler_kwargs",
    "profile_bins",
    "eval_xy",
    "log_patterns",
    "runs",
)
PROFILE_BINS = ("padded", "masked")
#: What `eval_xy` may say an eval dump's xy holds.
EVAL_XY_FORMS = ("points", "steps")
_LOG_PATTERN_FIELDS = ("pattern", "split")


def empty_keys() -> dict[str, dict[str, str]]:
    """One empty map per name space, so `keys["log"]` always exists."""
    return {namespace: {} for namespace in KEY_NAMESPACES}


@dataclass(frozen=True)
class ProjectTable:
    """The project part of `[tool.timing-tui]`, checked and with paths resolved."""

    artifacts: dict[str, Path] = field(default_factory=dict)
    plugins: dict[str, str] = field(default_factory=dict)
    pythonpath: tuple[Path, ...] = ()
    keys: dict[str, dict[str, str]] = field(default_factory=empty_keys)
    batch_positions: tuple[str, ...] = ()
    sampler_kwargs: dict[str, Any] = field(default_factory=dict)
    profile_bins: str = "padded"
    eval_xy: str | None = None
    log_patterns: tuple[dict[str, str], ...] = ()
    #: `runs = ["outputs/*"]`: the folders `timing-tui runs` looks in (globs, resolved).
    runs: tuple[Path, ...] = ()


def read_project(table: dict[str, Any], pyproject: Path | None) -> ProjectTable:
    """Check and resolve the project keys of a `[tool.timing-tui]` table."""
    where = f"{pyproject}: [tool.timing-tui]"
    root = pyproject.parent if pyproject is not None else Path.cwd()
    artifacts = {
        name: root / _string(where, name, table[name], "a file path")
        for name in KIND_NAMES
        if name in table
    }
    plugins = {
        name: _plugin_spec(where, name, table[name]) for name in PLUGIN_KEYS if name in table
    }
    keys, positions = _table_keys(where, table.get("keys", {}))
    return ProjectTable(
        artifacts=artifacts,
        plugins=plugins,
        pythonpath=_pythonpath(where, root, table.get("pythonpath", [])),
        keys=keys,
        batch_positions=positions,
        sampler_kwargs=_sampler_kwargs(where, table.get("sampler_kwargs", {})),
        profile_bins=_profile_bins(where, table.get("profile_bins", "padded")),
        eval_xy=_eval_xy(where, table.get("eval_xy")),
        log_patterns=_log_patterns(where, table.get("log_patterns", [])),
        runs=_run_globs(where, root, table.get("runs", [])),
    )


def check_key_map(namespace: str, mapping: Mapping[str, Any], where: str) -> None:
    """Refuse a map whose contract name (left of `=`) the group does not have, listing
    those it has (and the closest, as the line to write): a typo there would otherwise be
    ignored and the user's name never read. One check for every group, the table's and
    `--key`'s alike."""
    known = CONTRACT_FIELDS[namespace]
    unknown = [str(name) for name in mapping if name not in known]
    if not unknown:
        return
    name = unknown[0]
    close = difflib.get_close_matches(name, known, n=1)
    fix = f' (did you mean {close[0]} = "{mapping[name]}"?)' if close else ""
    raise UsageError(
        f"{where}: {name!r} is not a name of the {namespace} contract, so nothing would "
        f"read it; the {namespace} names are {', '.join(known)}{fix}"
    )


def parse_key_options(pairs: tuple[str, ...] | list[str]) -> dict[str, dict[str, str]]:
    """`--key [NAMESPACE.]NAME=THEIRS` options as maps per name space (bare: the cache)."""
    out = empty_keys()
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise UsageError(
                f"--key expects [NAMESPACE.]NAME=THEIR_NAME (e.g. --key cache.duration="
                f"durations_s), got {pair!r}"
            )
        namespace, dot, contract = name.partition(".")
        if not dot:
            namespace, contract = "cache", name
        if namespace not in KEY_NAMESPACES or not contract:
            raise UsageError(
                f"--key {pair}: unknown name space {namespace!r} "
                f"(write one of {', '.join(n + '.NAME' for n in KEY_NAMESPACES)})"
            )
        check_key_map(namespace, {contract: value}, f"--key {pair}")
        out[namespace][contract] = value
    return out


def merge_keys(
    base: dict[str, dict[str, str]], over: dict[str, dict[str, str]]
) -> dict[str, dict[str, str]]:
    """The table's maps with the command line's entries replacing the same names."""
    return {ns: {**base.get(ns, {}), **over.get(ns, {})} for ns in KEY_NAMESPACES}


def _string(where: str, name: str, value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{where} {name} must be {what} (a string), not {value!r}")
    return value.strip()


def _plugin_spec(where: str, name: str, value: Any) -> str:
    spec = _string(where, name, value, '"module:attribute"')
    module, sep, attribute = spec.partition(":")
    if not sep or not module or not attribute:
        raise UsageError(
            f'{where} {name} must be "module:attribute" (e.g. {name} = '
            f'"mypkg.timing:make_{name}"), not {value!r}'
        )
    return spec


def _pythonpath(where: str, root: Path, value: Any) -> tuple[Path, ...]:
    entries = [value] if isinstance(value, str) else value
    if not isinstance(entries, list) or not all(isinstance(e, str) and e for e in entries):
        raise UsageError(
            f'{where} pythonpath must be a folder or a list of folders (e.g. ["src"]), '
            f"not {value!r}"
        )
    return tuple(root / entry for entry in entries)


def _run_globs(where: str, root: Path, value: Any) -> tuple[Path, ...]:
    """The folders `runs = [...]` names: each glob relative to the table's folder, matches
    in name order (a glob that matches nothing adds nothing: a sweep not started yet)."""
    entries = [value] if isinstance(value, str) else value
    if not isinstance(entries, list) or not all(isinstance(e, str) and e for e in entries):
        raise UsageError(
            f'{where} runs must be a folder glob or a list of them (e.g. ["outputs/*"]), '
            f"not {value!r}"
        )
    return tuple(match for entry in entries for match in sorted(root.glob(entry)) if match.is_dir())


def _table_keys(where: str, value: Any) -> tuple[dict[str, dict[str, str]], tuple[str, ...]]:
    if not isinstance(value, dict):
        raise UsageError(
            f"{where} keys must be a table of name spaces "
            f"([tool.timing-tui.keys.cache] ...), not {value!r}"
        )
    keys = empty_keys()
    positions: tuple[str, ...] = ()
    for namespace, names in value.items():
        if namespace not in KEY_NAMESPACES:
            raise UsageError(
                f"{where} keys.{namespace}: unknown name space (known: {', '.join(KEY_NAMESPACES)})"
            )
        label = f"{where} keys.{namespace}"
        if namespace == "batch" and isinstance(names, list):
            if not all(isinstance(n, str) and n for n in names):
                raise UsageError(
                    f"{label} as a list names the tuple positions of a dataset item "
                    f'(e.g. ["features", "profile", "mask"]), not {names!r}'
                )
            positions = tuple(names)
            continue
        if not isinstance(names, dict):
            raise UsageError(
                f'{label} must be a table of contract name = "your name", not {names!r}'
            )
        check_key_map(namespace, names, label)
        for contract, theirs in names.items():
            keys[namespace][contract] = _string(label, contract, theirs, "your key's name")
    return keys, positions


def _sampler_kwargs(where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UsageError(
            f"{where} sampler_kwargs must be a table (e.g. sampler_kwargs = "
            f"{{ profile_mix = 1.0 }}), not {value!r}"
        )
    return dict(value)


def _profile_bins(where: str, value: Any) -> str:
    if value not in PROFILE_BINS:
        raise UsageError(f'{where} profile_bins must be "padded" or "masked", not {value!r}')
    return str(value)


def _eval_xy(where: str, value: Any) -> str | None:
    if value is not None and value not in EVAL_XY_FORMS:
        raise UsageError(
            f'{where} eval_xy must be "points" (xy [N, L+1, 2]) or "steps" (per-step '
            f"displacements [N, L, 2]), not {value!r}"
        )
    return value if value is None else str(value)


def _log_patterns(where: str, value: Any) -> tuple[dict[str, str], ...]:
    entries = value if isinstance(value, list) else None
    if entries is None:
        raise UsageError(
            f"{where} log_patterns must be a list of entries "
            f'([[tool.timing-tui.log_patterns]] with pattern = "..."), not {value!r}'
        )
    out: list[dict[str, str]] = []
    for i, entry in enumerate(entries):
        label = f"{where} log_patterns[{i}]"
        if isinstance(entry, str):
            entry = {"pattern": entry}
        if not isinstance(entry, dict) or "pattern" not in entry:
            raise UsageError(f'{label} must be a table with pattern = "...", not {entry!r}')
        unknown = sorted(set(entry) - set(_LOG_PATTERN_FIELDS))
        if unknown:
            raise UsageError(
                f"{label}: unknown key {unknown[0]!r} (an entry has pattern and optionally split)"
            )
        checked = {k: _string(label, k, v, "a string") for k, v in entry.items()}
        try:
            groups = re.compile(checked["pattern"]).groupindex
        except re.error as exc:
            raise UsageError(f"{label} pattern is not a regular expression ({exc})") from None
        if not groups:
            raise UsageError(
                f"{label} pattern has no named group: name what each group holds, "
                r'e.g. "epoch (?P<epoch>\d+) .*mu=(?P<dur_mu>\S+)"'
            )
        out.append(checked)
    return tuple(out)
