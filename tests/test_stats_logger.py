"""TimingStatsLogger and the Lightning callback (docs/artifacts.md#training-loop-integration).

The figures are checked against what they mean on real data: logging the real cache's own
profiles must give the cache's first/mid/last bins, and the callback's losses must equal
the epoch means Lightning itself logs for the same run.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from tui_timing import TimingStatsLogger
from tui_timing.artifacts.cache import as_timing_cache, load_cache
from tui_timing.artifacts.stats_log import load_stats_log
from tui_timing.numerics.figures import profile_bins


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_caches_own_rows_log_the_caches_bins(small_cache: Path, tmp_path: Path) -> None:
    cache = as_timing_cache(load_cache(small_cache))
    path = tmp_path / "stats.jsonl"
    with TimingStatsLogger(path) as stats:
        for rows in torch.arange(cache.n_rows).split(500):  # batches of unequal size
            stats.update(
                "train",
                mu=cache.log_duration[rows],
                log_sigma=torch.zeros(len(rows), 1),
                profile=cache.profile[rows],
                length=cache.length[rows],
            )
        written = stats.end_epoch(0)
    (record,) = lines(path)
    assert record == {"epoch": 0, "split": "train", **written["train"], "time": record["time"]}
    padded = cache.profile.double().sum(dim=0).numpy() / cache.n_rows
    bins = profile_bins(padded)
    assert record["profile_first"] == pytest.approx(bins["first"], rel=1e-12)
    assert record["profile_mid"] == pytest.approx(bins["mid"], rel=1e-12, abs=1e-15)
    assert record["profile_last"] == pytest.approx(bins["last"], rel=1e-12, abs=1e-15)
    assert record["dur_mu"] == pytest.approx(float(cache.log_duration.double().mean()), rel=1e-9)
    assert record["dur_sigma"] == 1.0
    assert "loss" not in record  # losses are optional and not invented


def test_logits_give_the_models_profile_with_padding_as_zero(tmp_path: Path) -> None:
    path = tmp_path / "stats.jsonl"
    length = torch.tensor([1, 2, 4, 4])
    stats = TimingStatsLogger(path)
    # uniform logits over L = 4: each step 1/4 of the row, padded steps set to 0
    stats.update(
        "val", mu=torch.zeros(4), log_sigma=torch.zeros(4), logits=torch.zeros(4, 4), length=length
    )
    # a masked head's -inf on padding: the row's mass is all on its valid steps
    logits = torch.tensor([[0.0, -math.inf, -math.inf, -math.inf]] * 2)
    stats.update(
        "val", mu=torch.zeros(2), log_sigma=torch.zeros(2), logits=logits, mask=logits.isfinite()
    )
    (record,) = [r for r in stats.end_epoch(3).values()]
    stats.close()
    assert record["profile_first"] == pytest.approx((4 * 0.25 + 2 * 1.0) / 6)
    assert record["profile_mid"] == pytest.approx(2 * 0.25 / 6)  # bin 2: rows of length 4
    assert record["profile_last"] == pytest.approx(2 * 0.25 / 6)
    assert lines(path)[0]["epoch"] == 3


def test_losses_are_row_weighted_means_whether_per_batch_or_per_row(tmp_path: Path) -> None:
    stats = TimingStatsLogger(tmp_path / "stats.jsonl")
    zeros = {"mu": torch.zeros(3), "log_sigma": torch.zeros(3)}
    stats.update(
        "train", **zeros, loss=torch.tensor(1.0), duration_nll=torch.tensor([1.0, 2.0, 3.0])
    )
    stats.update("train", mu=torch.zeros(1), log_sigma=torch.zeros(1), loss=5.0, duration_nll=[6.0])
    figures = stats.end_epoch(1)["train"]
    stats.close()
    assert figures["loss"] == pytest.approx((3 * 1.0 + 5.0) / 4)
    assert figures["duration_nll"] == pytest.approx((1 + 2 + 3 + 6) / 4)


def test_each_epoch_is_on_disk_when_end_epoch_returns(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "new" / "stats.jsonl"  # the folder is created
    stats = TimingStatsLogger(path)
    assert path.read_text() == ""
    for epoch in (1, 2):
        for split in ("train", "val"):
            stats.update(split, mu=torch.ones(2), log_sigma=torch.zeros(2), loss=1.0 / epoch)
        stats.end_epoch(epoch)
        seen = lines(path)  # another reader, while the logger is still open
        assert [(r["epoch"], r["split"]) for r in seen][-2:] == [(epoch, "train"), (epoch, "val")]
    stats.close()
    assert load_stats_log(path).series("val", "loss") == ([1, 2], [1.0, 0.5])
    TimingStatsLogger(path, append=True).close()  # a resumed run keeps what was written
    assert len(lines(path)) == 4
    TimingStatsLogger(path).close()  # a new run starts a new log
    assert path.read_text() == ""


def test_batches_padded_to_their_own_longest_row_with_max_len(tmp_path: Path) -> None:
    stats = TimingStatsLogger(tmp_path / "stats.jsonl", max_len=8)
    stats.update("train", mu=torch.zeros(1), log_sigma=torch.zeros(1), profile=torch.ones(1, 2) / 2)
    stats.update("train", mu=torch.zeros(1), log_sigma=torch.zeros(1), profile=torch.ones(1, 8) / 8)
    figures = stats.end_epoch(0)["train"]
    stats.close()
    assert figures["profile_first"] == pytest.approx((0.5 + 0.125) / 2)
    assert figures["profile_mid"] == pytest.approx(0.125 / 2)  # bin 8 // 2 = 4
    assert figures["profile_last"] == pytest.approx(0.125 / 2)


def test_wrong_shapes_are_named(tmp_path: Path) -> None:
    with TimingStatsLogger(tmp_path / "stats.jsonl") as stats:
        with pytest.raises(ValueError, match=r"mu must be \[B\] or \[B, 1\]"):
            stats.update("train", mu=torch.zeros(2, 3), log_sigma=torch.zeros(2))
        with pytest.raises(ValueError, match="mask"):
            stats.update(
                "train",
                mu=torch.zeros(2),
                log_sigma=torch.zeros(2),
                logits=torch.zeros(2, 4),
                mask=torch.ones(2, 3),
            )


def test_the_lightning_callback_logs_what_lightning_logs(lightning_run: Any) -> None:
    """Each epoch's train and val lines equal the epoch means Lightning computed for the
    same batches (`train_loss_epoch`, `val_loss`, `val/dur_sigma`): the sanity-check
    validation (2 of the 4 val batches) is not counted, and no batch is missed."""
    records = lines(lightning_run.stats)
    epochs = lightning_run.epochs
    assert [(r["epoch"], r["split"]) for r in records] == [
        (e, s) for e in range(epochs) for s in ("train", "val")
    ]
    ours = load_stats_log(lightning_run.stats)
    theirs = load_stats_log(lightning_run.metrics_csv)
    assert theirs.format == "lightning metrics.csv"
    for split, key in (
        ("train", "loss"),
        ("val", "loss"),
        ("val", "dur_sigma"),
        ("train", "dur_mu"),
    ):
        epochs_ours, values_ours = ours.series(split, key)
        epochs_theirs, values_theirs = theirs.series(split, key)
        assert epochs_ours == epochs_theirs == list(range(epochs))
        assert values_ours == pytest.approx(values_theirs, rel=1e-5), (split, key)
    for record in records:
        assert all(math.isfinite(record[k]) for k in record if k not in ("split",))


def test_the_package_imports_without_torch_or_lightning(tmp_path: Path) -> None:
    """`import tui_timing` does not import torch, and everything but tui_timing.lightning
    works when Lightning cannot be imported at all."""
    script = f"""
import sys
sys.modules["lightning"] = None
sys.modules["pytorch_lightning"] = None
import tui_timing
assert "torch" not in sys.modules, "import tui_timing imported torch"
import tui_timing.cli, tui_timing.artifacts.stats_log, tui_timing.artifacts.discovery
import torch
stats = tui_timing.TimingStatsLogger({str(tmp_path / "s.jsonl")!r})
stats.update("train", mu=torch.zeros(2), log_sigma=torch.zeros(2))
stats.end_epoch(0)
try:
    import tui_timing.lightning
except ImportError as exc:
    print("refused:", exc)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "refused: tui_timing.lightning needs Lightning (pip install lightning)" in done.stdout
    assert np.isclose(lines(tmp_path / "s.jsonl")[0]["dur_sigma"], 1.0)
