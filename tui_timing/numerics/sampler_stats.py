"""Statistics that tell whether a sampler samples at all, clips, or draws noisy profiles.

The sampler checks (docs/checks.md#stage-5-sampler) compare a sampler's output with the same rows'
real values. Three ways a sampler passes those comparisons for the wrong reason, or fails them
for a reason the quantiles do not name, are measured here:

- `passthrough`: the sampled durations or profiles *are* the cache's rows (a sampler that
  mixes real data in, with a mix of 0 handing back real rows untouched): every comparison
  then passes and tests nothing. A sampler that picks its own rows has no twins: its
  durations are looked up among the cache's own values instead (`CacheValues`), beside
  how often a draw lands on one by chance;
- `duration_ceiling`: sampled durations pile up at one hard maximum below the real upper
  tail (a clip at a quantile), which hides a σ that is too wide;
- `profile_dispersion`: how uneven profiles are *within* rows (the coefficient of
  variation of the step shares over each row's valid steps, median over rows): a
  Dirichlet draw with a low concentration matches the mean profile while each row is far
  noisier than real timing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Two values this close (relative) are the same number: a copy, not a draw.
SAME_REL = 1e-6
#: Profiles whose largest step difference is at most this are the same profile.
SAME_PROFILE_ABS = 1e-6


@dataclass(frozen=True)
class Passthrough:
    """How many sampled rows equal their real twin (duration, profile), out of how many."""

    duration_share: float
    profile_share: float
    rows: int

    @property
    def share(self) -> float:
        """The larger of the two shares: the sampler copies durations, profiles or both."""
        return max(self.duration_share, self.profile_share)


def same_durations(fake: np.ndarray, real: np.ndarray) -> np.ndarray:
    """Booleans: each sampled duration equals its twin's (relative to the real one)."""
    fake, real = np.asarray(fake, dtype=np.float64), np.asarray(real, dtype=np.float64)
    return np.abs(fake - real) <= SAME_REL * np.maximum(np.abs(real), 1e-12)


