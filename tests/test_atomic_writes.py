"""Caches and checkpoints are written to a temporary file and renamed.

A reader (or a researcher's `ls`) must see the old file or the new one, never a truncated
one under the real name. Two proofs without mocks: a file the writer replaces keeps its
old bytes under a second hard link (a rename makes a new inode; writing in place would
change the shared one), and a real `timing-tui build-cache` killed with SIGKILL at random
moments, while it reads and while it writes, leaves no partial cache under the real name
and nothing that discovery would take for a cache.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tui_timing.artifacts.atomic import atomic_torch_save, atomic_write_json
from tui_timing.artifacts.discovery import discover
from tui_timing.data.build_cache import build_cache
from tui_timing.errors import ArtifactError
from tui_timing.model.train import TrainOptions, train


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _linked(path: Path, content: bytes, keep: Path) -> None:
    """`path` with `content`, hard-linked to `keep` so a rewrite in place would show there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    keep.write_bytes(content)
    os.link(keep, path)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".tmp-" in p.name)


def test_build_cache_replaces_by_rename(
    sessions_dir: Path, small_sessions: list[Path], tmp_path: Path
) -> None:
    root = tmp_path / "datasets"
    cache = root / "b" / "train_timing.pt"
    summary = root / "b" / "train_summary.json"
    _linked(cache, b"old cache", tmp_path / "old_cache")
    _linked(summary, b"old summary", tmp_path / "old_summary")
    build_cache(sessions_dir, root, "b", "train", files=small_sessions[:1])
    assert (tmp_path / "old_cache").read_bytes() == b"old cache"
    assert (tmp_path / "old_summary").read_bytes() == b"old summary"
    assert torch.load(cache, weights_only=True)["profile"].shape[1] == 128
    assert _leftovers(root) == []


def test_training_writes_checkpoints_by_rename(small_cache: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    final, epoch = run / "checkpoint.pt", run / "epochs" / "epoch_0001.pt"
    _linked(final, b"old final", tmp_path / "old_final")
    _linked(epoch, b"old epoch", tmp_path / "old_epoch")
    train(small_cache, run, options=TrainOptions(epochs=1, device="cpu", save_every=1))
    assert (tmp_path / "old_final").read_bytes() == b"old final"
    assert (tmp_path / "old_epoch").read_bytes() == b"old epoch"
    for path in (final, epoch):
        assert set(torch.load(path, weights_only=True)) == {"model", "config", "epoch"}
    assert _leftovers(run) == []


def test_a_failed_write_keeps_the_old_file_and_no_temp(tmp_path: Path) -> None:
    """torch.save fails halfway through (an object it cannot pickle): nothing changes."""
    target = tmp_path / "train_timing.pt"
    atomic_torch_save(target, {"duration": torch.ones(3)})
    before = _sha(target)
    with pytest.raises(Exception, match="pickle"):
        atomic_torch_save(target, {"duration": torch.ones(10_000), "meta": lambda: None})
    assert _sha(target) == before
    assert _leftovers(tmp_path) == []


def test_new_files_get_the_usual_permissions(tmp_path: Path) -> None:
    """A temporary file is owner-only; the artifact must not stay so after the rename (a
    team's shared datasets folder), and a replaced file keeps its mode."""
    old = os.umask(0o022)
    try:
        atomic_write_json(tmp_path / "summary.json", {"n": 1})
        atomic_torch_save(tmp_path / "train_timing.pt", {"duration": torch.ones(2)})
    finally:
        os.umask(old)
    for name in ("summary.json", "train_timing.pt"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name
    (tmp_path / "train_timing.pt").chmod(0o640)
    atomic_torch_save(tmp_path / "train_timing.pt", {"duration": torch.zeros(2)})
    assert stat.S_IMODE((tmp_path / "train_timing.pt").stat().st_mode) == 0o640


def test_a_failed_build_leaves_no_cache_without_its_summary(
    sessions_dir: Path, small_sessions: list[Path], tmp_path: Path
) -> None:
    """The summary is part of the cache (docs/artifacts.md#timing-cache). Its write failing (here: a
    folder in its place, deterministic where a full disk is not) must fail the build (exit 2) and
    leave no new cache whose raw summary is missing or stale."""
    root = tmp_path / "datasets"
    (root / "b" / "train_summary.json").mkdir(parents=True)
    with pytest.raises(ArtifactError):
        build_cache(sessions_dir, root, "b", "train", files=small_sessions[:1])
    assert not (root / "b" / "train_timing.pt").exists()


# --- a build killed halfway -------------------------------------------------------------

BUILD = ["-m", "tui_timing", "build-cache"]


def _start_build(raw: Path, root: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *BUILD, str(raw), "--out", str(root), "--id", "b", "--split", "train"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _kill_when_writing(procs: dict[Path, subprocess.Popen[bytes]], rng: random.Random) -> int:
    """SIGKILL each build a random few milliseconds after its cache's temporary file
    appears; return how many were caught writing (the others ended first)."""
    caught = 0
    deadline = time.monotonic() + 120
    pending = dict(procs)
    while pending and time.monotonic() < deadline:
        for folder, proc in list(pending.items()):
            if proc.poll() is not None:
                del pending[folder]
            elif _writing(folder):
                time.sleep(rng.uniform(0.0, 0.05))
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                caught += 1
                del pending[folder]
        time.sleep(0.001)
    for proc in pending.values():
        proc.kill()
        proc.wait()
    return caught


def _writing(folder: Path) -> bool:
    try:
        return any(p.name.startswith(".train_timing.pt.tmp-") for p in folder.iterdir())
    except FileNotFoundError:
        return False


def _assert_whole_or_absent(root: Path, previous: str | None) -> None:
    """Under the real name: the previous cache byte for byte, a complete new one, or
    nothing; and discovery takes no temporary file for a cache."""
    cache = root / "b" / "train_timing.pt"
    if not cache.exists():
        assert previous is None, "the previous cache was lost"
    elif _sha(cache) != previous:
        loaded = torch.load(cache, weights_only=True)  # a cut-off zip would not load
        rows = {k: v.shape[0] for k, v in loaded.items() if isinstance(v, torch.Tensor)}
        assert len(set(rows.values())) == 1, rows
    found = discover(root)
    assert [p.name for p in found.caches] == ["train_timing.pt"] * int(cache.exists())


def test_killed_builds_leave_no_partial_cache(
    balabit_dir: Path, sessions_dir: Path, small_sessions: list[Path], tmp_path: Path
) -> None:
    """Three builds of the whole shared subset (seconds of reading, a ~50 MB write) run at
    once: one killed at a random moment while it reads, two at random moments while they
    write, one of those into a folder that holds a complete earlier cache."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    reading, fresh, over = tmp_path / "reading", tmp_path / "fresh", tmp_path / "over"
    earlier = build_cache(sessions_dir, over, "b", "train", files=small_sessions[:1])
    previous = _sha(earlier.cache_path)

    early = _start_build(balabit_dir, reading)
    writers = {root / "b": _start_build(balabit_dir, root) for root in (fresh, over)}
    time.sleep(rng.uniform(0.5, 3.0))
    early.send_signal(signal.SIGKILL)
    early.wait()
    caught = _kill_when_writing(writers, rng)

    _assert_whole_or_absent(reading, None)
    _assert_whole_or_absent(fresh, None)
    _assert_whole_or_absent(over, previous)
    assert caught >= 1, f"no build was caught while writing (random seed {seed})"
