"""A user's module written to a temporary `src/` and importable while a test runs: the
way a research repo's own code is found (the table's `pythonpath`), and forgotten after
(so that the next test's module of the same name is its own)."""

from __future__ import annotations

import contextlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def importable(tmp_path: Path, name: str, source: str) -> Iterator[Path]:
    """`tmp_path/src/<name>.py` holding `source`, with `src/` on sys.path; the folder."""
    folder = tmp_path / "src"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.py").write_text(textwrap.dedent(source))
    before = list(sys.path)
    sys.path.insert(0, str(folder))
    try:
        yield folder
    finally:
        sys.path[:] = before
        sys.modules.pop(name, None)
