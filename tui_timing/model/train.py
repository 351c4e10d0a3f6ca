"""Train a reference timing head on a timing cache (`timing-tui train`).

The loss is the duration NLL plus the profile loss:

- duration: the Gaussian negative log-likelihood of log-duration under (μ, log σ). It is
  what a log-normal head must minimize to learn a calibrated σ; a squared error on μ alone
  would leave σ untrained.
- profile: KL(target ‖ predicted) over the steps by default (`profile_loss = "kl"`). The
  profile is a distribution over steps, and KL weighs each step by its share of the
  time, so the tiny late bins of a sharply decaying profile still pull on the logits; a
  squared error (`"mse"`, kept as a knob) barely notices a bin of 1e-4 and under-fits
  the decay.

Every epoch the TimingStatsLogger (the one a user's training script uses too) appends one
JSON line per split to `RUN_DIR/stats.jsonl` (docs/artifacts.md#stats-log), each written at once so
a live reader sees the file grow. The final weights go to
`RUN_DIR/checkpoint.pt` as {"model", "config", "epoch"} (docs/artifacts.md#checkpoint), written
atomically; `save_every` adds `RUN_DIR/epochs/epoch_NNNN.pt`. The same seed gives the same weights.
A write that fails (a full disk) stops the run with an ArtifactError that says which file
failed and what the run folder holds.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Subset

from tui_timing.artifacts.atomic import atomic_torch_save, write_error
from tui_timing.artifacts.cache import TimingCache
from tui_timing.artifacts.hashing import file_sha256
from tui_timing.artifacts.stats_logger import TimingStatsLogger
from tui_timing.data.dataset import TimingDataset, collate_timing
from tui_timing.errors import ArtifactError
from tui_timing.model.heads import TimingHead, duration_nll, profile_loss
from tui_timing.model.options import HeadConfig, TrainOptions


@dataclass
class TrainResult:
    """Where the run's files are and the last epoch's statistics per split."""

    checkpoint: Path
    stats: Path
    epochs: int
    final: dict[str, dict[str, float]]


def resolve_device(device: str) -> torch.device:
    """`auto` is the GPU when there is one; asking for `cuda` without one is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but torch sees no CUDA device")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"--device must be auto, cpu or cuda, not {device!r}")
    return torch.device(device)


