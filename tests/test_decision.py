"""Stage 7: each rule of docs/decision.md driven by constructed stage results, then rules 1, 4 and 7
end to end through `timing-tui check` on real artifacts (a cache with a planted fault and
the bundled sample runs and eval dump)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cache_faults
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_timing.cli import main
from tui_timing.config import ArtifactPaths, Settings
from tui_timing.findings import Report, StageResult
from tui_timing.report.markdown import findings_markdown, full_markdown
from tui_timing.report.text import render_text
from tui_timing.stages import decision
from tui_timing.stages.catalog import DIAGNOSTIC, STAGE_BY_ID
from tui_timing.stages.checks import CheckSpec, checks_of, declared_checks
from tui_timing.stages.context import StageContext
from tui_timing.stages.decision.evidence import Evidence
from tui_timing.stages.runner import run_check

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
SAMPLE_CACHE = SAMPLE / "datasets/sample/train_timing.pt"
SPECS: dict[str, CheckSpec] = {spec.id: spec for spec in declared_checks()}
ALL_CHECKS = list(SPECS)
PATHS = ArtifactPaths(
    cache=Path("datasets/mouse/train_timing.pt"),
    checkpoint=Path("runs/linear/checkpoint.pt"),
)


CLAMP_BINDS = {
    "bound_binds": True,
    "bound": {
        "kind": "clamp",
        "name": "logsigma_min",
        "where": "the clamp logsigma_min",
        "log_sigma": -1.0,
        "share": 0.3,
    },
    "needed_log_sigma": -1.6,
    "sigma_ratio": 1.8,
}


def healthy() -> dict[int, StageResult]:
    """Stages 1-6 with every check passing, and the stage-3 stats the probe writes."""
    results = {
        sid: StageResult(
            id=sid,
            name=STAGE_BY_ID[sid].name,
            checks=[
                spec.check("pass", {}, None, f"{spec.id} holds.") for spec in checks_of(sid).specs
            ],
        )
        for sid in DIAGNOSTIC
    }
    results[3].stats = {
        "best": "increments",
        "checkpoint_config": "increments",
        "can_fit": True,
        "checkpoint": {"config": {"profile_head": "increments"}, "source": "reference"},
    }
    setting(
        results,
        "integration.c2st",
        "pass",
        {"accuracy": 0.51, "auc": 0.5, "p_value": 0.62},
        "Held-out accuracy 0.51, AUC 0.5, one-sided p = 0.62.",
    )
    return results


def setting(
    results: dict[int, StageResult],
    check_id: str,
    status: str,
    measured: Any = None,
    message: str | None = None,
) -> None:
    """Replace a check's result by a new one made through its spec (so its key figure is
    the one the stage would fill)."""
    result = next(r for r in results.values() if r.check(check_id) is not None)
    old = result.check(check_id)
    assert old is not None
    new = SPECS[check_id].check(
        status,  # type: ignore[arg-type]
        old.measured if measured is None else measured,
        old.expected,
        message or f"{check_id} is {status} (measured {measured}).",
    )
    result.checks[result.checks.index(old)] = new


def skip_stage(results: dict[int, StageResult], sid: int, reason: str) -> None:
    result = results[sid]
    result.skip_reason = reason
    for check in result.checks:
        check.status = "skip"


def decide(results: dict[int, StageResult], paths: ArtifactPaths = PATHS) -> StageResult:
    ctx = StageContext(paths=paths)
    ctx.results.update(results)
    return decision.run(ctx)


def rule_of(result: StageResult) -> int:
    assert result.decision is not None
    return result.decision.rule


def matched(result: StageResult) -> list[int]:
    assert result.decision is not None
    return [o.rule for o in result.decision.path if o.matched]


def test_everything_passing_is_rule_9_with_the_c2st_figures() -> None:
    result = decide(healthy())
    assert rule_of(result) == 9 and result.status == "pass"
    assert result.decision is not None
    assert "consistent as far as the evidence goes" in result.decision.verdict
    assert result.decision.assessed == [1, 2, 3, 4, 5, 6] and result.decision.not_assessed == []
    assert "p = 0.62" in result.decision.verdict
    assert result.figures == [f"rule 9 (everything that ran passes): {result.decision.verdict}"]
    assert [o.rule for o in result.decision.path] == list(range(1, 10))


def test_rule_9_names_the_skipped_stages() -> None:
    results = healthy()
    skip_stage(results, 4, "no training log given")
    skip_stage(results, 6, "no eval dump given")
    result = decide(results)
    assert rule_of(result) == 9
    assert result.decision is not None
    verdict = result.decision.verdict
    assert verdict.startswith("No fault found in the stages that ran (1, 2, 3, 5)")
    assert "consistent" not in verdict
    assert "stage 4 training (no training log given: give --log" in verdict
    assert "stage 6 integration (no eval dump given: give --eval" in verdict
    assert result.decision.not_assessed == [4, 6] and result.decision.assessed == [1, 2, 3, 5]
    assert result.decision.actions[-1].evidence == ["train.log", "integration.dt_median"]


def test_rule_9_does_not_call_a_mostly_skipped_stage_assessed() -> None:
    """A checkpoint read only from its shapes: stage 3 runs two checks of six."""
    results = healthy()
    for check in results[3].checks[2:]:
        check.status = "skip"
        check.message = "Skipped: the weights were read statically."
    result = decide(results)
    assert rule_of(result) == 9 and result.decision is not None
    assert result.decision.not_assessed == [3]
    assert "stage 3 model (the weights were read statically: give --model" in (
        result.decision.verdict
    )


def test_the_text_report_says_a_mostly_or_wholly_skipped_stage_was_not_assessed() -> None:
    """The decision and the text report agree: stage 3 with two checks of six run reads
    PASS with "not assessed" beside it, never a bare PASS; a stage that skipped every
    check says so too; a stage whose checks all ran says nothing more."""
    results = healthy()
    for check in results[3].checks[2:]:
        check.status = "skip"
    skip_stage(results, 4, "no training log given")
    stage7 = decide(results)
    assert stage7.decision is not None and stage7.decision.not_assessed == [3, 4]
    report = Report(artifacts={}, stages=[*results.values(), stage7], decision=stage7.decision)
    text = render_text(report)
    total3, total4 = len(results[3].checks), len(results[4].checks)
    assert f"(Model architecture): PASS, not assessed (2 of {total3} checks ran)" in text
    assert f"(Training loop): SKIP, not assessed (0 of {total4} checks ran)" in text
    assert "(Sampler): PASS\n" in text


def test_rule_1_cache_failure_comes_first_and_others_still_add_actions() -> None:
    results = healthy()
    setting(results, "cache.mask_length", "fail", {"rows": 3})
    setting(results, "model.duration_head", "fail", CLAMP_BINDS)
    result = decide(results)
    assert rule_of(result) == 1 and result.status == "fail"
    assert matched(result) == [1, 5]
    assert result.decision is not None
    first = result.decision.actions[0]
    assert first.rule == 1 and first.evidence == ["cache.mask_length"]
    assert first.command is not None and first.command.startswith("timing-tui build-cache")
    assert "--out datasets --id mouse --split train" in first.command
    assert "cache.mask_length (rows 3)" in first.why  # the check, with its key figure
    assert [a.rule for a in result.decision.actions] == [1, 5]


def test_rule_2_names_the_failing_property() -> None:
    results = healthy()
    setting(results, "dataset.mask_padding", "fail")
    result = decide(results)
    assert rule_of(result) == 2
    assert result.decision is not None
    assert "mask padding" in result.decision.verdict


def test_rule_3_conditioning_with_only_dt_features_adds_geometry() -> None:
    results = healthy()
    setting(
        results,
        "model.conditioning",
        "fail",
        {"timing_features": ["dt_mean", "dt_std"], "model_cond_dim": 2},
        "The backbone is not fed the conditioning vector: every feature is a Δt statistic.",
    )
    result = decide(results)
    assert rule_of(result) == 3
    assert result.decision is not None
    titles = [a.title for a in result.decision.actions]
    assert any("neuromotor conditioning" in t for t in titles)
    assert any("path length and direction" in t for t in titles)


def test_rule_4_names_the_probes_best_parameterization_and_the_command() -> None:
    results = healthy()
    results[3].stats.update(
        best="templates",
        checkpoint_config="linear+bound=0.3",
        can_fit=False,
        checkpoint={
            "config": {"profile_head": "linear", "logit_bound": 0.3, "mask_padding": False},
            "source": "reference",
        },
    )
    setting(results, "model.profile_capacity", "fail", {"best": "templates", "can_fit": False})
    setting(results, "sampler.flat", "fail")
    setting(results, "train.collapse", "fail", {"epoch": 1})
    result = decide(results)
    assert rule_of(result) == 4
    assert result.decision is not None
    assert "templates" in result.decision.verdict
    action = result.decision.actions[0]
    assert "remove the logit bound" in action.title and "mask the softmax" in action.title
    assert action.command == (
        "timing-tui train --cache datasets/mouse/train_timing.pt --out runs/linear-templates "
        "--profile-head templates"
    )
    # The flat profile in the log is the architecture's doing: rule 6 does not also claim
    # that "the architecture is not the cause".
    assert 6 not in matched(result)


def test_rule_4_when_the_sampler_is_flat_and_the_probe_could_not_test_the_head() -> None:
    results = healthy()
    results[3].stats.update(checkpoint_config=None, can_fit=None)
    setting(results, "model.profile_capacity", "skip", {"can_fit": None})
    setting(results, "sampler.flat", "fail")
    result = decide(results)
    assert rule_of(result) == 4
    assert result.decision is not None
    assert set(result.decision.actions[0].evidence) == {"model.profile_capacity", "sampler.flat"}


def test_rule_4_does_not_apply_while_the_cache_fails() -> None:
    results = healthy()
    setting(results, "cache.finite", "fail")
    setting(results, "model.profile_capacity", "fail")
    result = decide(results)
    assert rule_of(result) == 1 and 4 not in matched(result)


def test_a_diverged_log_is_training_even_when_a_padding_check_fails() -> None:
    """Weights gone NaN after the learning rate jumped: the log says so, and an
    architecture check on the broken model's outputs proves nothing (rule 6, not 4)."""
    results = healthy()
    setting(results, "train.loss_trend", "fail", {"split": "val", "epoch": 7})
    setting(results, "model.length_masking", "fail", {"mean": 0.0, "max": 0.0})
    result = decide(results)
    assert rule_of(result) == 6 and 4 not in matched(result)
    assert result.decision is not None
    assert "diverges from epoch 7" in result.decision.verdict
    assert "mask" not in result.decision.verdict


