"""A run is the folder of one training's outputs (docs/artifacts.md): its checkpoints (the
newest by the step in its name, else by mtime, said), its logs anywhere below it, its eval
dumps; one training is never split into several runs. Real checkpoints and logs (the
sample data's) laid out in the layouts trainers write.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file
from sample_paths import CACHE, INCREMENTS, LINEAR, SAMPLE

from tui_timing.artifacts.discovery import discover
from tui_timing.artifacts.run_members import step_of
from tui_timing.cli import main
from tui_timing.report.discovery import discovery_text

STATS = SAMPLE / "runs/increments/stats.jsonl"


def _weights_folder(folder: Path, weights: dict[str, torch.Tensor]) -> None:
    """A HuggingFace-style checkpoint folder: model.safetensors and config.json."""
    folder.mkdir(parents=True)
    save_file(weights, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({"cond_dim": 10, "hidden": 64}))


def _age(path: Path, seconds_ago: float) -> None:
    now = path.stat().st_mtime
    os.utime(path, (now - seconds_ago, now - seconds_ago))


def _weights() -> dict[str, torch.Tensor]:
    saved = torch.load(INCREMENTS, weights_only=True)
    return {k: v.contiguous() for k, v in saved["model"].items()}


def test_an_hf_style_run_is_one_run_with_its_highest_step_and_its_logs(tmp_path: Path) -> None:
    run = tmp_path / "outputs/exp1"
    _weights_folder(run / "checkpoints/step_100", _weights())
    _weights_folder(run / "checkpoints/step_300", _weights())
    _age(run / "checkpoints/step_300", 3600)  # older on disk: the step decides, not mtime
    (run / "logs").mkdir()
    shutil.copy(STATS, run / "logs/stats.jsonl")
    (run / "tb/train").mkdir(parents=True)
    (run / "tb/train/metrics.csv").write_text("epoch,train_loss\n1,0.5\n2,0.4\n")
    found = discover(tmp_path)
    (only,) = found.runs
    assert only.name == "outputs/exp1" and only.folder == run
    assert only.checkpoint == run / "checkpoints/step_300"  # the folder is one checkpoint
    assert only.log == run / "logs/stats.jsonl"
    assert set(only.others) == {run / "checkpoints/step_100", run / "tb/train/metrics.csv"}
    taken = next(a for a in only.assumptions if a.artifact == "checkpoint")
    assert taken.value == "checkpoints/step_300"
    assert "highest step in the names (300)" in taken.source
    assert "checkpoints/step_100" in taken.source and "--checkpoint PATH" in taken.source
    files = next(a for a in only.assumptions if a.artifact == "run")
    assert files.value.split(", ") == [
        "checkpoints/step_300",
        "checkpoints/step_100",
        "logs/stats.jsonl",
        "tb/train/metrics.csv",
    ]
    log = next(a for a in only.assumptions if a.artifact == "log")
    assert log.value == "logs/stats.jsonl" and "tb/train/metrics.csv" in log.source
    shown = discovery_text(found, cwd=tmp_path)
    assert "outputs/exp1/checkpoints/step_300: model.safetensors: checkpoint (" in shown


def test_without_step_numbers_the_newest_checkpoint_is_taken_and_said(tmp_path: Path) -> None:
    (tmp_path / "run/ckpt").mkdir(parents=True)
    shutil.copy(LINEAR, tmp_path / "run/ckpt/best.pt")
    shutil.copy(INCREMENTS, tmp_path / "run/ckpt/latest_good.pt")
    _age(tmp_path / "run/ckpt/best.pt", 60)
    (only,) = discover(tmp_path).runs
    assert only.checkpoint == tmp_path / "run/ckpt/latest_good.pt"
    taken = next(a for a in only.assumptions if a.artifact == "checkpoint")
    assert taken.source.startswith(
        "run run: the newest file (their names carry no distinct step numbers)"
    )


def test_lightning_checkpoints_below_a_runs_log_folders_stay_in_that_run(tmp_path: Path) -> None:
    run = tmp_path / "runs/exp3"
    (run / "ckpt").mkdir(parents=True)
    shutil.copy(LINEAR, run / "ckpt/last.ckpt")
    (run / "lightning_logs/version_0/checkpoints").mkdir(parents=True)
    shutil.copy(LINEAR, run / "lightning_logs/version_0/checkpoints/epoch=1-step=10.ckpt")
    shutil.copy(STATS, run / "lightning_logs/version_0/stats.jsonl")
    (only,) = discover(tmp_path).runs
    assert only.checkpoint == run / "ckpt/last.ckpt"
    assert only.log == run / "lightning_logs/version_0/stats.jsonl"


@pytest.mark.parametrize(
    ("name", "step"),
    [
        ("epoch=2-step=21.ckpt", 21),
        ("checkpoint-500", 500),
        ("step_000300.pt", 300),
        ("global_step1200", 1200),
        ("epoch_0010.pt", 10),
        ("last.ckpt", None),
        ("model.pt", None),
    ],
)
def test_the_step_in_a_checkpoints_name(name: str, step: int | None) -> None:
    assert step_of(Path(name)) == step


def test_check_says_which_files_make_the_run_and_which_checkpoint_it_took(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bare `check` in a repo of one training with two checkpoints: one run (not one per
    folder), its newest checkpoint, and the choice in the report's assumptions."""
    (tmp_path / "data").mkdir()
    shutil.copy(CACHE, tmp_path / "data/train_timing.pt")
    run = tmp_path / "outputs/2025-01-02/10-11-12"
    (run / "checkpoints").mkdir(parents=True)
    shutil.copy(LINEAR, run / "checkpoints/step_000100.pt")
    shutil.copy(INCREMENTS, run / "checkpoints/step_000200.pt")
    (run / "logs").mkdir()
    shutil.copy(STATS, run / "logs/stats.jsonl")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["check", "--stage", "1", "--format", "json"])
    report = json.loads(result.stdout)
    assert report["artifacts"]["checkpoint"]["path"] == str(run / "checkpoints/step_000200.pt")
    assert report["artifacts"]["log"]["path"] == str(run / "logs/stats.jsonl")
    taken = {a["what"]: a for a in report["assumptions"]}
    assert taken["which checkpoint"]["value"] == "checkpoints/step_000200.pt"
    assert taken["which checkpoint"]["source"].startswith("run outputs/2025-01-02/10-11-12: ")
    assert taken["files of the run"]["value"] == (
        "checkpoints/step_000200.pt, checkpoints/step_000100.pt, logs/stats.jsonl"
    )
    assert "run outputs/2025-01-02/10-11-12: checkpoint" in result.stderr
