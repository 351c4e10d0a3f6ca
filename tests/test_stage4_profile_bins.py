"""`profile_bins = "masked"` (docs/artifacts.md#stats-log): a log whose first/mid/last are means
over the rows valid at each step is compared with the cache's figures in that definition, on a real
Balabit cache, where the two definitions differ by the share of rows that reach a step."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sample_paths import CACHE

from tui_timing.artifacts.cache import as_timing_cache, load_cache
from tui_timing.config import ArtifactPaths, Settings
from tui_timing.numerics.figures import masked_mean_profile
from tui_timing.stages.runner import run_check


def _masked_bins(cache_path: Path) -> tuple[dict[str, float], float, float, float]:
    cache = as_timing_cache(load_cache(cache_path))
    profile = cache.profile.double().numpy()
    lengths = cache.length.numpy()
    rows_at = (np.arange(profile.shape[1])[None, :] < lengths[:, None]).sum(axis=0)
    by_hand = profile.sum(axis=0) / np.maximum(rows_at, 1)  # mean over the rows valid there
    np.testing.assert_allclose(masked_mean_profile(profile.mean(axis=0), lengths), by_hand)
    length = profile.shape[1]
    bins = {"first": by_hand[0], "mid": by_hand[length // 2], "last": by_hand[length - 1]}
    log_d = cache.log_duration.double().numpy()
    reach_mid = float(rows_at[length // 2] / len(lengths))
    return bins, float(log_d.mean()), float(log_d.std()), reach_mid


def _convergence(log: Path, cache: Path, bins: str) -> tuple[str, dict]:
    report = run_check(ArtifactPaths(cache=cache, log=log), Settings(profile_bins=bins), only=4)
    (stage,) = [s for s in report.stages if s.id == 4]
    (check,) = [c for c in stage.checks if c.id == "train.stats_convergence"]
    return check.status, check.measured


def test_a_masked_log_converges_only_in_the_masked_definition(tmp_path: Path) -> None:
    """On the sample cache: 297 of its 2,581 rows reach the mid bin, enough to judge it (the
    small test cache has too few: a bin that few rows reach is shown, not judged)."""
    bins, mu, sigma, reach_mid = _masked_bins(CACHE)
    assert reach_mid < 1 / 3  # so the two definitions of the mid bin differ by over 3x
    log = tmp_path / "stats.jsonl"
    with log.open("w") as handle:
        for epoch in (1, 2):
            handle.write(
                json.dumps(
                    {
                        "epoch": epoch,
                        "split": "train",
                        "loss": 2.0 / epoch,
                        "dur_mu": mu,
                        "dur_sigma": sigma,
                        "profile_first": bins["first"],
                        "profile_mid": bins["mid"],
                        "profile_last": bins["last"],
                    }
                )
                + "\n"
            )
    status, measured = _convergence(log, CACHE, "masked")
    assert status == "pass", measured
    for key in ("profile_first", "profile_mid", "profile_last"):
        figure = measured["figures"][key]
        assert figure["logged"] == pytest.approx(figure["cache"], rel=1e-9)
    status, measured = _convergence(log, CACHE, "padded")
    assert status == "fail"
    assert not measured["figures"]["profile_mid"]["ok"]