def same_profiles(fake: np.ndarray, real: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Booleans: each sampled profile equals its twin's on every step. Rows of one step
    always have the profile [1, 0, ...] whatever the sampler does, so they never count."""
    diff = np.abs(np.asarray(fake, dtype=np.float64) - np.asarray(real, dtype=np.float64))
    return (diff.max(axis=1) <= SAME_PROFILE_ABS) & (np.asarray(length) > 1)


def passthrough(same_duration: np.ndarray, same_profile: np.ndarray) -> Passthrough:
    """The shares of rows whose sampled duration and profile are copies of the real ones."""
    rows = int(same_duration.size)
    n = max(rows, 1)
    return Passthrough(
        duration_share=float(np.sum(same_duration)) / n,
        profile_share=float(np.sum(same_profile)) / n,
        rows=rows,
    )


#: Profiles are compared with the cache's on this grid (a copy read back through another
#: dtype or Δt / duration differs far less; a drawn profile far more).
PROFILE_GRID = 1e-5


def profile_hashes(profiles: np.ndarray) -> list[int]:
    """One hash per row of a [B, L] profile, its values rounded to PROFILE_GRID."""
    grid = np.rint(np.asarray(profiles, dtype=np.float64) / PROFILE_GRID).astype(np.int64)
    return [hash(row.tobytes()) for row in grid]


@dataclass(frozen=True)
class CacheValues:
    """The cache's own durations, to tell a sampler that picks its own rows and hands back
    cache values from one that draws: such samples have no twin, but a copy is still one
    of the cache's values, up to the precision the cache stores them at."""

    #: The cache's distinct durations, sorted.
    values: np.ndarray
    #: Relative distance within which a sample is a cache value (the stored dtype's
    #: precision, at least SAME_REL).
    rel: float
    #: Hashes of the cache's profiles of two or more steps, each on a grid of PROFILE_GRID.
    profiles: frozenset[int] = frozenset()

    @classmethod
    def of(
        cls, durations: np.ndarray, eps: float, profiles: frozenset[int] = frozenset()
    ) -> CacheValues:
        """From the cache's durations and the machine epsilon of the dtype they are stored
        in (a float16 cache's values are only known to about 1e-3)."""
        values = np.unique(np.asarray(durations, dtype=np.float64))
        return cls(values=values[np.isfinite(values)], rel=max(SAME_REL, eps), profiles=profiles)

    def profile_matches(self, fake: np.ndarray, length: np.ndarray) -> np.ndarray:
        """Booleans: each sampled profile (of two or more steps) is one of the cache's."""
        hashes = profile_hashes(fake)
        return np.array([h in self.profiles for h in hashes], dtype=bool) & (length > 1)

    def matches(self, fake: np.ndarray, shift: float = 0.0) -> np.ndarray:
        """Booleans: each sample (times 1 + shift) is within `rel` of a cache value."""
        fake = np.asarray(fake, dtype=np.float64) * (1.0 + shift)
        if self.values.size == 0:
            return np.zeros(fake.shape, dtype=bool)
        right = np.clip(np.searchsorted(self.values, fake), 0, self.values.size - 1)
        left = np.clip(right - 1, 0, self.values.size - 1)
        nearest = np.minimum(np.abs(self.values[right] - fake), np.abs(self.values[left] - fake))
        return nearest <= self.rel * np.maximum(np.abs(fake), 1e-12)

    def by_chance(self, fake: np.ndarray) -> np.ndarray:
        """Booleans for the same samples moved off any exact copy (10 tolerances up and
        down): how often a drawn value falls on a cache value by chance, at this
        precision and this many values."""
        step = 10 * self.rel
        up, down = self.matches(fake, step), self.matches(fake, -step)
        return np.where(np.arange(up.size) % 2 == 0, up, down)


@dataclass(frozen=True)
class Ceiling:
    """The largest sampled duration, how many samples sit exactly on it, and where it falls
    in the real durations."""

    value: float
    at_ceiling: int
    share: float
    #: The share of real durations above the ceiling (0 when it is above every one).
    real_above: float

    def clips(self, min_share: float, min_rows: int = 5) -> bool:
        """A hard maximum: many samples share the one largest value (a continuous draw has
        one sample at its maximum) while real durations go beyond it."""
        return self.at_ceiling >= min_rows and self.share >= min_share and self.real_above > 0


def duration_ceiling(fake: np.ndarray, real: np.ndarray) -> Ceiling:
    """Measure the pile-up of sampled durations at their largest value."""
    fake = np.asarray(fake, dtype=np.float64)
    fake = fake[np.isfinite(fake)]
    real = np.asarray(real, dtype=np.float64)
    if fake.size == 0:
        return Ceiling(float("nan"), 0, 0.0, 0.0)
    top = float(fake.max())
    at = int(np.sum(fake >= top * (1 - SAME_REL)))
    above = float(np.mean(real > top * (1 + SAME_REL))) if real.size else 0.0
    return Ceiling(value=top, at_ceiling=at, share=at / fake.size, real_above=above)


def row_dispersion(profile: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Per row with at least two valid steps: the coefficient of variation of its step
    shares over its valid steps (population std / mean). The mean is taken over the valid
    steps, so a profile that leaks mass onto padding is judged on what it gives real steps."""
    profile = np.asarray(profile, dtype=np.float64)
    length = np.asarray(length, dtype=np.int64)
    keep = length >= 2
    profile, length = profile[keep], length[keep]
    if profile.size == 0:
        return np.zeros(0)
    steps = np.arange(profile.shape[1])
    valid = steps[None, :] < length[:, None]
    shares = np.where(valid, profile, 0.0)
    mean = shares.sum(axis=1) / length
    squares = np.where(valid, (profile - mean[:, None]) ** 2, 0.0).sum(axis=1) / length
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = np.sqrt(squares) / mean
    return np.where(mean > 0, cv, 0.0)


@dataclass(frozen=True)
class Dispersion:
    """Median within-row CV of step shares, sampled and real, and their ratio."""

    fake: float
    real: float
    rows: int

    @property
    def ratio(self) -> float:
        return self.fake / self.real if self.real > 0 else float("inf")


def profile_dispersion(fake_cv: np.ndarray, real_cv: np.ndarray) -> Dispersion:
    """Compare the per-row CVs (from `row_dispersion`) of sampled and real profiles."""
    if fake_cv.size == 0 or real_cv.size == 0:
        return Dispersion(float("nan"), float("nan"), 0)
    return Dispersion(float(np.median(fake_cv)), float(np.median(real_cv)), int(fake_cv.size))


#: Two-sided normal quantile of a 1e-4 false-alarm rate per statistic: a healthy sampler's
#: standardized residuals are exactly N(0, 1) and independent, so each statistic's noise is
#: known at the n it has, and a family of three stays under 1e-3.
CALIBRATION_Z = 3.89
#: The smallest miscalibration worth naming, whatever n (mean, sd − 1, lag-1 correlation).
CALIBRATION_EFFECT = 0.1


@dataclass(frozen=True)
class Calibration:
    """Standardized residuals z = (log d_sampled − μ) / σ of the head's own μ and σ, in draw
    order: mean, sd, and the correlation of each row's z with the next row's."""

    rows: int
    mean: float
    sd: float
    lag1: float

    def bands(self) -> dict[str, float]:
        """How far each statistic may stray by noise alone at this n (or the smallest
        effect worth naming, whichever is larger)."""
        n = max(self.rows, 1)
        spread = max(self.sd, 1.0) if np.isfinite(self.sd) else 1.0
        return {  # the mean's noise grows with the residuals' own spread
            "mean": max(CALIBRATION_Z * spread / np.sqrt(n), CALIBRATION_EFFECT),
            "sd": max(CALIBRATION_Z / np.sqrt(2 * n), CALIBRATION_EFFECT),
            "lag1": max(CALIBRATION_Z / np.sqrt(n), CALIBRATION_EFFECT),
        }

    def off(self) -> list[str]:
        """The statistics outside their band: "mean", "sd", "lag1"."""
        band = self.bands()
        found = []
        if not abs(self.mean) <= band["mean"]:
            found.append("mean")
        if not abs(self.sd - 1) <= band["sd"]:
            found.append("sd")
        if not self.lag1 <= band["lag1"]:
            found.append("lag1")
        return found


def calibration(z: np.ndarray) -> Calibration:
    """The standardized residuals' figures (non-finite values dropped)."""
    z = np.asarray(z, dtype=np.float64)
    z = z[np.isfinite(z)]
    if z.size < 3:
        return Calibration(int(z.size), float("nan"), float("nan"), float("nan"))
    a, b = z[:-1] - z.mean(), z[1:] - z.mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    lag1 = float((a * b).sum()) / denominator if denominator > 0 else 1.0
    return Calibration(int(z.size), float(z.mean()), float(z.std()), lag1)


def tempering(
    fake: np.ndarray, head: np.ndarray, length: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per row with three or more steps where both profiles are positive: the slope and the
    correlation of log fake on log head over those steps. A sampler that divides the head's
    logits by a temperature T gives log fake = log head / T + c exactly: correlation 1 and
    slope 1/T; noise drawn around the head (a Dirichlet) lowers the correlation."""
    fake = np.asarray(fake, dtype=np.float64)
    head = np.asarray(head, dtype=np.float64)
    length = np.asarray(length, dtype=np.int64)
    steps = np.arange(fake.shape[1])
    valid = (steps[None, :] < length[:, None]) & (fake > 0) & (head > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(valid, np.log(np.where(valid, head, 1.0)), 0.0)
        y = np.where(valid, np.log(np.where(valid, fake, 1.0)), 0.0)
        count = valid.sum(axis=1)
        mx = x.sum(axis=1) / np.maximum(count, 1)
        my = y.sum(axis=1) / np.maximum(count, 1)
        dx = np.where(valid, x - mx[:, None], 0.0)
        dy = np.where(valid, y - my[:, None], 0.0)
        sxx, syy, sxy = (dx * dx).sum(1), (dy * dy).sum(1), (dx * dy).sum(1)
        slope = sxy / sxx
        corr = sxy / np.sqrt(sxx * syy)
    keep = (count >= 3) & (sxx > 1e-12) & (syy > 1e-12)
    return slope[keep], corr[keep]
