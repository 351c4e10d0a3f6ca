"""`timing-tui runs`: a sweep of real runs (the package's trainer) diagnosed on one cache,
and `--follow` watching a training that writes a checkpoint every epoch.

Every row is checked against what `check` says of the same files (run in-process, on the
same cache): a row is the checkpoint's own diagnosis, not a guess from its neighbours.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from child_process import interruptible
from click.testing import CliRunner
from sample_paths import SAMPLE

from tui_timing.artifacts.run_members import step_of
from tui_timing.cli import main
from tui_timing.config import ArtifactPaths, Settings
from tui_timing.model.train import TrainOptions, train
from tui_timing.stages.runner import run_check

#: The sweep: (run folder, the head's knobs). Two epochs each: what matters is that each
#: run's row is its own diagnosis, whatever it finds.
SWEEP = {
    "sweep/lr_default": {"profile_head": "increments"},
    "sweep/templates": {"profile_head": "templates"},
    "sweep/linear_bound": {"profile_head": "linear", "logit_bound": 0.3, "mask_padding": False},
    "sweep/mse": {"profile_head": "increments", "profile_loss": "mse"},
    "sweep/no_length": {"profile_head": "increments", "length_input": False},
    "sweep/sigma_floor": {"profile_head": "increments", "logsigma_min": 0.5},
}
SETTINGS = Settings(samples=512)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repo with six real runs (two checkpoints each: one per epoch) and the cache."""
    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(SAMPLE / "datasets", root / "data")
    for name, head in SWEEP.items():
        train(
            root / "data/sample/train_timing.pt",
            root / name,
            head,
            TrainOptions(epochs=2, save_every=1),
        )
    return root


def run_cli(root: Path, *args: str) -> tuple[int, str]:
    """`timing-tui runs ...` in-process from the repo's root, as a user types it."""
    cwd = Path.cwd()
    os.chdir(root)
    try:
        result = CliRunner().invoke(main, ["runs", "--samples", "512", *args])
    finally:
        os.chdir(cwd)
    return result.exit_code, result.stdout


def check_of(root: Path, checkpoint: Path, log: Path | None) -> dict[str, Any]:
    paths = ArtifactPaths(
        cache=root / "data/sample/train_timing.pt", checkpoint=checkpoint, log=log
    )
    return run_check(paths, SETTINGS).as_dict()


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["status"] for s in report["stages"] for c in s["checks"]}


def test_each_run_is_one_row_with_its_own_diagnosis(sweep: Path) -> None:
    code, out = run_cli(sweep, "--format", "json", "sweep")
    table = json.loads(out)
    rows = {row["name"]: row for row in table["runs"]}
    assert sorted(rows) == sorted(SWEEP)  # one row per run, not one per file
    for name, row in rows.items():
        newest = Path(row["checkpoint"])
        assert newest == sweep / name / "checkpoint.pt"  # its name says it is the final one
        expected = check_of(sweep, newest, sweep / name / "stats.jsonl")
        assert statuses(row["report"]) == statuses(expected), name
        assert row["report"]["decision"]["rule"] == expected["decision"]["rule"], name
        # ...and compared with the run's previous checkpoint (the last epoch's file).
        assert row["vs_previous"] is not None
        said = {a["what"]: a for a in row["report"]["assumptions"]}
        assert said["which checkpoint"]["value"] == "checkpoint.pt"
        assert "epochs/epoch_0001.pt" in said["which checkpoint"]["source"]
    # Faults known to fail their check do, in their own rows.
    assert statuses(rows["sweep/linear_bound"]["report"])["model.length_masking"] == "fail"
    assert statuses(rows["sweep/mse"]["report"])["train.objective"] == "fail"
    assert code == 0  # no run's newest checkpoint regressed against its previous one
    # Ranked healthiest first, as the checks count failures.
    fails = [
        sum(s in ("fail", "error") for s in statuses(row["report"]).values())
        for row in table["runs"]
    ]
    assert fails == sorted(fails)


def test_every_checkpoint_and_the_text_table(sweep: Path) -> None:
    code, out = run_cli(sweep, "--checkpoints", "--format", "jsonl", "sweep/templates")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [Path(r["checkpoint"]).name for r in rows] == [
        "epoch_0001.pt",
        "epoch_0002.pt",
        "checkpoint.pt",
    ]
    assert [r["step"] for r in rows] == [1, 2, None]
    assert rows[0]["vs_previous"] is None and rows[1]["vs_previous"] is not None
    code, text = run_cli(sweep, "sweep/templates")
    assert code == 0
    line = next(line for line in text.splitlines() if line.startswith("sweep/templates"))
    assert "checkpoint.pt" in line


