"""Plain text logs (Python `logging`, Hydra's `*.log`) read through the regular expressions
of `[[tool.timing-tui.log_patterns]]` (docs/artifacts.md#stats-log).

Each pattern is searched in every line; its named groups are `epoch`, `split`, field
names (`loss`, `dur_sigma`, or the user's names mapped by `keys.log`), or `fields`: a run
of `name=value` / `name: value` pairs, as `_log_stats`-style lines print them. An entry's
fixed `split` applies to the lines it matches. A line without an epoch takes the last
epoch seen, so an `Epoch 3/50` line and the stats lines under it belong together.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from tui_timing.artifacts.log_lines import read_lines
from tui_timing.artifacts.stats_rows import RowCollector
from tui_timing.errors import ArtifactError

#: `name=value` or `name: value`, the value a number (nan and inf included).
_PAIR = re.compile(
    r"([A-Za-z_][\w./-]*)\s*[=:]\s*([-+]?(?:nan|inf|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?))",
    re.IGNORECASE,
)
EXAMPLE = (
    "[[tool.timing-tui.log_patterns]]\n"
    "pattern = 'epoch (?P<epoch>\\d+) (?P<split>train|val) (?P<fields>.*)'"
)

Compiled = list[tuple[re.Pattern[str], str | None]]


def compile_patterns(path: Path, patterns: tuple[Mapping[str, str], ...]) -> Compiled:
    """The patterns as regular expressions; a pattern that cannot work is the user's to fix."""
    compiled: Compiled = []
    for number, entry in enumerate(patterns, start=1):
        where = f"log_patterns[{number}]"
        pattern = entry.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            raise ArtifactError(str(path), where, "has no pattern = '...' (a regular expression)")
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ArtifactError(
                str(path), where, f"pattern {pattern!r} is not a regular expression ({exc})"
            ) from None
        if not regex.groupindex:
            raise ArtifactError(
                str(path),
                where,
                f"pattern {pattern!r} has no named group: name what it reads, as in "
                "(?P<epoch>\\d+) or (?P<loss>\\S+)",
            )
        split = entry.get("split")
        compiled.append((regex, split if isinstance(split, str) and split else None))
    return compiled


def read_text(
    path: Path, rows: RowCollector, patterns: tuple[Mapping[str, str], ...]
) -> str | None:
    """Feed every matching line to `rows`; return why the last line was ignored, or None."""
    compiled = compile_patterns(path, patterns)
    last_epoch: float | None = None
    matched = 0
    first = ""
    for line in read_lines(path):
        text = line.data.decode("utf-8", "replace")
        first = first or text.strip()
        where = f"line {line.number}"
        try:
            for regex, fixed_split in compiled:
                found = regex.search(text)
                if found is None:
                    continue
                matched += 1
                pairs: list[tuple[str, str]] = []
                for name, value in found.groupdict().items():
                    if value is not None:
                        pairs.extend(_PAIR.findall(value) if name == "fields" else [(name, value)])
                values: dict[str, str] = {}
                epoch = None
                for name, value in pairs:
                    role = rows.role(name)
                    if role is not None and role[0] == "epoch":
                        epoch = rows.parse_epoch(where, name, value)
                    else:
                        values[name] = value
                last_epoch = epoch if epoch is not None else last_epoch
                rows.add(where, values, split=fixed_split, epoch=last_epoch, text=True)
        except ArtifactError as exc:
            if not line.complete:
                return f"the last line ({where}) is incomplete ({exc.problem})"
            raise
    if not matched:
        shown = f"; the first reads {first[:120]!r}" if first else " (the file is empty)"
        raise ArtifactError(
            str(path),
            "log_patterns",
            f"no line matches any of the {len(compiled)} log_patterns{shown}. A pattern is "
            f"searched in each line, e.g.\n{EXAMPLE}",
        )
    return None
