"""Stage 1 on a cache built from real Balabit sessions: clean passes, each planted fault fails."""

from __future__ import annotations

from pathlib import Path

import cache_faults
import pytest
import torch

from tui_timing.config import ArtifactPaths, Settings
from tui_timing.findings import StageResult
from tui_timing.stages.runner import load_artifacts, run_stage


def stage1(cache: Path, **paths: Path) -> StageResult:
    ctx = load_artifacts(ArtifactPaths(cache=cache, **paths), Settings())
    return run_stage(ctx, 1)


def statuses(result: StageResult) -> dict[str, str]:
    return {c.id: c.status for c in result.checks}


def test_clean_cache_passes_every_check(small_cache: Path) -> None:
    result = stage1(small_cache)
    got = statuses(result)
    assert got == {
        "cache.load": "pass",
        "cache.shapes": "pass",
        "cache.finite": "pass",
        "cache.nonnegative": "pass",
        "cache.mask_prefix": "pass",
        "cache.mask_length": "pass",
        "cache.padding_zero": "pass",
        "cache.profile_normalized": "pass",
        "cache.log_duration": "pass",
        "cache.vs_raw": "pass",
        "cache.preset": got["cache.preset"],
    }
    assert got["cache.preset"] in ("pass", "warn")
    assert result.stats["rows"] == torch.load(small_cache, weights_only=True)["duration"].shape[0]
    assert {p.title for p in result.plots} >= {"Segment duration (s)", "Mean profile per step"}


@pytest.mark.parametrize("check_id", sorted(cache_faults.STAGE1_FAULTS))
def test_planted_fault_fails_its_check(small_cache: Path, tmp_path: Path, check_id: str) -> None:
    cache = cache_faults.load(small_cache)
    cache_faults.STAGE1_FAULTS[check_id](cache)
    faulty = cache_faults.save_beside(cache, small_cache, tmp_path)
    result = stage1(faulty)
    check = result.check(check_id)
    assert check is not None and check.status == "fail", (check_id, statuses(result))
    assert check.message and check.measured is not None


def test_trimmed_cache_fails_shapes_naming_max_len(small_cache: Path, tmp_path: Path) -> None:
    cache = cache_faults.load(small_cache)
    cache_faults.trimmed_to_longest(cache)
    result = stage1(cache_faults.save_beside(cache, small_cache, tmp_path))
    check = result.check("cache.shapes")
    assert check is not None and check.status == "fail"
    assert "max_len" in check.message


def test_preset_warns_and_never_fails(small_cache: Path, tmp_path: Path) -> None:
    cache = cache_faults.load(small_cache)
    cache_faults.truncate_segments_at_half(cache)
    result = stage1(cache_faults.save_beside(cache, small_cache, tmp_path))
    check = result.check("cache.preset")
    assert check is not None and check.status == "warn"
    assert "mid" in check.message


def test_missing_optional_keys_are_derived_and_reported(small_cache: Path, tmp_path: Path) -> None:
    cache = cache_faults.load(small_cache)
    for key in ("log_duration", "length", "meta"):
        del cache[key]
    result = stage1(cache_faults.save_beside(cache, small_cache, tmp_path))
    load = result.check("cache.load")
    assert load is not None and load.status == "pass"
    assert set(load.measured["derived"]) == {"log_duration", "length", "meta"}
    assert "derived" in load.message
    log_check = result.check("cache.log_duration")
    assert log_check is not None and log_check.status == "skip"
    assert result.check("cache.mask_length").status == "pass"


def test_aliases_and_key_map(small_cache: Path, tmp_path: Path) -> None:
    cache = cache_faults.load(small_cache)
    cache["durations"] = cache.pop("duration")
    cache["their_profile"] = cache.pop("profile")
    faulty = cache_faults.save_beside(cache, small_cache, tmp_path)
    ctx = load_artifacts(
        ArtifactPaths(cache=faulty), Settings(key_map={"profile": "their_profile"})
    )
    result = run_stage(ctx, 1)
    assert statuses(result)["cache.vs_raw"] == "pass"
    assert "their_profile" in result.check("cache.load").message


def test_summary_missing_is_a_skip_not_a_pass(small_cache: Path, tmp_path: Path) -> None:
    target = tmp_path / "train_timing.pt"
    target.write_bytes(small_cache.read_bytes())
    result = stage1(target)
    assert result.check("cache.vs_raw").status == "skip"


def test_npz_cache_loads_like_the_pt(small_cache: Path, tmp_path: Path) -> None:
    import json

    import numpy as np

    cache = cache_faults.load(small_cache)
    arrays = {k: v.numpy() for k, v in cache.items() if isinstance(v, torch.Tensor)}
    arrays["meta"] = np.array(json.dumps(cache["meta"]))
    target = tmp_path / "train_timing.npz"
    np.savez(target, **arrays)
    summary = small_cache.with_name(small_cache.name.replace("_timing.pt", "_summary.json"))
    (tmp_path / "train_summary.json").write_text(summary.read_text())
    got = statuses(stage1(target))
    assert got["cache.vs_raw"] == "pass" and got["cache.shapes"] == "pass"


def test_safetensors_cache_loads_like_the_pt(small_cache: Path, tmp_path: Path) -> None:
    import json

    from safetensors.torch import save_file

    cache = cache_faults.load(small_cache)
    tensors = {k: v.contiguous() for k, v in cache.items() if isinstance(v, torch.Tensor)}
    target = tmp_path / "train_timing.safetensors"
    save_file(tensors, str(target), metadata={"meta": json.dumps(cache["meta"])})
    summary = small_cache.with_name(small_cache.name.replace("_timing.pt", "_summary.json"))
    (tmp_path / "train_summary.json").write_text(summary.read_text())
    got = statuses(stage1(target))
    assert got["cache.vs_raw"] == "pass" and got["cache.shapes"] == "pass"
