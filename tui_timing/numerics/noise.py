"""How much a statistic moves by sampling noise alone, at the n it was computed from.

A comparison of a sampled figure with the real one is only a finding when the gap is
larger than both figures' own noise. Two tools, each exact or nearly so without a model
of the data:
- order-statistic intervals for quantiles: the p-quantile of n values lies between the
  order statistics k_lo and k_hi, where k ~ Binomial(n, p) (distribution-free);
- the standard error of a mean over rows, for profile bins (the rows that reach a bin are
  its support, often a few dozen for a middle or last bin).

`JUDGE_Z` sets how far out a comparison is judged: 3.29 standard errors, a two-sided
false-alarm rate of 1e-3 per figure, so that the handful of figures of a stage stays near
1% of healthy runs flagged; `SHOWN_Z` (1.96) is the 95% interval messages show.
"""

from __future__ import annotations

import math

import numpy as np

#: Two-sided normal quantile of the false-alarm rate each judged figure is held to (1e-3).
JUDGE_Z = 3.29
#: The interval messages show (95%).
SHOWN_Z = 1.96
#: Below this many rows a figure is shown but not judged.
MIN_SUPPORT = 30


def quantile_interval(values: np.ndarray, p: float, z: float = SHOWN_Z) -> tuple[float, float]:
    """The distribution-free interval of the p-quantile of `values` at normal quantile z:
    the order statistics at n·p ∓ z·√(n·p·(1 − p))."""
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    n = ordered.size
    if n == 0:
        return math.nan, math.nan
    spread = z * math.sqrt(n * p * (1 - p))
    lo = int(max(math.floor(n * p - spread), 0))
    hi = int(min(math.ceil(n * p + spread), n - 1))
    return float(ordered[lo]), float(ordered[hi])


def quantile_noise(values: np.ndarray, p: float, z: float = JUDGE_Z) -> float:
    """How far (relative) a p-quantile of a fresh sample of the same size may sit from this
    sample's by noise alone: the wider side of its interval, times √2 since both samples
    are noisy."""
    q = float(np.quantile(values, p)) if np.size(values) else math.nan
    lo, hi = quantile_interval(values, p, z)
    if not (math.isfinite(q) and q > 0 and lo > 0):
        return math.inf
    return math.sqrt(2) * max(hi / q - 1, 1 - lo / q)


def ratio_noise(
    fake_mean: float, fake_se: float, real_mean: float, real_se: float, z: float = JUDGE_Z
) -> float:
    """The factor a ratio of two independent means may reach by noise alone (≥ 1), from
    their standard errors (the delta method on the log of the ratio)."""
    if fake_mean <= 0 or real_mean <= 0:
        return math.inf
    log_se = math.sqrt((fake_se / fake_mean) ** 2 + (real_se / real_mean) ** 2)
    return math.exp(z * log_se)
