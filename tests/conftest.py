"""Shared fixtures: the real Balabit subset and a small cache built from it.

The data live outside the repository (`../shared/data/balabit/`, never committed); tests
that need them skip with the reason when the folder is absent.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui_timing.data.build_cache import BuildResult, build_cache
from tui_timing.model.threads import one_cpu_thread

#: `../shared/data/balabit` beside the checkout; TIMING_TUI_BALABIT names another place
#: (CI sets it when its clone does not sit beside the shared folder).
BALABIT_DIR = Path(
    os.environ.get("TIMING_TUI_BALABIT")
    or Path(__file__).resolve().parents[1].parent / "shared/data/balabit/training_files"
)


@pytest.fixture(scope="session")
def balabit_dir() -> Path:
    """The shared Balabit training sessions (`user<N>/session_<id>.gz`)."""
    if not BALABIT_DIR.is_dir():
        pytest.skip(f"Balabit subset not found at {BALABIT_DIR} (shared data not checked out)")
    return BALABIT_DIR


@pytest.fixture(scope="session")
def small_sessions(balabit_dir: Path) -> list[Path]:
    """Four real sessions: the first two (by name) of each of the first two users."""
    users = sorted(p for p in balabit_dir.iterdir() if p.is_dir())[:2]
    return [session for user in users for session in sorted(user.iterdir())[:2]]


@pytest.fixture(scope="session")
def small_build(
    balabit_dir: Path, small_sessions: list[Path], tmp_path_factory: pytest.TempPathFactory
) -> BuildResult:
    """A cache (and summary) built with the default parameters from `small_sessions`."""
    out_root = tmp_path_factory.mktemp("datasets")
    return build_cache(balabit_dir, out_root, "balabit-small", "train", files=small_sessions)


@pytest.fixture(scope="session")
def small_cache(small_build: BuildResult) -> Path:
    """Path of the small cache's `train_timing.pt` (its `train_summary.json` is beside it)."""
    return small_build.cache_path


@pytest.fixture()
def one_thread() -> Iterator[None]:
    """Small models train faster on one thread, the more so on a busy CI machine."""
    with one_cpu_thread():
        yield
