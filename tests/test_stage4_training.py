"""Stage 4 on real training logs: the clean run passes, and each planted fault fails its check
(with the epoch where it begins)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from report_helpers import run_one, statuses
from session_rows import cache_of

from tui_timing.config import Settings
from tui_timing.data.eval_dump_maker import real_sequences
from tui_timing.findings import StageResult
from tui_timing.stages.training import CHECKS

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "sample_data/datasets/sample/train_timing.pt"
INCREMENTS_LOG = REPO / "sample_data/runs/increments/stats.jsonl"
LINEAR_LOG = REPO / "sample_data/runs/linear/stats.jsonl"

Record = dict[str, Any]


def records(path: Path = INCREMENTS_LOG) -> list[Record]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def write(tmp_path: Path, rows: list[Record], name: str = "stats.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


INCREMENTS = REPO / "sample_data/runs/increments/checkpoint.pt"


def stage4(
    log: Path | None, cache: Path | None = CACHE, checkpoint: Path | None = None
) -> StageResult:
    return run_one(4, cache=cache, log=log, checkpoint=checkpoint)


def planted(tmp_path: Path, change: Callable[[Record], None], since: int) -> Path:
    """The increments log with `change` applied to every record from epoch `since` on."""
    rows = records()
    for row in rows:
        if row["epoch"] >= since:
            change(row)
    return write(tmp_path, rows)


def test_the_increments_log_passes_every_check() -> None:
    result = stage4(INCREMENTS_LOG, checkpoint=INCREMENTS)
    assert statuses(result) == dict.fromkeys(CHECKS.ids, "pass")
    assert result.stats["fitted"]["figure"] == "duration_nll"
    titles = [p.title for p in result.plots]
    assert len(titles) == 6  # loss, μ, σ, and one chart per profile bin
    for label in ("first", "mid", "last"):
        (bin_plot,) = [p for p in result.plots if f"{label} bin" in p.title]
        assert {s.label for s in bin_plot.series} == {"train", "val"}
        assert [name for name, _ in bin_plot.hlines] == [f"cache {label}"]
    sigma_plot = next(p for p in result.plots if "σ" in p.title)
    assert sigma_plot.hlines and sigma_plot.hlines[0][0] == "cache SD of log-duration"
    assert {s.label for s in result.plots[0].series} == {"train", "val"}


def test_the_linear_log_is_flat_from_its_first_epoch() -> None:
    result = stage4(LINEAR_LOG)
    collapse = result.check("train.collapse")
    assert collapse.status == "fail"
    assert collapse.measured["epoch"] == 1
    assert result.check("train.stats_convergence").status == "fail"


def test_a_profile_that_goes_flat_at_epoch_12(tmp_path: Path) -> None:
    def flatten(row: Record) -> None:
        row["profile_first"] = 1.5 * row["profile_mid"]

    check = stage4(planted(tmp_path, flatten, since=12)).check("train.collapse")
    assert check.status == "fail"
    assert check.measured["epoch"] == 12
    assert "flat from epoch 12" in check.message


def test_a_sigma_that_collapses_at_epoch_20(tmp_path: Path) -> None:
    def collapse(row: Record) -> None:
        row["dur_sigma"] *= 0.3
        row["duration_nll"] += 1.0

    check = stage4(planted(tmp_path, collapse, since=20)).check("train.collapse")
    assert check.status == "fail"
    assert check.measured["epoch"] == 20
    assert check.measured["sigma_epoch"] == 20


def test_a_diverging_val_loss_fails(tmp_path: Path) -> None:
    first = records()[1]["loss"]

    def diverge(row: Record) -> None:
        if row["split"] == "val":
            row["loss"] = first + 0.5

    check = stage4(planted(tmp_path, diverge, since=15)).check("train.loss_trend")
    assert check.status == "fail"
    assert "diverged" in check.message


def test_overfitting_warns_with_the_best_epoch(tmp_path: Path) -> None:
    rows = records()
    val = [r for r in rows if r["split"] == "val"]
    best = min(r["loss"] for r in val[:10]) - 0.05
    val[9]["loss"] = best
    for row in val[10:]:
        row["loss"] = best + 0.6 * (val[0]["loss"] - best)
    check = stage4(write(tmp_path, rows)).check("train.loss_trend")
    assert check.status == "warn"
    assert check.measured["val"]["best_epoch"] == 10


def test_a_val_rise_within_its_epoch_noise_is_not_overfitting(tmp_path: Path) -> None:
    """The val loss improves by 0.05 nats, then wanders ±0.01 from epoch to epoch and ends
    0.0165 above its best (a third of its gain): that is its noise, not overfitting."""
    rows = records()
    val = [r for r in rows if r["split"] == "val"]
    for i, row in enumerate(val):
        row["loss"] = 1.0 - 0.05 * min(i, 9) / 9 + (0.01 if i > 9 and i % 2 else 0.0)
    val[-1]["loss"] = 0.95 + 0.0165
    check = stage4(write(tmp_path, rows)).check("train.loss_trend")
    assert check.status == "pass", check.message
    assert check.measured["val"]["noise"] > 0


def test_a_train_loss_that_does_not_fall_fails(tmp_path: Path) -> None:
    def stall(row: Record) -> None:
        if row["split"] == "train":
            row["loss"] = 5.0

    check = stage4(planted(tmp_path, stall, since=1)).check("train.loss_trend")
    assert check.status == "fail"
    assert "did not fall" in check.message


def test_a_nan_loss_names_its_epoch(tmp_path: Path) -> None:
    def nan(row: Record) -> None:
        row["loss"] = math.nan

    check = stage4(planted(tmp_path, nan, since=9)).check("train.loss_trend")
    assert check.status == "fail"
    assert check.measured["epoch"] == 9


def test_statistics_still_on_their_way_warn(tmp_path: Path) -> None:
    rows = records()
    train = [r for r in rows if r["split"] == "train"]
    sd = stage4(INCREMENTS_LOG).stats["cache"]["dur_sigma"]
    target = stage4(INCREMENTS_LOG).stats["cache"]["dur_mu"]
    train[0]["dur_mu"] = target + 3 * sd
    train[-1]["dur_mu"] = target + 0.8 * sd
    check = stage4(write(tmp_path, rows)).check("train.stats_convergence")
    assert check.status == "warn"
    assert check.measured["figures"]["dur_mu"]["approaching"] is True


def test_a_bin_few_cache_rows_reach_is_shown_not_judged(
    small_sessions: list[Path], tmp_path: Path
) -> None:
    """The mid bin of a cache where 5 rows pass step 64 is those 5 rows' noise: a log 10×
    off there converges as far as can be told (and says so); on the sample cache, where
    297 rows reach it, the same 10× is judged and fails."""
    rows = real_sequences(small_sessions)
    steps = rows.mask.sum(axis=1)
    keep = np.r_[np.flatnonzero(steps <= 64), np.flatnonzero(steps > 64)[:5]]
    few = cache_of(rows.take(np.sort(keep)), tmp_path, "few")
    for cache, status in ((few, "pass"), (CACHE, "fail")):
        want = stage4(INCREMENTS_LOG, cache=cache).stats["cache"]
        log = [
            {"epoch": epoch, "split": split, "loss": 1.0 / epoch, "duration_nll": 1.0 / epoch,
             **want, "profile_mid": 10 * want["profile_mid"]}
            for epoch in (1, 2) for split in ("train", "val")
        ]  # fmt: skip
        check = stage4(write(tmp_path, log, f"{status}.jsonl"), cache=cache).check(
            "train.stats_convergence"
        )
        assert check is not None and check.status == status, check.message
        assert "profile_mid" in check.message
        assert ("(reached by 5 rows: not judged)" in check.message) == (status == "pass")


def test_convergence_needs_a_cache() -> None:
    result = stage4(INCREMENTS_LOG, cache=None)
    assert statuses(result)["train.stats_convergence"] == "skip"
    assert statuses(result)["train.collapse"] == "pass"


def test_a_run_still_writing_its_log(tmp_path: Path) -> None:
    path = write(tmp_path, records())
    with path.open("a") as handle:
        handle.write('{"epoch": 31, "split": "tr')
    check = stage4(path).check("train.log")
    assert check.status == "pass"
    assert "incomplete" in check.message
    assert check.measured["epochs"] == 30


def test_a_profile_fitted_with_mse_fails_the_objective_even_without_a_log(
    tmp_path: Path,
) -> None:
    import torch

    saved = torch.load(INCREMENTS, weights_only=True)
    saved["config"]["profile_loss"] = "mse"
    torch.save(saved, tmp_path / "mse.pt")
    with_log = stage4(INCREMENTS_LOG, checkpoint=tmp_path / "mse.pt").check("train.objective")
    assert with_log is not None and with_log.status == "fail" and "KL" in with_log.message
    alone = stage4(None, checkpoint=tmp_path / "mse.pt")
    assert statuses(alone)["train.objective"] == "fail"
    assert statuses(alone)["train.log"] == "skip" and statuses(alone)["train.collapse"] == "skip"
    assert statuses(stage4(INCREMENTS_LOG))["train.objective"] == "skip"  # nothing names it


def test_whether_the_model_fitted_its_own_data() -> None:
    """The increments run's val duration NLL is still drifting down at epoch 30 by less
    than a tenth of what it gained: flattened. One logged epoch says nothing."""
    from tui_timing.artifacts.stats_log import StatsLog, load_stats_log
    from tui_timing.stages.training import fitted

    log = load_stats_log(INCREMENTS_LOG, Settings())
    assert fitted(log, "val")["flattened"] is True
    rows = [r for r in records() if r["epoch"] <= 6]
    assert fitted(StatsLog.from_records(log.path, log.format, rows), "val")["flattened"] is False
    one = [r for r in records() if r["epoch"] == 1]
    assert fitted(StatsLog.from_records(log.path, log.format, one), "val")["flattened"] is None


def test_a_string_for_a_number_fails_the_log_and_names_it(tmp_path: Path) -> None:
    rows = records()
    rows[6]["profile_mid"] = "0.001"
    result = stage4(write(tmp_path, rows))
    assert statuses(result) == {"train.log": "fail", **dict.fromkeys(CHECKS.ids[1:], "skip")}
    message = result.check("train.log").message
    assert "profile_mid" in message and "line 7" in message


def test_a_lightning_metrics_csv(tmp_path: Path) -> None:
    columns = ["duration_nll", "profile_loss", "dur_sigma", "profile_first", "profile_mid"]
    lines = ["epoch,step," + ",".join(f"{s}/{c}" for s in ("train", "val") for c in columns)]
    by_epoch: dict[int, dict[str, Record]] = {}
    for row in records():
        by_epoch.setdefault(row["epoch"], {})[row["split"]] = row
    for epoch, splits in sorted(by_epoch.items()):
        cells = [str(splits[s][c]) for s in ("train", "val") for c in columns]
        lines.append(f"{epoch - 1},{epoch * 10}," + ",".join(cells))
    path = tmp_path / "metrics.csv"
    path.write_text("\n".join(lines) + "\n")
    result = stage4(path)
    log_check = result.check("train.log")
    assert log_check.status == "warn"  # no loss, dur_mu or profile_last columns
    assert "loss" in log_check.measured["missing_columns"]
    assert statuses(result)["train.loss_trend"] == "skip"
    assert statuses(result)["train.collapse"] == "pass"
    assert statuses(result)["train.stats_convergence"] == "pass"
    converged = result.check("train.stats_convergence").message
    assert "agree with the cache's" in converged  # σ below the cache's SD is not "reached"
    assert "dur_sigma" in converged and "at most the cache's SD" in converged


def test_without_a_log() -> None:
    result = stage4(None)
    assert result.skip_reason == "no training log given"
    assert set(statuses(result).values()) == {"skip"}


@pytest.mark.parametrize("split", ["train", "val"])
def test_a_single_split_log_still_reads(tmp_path: Path, split: str) -> None:
    rows = [r for r in records() if r["split"] == split]
    assert statuses(stage4(write(tmp_path, rows)))["train.loss_trend"] == "pass"