def test_rule_5_duration_clamp() -> None:
    results = healthy()
    results[3].stats["checkpoint"]["config"]["logsigma_min"] = -1.0
    setting(results, "model.duration_head", "fail", CLAMP_BINDS)
    result = decide(results)
    assert rule_of(result) == 5
    assert result.decision is not None
    assert "Remove the clamp logsigma_min on log σ" in result.decision.verdict
    assert "logsigma_min = -1" in result.decision.verdict
    assert "log σ ≈ -1.6" in result.decision.verdict
    command = result.decision.actions[0].command
    assert (
        command is not None and "--out runs/linear-unclamped --profile-head increments" in command
    )
    assert "logsigma" not in command  # the trainer's default is no clamp


def test_rule_5_a_tanh_range_names_its_floor_and_the_sigma_the_data_need() -> None:
    results = healthy()
    bound = {"kind": "range", "name": None, "where": "its floor", "edge": "floor"}
    measured = {
        "bound_binds": True,
        "bound": {**bound, "log_sigma": 0.3, "share": 0.82},
        "needed_log_sigma": -0.62,
    }
    setting(results, "model.duration_head", "fail", measured)
    result = decide(results)
    assert rule_of(result) == 5 and result.decision is not None
    verdict = result.decision.verdict
    assert "base + range·tanh(z)" in verdict and "floor 0.3" in verdict and "-0.62" in verdict
    assert result.decision.actions[0].command is None  # not a clamp the trainer can drop


