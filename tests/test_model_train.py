"""The trainer: docs/artifacts.md#stats-log logs written live, docs/artifacts.md#checkpoint
checkpoints, determinism, the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from sample_paths import REPO

from tui_timing.artifacts.hashing import file_sha256
from tui_timing.artifacts.stats_log import STAT_KEYS
from tui_timing.cli import main
from tui_timing.model.heads import HeadConfig
from tui_timing.model.train import TrainOptions, train

SAMPLE_CACHE = REPO / "sample_data/datasets/sample/train_timing.pt"
SPEC_CONFIG_KEYS = {
    "cache_sha256",
    "cache_path",  # where that cache was: a later launch finds it again for the run
    "cond_dim",
    "hidden",
    "max_len",
    "profile_head",
    "n_templates",
    "logsigma_min",
    "logsigma_max",
    "logit_bound",
    "length_input",
    "mask_padding",
    "profile_loss",
    "feature_names",
    "diffusion_cond_dim",
}


pytestmark = pytest.mark.usefixtures("one_thread")


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_stats_log_is_spec_2_4_and_grows_while_training(tmp_path: Path) -> None:
    seen: list[int] = []

    def on_epoch(epoch: int, epochs: int, stats: dict) -> None:
        seen.append(len(lines(tmp_path / "stats.jsonl")))  # what a live reader sees now

    train(SAMPLE_CACHE, tmp_path, options=TrainOptions(epochs=3), on_epoch=on_epoch)
    assert seen == [2, 4, 6]
    records = lines(tmp_path / "stats.jsonl")
    assert [(r["epoch"], r["split"]) for r in records] == [
        (e, s) for e in (1, 2, 3) for s in ("train", "val")
    ]
    for record in records:
        assert set(record) == {"epoch", "split", "time", *STAT_KEYS}
        assert all(math.isfinite(record[k]) for k in STAT_KEYS)
        assert record["loss"] == pytest.approx(record["duration_nll"] + record["profile_loss"])


def test_checkpoint_is_spec_2_3_and_loads_weights_only(tmp_path: Path) -> None:
    result = train(SAMPLE_CACHE, tmp_path, {"profile_head": "templates"}, TrainOptions(epochs=1))
    saved = torch.load(result.checkpoint, weights_only=True)
    assert set(saved) == {"model", "config", "epoch"}
    assert saved["epoch"] == 1
    assert set(saved["config"]) == SPEC_CONFIG_KEYS
    assert saved["config"]["cache_sha256"] == file_sha256(SAMPLE_CACHE)  # what it trained on
    assert saved["config"]["cache_path"] == str(SAMPLE_CACHE.resolve())
    assert saved["config"]["profile_head"] == "templates"
    assert saved["config"]["cond_dim"] == len(saved["config"]["feature_names"])
    assert all(isinstance(v, torch.Tensor) for v in saved["model"].values())
    HeadConfig.from_dict(saved["config"])


def test_same_seed_same_weights_other_seed_other_weights(tmp_path: Path) -> None:
    options = TrainOptions(epochs=2, seed=3)
    first = train(SAMPLE_CACHE, tmp_path / "a", options=options)
    second = train(SAMPLE_CACHE, tmp_path / "b", options=options)
    other = train(SAMPLE_CACHE, tmp_path / "c", options=TrainOptions(epochs=2, seed=4))
    weights = [torch.load(r.checkpoint, weights_only=True)["model"] for r in (first, second, other)]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert not all(torch.equal(weights[0][k], weights[2][k]) for k in weights[0])
    strip = [{k: v for k, v in r.items() if k != "time"} for r in lines(first.stats)]
    assert strip == [{k: v for k, v in r.items() if k != "time"} for r in lines(second.stats)]


def test_per_epoch_checkpoints(tmp_path: Path) -> None:
    train(SAMPLE_CACHE, tmp_path, options=TrainOptions(epochs=2, save_every=1))
    saved = sorted(p.name for p in (tmp_path / "epochs").iterdir())
    assert saved == ["epoch_0001.pt", "epoch_0002.pt"]
    assert torch.load(tmp_path / "epochs/epoch_0001.pt", weights_only=True)["epoch"] == 1


def test_trains_on_users_it_never_saw(small_cache: Path, tmp_path: Path) -> None:
    """The conftest cache comes from other Balabit users than the sample data."""
    result = train(small_cache, tmp_path, options=TrainOptions(epochs=4))
    records = [r for r in lines(result.stats) if r["split"] == "val"]
    assert records[-1]["loss"] < records[0]["loss"]
    cache = torch.load(small_cache, weights_only=True)
    real_first = float(cache["profile"][:, 0].mean())
    assert records[-1]["profile_first"] == pytest.approx(real_first, rel=0.25)
    assert records[-1]["dur_mu"] == pytest.approx(float(cache["log_duration"].mean()), abs=0.2)


def test_cli_train_writes_the_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    knobs = ["--profile-head", "linear", "--logit-bound", "0.5", "--no-mask-padding"]
    result = CliRunner().invoke(
        main,
        ["train", "--cache", str(SAMPLE_CACHE), "--out", str(out), "--epochs", "1", *knobs],
    )
    assert result.exit_code == 0, result.output
    assert "checkpoint:" in result.output
    config = torch.load(out / "checkpoint.pt", weights_only=True)["config"]
    assert (config["profile_head"], config["logit_bound"], config["mask_padding"]) == (
        "linear",
        0.5,
        False,
    )
    assert len(lines(out / "stats.jsonl")) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cache", "missing.pt"], "file not found"),
        (["--logit-bound", "-1"], "logit_bound"),
    ],
)
def test_cli_train_refuses_unusable_inputs(tmp_path: Path, args: list[str], message: str) -> None:
    base = ["train", "--cache", str(SAMPLE_CACHE), "--out", str(tmp_path), "--epochs", "1"]
    result = CliRunner().invoke(main, base + args)
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cli_train_says_when_cuda_is_missing(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["train", "--cache", str(SAMPLE_CACHE), "--out", str(tmp_path), "--device", "cuda"],
    )
    assert result.exit_code == 2
    assert "no CUDA device" in result.output
