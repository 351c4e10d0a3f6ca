"""The user's own Dataset (`dataset = "pkg.mod:Class"`, docs/artifacts.md#your-own-repo), seen with
the contract's batch keys.

Items may be dicts under the user's names (mapped by `[tool.timing-tui.keys.batch]` and
the built-in aliases) or tuples/lists whose positions `keys.batch` names as a list. Items
are collated with torch's default collate and each batch is renamed, so stage 2 checks
what training sees, under the names it knows. `log_duration` is not part of the user's
contract (a training step may take the log itself): a batch without it gets the log of
its duration, and the stage says so. Every call into the dataset goes through
`call_user`: what `__getitem__` raises is reported as the user's, with the call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import Dataset, default_collate

from tui_timing.artifacts.cache import ALIASES
from tui_timing.plugins import call_user
from tui_timing.project import CONTRACT_FIELDS

#: The batch keys stage 2 knows (the cache's tensors and the row number).
BATCH_NAMES = CONTRACT_FIELDS["batch"]


class UserDataset(Dataset[Any]):
    """The user's dataset with every `__getitem__` reported as theirs when it raises."""

    def __init__(self, inner: Any, spec: str) -> None:
        self.inner = inner
        self.spec = spec

    def __len__(self) -> int:
        return int(call_user(f"len({self.spec}(...))", len, self.inner))

    def __getitem__(self, index: int) -> Any:
        return call_user(f"{self.spec}(...).__getitem__", self.inner.__getitem__, index)


class BatchNames:
    """Collate items and rename the batch to the contract's keys."""

    def __init__(self, names: dict[str, str], positions: Sequence[str]) -> None:
        self.names = dict(names)
        self.positions = tuple(positions)
        #: Contract keys the batches lack and that were computed from others (for the
        #: report: a user's dataset need not carry log_duration, the head takes its log).
        self.derived: dict[str, str] = {}

    def __call__(self, items: list[Any]) -> dict[str, Any]:
        return self.rename(default_collate(items))

    def rename(self, batch: Any) -> dict[str, Any]:
        """A collated batch (dict, or list for tuple items) as a dict under our names."""
        if isinstance(batch, (list, tuple)):
            batch = self._from_positions(batch)
        if not isinstance(batch, dict):
            raise ValueError(f"items are {type(batch).__name__}, not dicts or tuples of tensors")
        out: dict[str, Any] = {}
        used: set[str] = set()
        for name in BATCH_NAMES:
            theirs = self.names.get(name)
            if theirs is not None:
                if theirs not in batch:
                    raise ValueError(
                        f"[tool.timing-tui.keys.batch] maps {name} to {theirs!r}, which the "
                        f"items do not have; their keys are {', '.join(map(str, batch))} "
                        f'(write {name} = "<one of them>" there, or --key batch.{name}=NAME)'
                    )
                found = theirs
            else:
                candidates = (name, *ALIASES.get(name, ()))
                found = next((c for c in candidates if c in batch), "")
            if found:
                out[name] = batch[found]
                used.add(found)
        out.update({str(k): v for k, v in batch.items() if k not in used and k not in out})
        duration = out.get("duration")
        if "log_duration" not in out and isinstance(duration, torch.Tensor):
            out["log_duration"] = torch.log(duration.double()).to(duration.dtype)
            self.derived["log_duration"] = "log(duration) of each batch"
        return out

    def _from_positions(self, batch: Sequence[Any]) -> dict[str, Any]:
        if not self.positions:
            raise ValueError(
                f"items are tuples of {len(batch)}: say what each position is, e.g. "
                '[tool.timing-tui.keys] batch = ["features", "profile", "mask", ...]'
            )
        if len(self.positions) != len(batch):
            raise ValueError(
                f"items are tuples of {len(batch)} but [tool.timing-tui.keys] batch names "
                f"{len(self.positions)} positions ({', '.join(self.positions)})"
            )
        return dict(zip(self.positions, batch, strict=True))