def test_a_sigma_off_the_spread_with_no_bound_is_not_rule_5() -> None:
    results = healthy()
    setting(results, "model.duration_head", "fail", {"bound_binds": False, "sigma_ratio": 0.3})
    result = decide(results)
    assert 5 not in matched(result) and rule_of(result) == 8


def _duration_fit(cause: str, bias: float) -> dict[str, Any]:
    return {"gap": 0.8, "mu_bias": bias, "sigma_scale": 1.0, "cause": cause, "margin": 0.1}


def test_a_mu_bias_on_a_model_that_fitted_its_own_data_is_rule_3() -> None:
    results = healthy()
    results[4].stats["fitted"] = {"flattened": True, "split": "val", "figure": "duration_nll"}
    setting(results, "model.duration_fit", "fail", _duration_fit("bias", 0.78))
    result = decide(results)
    assert rule_of(result) == 3 and result.decision is not None
    verdict = result.decision.verdict
    assert "trained on other data" in verdict and "μ bias +0.78" in verdict
    assert "flattened" in verdict


def test_a_sigma_gap_on_a_model_that_fitted_its_own_data_is_rule_3_too() -> None:
    """A head whose σ is too narrow for rows it never saw (other users): it fitted its
    own data, so it is not undertrained; the data differ."""
    results = healthy()
    results[4].stats["fitted"] = {"flattened": True, "split": "val", "figure": "duration_nll"}
    setting(results, "model.duration_fit", "fail", {**_duration_fit("sigma", 0.1),
                                                     "sigma_scale": 2.4})  # fmt: skip
    result = decide(results)
    assert rule_of(result) == 3 and result.decision is not None
    assert "mostly σ 0.4167× what the rows need" in result.decision.verdict


