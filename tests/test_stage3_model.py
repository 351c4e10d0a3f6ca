"""Stage 3 on real checkpoints: the clean run passes, and each planted fault fails its check."""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner
from report_helpers import run_one, statuses
from sample_paths import CACHE, INCREMENTS, LINEAR

from tui_timing.cli import main
from tui_timing.config import ArtifactPaths, Settings
from tui_timing.findings import StageResult
from tui_timing.model.capacity import CandidateFit, ProbeResult
from tui_timing.model.heads import HeadConfig
from tui_timing.model.train import TrainOptions, train
from tui_timing.stages import model as model_stage
from tui_timing.stages.model import CHECKS
from tui_timing.stages.runner import load_artifacts, run_stage

pytestmark = pytest.mark.usefixtures("one_thread")


def stage3(
    checkpoint: Path | None, cache: Path | None = CACHE, settings: Settings | None = None
) -> StageResult:
    return run_one(3, settings, cache=cache, checkpoint=checkpoint)


def planted(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the increments checkpoint with one thing changed."""
    saved = torch.load(INCREMENTS, weights_only=True)
    change(saved)
    path = tmp_path / "checkpoint.pt"
    torch.save(saved, path)
    return path


def test_the_increments_run_passes_every_check() -> None:
    result = stage3(INCREMENTS)
    assert statuses(result) == dict.fromkeys(CHECKS.ids, "pass")
    assert result.stats["can_fit"] is True
    assert result.stats["checkpoint_config"] == "increments"
    assert result.stats["best"] in result.stats["configs"]
    assert (
        "not what keeps the profile from matching" in result.check("model.profile_capacity").message
    )


def test_the_linear_run_fails_capacity_and_masking() -> None:
    result = stage3(LINEAR)
    assert statuses(result) == {
        "model.load": "pass",
        "model.conditioning": "pass",
        "model.profile_capacity": "fail",
        "model.duration_fit": "pass",
        "model.duration_head": "pass",
        "model.length_masking": "fail",
    }
    stats = result.stats
    assert stats["checkpoint_config"] == "linear+bound=0.3+no-mask"
    assert stats["can_fit"] is False
    assert stats["best"] != stats["checkpoint_config"]
    assert set(stats["configs"][stats["best"]]) >= {"profile_kl", "first", "mid", "last"}
    message = result.check("model.profile_capacity").message
    assert stats["best"] in message and "architecture is the cause" in message
    bars = result.plots[0]
    assert bars.kind == "bar" and bars.highlight == "linear+bound=0.3+no-mask"
    assert {s.label for s in bars.series} == set(stats["configs"])


def test_a_clamped_log_sigma_fails_duration_head(tmp_path: Path) -> None:
    path = planted(tmp_path, lambda s: s["config"].update(logsigma_max=-2.5))
    check = stage3(path).check("model.duration_head")
    assert check.status == "fail"
    assert check.measured["clamp_share"] > 0.9
    assert check.measured["bound_binds"] is True
    assert check.measured["bound"]["name"] == "logsigma_max"
    assert "clamp logsigma_max" in check.message and "the data need log σ" in check.message


def test_a_sigma_far_below_the_residuals_fails_duration_head(tmp_path: Path) -> None:
    path = planted(tmp_path, lambda s: s["model"]["duration.bias"].sub_(torch.tensor([0.0, 2.0])))
    check = stage3(path).check("model.duration_head")
    assert check.status == "fail"
    assert check.measured["clamp_share"] == 0.0
    assert check.measured["sigma_ratio"] < 0.5
    assert check.measured["bound_binds"] is False and "too narrow" in check.message


def test_a_sigma_far_above_the_residuals_fails_duration_head_too(tmp_path: Path) -> None:
    path = planted(tmp_path, lambda s: s["model"]["duration.bias"].add_(torch.tensor([0.0, 2.0])))
    check = stage3(path).check("model.duration_head")
    assert check.status == "fail" and check.measured["sigma_ratio"] > 2
    assert check.measured["bound_binds"] is False and "too wide" in check.message


def test_a_shifted_mu_fails_duration_fit_with_its_bias(tmp_path: Path) -> None:
    path = planted(tmp_path, lambda s: s["model"]["duration.bias"].sub_(torch.tensor([0.8, 0.0])))
    check = stage3(path).check("model.duration_fit")
    assert check.status == "fail"
    assert check.measured["cause"] == "bias" and check.measured["mu_bias"] > 0.7
    assert "μ bias of +0." in check.message


def test_a_profile_head_that_outputs_nan_fails_length_masking(tmp_path: Path) -> None:
    path = planted(tmp_path, lambda s: s["model"]["profile.increments.weight"].fill_(math.inf))
    check = stage3(path).check("model.length_masking")
    assert check.status == "fail"
    assert check.measured["nonfinite_rows"] > 0
    assert "NaN or infinite" in check.message


def test_features_with_more_columns_than_the_model_takes(tmp_path: Path) -> None:
    cache = torch.load(CACHE, weights_only=True)
    cache["features"] = torch.cat([cache["features"], torch.randn(len(cache["duration"]), 2)], 1)
    cache["meta"]["feature_names"] = [*cache["meta"]["feature_names"], "extra_a", "extra_b"]
    wide = tmp_path / "train_timing.pt"
    torch.save(cache, wide)
    result = stage3(INCREMENTS, cache=wide)
    check = result.check("model.conditioning")
    assert check.status == "fail"
    assert "12 columns, more than the 10 the model takes" in check.message
    assert statuses(result)["model.duration_fit"] == "skip"
    assert statuses(result)["model.duration_head"] == "skip"
    assert statuses(result)["model.length_masking"] == "skip"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda s: s["config"].update(diffusion_cond_dim=32), "diffusion model conditions on 32"),
        (
            lambda s: s["config"].update(feature_names=s["config"]["feature_names"][::-1]),
            "feature names differ from column 0",
        ),
    ],
    ids=["diffusion_cond_dim", "feature_names"],
)
def test_a_different_conditioning_vector_fails(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], words: str
) -> None:
    check = stage3(planted(tmp_path, change)).check("model.conditioning")
    assert check.status == "fail"
    assert words in check.message


def test_delta_t_statistics_alone_are_not_conditioning(tmp_path: Path) -> None:
    """Train on a real cache whose features were replaced by Δt statistics only."""
    cache = torch.load(CACHE, weights_only=True)
    dt = cache["profile"] * cache["duration"][:, None]
    valid = cache["mask"].float()
    n = cache["length"].float()
    mean = dt.sum(1) / n
    std = (((dt - mean[:, None]) ** 2) * valid).sum(1).div(n).sqrt()
    zero = ((dt == 0) & cache["mask"]).sum(1) / n
    cache["features"] = torch.stack([mean, std, zero], dim=1).float()
    cache["meta"]["feature_names"] = ["dt_mean", "dt_std", "dt_zero_share"]
    leaky = tmp_path / "datasets/leaky/train_timing.pt"
    leaky.parent.mkdir(parents=True)
    torch.save(cache, leaky)
    run = train(leaky, tmp_path / "run", options=TrainOptions(epochs=1))
    check = stage3(run.checkpoint, cache=leaky).check("model.conditioning")
    assert check.status == "fail"
    assert "Δt statistic" in check.message
    assert check.measured["timing_features"] == ["dt_mean", "dt_std", "dt_zero_share"]


def test_delta_t_statistics_among_the_features_leak_the_target(tmp_path: Path) -> None:
    """The sample cache's features with the row's own Δt statistics appended (what
    `build-cache --dt-features` writes): the geometry is there, but the target leaks."""
    cache = torch.load(CACHE, weights_only=True)
    dt = cache["profile"] * cache["duration"][:, None]
    n = cache["length"].float()
    mean = dt.sum(1) / n
    std = (((dt - mean[:, None]) ** 2) * cache["mask"].float()).sum(1).div(n).sqrt()
    cache["features"] = torch.cat([cache["features"], torch.stack([mean, std], 1)], 1).float()
    cache["meta"]["feature_names"] = [*cache["meta"]["feature_names"], "dt_mean", "dt_std"]
    leaky = tmp_path / "datasets/leaky/train_timing.pt"
    leaky.parent.mkdir(parents=True)
    torch.save(cache, leaky)
    run = train(leaky, tmp_path / "run", options=TrainOptions(epochs=1))
    ctx = load_artifacts(ArtifactPaths(cache=leaky, checkpoint=run.checkpoint), Settings())
    check = run_stage(ctx, 3).check("model.conditioning")
    assert check.status == "fail", check.message
    assert check.measured["leaking_features"] == ["dt_mean", "dt_std"]
    assert "statistics of the row's own Δt (dt_mean, dt_std)" in check.message
    verdict = run_stage(ctx, 7)
    assert verdict.stats["rule"] == 3, verdict.stats["verdict"]
    assert "dt_mean" in verdict.stats["verdict"]


def test_a_head_trained_on_log10_durations_is_an_objective_fault(tmp_path: Path) -> None:
    """μ and σ of the increments run divided by ln 10 (what a log10 target trains): the
    duration fit names the factor, and the verdict is training (rule 6), not other data."""

    def log10_head(saved: dict[str, Any]) -> None:
        layer = saved["model"]
        layer["duration.weight"][0] /= math.log(10)
        layer["duration.bias"][0] /= math.log(10)
        layer["duration.bias"][1] -= math.log(math.log(10))

    checkpoint = planted(tmp_path, log10_head)
    ctx = load_artifacts(ArtifactPaths(cache=CACHE, checkpoint=checkpoint), Settings())
    fit = run_stage(ctx, 3).check("model.duration_fit")
    assert fit.status == "fail" and fit.measured["cause"] == "scale", fit.message
    assert fit.measured["log10"] is True
    assert abs(fit.measured["log_factor"] - math.log(10)) < 0.2
    verdict = run_stage(ctx, 7)
    assert verdict.stats["rule"] == 6, verdict.stats["verdict"]
    assert "a log10 target (ln 10 = 2.303)" in verdict.stats["verdict"]
    healthy = stage3(INCREMENTS).check("model.duration_fit")
    assert healthy.measured["cause"] != "scale" and healthy.measured["log10"] is False


def test_a_model_with_nan_weights_is_a_training_fault_not_the_architecture(
    tmp_path: Path,
) -> None:
    """A run whose weights went NaN (the learning rate jumped): the masking check cannot see
    where the mass goes, and the verdict is training (rule 6), never "mask the softmax" for
    a checkpoint that masks."""

    def diverged(saved: dict[str, Any]) -> None:
        saved["model"]["backbone.2.weight"][0, 0] = float("nan")

    ctx = load_artifacts(
        ArtifactPaths(cache=CACHE, checkpoint=planted(tmp_path, diverged)), Settings()
    )
    assert run_stage(ctx, 3).check("model.length_masking").measured["nonfinite_rows"] > 0
    verdict = run_stage(ctx, 7)
    assert verdict.stats["rule"] == 6, verdict.stats["verdict"]
    assert 4 not in verdict.stats["matched"]
    assert "NaN or inf" in verdict.stats["verdict"] and "mask" not in verdict.stats["verdict"]


def test_an_unknown_state_dict_is_read_statically(tmp_path: Path) -> None:
    state = {
        "enc.weight": torch.zeros(16, 10),
        "dur.weight": torch.zeros(2, 16),
        "steps.weight": torch.zeros(128, 16),
    }
    torch.save(state, tmp_path / "unknown.pt")
    result = stage3(tmp_path / "unknown.pt")
    assert statuses(result) == {
        "model.load": "warn",
        "model.conditioning": "pass",
        "model.profile_capacity": "skip",
        "model.duration_fit": "skip",
        "model.duration_head": "skip",
        "model.length_masking": "skip",
    }
    assert result.stats["can_fit"] is None and result.stats["checkpoint_config"] is None
    assert result.stats["best"] in result.check("model.profile_capacity").message
    assert "dur.weight" in result.check("model.duration_head").message
    del state["dur.weight"]
    torch.save(state, tmp_path / "no_duration.pt")
    check = stage3(tmp_path / "no_duration.pt").check("model.duration_head")
    # A head that cannot be read statically is a skip with the reason, never a failure
    # (docs/artifacts.md#your-own-repo): it may well be two 1-output layers.
    assert check.status == "skip" and "2 outputs" in check.message and "--model" in check.message
    state |= {"mu_head.weight": torch.zeros(1, 16), "log_std_head.weight": torch.zeros(1, 16)}
    torch.save(state, tmp_path / "two_heads.pt")
    check = stage3(tmp_path / "two_heads.pt").check("model.duration_head")
    assert check.status == "skip"
    assert "mu_head.weight + log_std_head.weight" in check.message


def test_a_users_model_runs_through_its_factory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "stage3_user_model.py").write_text(
        textwrap.dedent(
            """
            from tui_timing.model.heads import HeadConfig, TimingHead

            def build(config):
                return TimingHead(HeadConfig.from_dict(config))
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    result = stage3(INCREMENTS, settings=Settings(model_spec="stage3_user_model:build"))
    assert result.stats["checkpoint"]["source"] == "factory"
    assert statuses(result)["model.profile_capacity"] == "skip"  # its parameterization is theirs
    assert statuses(result)["model.duration_head"] == "pass"
    assert statuses(result)["model.length_masking"] == "pass"


def test_an_unusable_checkpoint_fails_load_and_skips_the_rest(tmp_path: Path) -> None:
    torch.save({"epoch": 3}, tmp_path / "empty.pt")
    result = stage3(tmp_path / "empty.pt")
    assert statuses(result) == {"model.load": "fail", **dict.fromkeys(CHECKS.ids[1:], "skip")}
    assert "no weights" in result.check("model.load").message


def test_cli_check_exits_2_with_the_error_object(tmp_path: Path) -> None:
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    result = CliRunner().invoke(
        main,
        ["check", "--format", "json", "--stage", "3", "--checkpoint", str(tmp_path / "tensor.pt")],
    )
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert "wrong container" in report["error"]["problem"]
    stage = report["stages"][0]
    assert [c["status"] for c in stage["checks"]] == ["fail", *["skip"] * 5]


def test_without_a_checkpoint_or_cache() -> None:
    assert stage3(None).skip_reason == "no checkpoint given"
    result = stage3(INCREMENTS, cache=None)
    assert statuses(result)["model.load"] == "pass"
    assert statuses(result)["model.conditioning"] == "skip"
    assert result.check("model.profile_capacity").message == "Skipped: no cache given."


def test_capacity_does_not_blame_a_head_when_no_configuration_reaches_the_shape() -> None:
    """Every candidate misses the cache's shape in the brief fit: the probe cannot single
    out the checkpoint's head (it used to say "increments cannot reach it; increments
    reaches it"), so the check skips with the question."""
    ckpt = load_artifacts(ArtifactPaths(cache=CACHE, checkpoint=INCREMENTS), Settings()).value(
        "checkpoint"
    )
    fits = {
        name: CandidateFit(name, HeadConfig(cond_dim=10), kl, 0.138, 1.2e-5, 0.0, False, 0.0)
        for name, kl in (("increments", 0.1715), ("templates", 0.1721))
    }
    probe = ProbeResult(fits, "increments", "increments", {"first": 0.1434, "mid": 0.0,
                        "last": 0.0}, 0.3, 0.25, 100, 100, 0.0)  # fmt: skip
    check = model_stage._capacity_check(ckpt, probe, Settings().tolerances)
    assert check.status == "skip", check.message
    assert "cannot single out" in check.message
