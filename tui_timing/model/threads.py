"""One CPU thread for torch while small models run: the one copy of that helper."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def one_cpu_thread() -> Iterator[None]:
    """Run torch's CPU ops on one thread, restoring the setting after.

    The stages, the capacity probe and the C2ST work on small tensors (4,096-row chunks,
    batches of 256 through narrow MLPs): extra intra-op threads gain little even on an
    idle machine, and on a busy one their OpenMP workers wait on each other for a core.
    Measured on 2 busy cores, stage 2 on a 72k-row cache took 0.2 s on one thread and 2 to
    3.6 s on two.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