def test_the_same_bias_while_the_loss_still_falls_is_rule_6() -> None:
    results = healthy()
    results[4].stats["fitted"] = {"flattened": False, "split": "val", "figure": "duration_nll"}
    setting(results, "model.duration_fit", "fail", _duration_fit("bias", 0.78))
    result = decide(results)
    assert rule_of(result) == 6 and result.decision is not None
    assert "undertrained" in result.decision.verdict


def test_a_gap_made_of_features_not_followed_is_rule_6_undertrained() -> None:
    results = healthy()
    setting(results, "model.duration_fit", "fail", _duration_fit("features", 0.01))
    result = decide(results)
    assert rule_of(result) == 6 and result.decision is not None
    assert "μ does not follow the features" in result.decision.verdict


def test_a_gap_with_a_binding_bound_is_rule_5_not_3() -> None:
    results = healthy()
    results[4].stats["fitted"] = {"flattened": True}
    setting(results, "model.duration_fit", "fail", _duration_fit("bias", 0.5))
    setting(results, "model.duration_head", "fail", CLAMP_BINDS)
    result = decide(results)
    assert rule_of(result) == 5 and 3 not in matched(result)


@pytest.mark.parametrize(
    ("check_id", "measured", "words"),
    [
        ("train.objective", {"profile_loss": "mse", "key": "profile_loss"}, "KL"),
        ("sampler.passthrough", {"share": 1.0}, "real rows"),
        ("sampler.duration_ceiling", {"share": 0.2, "value": 2.5}, "clips durations"),
        ("sampler.profile_dispersion", {"fake": 0.9, "real": 0.4, "direction": "noisier"},
         "concentration"),
        ("sampler.profile_dispersion", {"fake": 0.01, "real": 0.4, "direction": "flatter"},
         "temperature"),
    ],
)  # fmt: skip
def test_rule_6_names_the_objective_and_the_sampler_setting(
    check_id: str, measured: dict[str, Any], words: str
) -> None:
    results = healthy()
    setting(results, check_id, "fail", measured)
    result = decide(results)
    assert rule_of(result) == 6 and result.decision is not None
    assert words in result.decision.verdict


def test_rule_1_names_milliseconds_and_a_shuffle_in_the_users_terms() -> None:
    results = healthy()
    setting(results, "cache.units", "fail", {"median": 1045.0, "factor": 1000.0,
                                              "unit": "milliseconds"})  # fmt: skip
    setting(results, "cache.row_alignment", "fail", {"feature": "n_points", "share_off": 0.97,
                                                      "rows_off": 97, "rows": 100})  # fmt: skip
    result = decide(results)
    assert rule_of(result) == 1 and result.decision is not None
    verdict = result.decision.verdict
    assert "milliseconds (median 1045 s per movement; divide them by 1000)" in verdict
    assert "rows are shuffled against their features (n_points" in verdict


