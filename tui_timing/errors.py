"""The one error type every layer raises for input it cannot use.

Each problem names the file, the key and what is wrong, so that the CLI, the JSON report
and the TUI's error pane can all say the same precise sentence without parsing text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class ArtifactError(Exception):
    """An artifact (or one key of it) that cannot be used.

    `key` is None when the problem concerns the whole file (not loadable, wrong container).
    """

    file: str
    key: str | None
    problem: str

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}" + (f" [{self.key}]" if self.key else "")
        return f"{where}: {self.problem}"

    def as_dict(self) -> dict[str, str | None]:
        """The JSON `error` object (docs/cli.md#json-report)."""
        return {"file": self.file, "key": self.key, "problem": self.problem}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArtifactError:
        """Back from `as_dict` (a results-cache entry, the stage-1 child's line); KeyError
        when a field is missing."""
        key = data["key"]
        return cls(str(data["file"]), None if key is None else str(key), str(data["problem"]))


def artifact_error(path: str | Path, key: str | None, problem: str) -> ArtifactError:
    """Build an ArtifactError from a path of any kind."""
    return ArtifactError(str(path), key, problem)


class UsageError(Exception):
    """A command-line or configuration problem (exit 2), not tied to one artifact."""


def out_of_memory(exc: BaseException) -> bool:
    """Whether `exc` is an allocation that failed (torch says so in a RuntimeError)."""
    return isinstance(exc, MemoryError) or "can't allocate memory" in str(exc)