def split_rows(n_rows: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """A seeded random train/val split of the row numbers (no val split under 10 rows)."""
    order = torch.randperm(n_rows, generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = round(n_rows * val_fraction) if n_rows >= 10 else 0
    return sorted(order[n_val:]), sorted(order[:n_val])


def head_config_for(cache: TimingCache, head: dict[str, Any] | None = None) -> HeadConfig:
    """The head config for a cache: its dimensions and names, plus the given knobs."""
    values: dict[str, Any] = {
        "cond_dim": cache.feature_dim,
        "max_len": cache.max_len,
        "feature_names": cache.feature_names,
    }
    values.update(head or {})
    return HeadConfig(**values)


def init_from_data(model: TimingHead, dataset: TimingDataset, rows: list[int]) -> None:
    """Standardize features with the training rows, and start μ, log σ at their marginal.

    Starting the duration head at the data's own mean and spread (rather than 0 and 1)
    saves the first epochs from merely shifting a bias.
    """
    index = torch.as_tensor(rows)
    features = dataset.cache.features[index].double()
    model.set_feature_scale(features.mean(dim=0).float(), features.std(dim=0).float())
    log_duration = dataset.cache.log_duration[index].double()
    with torch.no_grad():
        model.duration.bias[0] = float(log_duration.mean())
        model.duration.bias[1] = float(log_duration.std().clamp_min(1e-3).log())


def batch_losses(
    model: TimingHead, batch: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """Per-row duration NLL and profile loss of a batch, and the raw outputs."""
    out = model(batch["features"], batch["length"])
    nll = duration_nll(out["mu"], out["log_sigma"], batch["log_duration"].float())
    prof = profile_loss(out["logits"], batch["profile"].float(), model.config.profile_loss)
    return nll, prof, out


@torch.no_grad()
def evaluate(
    model: TimingHead,
    loader: DataLoader[Any],
    device: torch.device,
    split: str,
    stats: TimingStatsLogger,
) -> None:
    """Feed one split's docs/artifacts.md#stats-log statistics to the stats logger, a batch at a
    time: mean losses, mean μ and σ, first/mid/last of the mean predicted profile (padding as 0)."""
    model.eval()
    for batch in loader:
        batch = {k: v.to(device) for k, v in batch.items()}
        nll, prof, out = batch_losses(model, batch)
        stats.update(
            split,
            mu=out["mu"],
            log_sigma=out["log_sigma"],
            logits=out["logits"],
            length=batch["length"],
            loss=nll + prof,
            duration_nll=nll,
            profile_loss=prof,
        )


def _stopped(exc: ArtifactError, stats_path: Path, done: int) -> ArtifactError:
    """A write failure, with what the run leaves behind: never a stats log that looks like
    a finished run beside a missing checkpoint without a word."""
    epochs = {0: "no epoch", 1: "epoch 1"}.get(done, f"epochs 1-{done}")
    return ArtifactError(
        exc.file,
        exc.key,
        f"{exc.problem}. Training stopped there: {stats_path} holds {epochs} and the run "
        "has no final checkpoint.pt; free some space and train again",
    )


def checkpoint_dict(
    model: TimingHead,
    epoch: int,
    cache_sha256: str | None = None,
    cache_path: Path | None = None,
) -> dict[str, Any]:
    """The docs/artifacts.md#checkpoint checkpoint: CPU tensors and plain values only.
    `cache_sha256` names the cache it was trained on, so stage 3 can tell a checkpoint checked
    against another; `cache_path` says where that cache was, so that discovery finds it again for
    the run (a run trained in `./runs/` on a cache kept elsewhere, such as the sample data)."""
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    config = model.config.as_dict()
    if cache_sha256 is not None:
        config["cache_sha256"] = cache_sha256
    if cache_path is not None:
        config["cache_path"] = str(cache_path)
    return {"model": state, "config": config, "epoch": epoch}


#: What a run folder holds: the final checkpoint, the stats log, the epoch checkpoints.
RUN_FILES = ("checkpoint.pt", "stats.jsonl", "epochs")


def existing_run(out: Path) -> list[str]:
    """The run files already in `out` (training there would replace them)."""
    return [name for name in RUN_FILES if os.path.lexists(out / name)]


def train(
    cache: TimingDataset | TimingCache | str | Path,
    out_dir: str | Path,
    head: dict[str, Any] | None = None,
    options: TrainOptions | None = None,
    on_epoch: Callable[[int, int, dict[str, dict[str, float]]], None] | None = None,
) -> TrainResult:
    """Train a TimingHead on `cache`; write RUN_DIR/stats.jsonl and RUN_DIR/checkpoint.pt.

    `head` sets HeadConfig knobs (profile_head, logit_bound, mask_padding, ...); the
    cache supplies cond_dim, max_len and feature_names. `on_epoch(epoch, epochs, stats)`
    is called after each epoch (a progress bar, say).
    """
    opts = options or TrainOptions()
    device = resolve_device(opts.device)
    dataset = cache if isinstance(cache, TimingDataset) else TimingDataset(cache)
    config = head_config_for(dataset.cache, head)
    cache_sha256 = file_sha256(dataset.cache.path)
    cache_path = Path(dataset.cache.path).resolve()
    train_rows, val_rows = split_rows(len(dataset), opts.val_fraction, opts.seed)

    torch.manual_seed(opts.seed)
    model = TimingHead(config)
    init_from_data(model, dataset, train_rows)
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=opts.lr)

    shuffled = DataLoader(
        Subset(dataset, train_rows),
        batch_size=opts.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(opts.seed),
        collate_fn=collate_timing,
    )
    splits = {"train": train_rows, "val": val_rows}
    eval_loaders = {
        name: DataLoader(Subset(dataset, rows), batch_size=1024, collate_fn=collate_timing)
        for name, rows in splits.items()
        if rows
    }

    out = Path(out_dir)
    stats_path = out / RUN_FILES[1]
    final: dict[str, dict[str, float]] = {}
    done = 0
    try:
        with TimingStatsLogger(stats_path, max_len=config.max_len) as stats:
            for epoch in range(1, opts.epochs + 1):
                model.train()
                for batch in shuffled:
                    batch = {k: v.to(device) for k, v in batch.items()}
                    nll, prof, _ = batch_losses(model, batch)
                    loss = (nll + prof).mean()
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                    optimizer.step()
                for name, loader in eval_loaders.items():
                    evaluate(model, loader, device, name, stats)
                final = stats.end_epoch(epoch)
                done = epoch
                if opts.save_every and epoch % opts.save_every == 0:
                    snapshot = checkpoint_dict(model, epoch, cache_sha256, cache_path)
                    atomic_torch_save(out / RUN_FILES[2] / f"epoch_{epoch:04d}.pt", snapshot)
                if on_epoch is not None:
                    on_epoch(epoch, opts.epochs, final)
        checkpoint_path = out / RUN_FILES[0]
        atomic_torch_save(
            checkpoint_path, checkpoint_dict(model, opts.epochs, cache_sha256, cache_path)
        )
    except OSError as exc:  # the stats log itself (its folder, a full disk)
        raise _stopped(write_error(stats_path, exc, existed=False), stats_path, done) from None
    except ArtifactError as exc:  # a checkpoint (atomic_torch_save names it)
        raise _stopped(exc, stats_path, done) from None
    return TrainResult(
        checkpoint=checkpoint_path, stats=stats_path, epochs=opts.epochs, final=final
    )
