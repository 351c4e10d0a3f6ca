"""Discovery by content (SPEC 2.6): a research repo laid out at test time from real files (a
real Lightning run on real Balabit rows, a cache and an eval dump under the user's own key
names), with the clutter such repos hold beside them.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from sample_paths import CACHE as SAMPLE_CACHE
from sample_paths import SAMPLE

from tui_timing.artifacts.cache import as_timing_cache, load_cache
from tui_timing.artifacts.discovery import Discovered, discover, discover_or_sample
from tui_timing.cli import main
from tui_timing.config import Settings
from tui_timing.data.eval_dump_maker import disjoint_halves, real_sequences


def _user_cache(cache: Path, path: Path) -> None:
    """The real cache under the names of the issue's repo, as an .npz."""
    c = as_timing_cache(load_cache(cache))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        durations_s=c.duration.numpy(),
        dt_profile=c.profile.numpy(),
        valid=c.mask.numpy(),
        lengths=c.length.numpy(),
        cond=c.features.numpy(),
    )


def _user_eval(sessions: list[Path], path: Path) -> None:
    real, fake = disjoint_halves(real_sequences(sessions[:1]), seed=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        gt_xy=real.xy,
        gt_dt=real.dt,
        gt_mask=real.mask,
        gen_xy=fake.xy,
        gen_dt=fake.dt,
        gen_mask=fake.mask,
    )


