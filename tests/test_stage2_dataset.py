"""Stage 2 on real Balabit caches: the package's TimingDataset passes; a user's dataset
(`--dataset module:Class`) with one planted fault fails the check named for it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from report_helpers import run_one, statuses

from tui_timing.config import Settings
from tui_timing.errors import UsageError
from tui_timing.findings import StageResult

#: A user's dataset as researchers write them: each variant changes one thing.
DATASET_SOURCE = '''
import torch
from torch.utils.data import Dataset


class Base(Dataset):
    def __init__(self, path):
        self.c = torch.load(path, weights_only=True)

    def __len__(self):
        return self.c["duration"].shape[0]

    def row(self, i):
        return {k: self.c[k][i] for k in
                ("duration", "log_duration", "profile", "mask", "length", "features")}

    def __getitem__(self, i):
        return self.row(i)


class Clean(Base):
    pass


class Broken(Base):
    def __init__(self, path):
        raise RuntimeError("cache folder not mounted")


class NoLogDuration(Base):
    def __getitem__(self, i):
        item = self.row(i)
        del item["log_duration"]
        return item


class NoDuration(Base):
    def __getitem__(self, i):
        item = self.row(i)
        del item["duration"]
        return item


class ExtraFeature(Base):
    def __getitem__(self, i):
        item = self.row(i)
        item["features"] = torch.cat([item["features"], item["log_duration"][None]])
        return item


class PaddingMass(Base):
    """Softmax-style smoothing over all L steps: mass leaks onto padding."""
    def __getitem__(self, i):
        item = self.row(i)
        p = item["profile"] + 1e-3
        item["profile"] = p / p.sum()
        return item


class Log10(Base):
    def __getitem__(self, i):
        item = self.row(i)
        item["log_duration"] = torch.log10(item["duration"])
        return item


class Smoothed(Base):
    """Blends each profile with a uniform profile over its valid steps."""
    def __getitem__(self, i):
        item = self.row(i)
        n = int(item["length"])
        uniform = item["mask"].float() / n
        item["profile"] = 0.8 * item["profile"] + 0.2 * uniform
        return item


class SkipsLastRow(Base):
    def __len__(self):
        return super().__len__() - 1


class NextRowsProfile(Base):
    """Profile, mask and length of the next row beside this row's duration and features
    (an index off by one in one of two tensors): every pooled figure is unchanged."""
    def __getitem__(self, i):
        item = self.row(i)
        other = self.row((i + 1) % len(self))
        for key in ("profile", "mask", "length"):
            item[key] = other[key]
        return item


class ShiftedProfile(Base):
    """Each row's own profile rolled one step later within its valid steps (an off-by-one
    between the profile and the mask): sums, shapes and the mask all unchanged."""
    def __getitem__(self, i):
        item = self.row(i)
        n = int(item["length"])
        item["profile"] = item["profile"].clone()
        item["profile"][:n] = torch.roll(item["profile"][:n], 1)
        return item


class Standardized(Base):
    """Features standardized per column (a harmless change: the same rows)."""
    def __init__(self, path):
        super().__init__(path)
        f = self.c["features"].float()
        self.c["features"] = (f - f.mean(0)) / f.std(0).clamp_min(1e-8)
'''


@pytest.fixture()
def user_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> str:
    """Write the user's dataset module into a temp folder and work from there."""
    name = f"user_datasets_{request.node.name.replace('[', '_').replace(']', '').replace('.', '_')}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(DATASET_SOURCE))
    monkeypatch.chdir(tmp_path)
    return name


def stage2(cache: Path, dataset: str | None = None, **paths: Path) -> StageResult:
    return run_one(2, Settings(dataset_spec=dataset), cache=cache, **paths)


ALL_PASS = {
    "dataset.instantiate": "pass",
    "dataset.batch_keys": "pass",
    "dataset.feature_dim": "pass",
    "dataset.mask_padding": "pass",
    "dataset.log_duration": "pass",
    "dataset.batch_profile_mean": "pass",
    "dataset.coverage": "pass",
    "dataset.batch_rows": "pass",
}


def test_package_dataset_passes(small_cache: Path) -> None:
    result = stage2(small_cache)
    assert statuses(result) == ALL_PASS
    assert result.stats["rows"] == result.checks[0].measured["len"]
    assert result.plots and result.plots[0].series[1].label == "batch"