def test_rules_1_and_2_say_what_drifted() -> None:
    """A cache that drifted from its raw data and batches that carry another row's profile:
    each headline says what drifted and by how much, not a bare check id."""
    results = healthy()
    setting(results, "cache.vs_raw", "fail", {
        "duration.mean": {"cache": 1.05, "raw": 1.0, "ok": False},
        "n_segments": {"cache": 10, "raw": 10, "ok": True},
    })  # fmt: skip
    result = decide(results)
    assert result.decision is not None and rule_of(result) == 1
    assert "the mean duration is +5.0% against the raw summary" in result.decision.verdict
    results = healthy()
    setting(results, "cache.log_duration", "fail", {"rows_off": 4375, "max_abs_dev": 2.4})
    result = decide(results)
    assert result.decision is not None
    assert "log_duration is not log(duration) on 4,375 rows" in result.decision.verdict
    results = healthy()
    setting(results, "dataset.batch_rows", "fail",
            {"drifted": ["length", "profile"], "off": 40, "rows": 100})  # fmt: skip
    result = decide(results)
    assert result.decision is not None and rule_of(result) == 2
    assert "another row's length, profile beside a row's own (40 of 100 rows)" in (
        result.decision.verdict
    )


def test_rule_6_collapse_cites_the_epoch() -> None:
    results = healthy()
    setting(results, "train.collapse", "fail", {"epoch": 7, "flat_epoch": 7})
    result = decide(results)
    assert rule_of(result) == 6
    assert result.decision is not None
    assert "epoch 7" in result.decision.verdict
    assert "not the cause" in result.decision.verdict


def test_rule_6_collapse_on_a_step_axis_cites_the_step() -> None:
    results = healthy()
    setting(results, "train.collapse", "fail", {"x_axis": "step", "step": 350, "sigma_step": 350})
    result = decide(results)
    assert rule_of(result) == 6 and result.decision is not None
    actions = result.decision.actions
    text = result.decision.verdict + " ".join(f"{a.title} {a.why}" for a in actions)
    assert "collapse from step 350" in text and "at the step where" in text
    assert "epoch" not in text


def test_rule_6_flat_sampler_with_a_capable_head_points_at_sampling() -> None:
    results = healthy()
    setting(results, "sampler.flat", "fail", {"share": 0.1})
    result = decide(results)
    assert rule_of(result) == 6
    assert result.decision is not None
    commands = [a.command for a in result.decision.actions if a.command]
    assert any(c.startswith("timing-tui sample") and "--temperature" in c for c in commands)


def test_rule_7_standalone_passes_but_the_eval_drifts() -> None:
    results = healthy()
    setting(results, "integration.dt_median", "fail", {"ratio": 0.8})
    setting(results, "integration.renormalization", "fail", {"dt_factor": {"factor": 0.8}})
    setting(results, "integration.c2st", "skip")
    result = decide(results)
    assert rule_of(result) == 7
    assert result.decision is not None
    assert "fake Δt are a constant 0.8× real" in result.decision.verdict
    assert "assert_timing_stats" in result.decision.actions[0].title
    assert 8 not in matched(result)


def test_rule_7_paths_in_other_units_even_when_the_sampler_is_off() -> None:
    results = healthy()
    setting(results, "sampler.duration_quantiles", "fail")
    setting(results, "integration.vel_p95", "fail", {"ratio": 5e-4, "cause": "paths"})
    result = decide(results)
    assert rule_of(result) == 7


def test_rule_7_names_a_velocity_drift_with_no_factor_as_a_pairing_fault() -> None:
    """Velocities off while Δt agree and no constant factor explains them: Δt paired with
    the wrong steps, not "inspect normalization"."""
    results = healthy()
    setting(results, "integration.vel_p95", "fail", {"ratio": 1.4, "cause": None})
    setting(results, "integration.dt_pairing", "skip")  # not measured
    result = decide(results)
    assert rule_of(result) == 7 and result.decision is not None
    assert "paired with other steps than the points" in result.decision.verdict
    assert "inspect normalization" not in result.decision.verdict


