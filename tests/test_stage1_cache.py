"""Stage 1 on a cache built from real Balabit sessions: clean passes, each planted fault fails."""

from __future__ import annotations

from pathlib import Path

import cache_faults
import pytest
import torch
from report_helpers import run_one, statuses

from tui_timing.config import ArtifactPaths, Settings
from tui_timing.findings import StageResult
from tui_timing.stages.runner import load_artifacts, run_stage


def stage1(cache: Path, **paths: Path) -> StageResult:
    return run_one(1, cache=cache, **paths)


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
        "cache.units": "pass",
        "cache.row_alignment": "pass",
        "cache.vs_raw": "pass",
        "cache.preset": "pass",
    }
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


def test_preset_judges_the_first_bin_only_and_never_fails(
    small_cache: Path, tmp_path: Path
) -> None:
    """Mid and last depend on how long segments are (users of Balabit's slow clock have
    ~11-step segments): a cache cut at half its length is shown, not warned about; a first
    bin 10× off the known figure warns."""
    cache = cache_faults.load(small_cache)
    cache_faults.truncate_segments_at_half(cache)
    check = stage1(cache_faults.save_beside(cache, small_cache, tmp_path / "half")).check(
        "cache.preset"
    )
    assert check is not None and check.status == "pass"
    assert "mid" in check.message and "not judged" in check.message
    cache = cache_faults.load(small_cache)
    steps = torch.arange(cache["profile"].shape[1])
    valid = steps[None, :] < cache["length"][:, None]
    late = torch.where(valid & (steps[None, :] > 0), 1.0, 0.0) + 1e-4 * valid
    cache["profile"] = (late / late.sum(dim=1, keepdim=True)).float()
    check = stage1(cache_faults.save_beside(cache, small_cache, tmp_path / "first")).check(
        "cache.preset"
    )
    assert check is not None and check.status == "warn"
    assert "the first bin is" in check.message


def test_milliseconds_fail_units_without_a_raw_summary(small_cache: Path, tmp_path: Path) -> None:
    cache = cache_faults.load(small_cache)
    cache["duration"] = cache["duration"] * 1000
    cache["log_duration"] = torch.log(cache["duration"])
    folder = tmp_path / "ms"
    folder.mkdir()
    torch.save(cache, folder / "train_timing.pt")
    result = stage1(folder / "train_timing.pt")
    check = result.check("cache.units")
    assert check is not None and check.status == "fail"
    assert check.measured["factor"] == 1000 and "milliseconds" in check.message
    assert result.check("cache.vs_raw").status == "skip"  # type: ignore[union-attr]


def test_a_share_of_rows_in_milliseconds_fails_units(small_cache: Path, tmp_path: Path) -> None:
    """27.5% of the rows in milliseconds (some sessions written by another logger): the
    median stays plausible, the rows do not; the verdict names the share and the unit."""
    cache = cache_faults.load(small_cache)
    rows = torch.rand(len(cache["duration"]), generator=torch.Generator().manual_seed(0)) < 0.275
    cache["duration"] = torch.where(rows, cache["duration"] * 1000, cache["duration"])
    cache["log_duration"] = torch.log(cache["duration"])
    folder = tmp_path / "mixed"
    folder.mkdir()
    torch.save(cache, folder / "train_timing.pt")
    ctx = load_artifacts(ArtifactPaths(cache=folder / "train_timing.pt"), Settings())
    check = run_stage(ctx, 1).check("cache.units")
    assert check is not None and check.status == "fail", check.message
    assert (
        check.measured["rows_off"] == int(rows.sum()) and check.measured["unit"] == "milliseconds"
    )
    verdict = run_stage(ctx, 7).stats["verdict"]
    assert "of the rows' durations look like milliseconds" in verdict, verdict


def test_rows_shuffled_against_their_features_fail_row_alignment(
    small_cache: Path, tmp_path: Path
) -> None:
    cache = cache_faults.load(small_cache)
    order = torch.randperm(len(cache["length"]), generator=torch.Generator().manual_seed(0))
    for key in ("profile", "mask", "length"):
        cache[key] = cache[key][order]
    check = stage1(cache_faults.save_beside(cache, small_cache, tmp_path)).check(
        "cache.row_alignment"
    )
    assert check is not None and check.status == "fail"
    assert check.measured["feature"] == "n_points" and check.measured["share_off"] > 0.5
    assert "shuffled" in check.message


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
        ArtifactPaths(cache=faulty), Settings(keys={"cache": {"profile": "their_profile"}})
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


@pytest.mark.parametrize("fault", [None, "unnormalized_row"])
def test_a_float16_cache_is_held_to_its_own_precision(
    small_cache: Path, tmp_path: Path, fault: str | None
) -> None:
    """Rows normalized in float32 and then stored as float16 sum to 1 only within the
    half-precision rounding (4e-4 off against a fixed 1e-4 failed the cache); a row off by
    1% still fails."""
    cache = cache_faults.load(small_cache)
    if fault is not None:
        getattr(cache_faults, fault)(cache)
    for key in ("profile", "duration", "log_duration", "features"):
        cache[key] = cache[key].half()
    result = stage1(cache_faults.save_beside(cache, small_cache, tmp_path))
    normalized = result.check("cache.profile_normalized")
    assert normalized is not None and normalized.measured["max_row_deviation"] > 1e-4
    assert normalized.status == ("pass" if fault is None else "fail"), normalized.message
    assert "widened to the profile's stored precision" in str(normalized.expected)
    assert statuses(result)["cache.log_duration"] == "pass"
