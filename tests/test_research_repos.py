"""`timing-tui check` on research repos it has never seen, with only their
`[tool.timing-tui]` table (docs/artifacts.md#your-own-repo; the repos are laid out by
tests/research_repos.py).

Each repo is trained for real once per module; `check` runs in a subprocess from the
repo's root with nothing of the repo on PYTHONPATH, as its authors would run it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from research_repos import (
    assessed,
    dataclass_repo,
    lightning_repo,
    run_check,
    stage,
    statuses,
    write,
)


@pytest.fixture(scope="module")
def lightning(sessions_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return lightning_repo(tmp_path_factory.mktemp("lightning") / "mousediff", sessions_dir)


@pytest.fixture(scope="module")
def lightning_report(lightning: Path) -> dict[str, Any]:
    _, report, stderr = run_check(lightning)
    assert report, stderr[-3000:]
    return report


@pytest.fixture(scope="module")
def dataclass_report(
    sessions_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    root = dataclass_repo(tmp_path_factory.mktemp("dataclass") / "gesture-timing", sessions_dir)
    _, report, stderr = run_check(root)
    assert report, stderr[-3000:]
    return report


def message(report: dict[str, Any], stage_id: int, check_id: str) -> str:
    check = next(c for c in stage(report, stage_id)["checks"] if c["id"] == check_id)
    return str(check["message"])


def test_lightning_repo_with_only_its_table(
    lightning: Path, lightning_report: dict[str, Any]
) -> None:
    report = lightning_report
    assert set(report["artifacts"]) == {"cache", "checkpoint", "log", "eval"}
    assert report["artifacts"]["checkpoint"]["path"].endswith("runs/exp3/ckpt/last.ckpt")
    for stage_id in (1, 2, 3, 4, 5, 6):
        assert assessed(report, stage_id), stage(report, stage_id)
        bad = {k: v for k, v in statuses(report, stage_id).items() if v in ("fail", "error")}
        assert not bad, (stage_id, bad, stage(report, stage_id))  # no false failure
    assert "error" not in report
    # the cache's own mask and names, the user's dataset, factory and sampler
    loaded = message(report, 1, "cache.load")
    assert (
        "mask read from key 'valid'" in loaded and "duration read from key 'durations_s'" in loaded
    )
    assert message(report, 2, "dataset.instantiate").startswith("mousediff.data:TimingNPZ built")
    assert "mousediff.timing:make_timing_head(cond_dim=10, hidden=64, max_len=128)" in message(
        report, 3, "model.load"
    )
    assert statuses(report, 3)["model.duration_head"] == "pass"
    assert statuses(report, 3)["model.length_masking"] == "pass"  # -inf logits on padding
    sampler = message(report, 5, "sampler.run")
    assert "mousediff.timing:sample_timing" in sampler and "the same rows" in sampler
    # the CSVLogger's train_/val_ columns under the names keys.log maps; the flat gt_/gen_ dump
    assert statuses(report, 4)["train.stats_convergence"] == "pass"
    assert statuses(report, 6)["integration.c2st"] == "pass"


def test_lightning_repo_users_exception_is_theirs(lightning: Path) -> None:
    """A factory that raises: exit 2, the call that was made, no "please report this"."""
    write(
        lightning,
        {
            "src/mousediff/broken.py": """
                def make_timing_head(cond_dim, hidden, max_len):
                    raise TypeError(f"hidden={hidden} is not a multiple of 48")
            """
        },
    )
    code, report, stderr = run_check(
        lightning, "--model", "mousediff.broken:make_timing_head", "--stage", "1"
    )
    assert code == 2, stderr[-2000:]
    problem = report["error"]["problem"]
    assert problem.startswith(
        "mousediff.broken:make_timing_head(cond_dim=10, hidden=64, max_len=128) raised "
        "TypeError: hidden=64 is not a multiple of 48"
    ), problem
    assert report["error"]["file"].endswith("src/mousediff/broken.py")
    assert "report this" not in problem and "Traceback" not in stderr


def test_dataclass_repo_with_only_its_table(dataclass_report: dict[str, Any]) -> None:
    """The other repo's forms: a pickled config dataclass, a model class taking it, forward
    (features, mask) returning its own names, a sampler object picking its own rows."""
    report = dataclass_report
    for stage_id in (1, 2, 3, 4, 5):
        assert assessed(report, stage_id), stage(report, stage_id)
    assert "text log" in message(report, 4, "train.log")  # read through log_patterns
    vs_raw = next(c for c in stage(report, 1)["checks"] if c["id"] == "cache.vs_raw")
    assert vs_raw["status"] == "pass" and "not independent" in vs_raw["message"]
    assert stage(report, 1)["stats"]["own_stats"]["count"] > 1000
    load = message(report, 3, "model.load")
    assert "gesture_timing.model.HeadConfig object: read as its fields" in load
    assert "gesture_timing.model:DurationProfileNet(HeadConfig(...))" in load
    model_stats = stage(report, 3)["stats"]
    assert set(model_stats["extra_outputs"]) == {"concentration", "alpha"}
    assert statuses(report, 3)["model.length_masking"] == "pass"
    sampler = stage(report, 5)
    assert "DeltaTSampler.from_checkpoint" in message(report, 5, "sampler.run")
    assert sampler["stats"]["compared_with"] == "the whole cache"
    assert statuses(report, 5)["sampler.padding_mass"] == "pass"
