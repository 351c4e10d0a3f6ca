"""The classifier two-sample test: calibrated under the null, powerful on a real difference.

Calibration is measured the way Lopez-Paz & Oquab define the test's level: draw two
disjoint samples from the *same* real data (random halves of real Balabit segments), run
the test, and count how often it rejects at α = 0.05 over many seeds. Power: the same
draws with one side's sequences run backwards (same pooled Δt and |vel|, reversed profile).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from tui_timing.artifacts.eval_dump import EvalSide, parse_side
from tui_timing.data.eval_dump_maker import Sequences, real_sequences
from tui_timing.stages import c2st

ALPHA = 0.05
SEEDS = 200
ROWS_PER_SIDE = 600


@pytest.fixture(scope="module")
def pool(small_sessions: list[Path]) -> Sequences:
    return real_sequences(small_sessions)


@pytest.fixture(scope="module")
def features(pool: Sequences) -> np.ndarray:
    real = side(pool, "real")
    return c2st.sequence_features(real, c2st.Scales.of(real))


def side(seqs: Sequences, name: str) -> EvalSide:
    return parse_side({"xy": seqs.xy, "dt": seqs.dt, "mask": seqs.mask}, name, "test")


def backwards(seqs: Sequences) -> Sequences:
    """Every path run from its end to its start (points and Δt reversed together)."""
    lengths = seqs.mask.sum(axis=1)[:, None]
    point = np.maximum(lengths - np.arange(seqs.xy.shape[1]), 0)
    step = np.where(seqs.mask, lengths - 1 - np.arange(seqs.dt.shape[1]), 0)
    return Sequences(
        xy=np.take_along_axis(seqs.xy, point[..., None], axis=1),
        dt=np.where(seqs.mask, np.take_along_axis(seqs.dt, step, axis=1), 0.0),
        mask=seqs.mask,
    )


def p_values(a: np.ndarray, b: np.ndarray, seeds: range) -> np.ndarray:
    """C2ST p-values, each seed drawing its own disjoint halves of the rows."""
    out = []
    for seed in seeds:
        order = np.random.default_rng(10_000 + seed).permutation(a.shape[0])
        first, second = order[:ROWS_PER_SIDE], order[ROWS_PER_SIDE : 2 * ROWS_PER_SIDE]
        out.append(c2st.c2st(a[first], b[second], seed).p_value)
    return np.array(out)


def test_false_alarm_rate_on_two_halves_of_real_data_is_near_alpha(features: np.ndarray) -> None:
    p = p_values(features, features, range(SEEDS))
    rate = float(np.mean(p < ALPHA))
    # 200 draws at a true level of 5% give 10 ± 3 alarms; the exact binomial test on a
    # balanced held-out set can only be conservative, never liberal.
    assert 0.01 <= rate <= 0.09, f"false-alarm rate {rate:.3f} over {SEEDS} seeds"
    # Under the null the p-values are (near) uniform: no pile-up anywhere.
    assert 0.4 < float(np.mean(p)) < 0.6
    assert float(np.mean(p < 0.5)) == pytest.approx(0.5, abs=0.1)


def test_power_on_reversed_sequences(pool: Sequences, features: np.ndarray) -> None:
    scales = c2st.Scales.of(side(pool, "real"))
    reversed_features = c2st.sequence_features(side(backwards(pool), "fake"), scales)
    p = p_values(features, reversed_features, range(20))
    assert float(np.mean(p < ALPHA)) >= 0.95, f"power {np.mean(p < ALPHA):.2f}"


def test_features_are_finite_and_the_result_is_seeded(
    pool: Sequences, features: np.ndarray
) -> None:
    assert features.shape == (pool.n_rows, len(c2st.FEATURE_NAMES))
    assert np.isfinite(features).all()
    before = torch.random.get_rng_state()
    first = c2st.c2st(features[:400], features[400:800], seed=3)
    assert torch.equal(before, torch.random.get_rng_state())  # the global RNG is untouched
    assert c2st.c2st(features[:400], features[400:800], seed=3) == first
    assert first.n_train + first.n_test == 400


def test_too_few_sequences_are_refused(features: np.ndarray) -> None:
    with pytest.raises(ValueError, match="at least"):
        c2st.c2st(features[:10], features[10:20], seed=0)


@pytest.mark.parametrize("n", [1, 2, 7, 30, 501])
def test_binomial_tail_is_exact(n: int) -> None:
    for k in {0, 1, n // 2, n // 2 + 1, n - 1, n}:
        exact = sum(math.comb(n, i) for i in range(k, n + 1)) / 2**n
        assert c2st.binomial_upper_tail(k, n) == pytest.approx(exact, rel=1e-9, abs=1e-300)


def test_auc_equals_the_pairwise_definition() -> None:
    rng = np.random.default_rng(0)
    scores = np.round(rng.normal(size=40), 1)  # rounding makes ties
    labels = np.repeat([0.0, 1.0], 20)
    pos, neg = scores[labels == 1], scores[labels == 0]
    pairs = [(1.0 if p > q else 0.5 if p == q else 0.0) for p, q in itertools.product(pos, neg)]
    assert c2st.roc_auc(scores, labels) == pytest.approx(np.mean(pairs))
