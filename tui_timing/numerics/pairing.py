"""Which steps' Δt a side's points are paired with: the lag profile of their coupling.

Within a real path, how long a step took and how far the cursor moved in it go together,
and that coupling has a shape over lags: step i's length against Δt of step i + k
correlates differently at each k. Δt shifted by one step against the points keep every
pooled distribution (Δt, step lengths, even most velocities), but carry that shape one lag
over. So the fake side's lag profile is compared with the real side's at no shift and at a
shift of one step either way; a shift that explains the fake profile where no shift does
not is Δt paired with the neighbouring step's points. The noise of each distance is
measured by a bootstrap over rows (both sides), so the finding holds at the n given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Lags of the profile compared (step i's length against Δt of step i + k).
COMPARED_LAGS = (-2, -1, 0, 1, 2)
#: Shifts tried (one step either way), and the lags computed so that each shift can be.
SHIFTS = (-1, 0, 1)
_LAGS = tuple(range(min(COMPARED_LAGS) + min(SHIFTS), max(COMPARED_LAGS) + max(SHIFTS) + 1))
#: Bootstrap resamples over rows for the noise of the distances.
BOOTSTRAPS = 200


@dataclass(frozen=True)
class LagParts:
    """Per-row sums that make the pooled within-row correlation at each lag: the
    co-moment of log step length with Δt, and each one's own spread, [rows] each."""

    co: dict[int, np.ndarray]
    var_step: dict[int, np.ndarray]
    var_dt: dict[int, np.ndarray]

    @property
    def n_rows(self) -> int:
        return int(next(iter(self.co.values())).shape[0])

    def profile(self, rows: np.ndarray | None = None) -> dict[int, float]:
        """The within-row correlation at each lag, pooled over `rows` (default: all)."""
        pick = slice(None) if rows is None else rows
        out: dict[int, float] = {}
        for k in _LAGS:
            spread = float(self.var_step[k][pick].sum() * self.var_dt[k][pick].sum())
            out[k] = float(self.co[k][pick].sum()) / math.sqrt(spread) if spread > 0 else 0.0
        return out


def lag_parts(step_lengths: np.ndarray, dt: np.ndarray, mask: np.ndarray) -> LagParts:
    """The per-row sums of every lag for one side ([N, L] step lengths, Δt and valid
    steps): log(1 + length) against Δt, each centred within its row over the pairs."""
    size = np.log1p(np.where(mask, step_lengths, 0.0))
    time = np.where(mask, dt, 0.0)
    width = dt.shape[1]
    co, var_step, var_dt = {}, {}, {}
    for k in _LAGS:
        if k >= 0:
            a, b, valid = size[:, : width - k], time[:, k:], mask[:, k:]
        else:
            a, b, valid = size[:, -k:], time[:, : width + k], mask[:, -k:]
        count = np.maximum(valid.sum(axis=1), 1)[:, None]
        a_c = np.where(valid, a - np.where(valid, a, 0).sum(axis=1)[:, None] / count, 0.0)
        b_c = np.where(valid, b - np.where(valid, b, 0).sum(axis=1)[:, None] / count, 0.0)
        co[k] = (a_c * b_c).sum(axis=1)
        var_step[k] = (a_c**2).sum(axis=1)
        var_dt[k] = (b_c**2).sum(axis=1)
    return LagParts(co, var_step, var_dt)


def distances(real: dict[int, float], fake: dict[int, float]) -> dict[int, float]:
    """For each shift s, the RMS gap between the fake profile at lag k + s and the real one
    at lag k over COMPARED_LAGS: the shift that brings the fake's coupling onto the real's."""
    return {
        s: math.sqrt(float(np.mean([(fake[k + s] - real[k]) ** 2 for k in COMPARED_LAGS])))
        for s in SHIFTS
    }


@dataclass(frozen=True)
class Pairing:
    """The shift that best explains the fake side's coupling, and how sure that is."""

    real: dict[int, float]
    fake: dict[int, float]
    distance: dict[int, float]
    #: The best shift other than 0, its gain over no shift (distance at 0 less its own),
    #: and the gain's bootstrap standard error.
    shift: int
    gain: float
    gain_se: float

    @property
    def z(self) -> float:
        """The gain in standard errors (infinite when it has no noise and is positive)."""
        if self.gain_se > 0:
            return self.gain / self.gain_se
        return math.inf if self.gain > 0 else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "real_lags": {str(k): self.real[k] for k in COMPARED_LAGS},
            "fake_lags": {str(k): self.fake[k] for k in _LAGS},
            "distance": {str(s): d for s, d in self.distance.items()},
            "shift": self.shift,
            "gain": self.gain,
            "gain_se": self.gain_se,
        }


def pairing(real: LagParts, fake: LagParts, seed: int) -> Pairing:
    """Compare the two sides' lag profiles at each shift, with the bootstrap noise of the
    gain of the best non-zero shift over no shift."""
    real_p, fake_p = real.profile(), fake.profile()
    dist = distances(real_p, fake_p)
    shift = min((s for s in SHIFTS if s != 0), key=lambda s: dist[s])
    rng = np.random.default_rng(seed)
    gains = np.empty(BOOTSTRAPS)
    for b in range(BOOTSTRAPS):
        r = rng.integers(0, real.n_rows, real.n_rows)
        f = rng.integers(0, fake.n_rows, fake.n_rows)
        d = distances(real.profile(r), fake.profile(f))
        gains[b] = d[0] - d[shift]
    return Pairing(
        real=real_p,
        fake=fake_p,
        distance=dist,
        shift=shift,
        gain=dist[0] - dist[shift],
        gain_se=float(gains.std(ddof=1)),
    )
