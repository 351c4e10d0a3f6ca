"""`TimingDataset`: the rows of a timing cache as a torch Dataset, plus a fast collate.

The trainer, the sampler and stage 2 all read caches through this class, so what stage 2
verifies about it is what the model is trained on. Items are dicts with the cache's
canonical keys plus `index` (the row number), so a consumer can tell which rows it saw.

Batches: a DataLoader with `collate_fn=collate_timing` fetches a whole batch with one
gather per key (`__getitems__`) instead of one Python call per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from tui_timing.artifacts.cache import TimingCache, as_timing_cache, load_cache, shape_problems
from tui_timing.errors import ArtifactError

#: Keys of every item and batch (besides `index`).
ITEM_KEYS = ("duration", "log_duration", "profile", "mask", "length", "features")


class TimingDataset(Dataset[dict[str, torch.Tensor]]):
    """Rows of a timing cache. Build it from a path or from an already loaded cache."""

    def __init__(
        self, cache: str | Path | TimingCache, key_map: dict[str, str] | None = None
    ) -> None:
        if not isinstance(cache, TimingCache):
            raw = load_cache(cache, key_map)
            problems = shape_problems(raw)
            if problems:
                raise ArtifactError(str(cache), None, "malformed cache: " + "; ".join(problems))
            cache = as_timing_cache(raw)
        self.cache = cache
        self._columns: dict[str, torch.Tensor] = {
            "duration": cache.duration,
            "log_duration": cache.log_duration,
            "profile": cache.profile,
            "mask": cache.mask if cache.mask.dtype == torch.bool else cache.mask != 0,
            "length": cache.length,
            "features": cache.features,
        }

    def __len__(self) -> int:
        return self.cache.n_rows

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = {key: column[index] for key, column in self._columns.items()}
        item["index"] = torch.tensor(index, dtype=torch.int64)
        return item

    def __getitems__(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        """A whole batch at once (DataLoader calls this when it exists).

        `index_select` gathers rows 2.5x faster than advanced indexing (`column[rows]`);
        negative indices count from the end as they would there.
        """
        rows = torch.as_tensor(indices, dtype=torch.int64)
        wrapped = torch.where(rows < 0, rows + len(self), rows)
        batch = {key: column.index_select(0, wrapped) for key, column in self._columns.items()}
        batch["index"] = rows
        return batch


def collate_timing(samples: Any) -> dict[str, torch.Tensor]:
    """Stack a list of item dicts; pass through a batch `__getitems__` already built."""
    if isinstance(samples, dict):
        return samples
    if not samples:
        raise ValueError("cannot collate an empty batch")
    keys = samples[0].keys()
    return {key: torch.stack([torch.as_tensor(s[key]) for s in samples]) for key in keys}
