"""Plant one fault in a copy of a real cache: the test oracle for each stage-1/2 check.

Each function takes the cache dict (as `torch.load` returns it) and changes exactly the
property one check is about, so a test can show that check failing on it.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

Cache = dict[str, Any]


def load(path: Path) -> Cache:
    """A private, writable copy of a cache file's dict."""
    return {
        k: (v.clone() if isinstance(v, torch.Tensor) else v)
        for k, v in torch.load(path, weights_only=True).items()
    }


def save_beside(cache: Cache, source: Path, folder: Path, name: str = "train") -> Path:
    """Write `cache` as `<folder>/<name>_timing.pt` with `source`'s raw summary beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}_timing.pt"
    torch.save(cache, target)
    summary = source.with_name(source.name.replace("_timing.pt", "_summary.json"))
    if summary.exists():
        (folder / f"{name}_summary.json").write_text(summary.read_text())
    return target


def _longest_row(cache: Cache) -> int:
    return int(torch.argmax(cache["length"]))


def nan_profile(cache: Cache) -> None:
    cache["profile"][0, 0] = math.nan


def negative_duration(cache: Cache) -> None:
    cache["duration"][3] = -cache["duration"][3]


def mask_hole(cache: Cache) -> None:
    """A hole in one row's mask that keeps its sum equal to the length."""
    row = _longest_row(cache)
    n = int(cache["length"][row])
    cache["mask"][row, 1] = False
    cache["mask"][row, n] = True


def length_off_by_one(cache: Cache) -> None:
    cache["length"][5] += 1


def padding_mass(cache: Cache) -> None:
    """Mass on a padded step of one row, the row still summing to 1."""
    row = int(torch.argmin(cache["length"]))
    n = int(cache["length"][row])
    cache["profile"][row, n] = 0.1
    cache["profile"][row] /= cache["profile"][row].sum()


def unnormalized_row(cache: Cache) -> None:
    cache["profile"][7] *= 1.01


def log10_duration(cache: Cache) -> None:
    cache["log_duration"] = torch.log10(cache["duration"])


def scaled_durations(cache: Cache) -> None:
    """Every duration 5% longer (log_duration kept consistent): drifted from the raw data."""
    cache["duration"] = cache["duration"] * 1.05
    cache["log_duration"] = torch.log(cache["duration"])


def meta_not_dict(cache: Cache) -> None:
    cache["meta"] = "balabit"


def trimmed_to_longest(cache: Cache) -> None:
    """L cut to the longest row, as a builder that trims padding would do."""
    longest = int(cache["length"].max())
    cache["profile"] = cache["profile"][:, :longest].contiguous()
    cache["mask"] = cache["mask"][:, :longest].contiguous()


def truncate_segments_at_half(cache: Cache) -> None:
    """No step beyond L // 2: the mid and last bins go to 0, far from Balabit's figures."""
    half = cache["profile"].shape[1] // 2
    cache["profile"][:, half:] = 0
    cache["mask"][:, half:] = False
    cache["length"] = cache["mask"].sum(dim=1)
    cache["profile"] /= cache["profile"].sum(dim=1, keepdim=True)


STAGE1_FAULTS: dict[str, Callable[[Cache], None]] = {
    "cache.shapes": meta_not_dict,
    "cache.finite": nan_profile,
    "cache.nonnegative": negative_duration,
    "cache.mask_prefix": mask_hole,
    "cache.mask_length": length_off_by_one,
    "cache.padding_zero": padding_mass,
    "cache.profile_normalized": unnormalized_row,
    "cache.log_duration": log10_duration,
    "cache.vs_raw": scaled_durations,
}


def write_summary(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data))


def npz_with_a_text_member(path: Path) -> Path:
    """An .npz whose archive holds a README beside its one array (not a cache np.load
    reads as arrays alone)."""
    member = io.BytesIO()
    np.save(member, np.ones(3, dtype=np.float32))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("duration.npy", member.getvalue())
        archive.writestr("README.txt", "notes")
    return path