def test_users_clean_dataset_passes(small_cache: Path, user_module: str) -> None:
    """Without an `index` key, coverage is checked by the multiset of durations."""
    result = stage2(small_cache, f"{user_module}:Clean")
    assert statuses(result) == ALL_PASS
    assert "multiset" in result.check("dataset.coverage").message


def test_batches_without_log_duration_get_it_derived(small_cache: Path, user_module: str) -> None:
    """Not a fault: the training step may take the log itself. Derived, said, and its
    check skipped (there is none of the dataset's own to compare)."""
    result = stage2(small_cache, f"{user_module}:NoLogDuration")
    assert result.check("dataset.batch_keys").status == "pass"
    assert result.check("dataset.log_duration").status == "skip"
    assert [a.what for a in result.assumptions] == ["batch log_duration"]


@pytest.mark.parametrize(
    ("cls", "check_id"),
    [
        ("Broken", "dataset.instantiate"),
        ("NoDuration", "dataset.batch_keys"),
        ("ExtraFeature", "dataset.feature_dim"),
        ("PaddingMass", "dataset.mask_padding"),
        ("Log10", "dataset.log_duration"),
        ("Smoothed", "dataset.batch_profile_mean"),
        ("SkipsLastRow", "dataset.coverage"),
    ],
)
def test_planted_fault_fails_its_check(
    small_cache: Path, user_module: str, cls: str, check_id: str
) -> None:
    result = stage2(small_cache, f"{user_module}:{cls}")
    check = result.check(check_id)
    assert check is not None and check.status == "fail", statuses(result)
    if cls == "Smoothed":  # only the mean changes: the other checks still pass
        assert {k: v for k, v in statuses(result).items() if k != check_id} == {
            k: v for k, v in ALL_PASS.items() if k != check_id
        }


def test_batch_rows_are_the_cache_rows_they_claim(small_cache: Path, user_module: str) -> None:
    """By index (the package's dataset) and by duration (a user's, without an index): the
    next row's profile beside this row's duration is caught, and only by this check;
    standardized features are the same rows."""
    by_index = stage2(small_cache).check("dataset.batch_rows")
    assert by_index.status == "pass" and by_index.measured["by"] == "index"
    result = stage2(small_cache, f"{user_module}:NextRowsProfile")
    check = result.check("dataset.batch_rows")
    assert check.status == "fail" and check.measured["by"] == "content", check.message
    assert check.measured["length_off"] > 0 and check.measured["profile_off"] > 0
    assert "profile" in check.measured["drifted"] and "length" in check.measured["drifted"]
    assert {k: v for k, v in statuses(result).items() if k != check.id} == {
        k: v for k, v in ALL_PASS.items() if k != check.id
    }
    assert statuses(stage2(small_cache, f"{user_module}:Standardized")) == ALL_PASS


def test_a_profile_shifted_one_step_within_its_row_is_named_a_shift(
    small_cache: Path, user_module: str
) -> None:
    """The row's own profile one step late is not another row's: batch_rows fails and says
    shifted by one step (matched by content: the user's dataset carries no index)."""
    check = stage2(small_cache, f"{user_module}:ShiftedProfile").check("dataset.batch_rows")
    assert check is not None and check.status == "fail", check.message
    m = check.measured
    assert m["profile_off"] > 0 and m["shifted_one_step"] == m["profile_off"] == m["off"]
    assert "profile" not in m["drifted"] and "shifted by one step" in check.message
    assert (
        stage2(small_cache, f"{user_module}:NextRowsProfile")
        .check("dataset.batch_rows")
        .measured.get("shifted_one_step")
        is None
    )  # another row's profile is not a shift


def test_an_unknown_dataset_class_is_a_usage_error(small_cache: Path, user_module: str) -> None:
    """A name that is not there is the table's to fix (exit 2), not a dataset that fails."""
    with pytest.raises(UsageError, match=f"'{user_module}' has no attribute 'Nope'"):
        stage2(small_cache, f"{user_module}:Nope")


def test_skips_without_a_cache() -> None:
    result = stage2(None)  # type: ignore[arg-type]
    assert result.status == "skip" and result.skip_reason == "no cache given"
