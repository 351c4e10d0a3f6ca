"""TimingStatsCallback: stage 4's stats log from a Lightning training run
(docs/artifacts.md#your-own-repo).

    from tui_timing.lightning import TimingStatsCallback
    trainer = Trainer(callbacks=[TimingStatsCallback("runs/exp3/stats.jsonl")])

The LightningModule's `training_step` and `validation_step` return a dict with `loss` and
the keys of `TimingStatsLogger.update` (`mu`, `log_sigma`, `logits` or `profile`, `length`
or `mask`, optionally `duration_nll` and `profile_loss`). The callback feeds each batch to
a TimingStatsLogger and writes one line per split when the training epoch ends (Lightning
runs the epoch's validation before that). The sanity-check validation is not logged, and
under distributed training only the global rank 0 writes (its own batches).

Lightning is optional for timing-tui: only this module imports it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tui_timing.artifacts.stats_logger import TimingStatsLogger

try:
    from lightning.pytorch import Callback, LightningModule, Trainer
except ImportError:  # pragma: no cover - the older package name
    try:
        from pytorch_lightning import (  # type: ignore[assignment]
            Callback,
            LightningModule,
            Trainer,
        )
    except ImportError:
        raise ImportError(
            "tui_timing.lightning needs Lightning (pip install lightning); the rest of "
            "timing-tui works without it, and TimingStatsLogger logs from any training loop"
        ) from None

#: The keys of a step's output that the logger reads.
UPDATE_KEYS = (
    "mu",
    "log_sigma",
    "logits",
    "profile",
    "length",
    "mask",
    "loss",
    "duration_nll",
    "profile_loss",
)


class TimingStatsCallback(Callback):  # type: ignore[misc]
    """Writes the docs/artifacts.md#stats-log stats log of a Lightning run, one line per split per
    epoch."""

    def __init__(
        self, path: str | Path, *, max_len: int | None = None, append: bool = False
    ) -> None:
        """`path`: the JSONL log (emptied at the start unless `append`); `max_len`: the
        cache's L, when batches are padded to their own longest row."""
        super().__init__()
        self.path = Path(path)
        self.max_len = max_len
        self._append = append
        self._stats: TimingStatsLogger | None = None
        self._warned: set[str] = set()

    def _logger(self) -> TimingStatsLogger:
        if self._stats is None:
            self._stats = TimingStatsLogger(self.path, max_len=self.max_len, append=self._append)
            self._append = True  # a later fit or validate with this callback adds to the log
        return self._stats

    def _feed(self, trainer: Trainer, split: str, step: str, outputs: Any) -> None:
        if not trainer.is_global_zero:
            return
        if not isinstance(outputs, Mapping):
            if split not in self._warned:
                self._warned.add(split)
                warnings.warn(
                    f"TimingStatsCallback: {step} returned {type(outputs).__name__}, not a "
                    f"dict with mu, log_sigma, logits and length: the {split} split is not "
                    "logged",
                    stacklevel=2,
                )
            return
        if "mu" not in outputs or "log_sigma" not in outputs:
            raise ValueError(
                f"TimingStatsCallback: {step} returned a dict with keys "
                f"{', '.join(map(str, outputs)) or 'none'}; it needs mu and log_sigma (and "
                "logits or profile, length or mask, loss) to log the timing head"
            )
        self._logger().update(split, **{k: outputs[k] for k in UPDATE_KEYS if k in outputs})

    def on_train_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self._feed(trainer, "train", "training_step", outputs)

    def on_validation_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if not trainer.sanity_checking:
            self._feed(trainer, "val", "validation_step", outputs)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.is_global_zero and self._stats is not None:
            self._stats.end_epoch(trainer.current_epoch)

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # `trainer.validate()` alone has no training epoch to end
        fitting = trainer.state.fn == "fit"
        if not fitting and not trainer.sanity_checking and self._stats is not None:
            self._stats.end_epoch(trainer.current_epoch)

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self._stats is not None:
            self._stats.close()
            self._stats = None
