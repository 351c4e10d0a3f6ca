"""The `experiments/<name>/` repo (tests/experiments_repo.py) read from its table alone:
`compare padmass healthy` as its authors run it, each run with its own checkpoint folder,
log and eval dump, the figures stage 6 reads from (x, y, t) points equal to numpy's, and
the fault (a profile softmax over padding) named and fixed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from experiments_repo import experiments_repo

import tui_timing


@pytest.fixture(scope="module")
def repo(small_sessions: list[Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    return experiments_repo(tmp_path_factory.mktemp("mtraj"), small_sessions)


def compare(root: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """`timing-tui compare ... --format json` from the repo's root, the table only."""
    env = {**os.environ, "PYTHONPATH": str(Path(tui_timing.__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, "-m", "tui_timing", "compare", *args, "--format", "json"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.stdout.strip().startswith("{"), done.stderr[-3000:]
    return done.returncode, json.loads(done.stdout)


def numpy_figures(path: Path, side: str) -> tuple[float, float]:
    """Δt median (Δt > 0) and |vel| p95 of one side of the dump, straight from its points."""
    dump = np.load(path)
    points, valid = dump[f"{side}/traj"].astype(np.float64), dump[f"{side}/pts_ok"]
    steps = valid[:, 1:] & valid[:, :-1]
    dt = np.diff(points[..., 2], axis=1)[steps]
    dxy = np.diff(points[..., :2], axis=1)[steps]
    moving = dt > 0
    speed = np.hypot(dxy[moving, 0], dxy[moving, 1]) / dt[moving]
    return float(np.median(dt[moving])), float(np.quantile(speed, 0.95))


def checks(report: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["status"] for s in report["stages"] for c in s["checks"]}


def test_compare_reads_each_run_of_its_own_and_says_fixed(repo: tuple[Path, int]) -> None:
    root, step = repo
    code, out = compare(root, "experiments/padmass", "experiments/healthy")
    a, b = out["a"], out["b"]
    assert code == 0
    # Each run its own newest checkpoint folder, log and eval dump (B's found below it).
    for report, name in ((a, "padmass"), (b, "healthy")):
        arts = report["artifacts"]
        assert arts["checkpoint"]["path"].endswith(f"experiments/{name}/ckpts/global_step_{step}")
        assert arts["log"]["path"].endswith(f"experiments/{name}/logs/metrics.jsonl")
        assert arts["eval"]["path"].endswith(f"experiments/{name}/samples/eval_step_{step}.npz")
    # Its config under the repo's names, each run's own reading (never A's beside B's).
    said_b = [(x["what"], x["value"]) for x in b["assumptions"]]
    assert ("config mask_padding", "True") in said_b
    assert ("config mask_padding", "False") not in said_b
    assert ("config cond_dim", "9") in said_b or any(w == "config cond_dim" for w, _ in said_b)
    # Stage 6 reads the (x, y, t) points as numpy does; the padmass eval's ×1.3 is named.
    for report, name in ((a, "padmass"), (b, "healthy")):
        stats = next(s for s in report["stages"] if s["id"] == 6)["stats"]
        dump = root / f"experiments/{name}/samples/eval_step_{step}.npz"
        for side, group in (("real", "ref"), ("fake", "synth")):
            dt_median, vel_p95 = numpy_figures(dump, group)
            assert stats["vel_p95"][side] == pytest.approx(vel_p95, rel=1e-4)
            assert stats["dt_median"][side] == pytest.approx(dt_median, rel=1e-4)
    assert checks(a)["integration.renormalization"] == "fail"
    assert checks(b)["integration.dt_median"] == checks(b)["integration.vel_p95"] == "pass"
    # The fault: mass on padding, rule 4 naming the mask; fixed in the healthy twin.
    assert checks(a)["model.length_masking"] == checks(a)["sampler.padding_mass"] == "fail"
    assert a["decision"]["rule"] == 4 and "mask the softmax" in a["decision"]["verdict"]
    kinds = {c["id"]: c["kind"] for c in out["changes"]}
    assert kinds["model.length_masking"] == kinds["sampler.padding_mass"] == "fixed"
    assert b["decision"]["rule"] != 4