class Harmless:
    """A pickled object whose reduction would create a file if it were ever unpickled."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.target}",))


@pytest.fixture(scope="module")
def repo(
    lightning_run: Any, small_cache: Path, small_sessions: list[Path], tmp_path_factory: Any
) -> Path:
    """The repo: `runs/exp3` (ckpt/, version_0/ CSV, version_1/ TensorBoard, stats.jsonl),
    `data/processed/bb/train.npz`, `eval/samples.npz`, and clutter."""
    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(lightning_run.run, root / "runs" / "exp3")
    _user_cache(small_cache, root / "data/processed/bb/train.npz")
    _user_eval(small_sessions, root / "eval/samples.npz")
    (root / "data/raw").mkdir(parents=True)
    np.savez(root / "data/raw/features.npz", x=np.zeros((4, 3)), y=np.ones(4))
    torch.save(torch.nn.Linear(3, 2), root / "data/raw/whole_model.pt")
    (root / "notes.csv").write_text("name,value\nlr,3e-3\n")
    (root / "outputs").mkdir()
    (root / "outputs/main.log").write_text("[2025-10-24 12:00:00,001][train][INFO] - start\n")
    (root / "evil.pt").write_bytes(pickle.dumps(Harmless(str(root / "PWNED")), protocol=2))
    for hidden in (".git/objects", ".venv/lib"):
        (root / hidden).mkdir(parents=True)
        torch.save({"state_dict": {"a.weight": torch.zeros(2)}}, root / hidden / "x.pt")
    (root / "venv/lib/site-packages/pkg").mkdir(parents=True)
    (root / "venv/pyvenv.cfg").write_text("home = /usr\n")
    torch.save({"durations": torch.ones(3), "profiles": torch.ones(3, 2)}, root / "venv/c.pt")
    return root


def _reasons(found: Discovered, root: Path) -> dict[str, str]:
    return {str(p.path.relative_to(root)): p.reason for p in found.passed_over}


def test_a_lightning_repo_is_one_run_with_its_cache_and_eval(repo: Path) -> None:
    found = discover(repo)
    (run,) = found.runs
    assert run.name == "runs/exp3"
    assert run.checkpoint == repo / "runs/exp3/ckpt/last.ckpt"
    assert run.log == repo / "runs/exp3/stats.jsonl"  # the JSONL the callback wrote
    others = {str(p.relative_to(repo / "runs/exp3")) for p in run.others}
    assert {"version_0/metrics.csv"} <= others
    assert any(o.startswith("ckpt/epoch=") for o in others)
    assert any(o.startswith("version_1/events.out.tfevents") for o in others)
    assert found.caches == [repo / "data/processed/bb/train.npz"]
    assert found.evals == [repo / "eval/samples.npz"]
    assert found.paths().given().keys() == {"cache", "checkpoint", "log", "eval"}
    kinds = {str(f.path.relative_to(repo)): f.kind for f in found.found}
    assert kinds["data/processed/bb/train.npz"] == "cache"
    assert kinds["eval/samples.npz"] == "eval"


def test_what_is_passed_over_says_why(repo: Path) -> None:
    found = discover(repo)
    reasons = _reasons(found, repo)
    assert reasons["data/raw/features.npz"] == "no timing keys (found x, y)"
    assert "pickled torch.nn.modules.linear.Linear object" in reasons["data/raw/whole_model.pt"]
    assert "no known column (found name, value)" in reasons["notes.csv"]
    assert "log_patterns" in reasons["outputs/main.log"]
    assert reasons["venv"] == "a virtual environment"
    assert reasons["evil.pt"] == "a pickled posix.system object, not a dict of tensors"
    assert not (repo / "PWNED").exists()  # read as data: nothing was called
    assert "2 hidden folders not searched" in found.notes


def test_without_the_callbacks_log_the_run_reads_lightnings_csv(repo: Path, tmp_path: Path) -> None:
    shutil.copytree(repo / "runs", tmp_path / "runs")
    (tmp_path / "runs/exp3/stats.jsonl").unlink()
    (run,) = discover(tmp_path).runs
    assert run.log == tmp_path / "runs/exp3/version_0/metrics.csv"
    (tmp_path / "runs/exp3/version_0/metrics.csv").unlink()
    (run,) = discover(tmp_path).runs
    assert run.log is not None and run.log.name.startswith("events.out.tfevents")


def test_lightnings_default_layout_is_one_run_per_version(repo: Path, tmp_path: Path) -> None:
    """`lightning_logs/version_N/{checkpoints/, metrics.csv}` without a dirpath: each
    version is a run of its own."""
    source = repo / "runs/exp3"
    for version in (0, 1):
        folder = tmp_path / "lightning_logs" / f"version_{version}"
        (folder / "checkpoints").mkdir(parents=True)
        shutil.copy(source / "ckpt/last.ckpt", folder / "checkpoints/epoch=2-step=21.ckpt")
        shutil.copy(source / "version_0/metrics.csv", folder / "metrics.csv")
    found = discover(tmp_path)
    assert [r.name for r in found.runs] == ["lightning_logs/version_0", "lightning_logs/version_1"]
    assert all(r.log is not None and r.log.parent == r.folder for r in found.runs)


def test_the_trainers_own_run_and_its_epoch_checkpoints_are_one_run(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE / "runs/increments", tmp_path / "runs/inc")
    (tmp_path / "runs/inc/epochs").mkdir()
    shutil.copy(tmp_path / "runs/inc/checkpoint.pt", tmp_path / "runs/inc/epochs/epoch_0010.pt")
    (run,) = discover(tmp_path).runs
    assert run.checkpoint == tmp_path / "runs/inc/checkpoint.pt"
    assert run.others == [tmp_path / "runs/inc/epochs/epoch_0010.pt"]


def test_a_users_dataclass_config_checkpoint_is_a_checkpoint(tmp_path: Path) -> None:
    """Saved with torch.save and a dataclass config (weights_only would refuse it): its
    structure is read without importing the user's module."""
    script = (
        "import dataclasses, torch, sys\n"
        "@dataclasses.dataclass\n"
        "class TimingModelConfig:\n"
        "    hidden: int = 64\n"
        "    logsigma_floor: float = -3.0\n"
        "head = torch.nn.Linear(4, 2)\n"
        "state = {f'duration_head.{k}': v for k, v in head.state_dict().items()}\n"
        "torch.save({'model': state, 'config': TimingModelConfig()}, sys.argv[1])\n"
    )
    path = tmp_path / "outputs/2025-10-24/12-00-00/timing.pt"
    path.parent.mkdir(parents=True)
    subprocess.run([sys.executable, "-c", script, str(path)], check=True)
    (found,) = discover(tmp_path).found
    assert found.kind == "checkpoint" and found.timing
    assert "config __main__.TimingModelConfig" in found.detail


def test_text_logs_are_logs_when_log_patterns_exist(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "main.log").write_text(
        "[2025-10-24 12:00:00,001][train][INFO] - epoch 1 train loss=0.9 dur_sigma=0.5\n"
    )
    settings = Settings(log_patterns=({"pattern": r"epoch (?P<epoch>\d+) (?P<fields>.*)"},))
    (run,) = discover(tmp_path, settings).runs
    assert run.log == tmp_path / "main.log"
    assert discover(tmp_path).runs == []


def test_a_fifo_does_not_block_discovery(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "stream.pt")
    os.mkfifo(tmp_path / "stats.jsonl")
    found = discover(tmp_path)
    assert set(_reasons(found, tmp_path).values()) == {"not a regular file"}


