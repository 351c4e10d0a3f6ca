"""A real Lightning training run of the reference timing head on a real Balabit cache, laid
out as researchers' runs are: `ModelCheckpoint(dirpath=RUN/ckpt)`, a `CSVLogger` and a
`TensorBoardLogger` under `RUN/version_N/`, and TimingStatsCallback's `RUN/stats.jsonl`.

The module logs what Lightning users log (`train_loss` on step and epoch, `val_loss`,
`train/dur_mu`, ...), so the tests read Lightning's own `metrics.csv` and event files, not
files written to look like them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from torch.utils.data import DataLoader, Subset

from tui_timing.data.dataset import TimingDataset, collate_timing
from tui_timing.lightning import TimingStatsCallback
from tui_timing.model.heads import HeadConfig, TimingHead, duration_nll, profile_loss
from tui_timing.model.train import init_from_data


class TimingModule(pl.LightningModule):
    """The package's TimingHead trained the Lightning way, returning the callback's keys."""

    def __init__(self, cond_dim: int, max_len: int) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.head = TimingHead(HeadConfig(cond_dim=cond_dim, max_len=max_len))

    def _step(self, batch: dict[str, torch.Tensor], split: str) -> dict[str, Any]:
        out = self.head(batch["features"], batch["length"])
        nll = duration_nll(out["mu"], out["log_sigma"], batch["log_duration"].float())
        prof = profile_loss(out["logits"], batch["profile"].float(), "kl")
        loss = (nll + prof).mean()
        rows = batch["length"].shape[0]
        self.log(f"{split}_loss", loss, on_epoch=True, on_step=split == "train", batch_size=rows)
        self.log(f"{split}/dur_mu", out["mu"].mean(), on_epoch=True, batch_size=rows)
        self.log(
            f"{split}/dur_sigma", out["log_sigma"].exp().mean(), on_epoch=True, batch_size=rows
        )
        return {
            "loss": loss,
            **out,
            "length": batch["length"],
            "duration_nll": nll,
            "profile_loss": prof,
        }

    def training_step(self, batch: dict[str, torch.Tensor], index: int) -> dict[str, Any]:
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, torch.Tensor], index: int) -> dict[str, Any]:
        return self._step(batch, "val")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=3e-3)


@dataclass
class LightningRun:
    run: Path  # RUN: ckpt/, version_0/ (CSV), version_1/ (TensorBoard), stats.jsonl
    stats: Path
    metrics_csv: Path
    events_dir: Path
    last_ckpt: Path
    epochs: int


def train_lightning(cache: Path, root: Path, epochs: int = 3, rows: int = 600) -> LightningRun:
    """Fit TimingModule for `epochs` on the first `rows` rows of `cache` (5/6 train)."""
    torch.manual_seed(0)
    dataset = TimingDataset(cache)
    rows = min(rows, len(dataset))
    cut = rows * 5 // 6
    module = TimingModule(dataset.cache.feature_dim, dataset.cache.max_len)
    init_from_data(module.head, dataset, list(range(cut)))
    train = DataLoader(
        Subset(dataset, range(cut)), batch_size=64, shuffle=True, collate_fn=collate_timing
    )
    val = DataLoader(Subset(dataset, range(cut, rows)), batch_size=32, collate_fn=collate_timing)
    run = root / "runs" / "exp3"
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        default_root_dir=run,
        logger=[
            CSVLogger(root / "runs", name="exp3"),
            TensorBoardLogger(root / "runs", name="exp3"),
        ],
        callbacks=[
            TimingStatsCallback(run / "stats.jsonl"),
            pl.callbacks.ModelCheckpoint(dirpath=run / "ckpt", save_last=True),
        ],
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=2,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's advice about workers and loggers
        trainer.fit(module, train, val)
    return LightningRun(
        run=run,
        stats=run / "stats.jsonl",
        metrics_csv=run / "version_0" / "metrics.csv",
        events_dir=run / "version_1",
        last_ckpt=run / "ckpt" / "last.ckpt",
        epochs=epochs,
    )
