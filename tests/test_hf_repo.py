"""`timing-tui check` on the HuggingFace-style repo of tests/hf_repo.py, with its table only.

The repo is laid out and both runs trained once per module (a minute on one core); each
check runs in a subprocess from the repo's root with nothing of the repo on PYTHONPATH.
Values are asserted against figures computed here from the repo's own files (its config
files, its cache, its logs, its eval dump), not only statuses.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hf_repo import EPOCHS, RUNS, checkpoints, hf_repo
from research_repos import assessed, run_check, stage, statuses

import tui_timing


@pytest.fixture(scope="module")
def repo(sessions_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hf_repo(tmp_path_factory.mktemp("hf") / "tempo", sessions_dir)


@pytest.fixture(scope="module")
def faulty(repo: Path) -> dict[str, Any]:
    """The table alone: it names the run with the σ floor."""
    _, report, stderr = run_check(repo)
    assert report, stderr[-3000:]
    return report


@pytest.fixture(scope="module")
def healthy(repo: Path) -> dict[str, Any]:
    """The healthy twin: the same table, its run's files named on the command line."""
    run = repo / "outputs/base"
    _, report, stderr = run_check(
        repo,
        "--checkpoint",
        str(checkpoints(repo, "base")[-1]),
        "--log",
        str(run / "tb"),
        "--eval",
        str(run / "eval/samples.npz"),
    )
    assert report, stderr[-3000:]
    return report


def check(report: dict[str, Any], stage_id: int, check_id: str) -> dict[str, Any]:
    return next(c for c in stage(report, stage_id)["checks"] if c["id"] == check_id)