def test_large_files_are_classified_from_their_headers(tmp_path: Path) -> None:
    """A 400 MB checkpoint and an 800 MB .npz are classified without reading their data:
    the process doing it stays far below their size in memory (its own high-water mark,
    VmHWM: ru_maxrss would carry the forking parent's)."""
    make = (
        "import sys, numpy as np, torch\n"
        "root = sys.argv[1]\n"
        "weights = {'duration.weight': torch.zeros(100_000_000)}\n"
        "torch.save({'state_dict': weights}, root + '/big.pt')\n"
        "del weights\n"
        "rows = np.zeros((100_000, 1000))\n"
        "np.savez(root + '/big.npz', durations=np.zeros(100_000), profiles=rows)\n"
    )
    subprocess.run([sys.executable, "-c", make, str(tmp_path)], check=True)
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from tui_timing.artifacts.discovery import discover\n"
        "found = discover(Path(sys.argv[1]))\n"
        "print(sorted(f.kind for f in found.found))\n"
        "status = Path('/proc/self/status').read_text().split('VmHWM:')[1]\n"
        "print(int(status.split()[0]) // 1024)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, check=True
    )
    kinds, peak_mb = done.stdout.splitlines()
    assert kinds == "['cache', 'checkpoint']"
    assert int(peak_mb) < 400, f"{peak_mb} MB to classify a 400 MB and an 800 MB file"


# --- what `check` shows ---------------------------------------------------------------------


def test_check_shows_what_was_found_and_passed_over(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    result = CliRunner().invoke(main, ["check", "--stage", "1"])
    out = result.stdout
    assert "Discovery in" in out and "run runs/exp3: checkpoint runs/exp3/ckpt/last.ckpt" in out
    assert "cache data/processed/bb/train.npz: timing cache (durations_s" in out
    assert "eval eval/samples.npz: eval dump (gt / gen)" in out
    assert "data/raw/features.npz: no timing keys (found x, y)" in out
    assert "venv: a virtual environment" in out
    json_run = CliRunner().invoke(main, ["check", "--stage", "1", "--format", "json"])
    report = json.loads(json_run.stdout)  # discovery goes beside it, not into it
    assert report["artifacts"]["cache"]["path"] == str(repo / "data/processed/bb/train.npz")
    assert "Discovery in" in json_run.stderr


def test_an_empty_folder_opens_the_sample_and_says_what_it_passed_over(tmp_path: Path) -> None:
    (tmp_path / "weights.npz").write_bytes(b"not a zip")
    found = discover_or_sample(tmp_path)
    assert found.is_sample and found.caches == [SAMPLE_CACHE.resolve()]
    assert [p.path.name for p in found.passed_over] == ["weights.npz"]
    assert found.notes[0] == f"nothing usable found in {tmp_path.resolve()}"


def test_symlinked_run_folders_are_followed_once_each(tmp_path: Path) -> None:
    """`runs/` linked to a data disk was skipped silently (and `check` fell back to the
    bundled sample data); a link back up the tree must not loop."""
    disk = tmp_path / "disk"
    shutil.copytree(SAMPLE / "runs" / "linear", disk / "runs" / "linear")
    project = tmp_path / "project"
    project.mkdir()
    (project / "runs").symlink_to(disk / "runs")
    (disk / "runs" / "linear" / "up").symlink_to(project)  # a loop through the link
    found = discover(project)
    assert [run.name for run in found.runs] == ["runs/linear"]
    assert found.runs[0].checkpoint == project / "runs/linear/checkpoint.pt"
    reasons = _reasons(found, project)
    assert reasons["runs/linear/up"] == "a link to a folder already searched: not searched again"


def test_discovery_past_its_time_budget_lists_what_it_did_not_examine(tmp_path: Path) -> None:
    shutil.copy(SAMPLE_CACHE, tmp_path / "train_timing.pt")
    found = discover(tmp_path, budget_s=0.0)
    assert found.empty and found.missed
    assert _reasons(found, tmp_path)["train_timing.pt"].startswith("not examined (discovery")
    assert "1 more files were not examined" in found.notes[0]


def test_check_never_stands_the_sample_data_in_for_the_users_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder whose only tensor file cannot be read ran `check` on the sample, exit 0."""
    (tmp_path / "weights.npz").write_bytes(b"not a zip")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["check", "--stage", "1"])
    assert result.exit_code == 2, result.output
    assert "weights.npz: cannot be read" in result.stderr
    assert "none usable found in" in result.stderr and "passed over" in result.stderr
