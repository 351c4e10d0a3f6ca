"""The figures behind the verdict checks, on their own: each one separates the fault it
is for from the healthy case, on real rows where it reads real rows."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sample_paths import CACHE, INCREMENTS

from tui_timing.artifacts.cache import TimingCache, as_timing_cache, load_cache
from tui_timing.config import Settings
from tui_timing.model.capacity import ProbeBudget, probe_rows
from tui_timing.model.duration_fit import gap_parts, run_duration_fit, sigma_pinning
from tui_timing.model.heads import duration_nll
from tui_timing.model.sample import predict_rows
from tui_timing.numerics.noise import quantile_interval, quantile_noise, ratio_noise
from tui_timing.numerics.row_checks import (
    count_features,
    duration_units,
    real_vs_cache,
    row_alignment,
)
from tui_timing.numerics.sampler_stats import (
    calibration,
    duration_ceiling,
    passthrough,
    profile_dispersion,
    row_dispersion,
    same_durations,
    same_profiles,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def cache() -> TimingCache:
    return as_timing_cache(load_cache(CACHE))


# --- cache.units --------------------------------------------------------------------------


def test_seconds_are_plausible_and_other_units_are_named() -> None:
    assert duration_units(1.045).plausible
    ms = duration_units(1045.0)
    assert not ms.plausible and ms.factor == 1000 and ms.unit == "milliseconds"
    us = duration_units(1.2e6)
    assert us.factor == 1e6 and us.unit == "microseconds"
    assert duration_units(0.005).unit == "minutes"  # 0.3 s
    assert duration_units(1e-5).unit is None  # implausible, and no listed unit explains it
    assert not duration_units(math.nan).plausible


# --- cache.row_alignment ------------------------------------------------------------------


def test_count_features_are_found_by_name_not_path_lengths() -> None:
    names = ["path_length", "log_path_length", "n_points", "straightness", "seq_len"]
    assert count_features(names) == [2, 4]
    assert count_features(None) == []


def test_n_points_agrees_with_length_even_standardized(cache: TimingCache) -> None:
    column = cache.feature_names.index("n_points")
    points = cache.features[:, column].numpy()
    length = cache.length.numpy()
    assert row_alignment(points, length, column, "n_points").rows_off == 0
    standardized = (points - points.mean()) / points.std()
    assert row_alignment(standardized, length, column, "n_points").rows_off == 0


def test_shuffled_rows_are_off_and_a_shuffled_tenth_is_counted(cache: TimingCache) -> None:
    column = cache.feature_names.index("n_points")
    points = cache.features[:, column].numpy()
    length = cache.length.numpy()
    rng = np.random.default_rng(0)
    shuffled = row_alignment(points, length[rng.permutation(len(length))], column, "n_points")
    assert shuffled.share_off > 0.8
    part = length.copy()
    rows = rng.choice(len(length), size=len(length) // 10, replace=False)
    part[rows] = part[rng.permutation(rows)]
    tenth = row_alignment(points, part, column, "n_points")
    assert tenth.slope == pytest.approx(1.0) and tenth.intercept == pytest.approx(1.0)
    assert 0.05 < tenth.share_off <= 0.1


# --- model.duration_fit -------------------------------------------------------------------


def test_gap_parts_split_a_bias_and_a_sigma_off_exactly() -> None:
    rng = np.random.default_rng(0)
    mu = torch.from_numpy(rng.normal(size=20000))
    log_d = mu + 0.3 * torch.from_numpy(rng.normal(size=20000))
    sigma = torch.full_like(mu, math.log(0.3))
    _, bias, bias_nats, scale, _ = gap_parts(log_d, mu, sigma)
    assert abs(bias) < 0.01 and bias_nats < 1e-3 and scale == pytest.approx(1, abs=0.02)
    _, bias, bias_nats, scale, sigma_nats = gap_parts(log_d, mu - 0.6, sigma + math.log(2))
    assert bias == pytest.approx(0.6, abs=0.01)
    assert bias_nats == pytest.approx(0.6**2 / (2 * 0.6**2), abs=0.02)  # b² / 2σ², σ = 0.6
    assert scale == pytest.approx(0.5, abs=0.02)
    assert sigma_nats == pytest.approx(math.log(2) - 0.5 * (1 - 0.25), abs=0.02)


def test_a_head_that_ignores_the_features_is_worse_than_the_probe(cache: TimingCache) -> None:
    fit, held = probe_rows(cache.n_rows, ProbeBudget(), seed=0)
    log_d = cache.log_duration[held].double()
    marginal_mu = torch.full_like(log_d, float(cache.log_duration[fit].double().mean()))
    marginal_sigma = torch.full_like(log_d, float(cache.log_duration[fit].double().std().log()))
    result = run_duration_fit(cache, marginal_mu, marginal_sigma, fit, held)
    assert result.worse(0.1) and result.cause == "features"
    assert result.probe_nll < float(duration_nll(marginal_mu, marginal_sigma, log_d).mean())


def test_the_trained_sample_head_is_not_worse_than_the_probe(cache: TimingCache) -> None:
    from tui_timing.model.checkpoint import load_checkpoint

    model = load_checkpoint(INCREMENTS, Settings()).model
    assert model is not None
    fit, held = probe_rows(cache.n_rows, ProbeBudget(), seed=0)
    out = predict_rows(model, cache, held, torch.device("cpu"))
    result = run_duration_fit(cache, out.mu, out.log_sigma, fit, held)
    assert not result.worse(0.1), result
    shifted = run_duration_fit(cache, out.mu - 0.8, out.log_sigma, fit, held)
    assert shifted.worse(0.1) and shifted.cause == "bias"
    assert shifted.mu_bias == pytest.approx(result.mu_bias + 0.8, abs=1e-4)


def test_a_pinned_log_sigma_is_seen_at_its_floor() -> None:
    rng = np.random.default_rng(0)
    free = torch.from_numpy(rng.normal(-1.0, 0.3, size=4000))
    assert sigma_pinning(free).share < 0.05
    z = torch.from_numpy(rng.normal(-4.0, 1.0, size=4000))
    bounded = 0.8 + 0.5 * torch.tanh(z)
    pinned = sigma_pinning(bounded)
    assert pinned.edge == "floor" and pinned.share > 0.8
    assert pinned.value == pytest.approx(0.3, abs=0.01)
    assert sigma_pinning(torch.full((100,), -1.0)).share == 1.0


# --- sampler statistics ---------------------------------------------------------------------


def test_passthrough_counts_copied_rows_not_draws(cache: TimingCache) -> None:
    rows = torch.arange(500)
    real_d = cache.duration[rows].numpy()
    real_p = cache.profile[rows].numpy()
    length = cache.length[rows].numpy()
    copied = passthrough(same_durations(real_d, real_d), same_profiles(real_p, real_p, length))
    assert copied.share > 0.95
    drawn = np.exp(np.log(real_d) + np.random.default_rng(0).normal(0, 0.3, size=500))
    noisy = np.abs(real_p + np.random.default_rng(1).normal(0, 1e-3, size=real_p.shape))
    fresh = passthrough(same_durations(drawn, real_d), same_profiles(noisy, real_p, length))
    assert fresh.share == 0.0


def test_a_clip_at_a_quantile_is_a_ceiling_and_a_draw_is_not() -> None:
    rng = np.random.default_rng(0)
    real = np.exp(rng.normal(0, 0.7, size=4000))
    fake = np.exp(rng.normal(0, 0.9, size=2048))
    free = duration_ceiling(fake, real)
    assert free.at_ceiling == 1 and not free.clips(0.01)
    clipped = duration_ceiling(np.minimum(fake, np.quantile(real, 0.94)), real)
    assert clipped.clips(0.01) and clipped.share > 0.05
    assert clipped.real_above == pytest.approx(0.06, abs=0.005)


def test_dispersion_separates_a_dirichlet_from_real_and_smooth_profiles(
    cache: TimingCache,
) -> None:
    rows = torch.arange(min(cache.n_rows, 2000))
    profile, length = cache.profile[rows], cache.length[rows]
    real = row_dispersion(profile.numpy(), length.numpy())
    valid = torch.arange(profile.shape[1])[None, :] < length[:, None]
    flat = valid.double() / length[:, None]
    uniform = profile_dispersion(row_dispersion(flat.numpy(), length.numpy()), real)
    assert uniform.fake == 0.0 and uniform.ratio == 0.0
    alpha = (0.2 * flat).clamp_min(1e-3)
    draws = torch._standard_gamma(alpha, generator=torch.Generator().manual_seed(0)) * valid
    noisy = draws / draws.sum(dim=1, keepdim=True)
    assert profile_dispersion(row_dispersion(noisy.numpy(), length.numpy()), real).ratio > 1.4


# --- integration.real_vs_cache --------------------------------------------------------------


def test_real_vs_cache_names_zero_steps_and_lengths() -> None:
    rng = np.random.default_rng(0)
    dt = rng.choice([0.0, 0.016, 0.017], p=[0.05, 0.5, 0.45], size=5000)
    lengths = rng.integers(5, 60, size=200)
    same = real_vs_cache(dt[:2500], lengths[:100], dt[2500:], lengths[100:])
    assert same.findings(0.1, 2.0, 0.05, 0.2) == []
    doubled = np.concatenate([dt[:2500], np.zeros(2500)])
    cut = real_vs_cache(doubled, 2 * lengths[:100], dt[2500:], lengths[100:])
    found = " ".join(cut.findings(0.1, 2.0, 0.05, 0.2))
    assert "Δt = 0 on 53%" in found and "lengths differ" in found and "Δt median" in found


def test_order_statistic_intervals_cover_the_true_quantile_at_their_level() -> None:
    """The 95% interval of q05 from 200 draws covers the true q05 in about 95% of samples,
    and the judged band (1e-3 per figure, both samples noisy) is exceeded by two fresh
    samples of the same distribution in about 0.1% of pairs or fewer."""
    rng = np.random.default_rng(0)
    truth = math.exp(-1.6449)  # q05 of a log-normal(0, 1)
    covered, exceeded, trials = 0, 0, 2000
    for _ in range(trials):
        a, b = np.exp(rng.normal(size=200)), np.exp(rng.normal(size=200))
        lo, hi = quantile_interval(a, 0.05)
        covered += lo <= truth <= hi
        gap = abs(np.quantile(b, 0.05) / np.quantile(a, 0.05) - 1)
        exceeded += gap > quantile_noise(a, 0.05)
    assert 0.92 < covered / trials < 0.99
    assert exceeded / trials < 0.01


def test_the_noise_of_a_ratio_of_means_follows_the_standard_errors() -> None:
    assert ratio_noise(1.0, 0.0, 1.0, 0.0) == 1.0
    assert ratio_noise(1e-3, 5e-4, 1e-3, 5e-4) > 3  # a bin a few rows reach: wide
    assert ratio_noise(0.1, 1e-4, 0.1, 1e-4) < 1.01


def test_a_wide_spread_alone_does_not_read_as_a_shifted_mean() -> None:
    """log σ used as σ: z has sd ≈ 6 and mean 0; its sample mean wanders by 6/√n, which is
    the spread's doing, not a μ offset (users 15 and 16 read it as one)."""
    rng = np.random.default_rng(3)
    shifts = [calibration(6.5 * rng.normal(size=2048)).off() for _ in range(200)]
    assert all(off == ["sd"] for off in shifts)
    assert calibration(rng.normal(size=2048) + 0.6).off() == ["mean"]
    shared = np.repeat(rng.normal(size=8), 256)
    assert "lag1" in calibration(shared).off()
