"""Write the cache's durations as a TensorBoard histogram (`SummaryWriter.add_histogram`).

The peer benchmark's setup: TensorBoard then serves the same histogram that timing-tui's
stage 1 plots. Usage: python benchmarks/floors/tb_write.py CACHE LOGDIR
"""

from __future__ import annotations

import sys

import torch
from torch.utils.tensorboard import SummaryWriter


def main(cache: str, logdir: str) -> None:
    durations = torch.load(cache, weights_only=True)["duration"]
    with SummaryWriter(logdir) as writer:
        writer.add_histogram("duration", durations, global_step=0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
