"""Do a batch's rows belong together? Each batch row against the cache row it claims to be.

A dataset can serve every key with the right shape, sum and coverage while putting one
row's profile beside another row's duration (an index off by one, a shuffle of one column,
a cached tensor re-sorted): every pooled check then passes. Batches that carry `index`
are compared with the cache row of that index. Batches without one are matched by
content: durations repeat (a clock's ticks), so a row is another row's when no cache row
with its duration also has its length and, among those, its profile; features are then
compared by index only.

Per batch row, what is compared and when it is "another row's":
- duration and length: equal (relative 1e-5) to the claimed row's;
- profile: within a total variation of 0.25 of the claimed row's (a dataset may smooth or
  re-weight a profile, which `dataset.batch_profile_mean` judges; a profile of another row
  is most of its mass away);
- features: equal to the claimed row's up to one affine map per column, fitted over the
  epoch (a dataset may standardize features; it may not exchange them between rows).
A profile that is off but within that total variation of the claimed row's own profile
rolled by one step within its valid steps is counted as shifted: the row's own Δt served
one step early or late (an off-by-one between the profile and the mask), not another row's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from tui_timing.artifacts.cache import TimingCache

#: Total variation beyond which a profile is another row's, not a re-weighting of its own.
PROFILE_TV = 0.25
#: Relative tolerance of durations and features read back through a dataset.
REL = 1e-5


@dataclass
class RowMatch:
    """What one epoch's batch rows say against the cache rows they claim to be."""

    by: str = ""
    rows: int = 0
    unmatched: int = 0
    duration_off: int = 0
    length_off: int = 0
    profile_off: int = 0
    #: Of the rows whose profile is off, those whose profile is the claimed row's own
    #: shifted by one step within its valid steps (an off-by-one, not another row's).
    profile_shifted: int = 0
    features_batch: list[torch.Tensor] = field(default_factory=list)
    features_cache: list[torch.Tensor] = field(default_factory=list)
    _by_duration: dict[float, list[int]] | None = None

    def fold(self, cache: TimingCache, batch: dict[str, torch.Tensor]) -> None:
        """Compare one batch's rows with the cache rows they claim."""
        duration = batch.get("duration")
        if not isinstance(duration, torch.Tensor) or duration.dim() != 1:
            return
        self.rows += int(duration.shape[0])
        length = batch.get("length")
        if not (isinstance(length, torch.Tensor) and length.shape == duration.shape):
            length = None
        profile = batch.get("profile")
        if not (
            isinstance(profile, torch.Tensor)
            and profile.shape == (duration.shape[0], cache.max_len)
        ):
            profile = None
        index = batch.get("index")
        if isinstance(index, torch.Tensor) and index.shape == duration.shape:
            self.by = "index"
            self._by_index(cache, batch, index.long(), duration, length, profile)
        else:
            self.by = "content"
            self._by_content(cache, duration, length, profile)

    def _by_index(
        self,
        cache: TimingCache,
        batch: dict[str, torch.Tensor],
        index: torch.Tensor,
        duration: torch.Tensor,
        length: torch.Tensor | None,
        profile: torch.Tensor | None,
    ) -> None:
        found = (index >= 0) & (index < cache.n_rows)
        self.unmatched += int((~found).sum())
        rows = index[found]
        near = torch.isclose(
            duration[found].double(), cache.duration[rows].double(), rtol=REL, atol=1e-9
        )
        self.duration_off += int((~near).sum())
        if length is not None:
            self.length_off += int((length[found].long() != cache.length[rows].long()).sum())
        if profile is not None:
            served, claimed = profile[found].double(), cache.profile[rows].double()
            off = ~(_tv(served, claimed) <= PROFILE_TV)
            self.profile_off += int(off.sum())
            if bool(off.any()):
                steps = cache.length[rows][off].long()
                self.profile_shifted += int(
                    _shifted_one_step(served[off], claimed[off], steps).sum()
                )
        features = batch.get("features")
        if (
            isinstance(features, torch.Tensor)
            and features.dim() == 2
            and features.shape[1] == cache.feature_dim
        ):
            self.features_batch.append(features[found].double())
            self.features_cache.append(cache.features[rows].double())

    def _by_content(
        self,
        cache: TimingCache,
        duration: torch.Tensor,
        length: torch.Tensor | None,
        profile: torch.Tensor | None,
    ) -> None:
        if self._by_duration is None:
            self._by_duration = {}
            for row, value in enumerate(cache.duration.float().tolist()):
                self._by_duration.setdefault(value, []).append(row)
        for i, value in enumerate(duration.float().tolist()):
            candidates = self._by_duration.get(value)
            if not candidates:
                self.duration_off += 1
                continue
            rows = torch.tensor(candidates)
            if length is not None:
                rows = rows[cache.length[rows].long() == int(length[i])]
                if not len(rows):
                    self.length_off += 1
                    continue
            if profile is not None:
                claimed = cache.profile[rows].double()
                served = profile[i].double()[None, :].expand_as(claimed)
                if not bool((_tv(served, claimed) <= PROFILE_TV).any()):
                    self.profile_off += 1
                    steps = cache.length[rows].long()
                    self.profile_shifted += int(
                        bool(_shifted_one_step(served, claimed, steps).any())
                    )

    def features_off(self) -> int:
        """Rows whose features are not the claimed row's under one affine map per column."""
        if not self.features_batch:
            return 0
        served = torch.cat(self.features_batch)
        cached = torch.cat(self.features_cache)
        off = torch.zeros(served.shape[0], dtype=torch.bool)
        for column in range(served.shape[1]):
            x, y = cached[:, column].double(), served[:, column].double()
            # A non-finite value is the claimed row's only where the cache has one there
            # too (lstsq cannot take them: stage 1 judges finiteness).
            finite = torch.isfinite(x) & torch.isfinite(y)
            off |= torch.isfinite(x) != torch.isfinite(y)
            if int(finite.sum()) < 2:
                continue
            x, y = x[finite], y[finite]
            design = torch.stack([x, torch.ones_like(x)], 1)
            fit = torch.linalg.lstsq(design, y[:, None]).solution[:, 0]
            residual = (y - design @ fit).abs()
            scale = float(y.abs().max())
            off[finite] |= ~(residual <= REL * 10 * max(scale, 1.0))
        return int(off.sum())

    def as_dict(self) -> dict[str, int | str]:
        return {
            "by": self.by,
            "rows": self.rows,
            "unmatched": self.unmatched,
            "duration_off": self.duration_off,
            "length_off": self.length_off,
            "profile_off": self.profile_off,
            "profile_shifted": self.profile_shifted,
            "features_off": self.features_off(),
        }


def _tv(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Total variation between the rows of two [B, L] profiles."""
    return 0.5 * (a - b).abs().sum(1)


def _shifted_one_step(
    served: torch.Tensor, claimed: torch.Tensor, steps: torch.Tensor
) -> torch.Tensor:
    """[B] bool: the served profile is the claimed one rolled by one step (either way)
    within the row's valid steps, to within PROFILE_TV."""
    width = claimed.shape[1]
    lane = torch.arange(width)[None, :]
    valid = lane < steps[:, None]
    shifted = torch.zeros(served.shape[0], dtype=torch.bool)
    for step in (1, -1):
        source = torch.where(valid, (lane - step) % steps.clamp_min(1)[:, None], lane)
        shifted |= _tv(served, claimed.gather(1, source)) <= PROFILE_TV
    return shifted
