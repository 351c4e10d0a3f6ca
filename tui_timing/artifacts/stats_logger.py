"""TimingStatsLogger: the two lines a training script needs for stage 4
(docs/artifacts.md#your-own-repo).

    stats = TimingStatsLogger("runs/exp3/stats.jsonl")
    stats.update("train", mu=mu, log_sigma=log_sigma, logits=logits, length=length,
                 loss=loss, duration_nll=nll, profile_loss=prof)     # per batch
    stats.end_epoch(epoch)                                           # per epoch

`end_epoch` writes one docs/artifacts.md#stats-log line per split seen since the last call: the
means over rows of μ and σ = exp(log σ), the first, mid and last bins (0, L // 2, L − 1) of the mean
profile over rows with padding counted as 0 (as the cache's are), and the mean losses.
The profile is the model's own (softmax of its logits over the whole row, or the
`profile` given), with padded steps set to 0: mass a model leaks onto padding is missing
from its valid steps, as it would be from a sample. Each line is one write on a file
opened for appending, so a live TUI tailing the log never sees half a line.

Sums stay on the tensors' device and are read once per epoch, so `update` never waits
for the GPU. timing-tui's own trainer logs through this class too (one implementation).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import torch

#: The optional loss figures, in the order a line lists them.
LOSSES = ("loss", "duration_nll", "profile_loss")


class _SplitSums:
    """What one split accumulates over an epoch (tensors on the batches' device)."""

    def __init__(self) -> None:
        self.rows = 0
        self.sums: dict[str, torch.Tensor] = {}
        self.weights: dict[str, int] = {}
        self.profile: torch.Tensor | None = None

    def add(self, name: str, total: torch.Tensor, rows: int) -> None:
        self.sums[name] = self.sums[name] + total if name in self.sums else total
        self.weights[name] = self.weights.get(name, 0) + rows

    def add_profile(self, column_sums: torch.Tensor) -> None:
        if self.profile is None:
            self.profile = column_sums
            return
        width = max(self.profile.shape[0], column_sums.shape[0])
        self.profile = _pad(self.profile, width) + _pad(column_sums, width)


def _pad(values: torch.Tensor, width: int) -> torch.Tensor:
    return torch.nn.functional.pad(values, (0, width - values.shape[0]))


class TimingStatsLogger:
    """Accumulates the timing head's outputs per split and writes one line per split and
    epoch to a JSONL stats log (docs/artifacts.md#stats-log). Use as a context manager or call
    `close()`."""

    def __init__(
        self, path: str | Path, *, max_len: int | None = None, append: bool = False
    ) -> None:
        """Open `path` (created with its folder; emptied unless `append`, for a resumed run).

        `max_len`: the cache's L. Give it when batches are padded to their own longest row,
        so that the mid and last bins are the cache's L // 2 and L − 1; otherwise L is the
        widest row seen in the epoch.
        """
        self.path = Path(path)
        self.max_len = max_len
        self.path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (0 if append else os.O_TRUNC)
        self._fd: int | None = os.open(self.path, flags, 0o644)
        self._start = time.perf_counter()
        self._splits: dict[str, _SplitSums] = {}

    def update(
        self,
        split: str,
        *,
        mu: Any,
        log_sigma: Any,
        logits: Any = None,
        profile: Any = None,
        length: Any = None,
        mask: Any = None,
        loss: Any = None,
        duration_nll: Any = None,
        profile_loss: Any = None,
    ) -> None:
        """Add one batch: μ and log σ [B] or [B, 1]; `logits` or `profile` [B, L]; `length`
        [B] or `mask` [B, L] (without either, every step counts as valid); losses as a
        batch mean (weighted by B) or per row [B]. Tensors may sit on any device."""
        mu_t = _rows(mu, "mu")
        rows = mu_t.shape[0]
        sums = self._splits.setdefault(str(split), _SplitSums())
        sums.rows += rows
        accumulate = _accumulator_dtype(mu_t)
        sums.add("dur_mu", mu_t.to(accumulate).sum(), rows)
        sigma = _rows(log_sigma, "log_sigma").to(accumulate).exp()
        sums.add("dur_sigma", sigma.sum(), rows)
        if logits is not None or profile is not None:
            shares = _profile(logits, profile, length, mask, accumulate)
            sums.add_profile(shares.sum(dim=0))
        for name, value in zip(LOSSES, (loss, duration_nll, profile_loss), strict=True):
            if value is not None:
                total, weight = _loss_total(value, rows, accumulate)
                sums.add(name, total, weight)

    def end_epoch(self, epoch: int) -> dict[str, dict[str, float]]:
        """Write one line per split seen since the last call; return their figures."""
        written: dict[str, dict[str, float]] = {}
        elapsed = round(time.perf_counter() - self._start, 3)
        for split, sums in self._splits.items():
            figures = self._figures(sums)
            record = {"epoch": int(epoch), "split": split, **figures, "time": elapsed}
            self._write(json.dumps(record, allow_nan=True) + "\n")
            written[split] = figures
        self._splits = {}
        return written

    def _figures(self, sums: _SplitSums) -> dict[str, float]:
        figures: dict[str, float] = {}
        for name in LOSSES:
            if name in sums.sums:
                figures[name] = float(sums.sums[name]) / max(sums.weights[name], 1)
        for name in ("dur_mu", "dur_sigma"):
            figures[name] = float(sums.sums[name]) / max(sums.weights[name], 1)
        if sums.profile is not None:
            width = self.max_len or sums.profile.shape[0]
            mean = _pad(sums.profile[:width], width).double().cpu() / max(sums.rows, 1)
            figures["profile_first"] = float(mean[0])
            figures["profile_mid"] = float(mean[width // 2])
            figures["profile_last"] = float(mean[width - 1])
        return figures

    def _write(self, line: str) -> None:
        if self._fd is None:
            raise ValueError(f"{self.path}: the stats logger is closed")
        data = line.encode("utf-8")
        while data:  # one write() for a line, unless the OS takes less at once
            data = data[os.write(self._fd, data) :]

    def close(self) -> None:
        """Close the file (lines are already on disk: each was written when it ended)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> TimingStatsLogger:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _tensor(value: Any, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach()
    try:
        return torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(
            f"TimingStatsLogger: {name} must be a tensor, not {type(value).__name__}"
        ) from None


def _rows(value: Any, name: str) -> torch.Tensor:
    """A per-row figure as [B] (from [B] or [B, 1])."""
    tensor = _tensor(value, name)
    if tensor.dim() == 2 and tensor.shape[1] == 1:
        tensor = tensor[:, 0]
    if tensor.dim() != 1:
        raise ValueError(
            f"TimingStatsLogger: {name} must be [B] or [B, 1], not {list(tensor.shape)}"
        )
    return tensor


def _accumulator_dtype(like: torch.Tensor) -> torch.dtype:
    """float64 sums, except where the device has none (Apple's MPS)."""
    return torch.float32 if like.device.type == "mps" else torch.float64


def _profile(logits: Any, profile: Any, length: Any, mask: Any, dtype: torch.dtype) -> torch.Tensor:
    """Each row's step shares [B, L], padding set to 0."""
    if logits is not None:
        shares = torch.softmax(_tensor(logits, "logits").to(dtype), dim=-1)
    else:
        shares = _tensor(profile, "profile").to(dtype)
    if shares.dim() != 2:
        raise ValueError(
            f"TimingStatsLogger: logits/profile must be [B, L], not {list(shares.shape)}"
        )
    valid = None
    if mask is not None:
        valid = _tensor(mask, "mask").to(shares.device).bool()
        if valid.shape != shares.shape:
            raise ValueError(
                f"TimingStatsLogger: mask {list(valid.shape)} does not match the profile "
                f"{list(shares.shape)}"
            )
    elif length is not None:
        lengths = _rows(length, "length").to(shares.device)
        valid = torch.arange(shares.shape[1], device=shares.device)[None, :] < lengths[:, None]
    # after the softmax, so a row with no valid step is 0 rather than NaN
    return shares if valid is None else shares.masked_fill(~valid, 0.0)


def _loss_total(value: Any, rows: int, dtype: torch.dtype) -> tuple[torch.Tensor, int]:
    """(sum, rows it covers) of a loss given as a batch mean or per row."""
    tensor = _tensor(value, "loss").to(dtype)
    if tensor.dim() == 0 or tensor.numel() == 1:
        return tensor.reshape(()) * rows, rows
    flat = tensor.reshape(-1)
    return flat.sum(), int(flat.shape[0])
