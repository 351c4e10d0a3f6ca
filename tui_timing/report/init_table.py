"""`timing-tui init`: the `[tool.timing-tui]` table that discovery and the conventions infer
for the repository at hand, every line commented with how it was inferred.

Nothing here is a guess: a line is written when the files decide it (a cache, a run's
newest checkpoint and its log found by content; a `src/` layout; a model class named by a
Hydra run's `_target_`; a text log whose lines hold `name=value` pairs with the stats
log's names), and otherwise left as a comment saying what was not found. The table is
what `check` reads, so it works as written; the user checks each line against its comment.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from tui_timing.artifacts.classify import UNKNOWN_KEYS
from tui_timing.artifacts.discovery import Discovered, discover
from tui_timing.artifacts.eval_dump import load_eval_dump
from tui_timing.artifacts.log_lines import read_lines
from tui_timing.artifacts.stats_rows import RowCollector
from tui_timing.config import Settings
from tui_timing.errors import ArtifactError

#: Lines of a text log read to tell whether it holds `name=value` stats.
SCAN_LINES = 2_000
#: `name=value` or `name: value` with a numeric value (as the text log reader reads them).
_PAIR = re.compile(
    r"([A-Za-z_][\w./-]*)\s*[=:]\s*[-+]?(?:nan|inf|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)",
    re.IGNORECASE,
)
#: Files listed in such a comment.
SHOWN = 8
NO_CACHE = "no timing cache found: build one with timing-tui build-cache"
#: What to write for a cache or eval dump kept under the user's own names.
MAP_KEYS = {
    "cache": (
        "name it here and map its keys in [tool.timing-tui.keys.cache] (duration, profile, "
        'mask or length, features: e.g. duration = "YOUR_KEY")'
    ),
    "eval": (
        "name it here and map its groups in [tool.timing-tui.keys.eval] (real, fake: e.g. "
        'real = "YOUR_GROUP"), and eval_xy = "points" or "steps" where shapes leave it open'
    ),
}
#: The Hydra config section whose `_target_` names each plug-in.
_HYDRA_SECTIONS = {"model": "model", "dataset": "dataset"}


@dataclass
class InferredTable:
    """The lines of the table, each with its comment, in the order they are written."""

    lines: list[tuple[str, str]] = field(default_factory=list)
    #: `[[tool.timing-tui.log_patterns]]` entries: (pattern, comment).
    log_patterns: list[tuple[str, str]] = field(default_factory=list)

    def add(self, key: str, value: object, how: str) -> None:
        self.lines.append((f"{key} = {_toml(value)}", how))

    def missing(self, key: str, why: str) -> None:
        self.lines.append((f'# {key} = "..."', why))

    def text(self, where: Path) -> str:
        """The table as TOML, comments aligned after their lines."""
        width = max((len(line) for line, _ in self.lines), default=0)
        out = [
            "[tool.timing-tui]",
            f"# inferred by `timing-tui init` from the files under {where}; check each line",
        ]
        out += [f"{line.ljust(width)}  # {how}" for line, how in self.lines]
        for pattern, how in self.log_patterns:
            out += [
                "",
                f"# {how}",
                "[[tool.timing-tui.log_patterns]]",
                f"pattern = {_toml(pattern)}",
            ]
        return "\n".join(out) + "\n"


def infer_table(root: Path) -> InferredTable:
    """What the files under `root` (the folder of the pyproject.toml) say the table is."""
    table = InferredTable()
    pythonpath = _src_layout(root)
    if pythonpath is not None:
        table.add("pythonpath", [pythonpath[0]], pythonpath[1])
    found = discover(root, Settings())
    patterns = _text_log_patterns(root, found)
    if patterns:
        found = discover(root, Settings(log_patterns=tuple({"pattern": p} for p, _ in patterns)))
        table.log_patterns = patterns
    _artifacts(table, root, found)
    if found.runs and found.runs[0].folder is not None:
        _hydra_plugins(table, root, found.runs[0].folder, pythonpath)
    return table


def _artifacts(table: InferredTable, root: Path, found: Discovered) -> None:
    details = {f.path: f.detail for f in found.found}
    if found.caches:
        others = _also(root, found.caches[1:])
        table.add("cache", _rel(found.caches[0], root), f"{details[found.caches[0]]}{others}")
    else:
        table.missing("cache", _unrecognised(found, root, "cache") or NO_CACHE)
    run = found.runs[0] if found.runs else None
    if run is None:
        table.missing("checkpoint", "no run found (no checkpoint and no stats log)")
        table.missing("log", "no run found")
    else:
        chose = {a.artifact: a.source for a in run.assumptions}
        others = f"; the other runs: {', '.join(r.name for r in found.runs[1:])}"
        if run.checkpoint is not None:
            how = chose.get("checkpoint", f"run {run.name}: its only checkpoint")
            table.add("checkpoint", _rel(run.checkpoint, root), _cut(how) + others)
        else:
            table.missing("checkpoint", f"run {run.name} holds no checkpoint")
        if run.log is not None:
            how = chose.get("log", f"run {run.name}: {details.get(run.log, 'its log')}")
            table.add("log", _rel(run.log, root), _cut(how))
        else:
            table.missing("log", f"run {run.name} holds no stats log")
    evaluation = found.paths().eval
    if evaluation is None and run is not None and found.evals:
        theirs = ", ".join(_rel(path, root) for path in found.evals[:3])
        table.missing(
            "eval", f"run {run.name} has none in its folder; those found are other runs' ({theirs})"
        )
    elif evaluation is None:
        table.missing("eval", _unrecognised(found, root, "eval") or "no eval dump found")
    elif run is not None and evaluation == run.eval:
        table.add("eval", _rel(evaluation, root), f"in run {run.name}: {details[evaluation]}")
    else:
        table.add("eval", _rel(evaluation, root), f"{details[evaluation]}, in no run's folder")
    if evaluation is not None:
        _eval_xy(table, evaluation)


def _eval_xy(table: InferredTable, path: Path) -> None:
    """The eval_xy line, left for the user with the question, when the dump's shapes and
    content leave open whether its xy holds points or steps (nothing is guessed)."""
    try:
        dump = load_eval_dump(path)
    except ArtifactError:
        return  # check says what is wrong with it
    if dump.question is not None:
        table.missing("eval_xy", dump.question)


def _unrecognised(found: Discovered, root: Path, kind: str) -> str | None:
    """What to write when no cache or eval dump was recognised but discovery passed over
    tensor files whose keys it does not know: the user's own names, which a key map reads."""
    files = [p for p in found.passed_over if p.reason.startswith(UNKNOWN_KEYS)]
    if not files:
        return None
    listed = "; ".join(
        f"{_rel(p.path, root)} {p.reason.removeprefix(UNKNOWN_KEYS).strip()}" for p in files[:SHOWN]
    )
    more = f" and {len(files) - SHOWN} more" if len(files) > SHOWN else ""
    return (
        f"none recognised; files of keys timing-tui does not know: {listed}{more}: if one "
        f"is your {kind}, {MAP_KEYS[kind]}"
    )


