"""Fake sequences that are real rows: each row's Δt sequence as a key, matched exactly.

A generated Δt sequence never equals a real one to the tenth of a millisecond over all its
steps, except for a few short rows on a clock's lattice; an eval whose fake side is real
data (the eval's own real rows, or rows of the training cache) matches on most rows. The
keys are the rounded Δt themselves, so a match is a copy, never a hash collision; the
cache is read a chunk of rows at a time, so memory holds the fake side's keys and one
chunk, whatever the cache's size.
"""

from __future__ import annotations

import numpy as np

from tui_timing.artifacts.cache import CacheArrays

#: Δt are compared for copies at this resolution (s): finer than any clock, coarser than
#: the float32 rounding between a cache's duration·profile and a dump's Δt.
COPY_RESOLUTION_S = 1e-4


def row_keys(dt: np.ndarray, mask: np.ndarray) -> list[bytes]:
    """Each row's valid Δt at COPY_RESOLUTION_S, as a hashable key ([N, L] Δt and mask,
    the valid steps a prefix of each row)."""
    ticks = np.rint(np.where(mask, dt, 0.0) / COPY_RESOLUTION_S).astype(np.int64)
    steps = mask.sum(axis=1)
    return [row[:n].tobytes() for row, n in zip(ticks, steps, strict=True)]


def keys_in_cache(keys: list[bytes], cache: CacheArrays) -> set[bytes]:
    """The keys among `keys` that are some cache row's Δt (duration · profile on its valid
    steps), read a chunk of rows at a time."""
    wanted = set(keys)
    found: set[bytes] = set()
    for rows in cache.row_chunks():
        dt = cache.duration[rows].astype(np.float64)[:, None] * cache.profile[rows].astype(
            np.float64
        )
        found.update(k for k in row_keys(dt, cache.bool_mask(rows)) if k in wanted)
        if found == wanted:
            break
    return found