def test_rule_7_does_not_blame_the_pairing_the_pairing_check_passed() -> None:
    """A Hydra repo's eval: velocities off, Δt agree, and `integration.dt_pairing` measured
    Δt going with their own steps; the verdict named the pairing anyway."""
    results = healthy()
    setting(results, "integration.vel_p95", "fail", {"ratio": 2.464, "cause": None})
    setting(results, "integration.dt_pairing", "pass")
    result = decide(results)
    assert rule_of(result) == 7 and result.decision is not None
    assert "paired with other steps" not in result.decision.verdict
    assert "Δt go with their own steps' points" in result.decision.verdict


def test_a_gate_drift_the_sampler_explains_is_not_rule_7() -> None:
    results = healthy()
    setting(results, "sampler.duration_quantiles", "fail")
    setting(results, "integration.dt_median", "fail", {"ratio": 0.7})
    result = decide(results)
    assert 7 not in matched(result)
    assert rule_of(result) == 8  # only statistics are off


def test_rule_7_without_a_sampler_run_asks_for_stage_5() -> None:
    results = healthy()
    skip_stage(results, 5, "no checkpoint given")
    setting(results, "integration.vel_p95", "fail", {"ratio": 1.3, "cause": None})
    result = decide(results)
    assert rule_of(result) == 7
    assert result.decision is not None
    assert any(a.command and "--stage 5" in a.command for a in result.decision.actions)


def test_rule_8_only_statistics_off() -> None:
    results = healthy()
    setting(results, "sampler.profile_bins", "fail")
    setting(results, "integration.c2st", "warn", {"p_value": 1e-4})
    result = decide(results)
    assert rule_of(result) == 8 and result.status == "warn"
    assert result.decision is not None
    assert "tune loss weights or temperatures" in result.decision.verdict
    assert result.decision.actions[0].evidence == ["sampler.profile_bins", "integration.c2st"]


def test_a_failing_check_never_ends_at_rule_9() -> None:
    """An unusable checkpoint leaves stage 3 unassessed, and a statistic that fails is
    still a finding: rule 8, not "no fault found"."""
    results = healthy()
    setting(results, "sampler.duration_quantiles", "fail", {"fake": {"q95": 10.8},
                                                            "real": {"q95": 3.0}})  # fmt: skip
    setting(results, "model.load", "fail", "not loadable")
    result = decide(results)
    assert rule_of(result) == 8 and 9 not in matched(result)
    assert result.decision is not None and 3 in result.decision.not_assessed


def test_an_unusable_checkpoint_alone_is_rule_9_with_stage_3_not_assessed() -> None:
    results = healthy()
    setting(results, "model.load", "fail", "not loadable")
    result = decide(results)
    assert rule_of(result) == 9 and result.status == "warn"
    assert result.decision is not None
    assert "not assessed" in result.decision.verdict
    assert result.decision.actions[0].evidence == ["model.load"]


STATUS = st.sampled_from(["pass", "pass", "pass", "warn", "fail", "skip", "error"])


@settings(max_examples=300, deadline=None)
@given(st.lists(STATUS, min_size=len(ALL_CHECKS), max_size=len(ALL_CHECKS)))
def test_invariants_of_the_tree(statuses: list[str]) -> None:
    results = healthy()
    for check_id, status in zip(ALL_CHECKS, statuses, strict=True):
        setting(results, check_id, status)
    result = decide(results)
    assert result.decision is not None
    path = result.decision.path
    hits = [o.rule for o in path if o.matched]
    assert hits and result.decision.rule == hits[0]
    assert {a.rule for a in result.decision.actions} <= set(hits)
    assert all(a.evidence for a in result.decision.actions)
    evidence = Evidence(results)
    if 8 in hits:
        assert hits == [8]
    if hits == [9]:  # rule 9 never follows a failing check
        assert evidence.failing() == []
    assert (result.status == "fail") == (result.decision.rule <= 7)


def check_json(*args: str) -> tuple[int, dict[str, Any]]:
    done = CliRunner().invoke(main, ["check", "--format", "json", *args])
    assert "Traceback" not in done.output
    return done.exit_code, json.loads(done.stdout)


