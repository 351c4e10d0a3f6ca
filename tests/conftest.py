"""Shared fixtures: real Balabit sessions and a small cache built from them.

Four real sessions ship with the tests (`tests/data/balabit/`, see its README), so a clone
anywhere runs its real-data tests. The whole shared subset (`../shared/data/balabit/`
beside the checkout, or wherever `TIMING_TUI_BALABIT` points) is only read by the tests
that need all of it; they skip with the reason when it is absent.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tui_timing.data.build_cache import BuildResult, build_cache
from tui_timing.model.threads import one_cpu_thread

#: The sessions bundled with the tests: two of user12's and two of user15's.
SESSIONS_DIR = Path(__file__).resolve().parent / "data" / "balabit"
#: The whole shared subset: `../shared/data/balabit` beside the checkout, unless the user
#: names another place with TIMING_TUI_BALABIT.
BALABIT_DIR = Path(
    os.environ.get("TIMING_TUI_BALABIT")
    or Path(__file__).resolve().parents[1].parent / "shared/data/balabit/training_files"
)


@pytest.fixture(scope="session")
def balabit_dir() -> Path:
    """The whole shared Balabit subset (`user<N>/session_<id>.gz`, 7 users)."""
    if not BALABIT_DIR.is_dir():
        pytest.skip(
            f"the whole Balabit subset is not at {BALABIT_DIR} "
            "(set TIMING_TUI_BALABIT to its training_files folder)"
        )
    return BALABIT_DIR


@pytest.fixture(scope="session")
def sessions_dir() -> Path:
    """The folder of the sessions bundled with the tests (always present)."""
    return SESSIONS_DIR


@pytest.fixture(scope="session")
def small_sessions(sessions_dir: Path) -> list[Path]:
    """Four real sessions: the first two (by name) of each bundled user."""
    users = sorted(p for p in sessions_dir.iterdir() if p.is_dir())
    return [session for user in users for session in sorted(user.iterdir())[:2]]


@pytest.fixture(scope="session")
def small_build(
    sessions_dir: Path, small_sessions: list[Path], tmp_path_factory: pytest.TempPathFactory
) -> BuildResult:
    """A cache (and summary) built with the default parameters from `small_sessions`."""
    out_root = tmp_path_factory.mktemp("datasets")
    return build_cache(sessions_dir, out_root, "balabit-small", "train", files=small_sessions)


@pytest.fixture(scope="session")
def small_cache(small_build: BuildResult) -> Path:
    """Path of the small cache's `train_timing.pt` (its `train_summary.json` is beside it)."""
    return small_build.cache_path


@pytest.fixture()
def one_thread() -> Iterator[None]:
    """Small models train faster on one thread, the more so on a busy CI machine."""
    with one_cpu_thread():
        yield


@pytest.fixture(scope="session")
def lightning_run(small_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real Lightning fit on the real Balabit cache (see tests/lightning_run.py)."""
    pytest.importorskip("lightning", reason="Lightning is in the test extra")
    from lightning_run import train_lightning

    with one_cpu_thread():
        return train_lightning(small_cache, tmp_path_factory.mktemp("lightning"))


@pytest.fixture(autouse=True)
def results_cache_folder(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Each test its own results cache (docs/cli.md, under $XDG_CACHE_HOME): nothing one test
    computed is shown to another as cached, and nothing lands in the user's ~/.cache."""
    folder = tmp_path_factory.mktemp("xdg-cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder / "timing-tui" / "results"


@pytest.fixture(autouse=True)
def private_config(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test its own `$XDG_CONFIG_HOME`: the TUI keeps the chosen theme there, and a
    test pressing `t` must neither write the user's own config nor read another test's."""
    config = tmp_path_factory.mktemp("xdg-config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    return config