def _cut(source: str) -> str:
    """An assumption's source up to its override hint (the table line is the override)."""
    return source.split("; name another with")[0]


def _also(root: Path, others: list[Path]) -> str:
    return f" (also found: {', '.join(_rel(p, root) for p in others[:3])})" if others else ""


def _src_layout(root: Path) -> tuple[str, str] | None:
    """("src", why) when the repository keeps its packages under `src/`."""
    src = root / "src"
    packages = sorted(p.parent.name for p in src.glob("*/__init__.py")) if src.is_dir() else []
    if not packages:
        return None
    return "src", f"src/{packages[0]}/__init__.py: a src layout (your plug-ins import from it)"


def _text_log_patterns(root: Path, found: Discovered) -> list[tuple[str, str]]:
    """A log_patterns entry for each form of text log that discovery passed over whose
    lines hold two or more `name=value` pairs with the stats log's names."""
    patterns: dict[str, str] = {}
    for passed in found.passed_over:
        if passed.path.suffix.lower() != ".log" or not passed.path.is_file():
            continue
        inferred = _pairs_pattern(passed.path)
        if inferred is not None and inferred[0] not in patterns:
            patterns[inferred[0]] = f"{_rel(passed.path, root)}: {inferred[1]}"
    return list(patterns.items())


def _pairs_pattern(path: Path) -> tuple[str, str] | None:
    rows = RowCollector(path)
    firsts: dict[str, int] = {}
    example = ""
    scanned = 0
    for line in read_lines(path):
        scanned += 1
        text = line.data.decode("utf-8", "replace")
        names = [m.group(1) for m in _PAIR.finditer(text)]
        known = [n for n in names if rows.role(n) is not None]
        if len(known) >= 2 and any(rows.role(n) != rows.role("epoch") for n in known):
            firsts[names[0]] = firsts.get(names[0], 0) + 1
            example = example or text.strip()[:100]
        if scanned >= SCAN_LINES:
            break
    if len(firsts) != 1:
        return None  # no such lines, or lines that start differently: not decided
    ((first, count),) = firsts.items()
    pattern = rf"(?P<fields>\b{re.escape(first)}\s*[=:].*)"
    how = (
        f"{count} of its first {scanned} lines hold name=value stats from {first!r} on "
        f"(e.g. {example!r}); splits from the names' prefixes"
    )
    return pattern, how


def _hydra_plugins(
    table: InferredTable, root: Path, run: Path, pythonpath: tuple[str, str] | None
) -> None:
    """`model` (and `dataset`) from the `_target_` of the run's Hydra config, when the
    class it names is a module of the repository."""
    config = run / ".hydra" / "config.yaml"
    if not config.is_file():
        return
    targets = _hydra_targets(config.read_text(encoding="utf-8", errors="replace"))
    bases = [root / pythonpath[0]] if pythonpath else []
    bases.append(root)
    for section, key in _HYDRA_SECTIONS.items():
        target = targets.get(section)
        if target is None or "." not in target:
            continue
        module, _, attribute = target.rpartition(".")
        source = Path(*module.split("."))
        if not any((b / source).with_suffix(".py").is_file() for b in bases):
            continue
        table.add(
            key,
            f"{module}:{attribute}",
            f"_target_ of {section} in {_rel(config, root)} (Hydra instantiates it; timing-tui "
            "calls it with the checkpoint's config)",
        )


def _hydra_targets(text: str) -> dict[str, str]:
    """Each top-level section's `_target_` in a Hydra config (its YAML read line by line:
    a section is an unindented `name:`, its target an indented `_target_: dotted.name`)."""
    targets: dict[str, str] = {}
    section: str | None = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            name, sep, rest = line.partition(":")
            section = name.strip() if sep and not rest.strip() else None
            continue
        key, sep, value = line.strip().partition(":")
        if section is not None and sep and key == "_target_" and section not in targets:
            targets[section] = value.strip().strip("'\"")
    return targets


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _toml(value: object) -> str:
    """A TOML value: a literal string when it holds no single quote (patterns read as
    written), else a basic string; a list of strings."""
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    text = str(value)
    if "'" not in text and "\n" not in text:
        return f"'{text}'" if "\\" in text else json.dumps(text)
    return json.dumps(text)