def sample_run(name: str) -> list[str]:
    run = SAMPLE / "runs" / name
    return [
        "--cache",
        str(SAMPLE_CACHE),
        "--checkpoint",
        str(run / "checkpoint.pt"),
        "--log",
        str(run / "stats.jsonl"),
        "--eval",
        str(SAMPLE / "eval/eval.pt"),
    ]


def test_end_to_end_rule_1_on_a_cache_with_a_planted_fault(
    small_cache: Path, tmp_path: Path
) -> None:
    faulty = cache_faults.load(small_cache)
    cache_faults.negative_duration(faulty)
    path = cache_faults.save_beside(faulty, small_cache, tmp_path / "balabit-small")
    code, report = check_json("--cache", str(path))
    assert code == 1
    assert report["decision"]["rule"] == 1
    (action,) = [a for a in report["decision"]["actions"] if a["command"]]
    assert "cache.nonnegative" in action["evidence"]
    assert action["command"].startswith("timing-tui build-cache")
    assert f"--out {tmp_path}" in action["command"]


def test_end_to_end_rule_4_on_the_linear_sample_run() -> None:
    code, report = check_json(*sample_run("linear"))
    assert code == 1
    assert report["decision"]["rule"] == 4
    first = report["decision"]["actions"][0]
    assert "model.profile_capacity" in first["evidence"]
    best = next(s for s in report["stages"] if s["id"] == 3)["stats"]["best"]
    assert best in report["decision"]["verdict"]
    assert f"--profile-head {best}" in first["command"]
    # Each why is one short sentence with the key figures (the full sentences stay in
    # the checks of stages 3 and 5).
    for action in report["decision"]["actions"]:
        why = action["why"]
        assert len(why) <= 240 and why.endswith(".") and ". " not in why, why
    assert "held-out KL" in first["why"] and "% of the profile mass on padding" in first["why"]


def test_each_finding_of_the_linear_run_carries_its_own_key_figure() -> None:
    """The key figures are filled by the stages from their own measured dicts: every check
    that is off and declares a figure gets that figure, not the generic one (a renamed key
    in `measured` fails here)."""
    paths = ArtifactPaths(
        cache=SAMPLE_CACHE,
        checkpoint=SAMPLE / "runs/linear/checkpoint.pt",
        log=SAMPLE / "runs/linear/stats.jsonl",
        eval=SAMPLE / "eval/eval.pt",
    )
    report = run_check(paths, Settings())
    off = [c for s in report.stages for c in s.checks if c.status in ("fail", "warn")]
    with_figures = [c for c in off if c.id in SPECS and SPECS[c.id].figure is not None]
    assert len(with_figures) >= 5
    for check in with_figures:
        figure = SPECS[check.id].figure
        assert figure is not None
        assert check.key_figure and check.key_figure == figure(check.measured), check.id


def test_end_to_end_rule_7_on_the_increments_run_and_the_sample_eval_dump(
    tmp_path: Path,
) -> None:
    scratchpad = tmp_path / "scratchpad.md"
    code, report = check_json(*sample_run("increments"), "--scratchpad", str(scratchpad))
    assert code == 1
    assert report["decision"]["rule"] == 7
    stages = {s["id"]: s for s in report["stages"]}
    assert stages[5]["status"] == "pass" and stages[3]["status"] == "pass"
    checks = {c["id"]: c["status"] for c in stages[6]["checks"]}
    assert checks["integration.renormalization"] == "fail"
    assert checks["integration.c2st"] == "skip"
    assert stages[7]["stats"]["rule"] == 7
    assert "Verdict of rule 7 (stage 6 drifts in a way" in scratchpad.read_text()


def test_the_decision_is_in_the_text_and_markdown_reports() -> None:
    results = healthy()
    setting(results, "integration.dt_median", "fail", {"ratio": 0.8})
    stage7 = decide(results)
    report = Report(artifacts={}, stages=[*results.values(), stage7], decision=stage7.decision)
    for rendered in (render_text(report), full_markdown(report), findings_markdown(report)):
        # the rule's number is never shown without its name
        assert (
            "rule 7 (stage 6 drifts in a way the standalone sampler does not explain)" in rendered
        )
        assert "assert_timing_stats" in rendered
