"""Chosen rows as a Balabit-format session, so that a cache holds exactly those rows.

The cache builder reads session files; a test (or the validity harness) that needs a cache
of some segments and not others (an eval whose fake side the cache never holds) writes the
rows as Move events a second apart, which the builder's segmenter cuts back into exactly
these rows (the pause that ends a segment is 0.5 s).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tui_timing.data.build_cache import build_cache
from tui_timing.data.eval_dump_maker import Sequences


def write_session(path: Path, seqs: Sequences) -> Path:
    """The rows as one session file (Move events; rows a second apart)."""
    lines = ["record timestamp,client timestamp,button,state,x,y"]
    start = 0.0
    for xy, dt, steps in zip(seqs.xy, seqs.dt, seqs.mask.sum(axis=1), strict=True):
        times = start + np.concatenate([[0.0], np.cumsum(dt[:steps])])
        points = xy[: steps + 1].tolist()
        lines += [
            f"{t!r},{t!r},NoButton,Move,{x!r},{y!r}"
            for t, (x, y) in zip(times.tolist(), points, strict=True)
        ]
        start = float(times[-1]) + 1.0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def cache_of(seqs: Sequences, out_root: Path, dataset_id: str) -> Path:
    """A cache (with its raw summary) built by the package's builder from exactly `seqs`."""
    session = write_session(out_root / "raw" / dataset_id / "rows.csv", seqs)
    return build_cache(session.parent, out_root, dataset_id, "train", files=[session]).cache_path