def read_as(report: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {a["what"]: a for a in report["assumptions"]}


def feature_width(repo: Path) -> int:
    return int(np.load(repo / "data/bb/rows.npz")["feats"].shape[1])


def test_the_table_alone_reads_the_checkpoint_folder_right(
    repo: Path, faulty: dict[str, Any]
) -> None:
    """The newest checkpoint folder, built from its config.json (the σ floor it was trained
    with, not the class's default), its width from the field the table maps."""
    assert faulty["artifacts"]["checkpoint"]["path"].endswith(checkpoints(repo, "wide")[-1].name)
    for stage_id in (1, 2, 3, 5):
        assert assessed(faulty, stage_id), stage(faulty, stage_id)
    width = feature_width(repo)
    assumptions = read_as(faulty)
    assert assumptions["model config"]["value"] == "config.json beside the weights"
    assert assumptions["config cond_dim"]["value"] == str(width)
    assert "'n_features'" in assumptions["config cond_dim"]["source"]
    load = check(faulty, 3, "model.load")
    assert load["status"] == "pass"
    assert "tempo.model:TimingNet(TimingConfig(...))" in load["message"]
    conditioning = check(faulty, 3, "model.conditioning")
    assert conditioning["status"] == "pass"
    assert conditioning["measured"]["model_cond_dim"] == width
    assert check(faulty, 2, "dataset.feature_dim")["measured"] == width
    # the dataset's items carry no log-duration: derived and said, not a failure
    assert check(faulty, 2, "dataset.batch_keys")["status"] == "pass"
    assert check(faulty, 2, "dataset.log_duration")["status"] == "skip"
    assert assumptions["batch log_duration"]["value"] == "derived"


def test_the_sigma_floor_is_found_and_named(repo: Path, faulty: dict[str, Any]) -> None:
    floor = json.loads((repo / "configs/wide.json").read_text())["sigma_floor"]
    head = check(faulty, 3, "model.duration_head")
    assert head["status"] == "fail"
    bound = head["measured"]["bound"]
    assert bound["edge"] == "floor" and bound["share"] >= 0.99
    assert bound["log_sigma"] == pytest.approx(math.log(floor), abs=1e-3)
    assert head["measured"]["needed_log_sigma"] < math.log(floor) - 1  # the data need far less
    decision = faulty["decision"]
    assert decision["rule"] == 5 and "floor" in decision["verdict"], decision
    # the sampler object built by from_pretrained, compared with the whole cache
    run = check(faulty, 5, "sampler.run")
    assert "tempo.sample:TimingSampler.from_pretrained" in run["message"]
    assert stage(faulty, 5)["stats"]["compared_with"] == "the whole cache"
    passthrough = check(faulty, 5, "sampler.passthrough")
    assert passthrough["status"] == "pass" and passthrough["measured"]["duration_share"] < 0.01


def test_the_healthy_twin_raises_no_failure(repo: Path, healthy: dict[str, Any]) -> None:
    for stage_id in (1, 2, 3, 4, 5):
        bad = {k: v for k, v in statuses(healthy, stage_id).items() if v in ("fail", "error")}
        assert not bad, (stage_id, bad, stage(healthy, stage_id))
    head = check(healthy, 3, "model.duration_head")
    assert head["measured"]["bound"] is None
    floor = json.loads((repo / "configs/base.json").read_text())["sigma_floor"]
    assert head["measured"]["log_sigma_min"] > math.log(floor)  # the floor never binds
    assert healthy["decision"]["rule"] != 5


def _last(records: list[dict[str, Any]], key: str) -> float:
    return float(next(r[key] for r in reversed(records) if key in r))


def test_stage4_reads_each_split_and_the_epochs(repo: Path, healthy: dict[str, Any]) -> None:
    history = [
        json.loads(line)
        for line in (repo / "outputs/base/logs/log_history.jsonl").read_text().splitlines()
    ]
    stats = stage(healthy, 4)["stats"]
    assert set(stats["splits"]) == {"train", "val"}
    assert stats["epochs"] == EPOCHS
    assert stats["last"]["train"]["loss"] == pytest.approx(_last(history, "loss"), rel=1e-6)
    assert stats["last"]["val"]["loss"] == pytest.approx(_last(history, "eval_loss"), rel=1e-6)
    assert stats["last"]["val"]["dur_sigma"] == pytest.approx(_last(history, "eval_sigma"))


def test_stage6_reads_points_with_per_point_dt(repo: Path, healthy: dict[str, Any]) -> None:
    """[N, L+1, 2] points with [N, L+1] Δt whose first column is 0: the leading 0 is the
    time before the first point, not a step (said as an assumption)."""
    dump = np.load(repo / "outputs/base/eval/samples.npz")
    xy, dt, mask = dump["ref/xy"], dump["ref/dt"][:, 1:], dump["ref/mask"][:, 1:]
    step = np.linalg.norm(np.diff(xy.astype(np.float64), axis=1), axis=-1)
    moving = mask & (dt > 0)
    stats = stage(healthy, 6)["stats"]
    assert stats["xy_form"] == {"real": "points", "fake": "points"}
    assert stats["dt_median"]["real"] == pytest.approx(float(np.median(dt[moving])), rel=1e-6)
    vel = step[moving] / dt[moving]
    assert stats["vel_p95"]["real"] == pytest.approx(float(np.quantile(vel, 0.95)), rel=1e-3)
    assert check(healthy, 6, "integration.real_vs_cache")["status"] == "pass"
    assert read_as(healthy)["real xy"]["value"] == "points"


def test_both_runs_were_trained_with_their_floor(repo: Path) -> None:
    """The fixture's premise: each run's config.json is what its training config said."""
    for name, floor in RUNS.items():
        saved = json.loads((checkpoints(repo, name)[-1] / "config.json").read_text())
        assert saved["sigma_floor"] == floor and saved["n_features"] == feature_width(repo)
        assert len(checkpoints(repo, name)) == 2


def test_compare_of_the_two_runs_says_fixed(repo: Path) -> None:
    """`compare` of the two run folders: each run's own newest checkpoint folder (its
    config.json), the σ floor's checks fixed, rule 5 gone."""
    env = {**os.environ, "PYTHONPATH": str(Path(tui_timing.__file__).resolve().parents[1])}
    command = ["compare", "outputs/wide", "outputs/base", "--format", "json"]
    done = subprocess.run(
        [sys.executable, "-m", "tui_timing", *command],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    for side, run in (("a", "wide"), ("b", "base")):
        path = report[side]["artifacts"]["checkpoint"]["path"]
        assert path.endswith(
            f"outputs/{run}/{checkpoints(repo, run)[-1].relative_to(repo / 'outputs' / run)}"
        )
    kinds = {c["id"]: c["kind"] for c in report["changes"]}
    assert kinds["model.duration_head"] == "fixed" and kinds["model.duration_fit"] == "fixed"
    assert "regressed 0" in report["summary"] and "rule 5" in report["summary"]
    assert report["b"]["decision"]["rule"] != 5
