"""Stage 2, dataset and dataloader (step 2 of docs/README.md#the-plan): does training see what the
cache holds?

A correct cache can still be served wrong: a dataset that appends columns, forgets to zero
padding, takes log10, or a sampler that skips rows. This stage instantiates the package's
`TimingDataset` (or the user's class, `--dataset module:Class`, called with the cache
path; its items, dicts or tuples under the user's names, are collated by torch's default
collate and renamed by data/user_batches.py), iterates one real epoch through a
DataLoader and checks every batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from tui_timing.artifacts.cache import TimingCache
from tui_timing.artifacts.checkpoint_config import WIDTH_QUESTION
from tui_timing.data.dataset import ITEM_KEYS, TimingDataset, collate_timing
from tui_timing.data.user_batches import BatchNames, UserDataset
from tui_timing.errors import UsageError
from tui_timing.findings import Assumption, Check, Plot, Series, StageResult
from tui_timing.numerics.fmt import fmt
from tui_timing.plugins import UserCodeError, call_user, load_object
from tui_timing.stages.batch_rows import PROFILE_TV, RowMatch
from tui_timing.stages.cache_scan import scan_for
from tui_timing.stages.catalog import Stage
from tui_timing.stages.checks import CheckSpec, StageChecks
from tui_timing.stages.context import StageContext

#: Stage 2's checks, in report order.
INSTANTIATE = CheckSpec("dataset.instantiate", "load")
BATCH_KEYS = CheckSpec("dataset.batch_keys", "structural")
FEATURE_DIM = CheckSpec("dataset.feature_dim", "structural")
MASK_PADDING = CheckSpec("dataset.mask_padding", "structural")
LOG_DURATION = CheckSpec("dataset.log_duration", "structural", tolerances=("log_duration_abs",))
BATCH_PROFILE_MEAN = CheckSpec(
    "dataset.batch_profile_mean", "structural", tolerances=("epoch_mean_rel", "epoch_mean_abs")
)
COVERAGE = CheckSpec("dataset.coverage", "structural")
BATCH_ROWS = CheckSpec(
    "dataset.batch_rows",
    "structural",
    figure=lambda m: f"{m['off']:,} of {m['rows']:,} rows are not the cache row they claim",
)
CHECKS = StageChecks(
    Stage.DATASET,
    (
        INSTANTIATE,
        BATCH_KEYS,
        FEATURE_DIM,
        MASK_PADDING,
        LOG_DURATION,
        BATCH_PROFILE_MEAN,
        COVERAGE,
        BATCH_ROWS,
    ),
)
#: The keys a batch must carry for the timing head to train on it.
REQUIRED_BATCH_KEYS = ("profile", "mask", "duration", "log_duration", "features")


@dataclass
class EpochFigures:
    """What one pass over the DataLoader saw."""

    first_batch: dict[str, Any] = field(default_factory=dict)
    batches: int = 0
    rows: int = 0
    profile_sum: torch.Tensor | None = None
    width_mismatch: int | None = None
    padding_rows: int = 0
    prefix_rows: int = 0
    length_rows: int = 0
    log_dev_rows: int = 0
    log_max_dev: float = 0.0
    index_counts: torch.Tensor | None = None
    durations: list[torch.Tensor] = field(default_factory=list)
    match: RowMatch = field(default_factory=RowMatch)
    error: str | None = None
    #: Batch keys the user's dataset lacks and that were computed (key -> how).
    derived: dict[str, str] = field(default_factory=dict)


def run(ctx: StageContext) -> StageResult:
    """Stage 2 on the context's cache (and checkpoint, for the conditioning dimension).

    As in stage 1, numpy's warnings about NaN and inf values are silenced: the checks
    report those values, and a warning on stderr would only look like a crash.
    """
    with np.errstate(all="ignore"):
        return _run(ctx)


def _run(ctx: StageContext) -> StageResult:
    result = CHECKS.new_result()
    cache = ctx.timing_cache()
    if cache is None:
        reason = ctx.cache_unavailable_reason()
        return CHECKS.skip_all(result, reason)
    try:
        dataset = _instantiate(ctx, cache)
        n_items = len(dataset)  # type: ignore[arg-type]
    except UsageError:
        raise  # `dataset = ...` names nothing importable: the table's to fix (exit 2)
    except Exception as exc:  # a user's class may raise anything (UserCodeError: the call)
        result.checks = [
            INSTANTIATE.check(
                "fail",
                measured=f"{type(exc).__name__}: {exc}",
                expected="a Dataset built from the cache",
                message=f"The dataset could not be instantiated: {exc}.",
            ),
            *CHECKS.skipped_after(INSTANTIATE, "the dataset could not be instantiated"),
        ]
        return result
    name = dataset.spec if isinstance(dataset, UserDataset) else type(dataset).__name__
    result.checks.append(
        INSTANTIATE.check(
            "pass",
            measured={"class": name, "len": n_items},
            expected=f"a Dataset over the cache's {cache.n_rows} rows",
            message=f"{name} built from the cache with {n_items} items.",
        )
    )
    epoch = _one_epoch(ctx, dataset, cache)
    keys_check = _batch_keys_check(epoch)
    result.checks.append(keys_check)
    if epoch.error is not None and not epoch.first_batch:
        result.checks += CHECKS.errored_after(BATCH_KEYS, epoch.error)
        return result
    cache_mean = scan_for(ctx, stage=Stage.DATASET).mean_profile
    result.checks += [
        _feature_dim_check(ctx, epoch, cache),
        _mask_padding_check(epoch),
        _log_duration_check(ctx, epoch),
        _profile_mean_check(ctx, epoch, cache_mean),
        _coverage_check(epoch, cache),
        _batch_rows_check(epoch),
    ]
    result.stats, result.plots = _figures(epoch, cache_mean)
    result.assumptions += [
        Assumption("dataset", f"batch {key}", "derived", f"{how}: your batches carry no {key}")
        for key, how in epoch.derived.items()
    ]
    result.figures = [f"{epoch.rows:,} rows in {epoch.batches} batches"]
    batch_mean = result.stats.get("batch_profile_mean")
    if batch_mean:
        result.figures.append(
            f"batch mean first/mid/last {fmt(batch_mean['first'])} / {fmt(batch_mean['mid'])} / "
            f"{fmt(batch_mean['last'])}"
        )
    return result


def _instantiate(ctx: StageContext, cache: TimingCache) -> Dataset[Any]:
    spec = ctx.settings.dataset_spec
    if spec is None:
        return TimingDataset(cache)
    cls = load_object(spec, "--dataset", ctx.settings.pythonpath)
    if not callable(cls):
        raise UsageError(f"--dataset {spec}: {cls!r} is not a class")
    return UserDataset(call_user(spec, cls, str(cache.path)), spec)


def _loader(ctx: StageContext, dataset: Dataset[Any]) -> DataLoader[Any]:
    generator = torch.Generator().manual_seed(ctx.settings.seed)
    collate = (
        collate_timing
        if isinstance(dataset, TimingDataset)
        else BatchNames(ctx.settings.keys["batch"], ctx.settings.batch_positions)
    )
    return DataLoader(
        dataset,
        batch_size=ctx.settings.batch_size,
        shuffle=True,
        generator=generator,
        collate_fn=collate,
    )


def _one_epoch(ctx: StageContext, dataset: Dataset[Any], cache: TimingCache) -> EpochFigures:
    """Iterate one epoch, folding every batch into the figures the checks need."""
    epoch = EpochFigures()
    total = max(len(dataset), 1)  # type: ignore[arg-type]
    loader = _loader(ctx, dataset)
    batches: Iterator[Any] = iter(loader)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            break
        except Exception as exc:  # the user's __getitem__ may raise anything
            epoch.error = (
                str(exc)
                if isinstance(exc, UserCodeError)
                else f"iterating the DataLoader raised {type(exc).__name__}: {exc}"
            )
            break
        if not isinstance(batch, dict):
            epoch.error = f"batches are {type(batch).__name__}, not dicts of tensors"
            break
        if epoch.batches == 0:
            epoch.first_batch = batch
        _fold(epoch, batch, cache, ctx.settings.tolerances.log_duration_abs)
        if epoch.batches % 16 == 0:
            ctx.tick(Stage.DATASET, min(epoch.rows / total, 1.0), "iterating one epoch")
    if isinstance(loader.collate_fn, BatchNames):
        epoch.derived = dict(loader.collate_fn.derived)
    return epoch


def _tensor(batch: dict[str, Any], key: str) -> torch.Tensor | None:
    value = batch.get(key)
    return value if isinstance(value, torch.Tensor) else None


def _fold(epoch: EpochFigures, batch: dict[str, Any], cache: TimingCache, log_tol: float) -> None:
    epoch.batches += 1
    profile = _tensor(batch, "profile")
    mask = _tensor(batch, "mask")
    duration = _tensor(batch, "duration")
    rows = next((t.shape[0] for t in (profile, duration, mask) if t is not None and t.dim()), 0)
    epoch.rows += rows
    if profile is not None and profile.dim() == 2:
        p = profile.double()
        if epoch.profile_sum is None:
            epoch.profile_sum = torch.zeros(p.shape[1], dtype=torch.float64)
        if p.shape[1] == epoch.profile_sum.shape[0]:
            epoch.profile_sum += p.sum(dim=0)
        if p.shape[1] != cache.max_len:
            epoch.width_mismatch = int(p.shape[1])
        if mask is not None and mask.shape == p.shape:
            m = mask if mask.dtype == torch.bool else mask != 0
            if int(p.masked_fill(m, 0.0).count_nonzero()):  # rows are counted only if any
                epoch.padding_rows += int((torch.where(m, 0.0, p) != 0).any(dim=1).sum())
            steps = m.sum(dim=1)
            epoch.prefix_rows += _not_prefix_rows(m, steps)
            length = _tensor(batch, "length")
            if length is not None and length.shape == (p.shape[0],):
                epoch.length_rows += int((steps != length).sum())
    log_duration = _tensor(batch, "log_duration")
    if duration is not None and log_duration is not None and duration.shape == log_duration.shape:
        dev = (log_duration.double() - torch.log(duration.double())).abs()
        epoch.log_dev_rows += int((~(dev <= log_tol)).sum())
        epoch.log_max_dev = max(epoch.log_max_dev, float(dev.nan_to_num(math.inf).max()))
    index = _tensor(batch, "index")
    if index is not None and index.dim() == 1:
        valid = index[(index >= 0) & (index < cache.n_rows)].long()
        if epoch.index_counts is None:
            epoch.index_counts = torch.zeros(cache.n_rows, dtype=torch.int64)
        # in place and O(batch): a bincount over all N rows per batch made an epoch O(N²/B)
        epoch.index_counts.index_add_(0, valid, torch.ones_like(valid))
    elif duration is not None:
        epoch.durations.append(duration.detach().reshape(-1).float())
    epoch.match.fold(cache, batch)


def _not_prefix_rows(m: torch.Tensor, steps: torch.Tensor) -> int:
    """Rows of a [B, L] bool mask that are not a non-empty prefix of valid steps.

    A row is a prefix when it equals the prefix of its own sum, so one gather from the
    table of all L + 1 prefixes and one comparison settle a whole batch of valid masks;
    only a batch with a bad row pays for finding which.
    """
    width = m.shape[1]
    prefixes = torch.arange(width)[None, :] < torch.arange(width + 1)[:, None]
    if width and torch.equal(m, prefixes.index_select(0, steps)):
        return int((steps == 0).sum())
    holes = m[:, 1:] & ~m[:, :-1]
    return int((holes.any(dim=1) | ~m[:, 0]).sum())


def _batch_keys_check(epoch: EpochFigures) -> Check:
    if not epoch.first_batch:
        return BATCH_KEYS.check(
            "error" if epoch.error else "fail",
            measured=epoch.error or "no batches",
            expected=list(REQUIRED_BATCH_KEYS),
            message=f"No batch could be read: {epoch.error or 'the DataLoader yielded nothing'}.",
        )
    keys = sorted(map(str, epoch.first_batch))
    missing = [k for k in REQUIRED_BATCH_KEYS if _tensor(epoch.first_batch, k) is None]
    return BATCH_KEYS.check(
        "fail" if missing else "pass",
        measured=keys,
        expected=list(REQUIRED_BATCH_KEYS),
        message=(
            f"Batches lack {', '.join(missing)} (found {', '.join(keys)}); if one of those "
            f"is the {missing[0]}, name it: [tool.timing-tui.keys.batch] {missing[0]} = "
            f'"that key" (or --key batch.{missing[0]}=THAT_KEY).'
            if missing
            else "Batches carry " + ", ".join(k for k in keys if k in ITEM_KEYS) + "."
        ),
    )


def _feature_dim_check(ctx: StageContext, epoch: EpochFigures, cache: TimingCache) -> Check:
    features = _tensor(epoch.first_batch, "features")
    checkpoint = ctx.value("checkpoint")
    cond_dim = checkpoint.cond_dim_for(cache.feature_dim) if checkpoint is not None else None
    reference, source = (
        (int(cond_dim), "the checkpoint's conditioning dim")
        if cond_dim is not None
        else (cache.feature_dim, "the cache's feature dim")
    )
    if features is None or features.dim() != 2:
        return FEATURE_DIM.check(
            "fail",
            measured=None if features is None else list(features.shape),
            expected=reference,
            message="Batches have no [B, D] features tensor.",
        )
    dim = int(features.shape[1])
    if checkpoint is not None and cond_dim is None and dim == reference:
        return FEATURE_DIM.check(
            "skip",
            measured=dim,
            expected=None,
            message=f"Batch features have {dim} columns, as the cache's; the model's width is "
            f"not known: {WIDTH_QUESTION}.",
        )
    return FEATURE_DIM.check(
        "pass" if dim == reference else "fail",
        measured=dim,
        expected=reference,
        message=(
            f"Batch features have {dim} columns, as {source}."
            if dim == reference
            else f"Batch features have {dim} columns but {source} is {reference}: the model "
            "would be conditioned on a different vector than the one it was built for."
        ),
    )


def _mask_padding_check(epoch: EpochFigures) -> Check:
    bad = epoch.padding_rows + epoch.prefix_rows + epoch.length_rows
    has_mask = _tensor(epoch.first_batch, "mask") is not None
    if not has_mask:
        return MASK_PADDING.errored("batches carry no mask")
    return MASK_PADDING.check(
        "fail" if bad or epoch.error else "pass",
        measured={
            "rows_with_padding_mass": epoch.padding_rows,
            "rows_mask_not_prefix": epoch.prefix_rows,
            "rows_mask_sum_not_length": epoch.length_rows,
        },
        expected="profile 0 where mask is 0; masks are prefixes of `length` steps",
        message=(
            "Masks zero every padded step in every batch."
            if not bad
            else f"Over one epoch, {epoch.padding_rows} rows have profile mass where the mask "
            f"is 0, {epoch.prefix_rows} masks are not prefixes, {epoch.length_rows} mask sums "
            "differ from length."
        ),
    )


def _log_duration_check(ctx: StageContext, epoch: EpochFigures) -> Check:
    if "log_duration" in epoch.derived:
        return LOG_DURATION.skipped(
            "your dataset's batches carry no log_duration (the model takes the log of the "
            "duration itself): there is none of theirs to compare with log(duration)"
        )
    if _tensor(epoch.first_batch, "log_duration") is None:
        return LOG_DURATION.errored("batches carry no log_duration")
    tol = ctx.settings.tolerances.log_duration_abs
    ok = epoch.log_dev_rows == 0
    return LOG_DURATION.check(
        "pass" if ok else "fail",
        measured={"rows_off": epoch.log_dev_rows, "max_abs_dev": epoch.log_max_dev},
        expected=f"|log_duration − log(duration)| ≤ {tol:g}",
        message=(
            "Batch log_duration equals log(duration)."
            if ok
            else f"{epoch.log_dev_rows} rows where batch log_duration ≠ log(duration) "
            f"(largest gap {fmt(epoch.log_max_dev)})."
        ),
    )


def _profile_mean_check(ctx: StageContext, epoch: EpochFigures, cache_mean: np.ndarray) -> Check:
    tol = ctx.settings.tolerances
    if epoch.profile_sum is None or epoch.rows == 0:
        return BATCH_PROFILE_MEAN.errored("batches carry no [B, L] profile")
    if epoch.width_mismatch is not None or epoch.profile_sum.shape[0] != cache_mean.shape[0]:
        width = epoch.width_mismatch or epoch.profile_sum.shape[0]
        return BATCH_PROFILE_MEAN.check(
            "fail",
            measured={"width": width},
            expected={"width": int(cache_mean.shape[0])},
            message=f"Batch profiles have {width} steps, the cache {cache_mean.shape[0]}.",
        )
    epoch_mean = (epoch.profile_sum / epoch.rows).numpy()
    gap = np.abs(epoch_mean - cache_mean)
    allowed = tol.epoch_mean_rel * np.abs(cache_mean) + tol.epoch_mean_abs
    bad_bins = int((~(gap <= allowed)).sum())
    worst = int(np.argmax(gap - allowed))
    return BATCH_PROFILE_MEAN.check(
        "fail" if bad_bins else "pass",
        measured={
            "bins_off": bad_bins,
            "worst_bin": worst,
            "epoch_mean": float(epoch_mean[worst]),
            "cache_mean": float(cache_mean[worst]),
        },
        expected=f"epoch mean = cache mean per bin (rel {tol.epoch_mean_rel:g}, "
        f"abs {tol.epoch_mean_abs:g})",
        message=(
            "Accumulated over one epoch, the batch mean profile equals the cache's."
            if not bad_bins
            else f"Over one epoch the batch mean profile differs from the cache's in {bad_bins} "
            f"bins (bin {worst}: {fmt(float(epoch_mean[worst]))} vs "
            f"{fmt(float(cache_mean[worst]))})."
        ),
    )


def _coverage_check(epoch: EpochFigures, cache: TimingCache) -> Check:
    if epoch.error is not None:
        return COVERAGE.errored(epoch.error)
    n = cache.n_rows
    if epoch.index_counts is not None:
        missed = int((epoch.index_counts == 0).sum())
        repeated = int((epoch.index_counts > 1).sum())
        ok = missed == 0 and repeated == 0 and epoch.rows == n
        how = "by row index"
    else:
        seen = torch.cat(epoch.durations) if epoch.durations else torch.zeros(0)
        expected = torch.sort(cache.duration.float()).values
        same_size = seen.numel() == n
        ok = same_size and torch.equal(torch.sort(seen).values, expected)
        missed = max(n - seen.numel(), 0)
        repeated = max(seen.numel() - n, 0)
        how = "by the multiset of durations (batches carry no index)"
    return COVERAGE.check(
        "pass" if ok else "fail",
        measured={"rows_seen": epoch.rows, "missed": missed, "repeated": repeated},
        expected={"rows": n, "each": "exactly once"},
        message=(
            f"One epoch visits each of the {n} rows exactly once (checked {how})."
            if ok
            else f"One epoch saw {epoch.rows} rows for a cache of {n} ({missed} never, "
            f"{repeated} more than once; checked {how})."
        ),
    )


#: How each field of a batch row that is another row's is named.
_FIELDS = {
    "duration_off": "duration (relative 1e-5)",
    "length_off": "length",
    "profile_off": f"profile (total variation > {PROFILE_TV:g})",
    "features_off": "features (beyond one affine map per column)",
}


def _batch_rows_check(epoch: EpochFigures) -> Check:
    if epoch.error is not None:
        return BATCH_ROWS.errored(epoch.error)
    m = epoch.match.as_dict()
    expected = "each batch row's duration, length, profile and features are the cache row's"
    if not m["rows"]:
        return BATCH_ROWS.skipped("batches carry no [B] duration to match rows by")
    how = (
        "by the row index batches carry"
        if m["by"] == "index"
        else "by content: duration, then length and profile (batches carry no index)"
    )
    rows = int(m["rows"])
    fields = {key: int(m[key]) for key in _FIELDS if int(m[key])}
    shifted = int(m["profile_shifted"])
    unmatched = int(m["unmatched"])
    off = max([unmatched, *fields.values()])
    measured: dict[str, Any] = {**m, "off": off}
    if not fields and not unmatched:
        return BATCH_ROWS.check(
            "pass",
            measured,
            expected,
            f"Every batch row is the cache row it claims to be (matched {how}).",
        )
    parts = [
        f"the {_FIELDS[key]} of another row on {n:,} ({n / rows:.0%})"
        for key, n in fields.items()
        if not (key == "profile_off" and shifted == n)
    ]
    if shifted and shifted == fields.get("profile_off"):
        parts.append(
            f"the row's own profile shifted by one step within its valid steps on {shifted:,} "
            f"({shifted / rows:.0%}: each step's share of the duration served at the next or "
            "previous step, an off-by-one between the profile and the mask)"
        )
        measured["shifted_one_step"] = shifted
    if unmatched:
        parts.append(f"{unmatched:,} rows with an index outside the cache")
    measured["drifted"] = [
        _FIELDS[key].split(" (")[0]
        for key in fields
        if not (key == "profile_off" and "shifted_one_step" in measured)
    ]
    return BATCH_ROWS.check(
        "fail",
        measured,
        expected,
        f"Of {rows:,} batch rows matched {how}, batches carry "
        + "; ".join(parts)
        + ": the dataset puts the wrong row's data in a batch.",
    )


def _figures(epoch: EpochFigures, cache_mean: np.ndarray) -> tuple[dict[str, Any], list[Plot]]:
    profile = _tensor(epoch.first_batch, "profile")
    stats: dict[str, Any] = {"batches": epoch.batches, "rows": epoch.rows}
    plots: list[Plot] = []
    if profile is not None and profile.dim() == 2:
        batch_mean = torch.mean(profile.double(), dim=0).numpy()
        stats["batch_size"] = int(profile.shape[0])
        stats["batch_profile_mean"] = {
            "first": float(batch_mean[0]),
            "mid": float(batch_mean[len(batch_mean) // 2]),
            "last": float(batch_mean[-1]),
        }
        steps = list(range(len(cache_mean)))
        plots.append(
            Plot(
                title="Mean profile: one batch vs the cache",
                kind="line",
                series=[
                    Series("cache", steps, cache_mean.tolist()),
                    Series("batch", list(range(len(batch_mean))), batch_mean.tolist()),
                ],
                xlabel="step",
                ylabel="share of duration",
                log_y=True,
            )
        )
    return stats, plots
