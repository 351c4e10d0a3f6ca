"""A Hydra-style research repo (tests/research_repos.py `hydra_repo`): plain `torch.save`
checkpoints of its own model class, a sweep of two jobs under `multirun/<date>/<time>/<n>/`
with `.hydra/config.yaml` and a `logging` text log, trained for real by its own script.
Job 0 runs the softmax over padded steps (the planted fault), job 1 masks it.

With a `[tool.timing-tui]` table alone (or the one `timing-tui init` writes): discovery
makes one run per job with its newest checkpoint, every stage reads right (figures
recomputed here from the files), the faulty job ends at rule 4 naming the mask, the healthy
one raises no failure, and `compare` says fixed.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from research_repos import (
    HYDRA_JOBS,
    HYDRA_SWEEP,
    HYDRA_TABLE,
    assessed,
    hydra_final_step,
    hydra_repo,
    run_check,
    stage,
    statuses,
)

import tui_timing
from tui_timing.artifacts.discovery import discover
from tui_timing.config import Settings
from tui_timing.model.sample import draw_rows

LOG_PATTERN = {"pattern": "- (?P<fields>epoch=.*)"}


@pytest.fixture(scope="module")
def hydra(sessions_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hydra_repo(tmp_path_factory.mktemp("hydra") / "hydra-timing", sessions_dir)


def _copy(root: Path, where: Path) -> Path:
    """The repo copied (its files' times kept), to give it a table of its own."""
    shutil.copytree(root, where, copy_function=shutil.copy2)
    return where


def _timing_tui(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """timing-tui as a user runs it in the repo: nothing of the repo on PYTHONPATH."""
    env = {**os.environ, "PYTHONPATH": str(Path(tui_timing.__file__).resolve().parents[1])}
    return subprocess.run(
        [sys.executable, "-m", "tui_timing", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def hand_table(
    hydra: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    """A copy of the repo with the table its authors write (job 0's files), and its report."""
    root = _copy(hydra, tmp_path_factory.mktemp("hand") / "hydra-timing")
    table = HYDRA_TABLE.format(step=hydra_final_step(hydra, "0"))
    with (root / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write(table)
    code, report, stderr = run_check(root)
    assert report, stderr[-3000:]
    assert code == 1, stderr[-3000:]
    return root, report


def _checks(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Every check's id, status and measured figures (less its running time)."""

    def timeless(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: timeless(v) for k, v in value.items() if k != "seconds"}
        return value

    return [
        (c["id"], c["status"], json.dumps(timeless(c["measured"]), sort_keys=True))
        for s in report["stages"]
        for c in s["checks"]
    ]


def test_discovery_makes_one_run_per_job_with_its_newest_checkpoint(hydra: Path) -> None:
    found = discover(hydra, Settings(log_patterns=(LOG_PATTERN,)))
    assert [r.name for r in found.runs] == [f"{HYDRA_SWEEP}/{job}" for job in HYDRA_JOBS]
    for run in found.runs:
        job = run.name.rsplit("/", 1)[1]
        steps = sorted(int(p.stem[5:]) for p in (run.folder / "checkpoints").glob("step_*.pt"))
        assert len(steps) >= 2
        assert run.checkpoint == run.folder / f"checkpoints/step_{steps[-1]:06d}.pt"
        assert run.log == run.folder / "train.log"
        assert set(run.others) == {
            run.folder / f"checkpoints/step_{s:06d}.pt" for s in steps[:-1]
        }, job
        taken = next(a for a in run.assumptions if a.what == "which checkpoint")
        assert f"the highest step in the names ({steps[-1]})" in taken.source
    assert found.caches == [hydra / "datasets/bb/train_timing.pt"]
    assert found.evals == [hydra / "eval/diffusion_samples.pt"]  # in no run: shared


def _padding_mass(hydra: Path, checkpoint: Path) -> float:
    """Mean profile mass beyond each row's length, recomputed from the repo's own model."""
    spec = importlib.util.spec_from_file_location(
        "hydra_model", hydra / "src/hydra_timing/model.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    saved = torch.load(checkpoint, weights_only=True)
    net = module.TimingNet(**saved["config"]).eval()
    net.load_state_dict(saved["model"])
    cache = torch.load(hydra / "datasets/bb/train_timing.pt", weights_only=True)
    rows = draw_rows(len(cache["duration"]), 2048, 0)
    length = cache["length"][rows].long()
    with torch.no_grad():
        logits = net(cache["features"][rows].float(), length)["logits"]
    profile = torch.softmax(logits.double(), dim=-1)
    beyond = torch.arange(profile.shape[1])[None, :] >= length[:, None]
    return float((profile * beyond).sum(dim=1).mean())


def _last_logged(log: Path, name: str) -> float:
    values = re.findall(rf"{re.escape(name)}=(\S+)", log.read_text())
    return float(values[-1])


def test_the_table_alone_reads_every_stage_right_and_ends_at_the_mask(
    hydra: Path, hand_table: tuple[Path, dict[str, Any]]
) -> None:
    _, report = hand_table
    for stage_id in range(1, 7):
        assert assessed(report, stage_id), stage(report, stage_id)
    cache = torch.load(hydra / "datasets/bb/train_timing.pt", weights_only=True)
    checks = {c["id"]: c for s in report["stages"] for c in s["checks"]}
    assert checks["dataset.feature_dim"]["measured"] == cache["features"].shape[1]
    step = hydra_final_step(hydra, "0")
    checkpoint = hydra / HYDRA_SWEEP / f"0/checkpoints/step_{step:06d}.pt"
    mass = checks["model.length_masking"]["measured"]["mean"]
    assert checks["model.length_masking"]["status"] == "fail"
    assert math.isclose(mass, _padding_mass(hydra, checkpoint), rel_tol=1e-4)
    logged = checks["train.stats_convergence"]["measured"]["figures"]
    log = hydra / HYDRA_SWEEP / "0/train.log"
    assert logged["dur_mu"]["logged"] == pytest.approx(_last_logged(log, "train/dur_mu"))
    assert logged["dur_sigma"]["logged"] == pytest.approx(_last_logged(log, "train/dur_sigma"))
    dump = torch.load(hydra / "eval/diffusion_samples.pt", weights_only=True)
    for side in ("real", "fake"):  # the gate's median is over steps with Δt > 0
        dt, mask = dump[side]["dt"].double().numpy(), dump[side]["mask"].bool().numpy()
        moving = dt[mask & (dt > 0)]
        measured = checks["integration.dt_median"]["measured"]
        assert measured[side] == pytest.approx(float(np.median(moving)), rel=1e-6)
        assert measured["zero_dt"][side] == int((dt[mask] == 0).sum())
    decision = report["decision"]
    assert decision["rule"] == 4
    assert "mask the softmax over padded steps" in decision["verdict"]
    assert {"model.length_masking", "sampler.padding_mass"} <= {
        e for a in decision["actions"] for e in a["evidence"]
    }


def test_compare_says_the_masked_job_fixed_the_fault(
    hand_table: tuple[Path, dict[str, Any]],
) -> None:
    root, _ = hand_table
    done = _timing_tui(root, "compare", f"{HYDRA_SWEEP}/0", f"{HYDRA_SWEEP}/1", "--format", "json")
    assert done.returncode == 0, done.stderr[-3000:]
    comparison = json.loads(done.stdout)
    kinds = {c["id"]: c["kind"] for c in comparison["changes"]}
    assert kinds["model.length_masking"] == "fixed" and kinds["sampler.padding_mass"] == "fixed"
    assert not [c for c in comparison["changes"] if c["kind"] == "regressed"]
    healthy = comparison["b"]
    assert healthy["artifacts"]["checkpoint"]["path"].endswith(
        f"1/checkpoints/step_{hydra_final_step(root, '1'):06d}.pt"
    )
    assert healthy["artifacts"]["log"]["path"].endswith(f"{HYDRA_SWEEP}/1/train.log")
    for stage_id in range(1, 6):
        assert assessed(healthy, stage_id), stage(healthy, stage_id)
        bad = {k: v for k, v in statuses(healthy, stage_id).items() if v in ("fail", "error")}
        assert not bad, (stage_id, bad)
    assert healthy["decision"]["rule"] == 9
    assert comparison["summary"].startswith("B against A: fixed ")


def test_init_writes_a_table_that_gives_the_same_report(
    hydra: Path, hand_table: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    root = _copy(hydra, tmp_path / "hydra-timing")
    before = (root / "pyproject.toml").read_bytes()
    shown = _timing_tui(root, "init")
    assert shown.returncode == 0, shown.stderr
    assert 'model = "hydra_timing.model:TimingNet"' in shown.stdout
    assert "_target_ of model in multirun/" in shown.stdout
    written = _timing_tui(root, "init", "--write")
    assert written.returncode == 0, written.stderr
    after = (root / "pyproject.toml").read_bytes()
    assert after.startswith(before) and after[len(before) :].decode() in f"\n{shown.stdout}\n"
    again = _timing_tui(root, "init", "--write")
    assert again.returncode == 2 and "never overwrites" in again.stderr
    assert (root / "pyproject.toml").read_bytes() == after
    code, report, stderr = run_check(root)
    assert report, stderr[-3000:]
    _, by_hand = hand_table
    assert code == 1
    assert _checks(report) == _checks(by_hand)
    assert report["decision"]["verdict"] == by_hand["decision"]["verdict"]
