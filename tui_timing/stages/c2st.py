"""Classifier two-sample test (Lopez-Paz & Oquab, 2017) on per-sequence timing features.

If real and generated sequences come from the same distribution, no classifier can tell
them apart better than chance on data it was not trained on. So: describe every sequence
by a fixed feature vector (duration, length, Δt and |vel| quantiles, profile shape, path
geometry), balance the two classes, hold out half of each, train a small torch MLP on the
rest, and score the held-out half. Under the null hypothesis the number of correct
held-out predictions is at most as spread as Binomial(n_test, 1/2) (a balanced test set
makes the binomial tail exact or conservative, whatever the classifier learned), so the
one-sided binomial tail is a valid p-value and no permutation is needed. Rows of a paired
dump (fake i generated for real i) are split together, so no pair straddles train and test.

Everything is seeded: the subsampling, the split, the initialization and the training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from tui_timing.artifacts.eval_dump import EvalSide
from tui_timing.model.threads import one_cpu_thread

FEATURE_NAMES: tuple[str, ...] = (
    "log duration",
    "log length",
    "log Δt q10",
    "log Δt q25",
    "log Δt q50",
    "log Δt q75",
    "log Δt q90",
    "zero-Δt share",
    "first-step share",
    "last-step share",
    "log |vel| q50",
    "log |vel| q90",
    "log path length",
    "straightness",
)
_DT_QUANTILES = (0.10, 0.25, 0.50, 0.75, 0.90)
_VEL_QUANTILES = (0.50, 0.90)
#: Floors under the logs, as a share of the real sequences' typical (median) value.
_FLOOR_SHARE = 0.01

#: At most this many sequences per class enter the test (a 14-feature MLP needs no more).
MAX_ROWS_PER_CLASS = 4096
#: Fewer than this many per class leave too small a held-out set for any conclusion.
MIN_ROWS_PER_CLASS = 20
HIDDEN = 32
TRAIN_STEPS = 200
LEARNING_RATE = 1e-2
WEIGHT_DECAY = 1e-3


@dataclass(frozen=True)
class Scales:
    """Typical magnitudes of the real sequences: the floors that keep logs finite."""

    dt: float
    vel: float
    step: float

    @staticmethod
    def of(real: EvalSide) -> Scales:
        """The floors from the real side only, so both sides are mapped the same way."""
        dt = real.valid_dt()
        steps = real.step_lengths[real.mask]
        vel = real.velocities()
        return Scales(
            dt=_floor(dt),
            vel=_floor(vel),
            step=_floor(steps),
        )


@dataclass(frozen=True)
class C2stResult:
    """The held-out figures of one two-sample test."""

    accuracy: float
    auc: float
    p_value: float
    n_train: int  # per class
    n_test: int  # per class
    seed: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "auc": self.auc,
            "p_value": self.p_value,
            "n_train_per_class": self.n_train,
            "n_test_per_class": self.n_test,
            "features": len(FEATURE_NAMES),
            "test": "one-sided exact binomial on balanced held-out accuracy",
            "seed": self.seed,
        }


def sequence_features(side: EvalSide, scales: Scales) -> np.ndarray:
    """One row of FEATURE_NAMES per sequence, float64 [N, 14]; no NaN."""
    mask = side.mask
    lengths = side.lengths.astype(np.float64)
    durations = side.durations
    steps = side.step_lengths
    dt = np.where(mask, side.dt, np.nan)
    log_dt = np.log(dt + scales.dt)
    moving = side.moving_steps()
    vel = np.full(side.dt.shape, np.nan)
    vel[moving] = steps[moving] / side.dt[moving]
    last = mask.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1)
    rows = np.arange(side.n_rows)
    safe_duration = np.where(durations > 0, durations, 1.0)
    path = steps.sum(axis=1)
    chord = np.hypot(*side.disp.sum(axis=1).T)
    columns = [
        np.log(durations + scales.dt),
        np.log(lengths),
        *_row_quantiles(log_dt, _DT_QUANTILES),
        np.count_nonzero(mask & (side.dt == 0), axis=1) / lengths,
        np.where(durations > 0, side.dt[:, 0] / safe_duration, 1.0 / lengths),
        np.where(durations > 0, side.dt[rows, last] / safe_duration, 1.0 / lengths),
        *_row_quantiles(np.log(vel + scales.vel), _VEL_QUANTILES),
        np.log(path + scales.step),
        np.where(path > 0, chord / np.where(path > 0, path, 1.0), 1.0),
    ]
    features = np.stack(columns, axis=1)
    # A row whose steps all have Δt = 0 has no velocity; give it the typical value.
    missing = np.isnan(features)
    if missing.any():
        fill = np.nanmedian(features, axis=0)
        features[missing] = np.take(np.nan_to_num(fill), np.nonzero(missing)[1])
    return features


def compare(real: EvalSide, fake: EvalSide, seed: int) -> C2stResult:
    """C2ST of real against fake sequences (features scaled by the real side's magnitudes).

    Sides with as many rows are treated as paired (fake i made for real i), which is how
    eval dumps are usually written; for unpaired sides one shared permutation is still a
    uniformly random split, so nothing is lost when the guess is wrong.
    """
    scales = Scales.of(real)
    return c2st(
        sequence_features(real, scales),
        sequence_features(fake, scales),
        seed,
        paired=real.given_rows == fake.given_rows and np.array_equal(real.rows, fake.rows),
    )


def c2st(real_x: np.ndarray, fake_x: np.ndarray, seed: int, *, paired: bool = False) -> C2stResult:
    """Train on half of each class, test on the other half; accuracy, AUC and p-value.

    `paired` says row i of both matrices belong together (it needs as many rows on both
    sides); they then share one permutation, so a pair lands wholly in train or in test.
    """
    paired = paired and real_x.shape[0] == fake_x.shape[0]
    n = min(real_x.shape[0], fake_x.shape[0], MAX_ROWS_PER_CLASS)
    if n < MIN_ROWS_PER_CLASS:
        raise ValueError(f"C2ST needs at least {MIN_ROWS_PER_CLASS} sequences per class, got {n}")
    rng = np.random.default_rng(seed)
    real_order = rng.permutation(real_x.shape[0])[:n]
    fake_order = real_order if paired else rng.permutation(fake_x.shape[0])[:n]
    n_train = n // 2
    n_test = n - n_train
    train_x = np.concatenate([real_x[real_order[:n_train]], fake_x[fake_order[:n_train]]])
    test_x = np.concatenate([real_x[real_order[n_train:]], fake_x[fake_order[n_train:]]])
    train_y = np.repeat([0.0, 1.0], n_train)
    test_y = np.repeat([0.0, 1.0], n_test)
    mean = train_x.mean(axis=0)
    std = train_x.std(axis=0)
    std[std == 0] = 1.0
    scores = _fit_and_score((train_x - mean) / std, train_y, (test_x - mean) / std, seed)
    correct = int(np.count_nonzero((scores > 0) == (test_y == 1)))
    return C2stResult(
        accuracy=correct / (2 * n_test),
        auc=roc_auc(scores, test_y),
        p_value=binomial_upper_tail(correct, 2 * n_test),
        n_train=n_train,
        n_test=n_test,
        seed=seed,
    )


def _fit_and_score(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, seed: int
) -> np.ndarray:
    """A one-hidden-layer MLP fitted full-batch; its logits on the held-out rows.

    The global torch RNG is forked, so running a C2ST never shifts anyone else's seed. The
    model is so small that per-operation overhead dominates: one thread is the fastest, and
    on a loaded machine several threads waiting on each other are many times slower.
    """
    with one_cpu_thread(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _train(train_x, train_y, test_x)


def _train(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray) -> np.ndarray:
    model = nn.Sequential(nn.Linear(train_x.shape[1], HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 1))
    optimizer = torch.optim.Adam(
        model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY, fused=True
    )
    x = torch.from_numpy(train_x).float()
    y = torch.from_numpy(train_y).float()
    loss_fn = nn.BCEWithLogitsLoss()
    for _ in range(TRAIN_STEPS):
        optimizer.zero_grad()
        loss = loss_fn(model(x).squeeze(1), y)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return model(torch.from_numpy(test_x).float()).squeeze(1).double().numpy()


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve: P(score of a positive > score of a negative), ties 1/2."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(scores.shape[0])
    ranks[order] = np.arange(1, scores.shape[0] + 1)
    # Average the ranks of tied scores (the Mann-Whitney convention).
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    ranks = (sums / counts)[inverse]
    positive = labels == 1
    n_pos = int(positive.sum())
    n_neg = labels.shape[0] - n_pos
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def binomial_upper_tail(k: int, n: int) -> float:
    """P(X >= k) for X ~ Binomial(n, 1/2), exactly (summed in log space)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    log_terms = [
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2)
        for i in range(k, n + 1)
    ]
    top = max(log_terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in log_terms))


def _row_quantiles(values: np.ndarray, qs: tuple[float, ...]) -> list[np.ndarray]:
    """Per-row quantiles ignoring NaN (rows that are all NaN give NaN)."""
    valid = ~np.isnan(values)
    out = np.full((len(qs), values.shape[0]), np.nan)
    has = valid.any(axis=1)
    if has.any():
        out[:, has] = np.nanquantile(values[has], qs, axis=1)
    return list(out)


def _floor(values: np.ndarray) -> float:
    positive = values[values > 0]
    return _FLOOR_SHARE * float(np.median(positive)) if positive.size else 1.0