def test_runs_of_checkpoint_folders_are_diagnosed(tmp_path: Path) -> None:
    """HF-style checkpoint folders (`ckpts/global_step_N/` with model.safetensors and
    config.json): a folder has no file stamp to key the results cache on, so it is
    diagnosed without it, as `check` does; before, `runs` ended in a traceback."""
    from safetensors.torch import save_file

    shutil.copytree(SAMPLE / "datasets", tmp_path / "data")
    saved = torch.load(SAMPLE / "runs/increments/checkpoint.pt", weights_only=True)
    for step in (10, 20):
        folder = tmp_path / f"experiments/inc/ckpts/global_step_{step}"
        folder.mkdir(parents=True)
        save_file(
            {k: v.contiguous() for k, v in saved["model"].items()}, folder / "model.safetensors"
        )
        (folder / "config.json").write_text(json.dumps(saved["config"]))
    code, out = run_cli(tmp_path, "--format", "json", "experiments")
    assert code == 0, out
    (row,) = json.loads(out)["runs"]
    assert Path(row["checkpoint"]).name == "global_step_20"
    assert statuses(row["report"])["model.load"] == "pass"


def test_step_numbers_from_names() -> None:
    assert step_of(Path("run3/checkpoint.pt")) is None  # a run folder's number is not a step
    assert step_of(Path("ckpt/epoch=3-step=96.ckpt")) == 96
    assert step_of(Path("out/checkpoint-500/model.safetensors")) == 500
    assert step_of(Path("run/step_1200/pytorch_model.bin")) == 1200


def test_follow_diagnoses_each_checkpoint_as_training_writes_it(tmp_path: Path) -> None:
    """`runs --follow` while the package's trainer writes a checkpoint every epoch: one
    row per checkpoint, each the checkpoint's own diagnosis; ctrl+c ends it with 0."""
    cache = tmp_path / "data/sample/train_timing.pt"
    shutil.copytree(SAMPLE / "datasets", tmp_path / "data")
    (tmp_path / "runs").mkdir()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tui_timing",
            "runs",
            "--follow",
            "--checkpoints",
            "--format",
            "jsonl",
            "--samples",
            "512",
            "--cache",
            str(cache),
            "runs",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,  # Ctrl-C delivered even when the tests run in the background
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or ()), daemon=True)
    reader.start()
    run = tmp_path / "runs/live"
    train(cache, run, {"profile_head": "increments"}, TrainOptions(epochs=2, save_every=1))
    expected = {"epoch_0001.pt", "epoch_0002.pt", "checkpoint.pt"}
    deadline = time.monotonic() + 900  # a hang guard only: the rows come as they are done
    while time.monotonic() < deadline:
        # a run whose log lands before its first checkpoint is a row without one
        rows = [json.loads(line) for line in list(lines)]
        seen = {Path(row["checkpoint"]).name for row in rows if row["checkpoint"]}
        if expected <= seen:
            break
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 0
    reader.join(timeout=30)
    rows = [json.loads(line) for line in lines]  # every line whole
    by_checkpoint = {Path(r["checkpoint"]).name: r for r in rows if r["checkpoint"]}
    assert set(by_checkpoint) == expected
    final = by_checkpoint["checkpoint.pt"]
    assert statuses(final["report"]) == statuses(
        check_of(tmp_path, run / "checkpoint.pt", run / "stats.jsonl")
    )


def test_a_row_that_could_not_be_diagnosed_is_named_on_stderr(tmp_path: Path) -> None:
    """Exit 2 says an artifact or the user's code could not be used: which run, and why,
    is said where a shell shows errors, whatever the format (it was in the JSON alone)."""
    shutil.copytree(SAMPLE / "datasets", tmp_path / "data")
    shutil.copytree(SAMPLE / "runs/increments", tmp_path / "runs/inc")
    (tmp_path / "broken.py").write_text("def build(**config):\n    raise RuntimeError('planted')\n")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.timing-tui]\npythonpath = ["."]\nmodel = "broken:build"\n'
    )
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        result = CliRunner().invoke(main, ["runs", "--samples", "512", "--no-cache", "runs"])
    finally:
        os.chdir(cwd)
    assert result.exit_code == 2, result.output
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("timing-tui: error:")]
    assert line.startswith("timing-tui: error: run runs/inc (checkpoint.pt): ")
    assert "broken:build" in line and "RuntimeError: planted" in line
