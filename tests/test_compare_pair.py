"""Two runs on one cache: shared inputs loaded and hashed once, the stages whose inputs are
the same run once (docs/cli.md#compare); what counts as fixed, regressed, changed or same."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from sample_paths import CACHE, INCREMENTS, LINEAR, SAMPLE

from tui_timing.config import Settings
from tui_timing.data.build_cache import BuildResult, SegmentationParams, build_cache
from tui_timing.findings import Assumption, Check, Decision, Report, StageResult
from tui_timing.model.train import TrainOptions, train
from tui_timing.report.compare import Change, change_kind, compare_reports, paired_figures
from tui_timing.report.compare_render import figure_change
from tui_timing.stages.catalog import Stage
from tui_timing.stages.context import ArtifactPaths
from tui_timing.stages.model import DURATION_FIT, PROBE_MEMO
from tui_timing.stages.pair import load_pair, pair_file, run_pair, shared_stages
from tui_timing.stages.runner import reused_result, run_stage
from tui_timing.stages.sampler import DURATION_QUANTILES, PROFILE_BINS

EVAL = SAMPLE / "eval/eval.pt"


def test_shared_stages_run_once_and_shared_files_load_and_hash_once(tmp_path: Path) -> None:
    """Checkpoints that cannot be read keep stages 3 and 5 short; the cache and the eval dump
    are the runs' shared inputs, so stages 1, 2 and 6 run for A only (stage 4 reads the
    checkpoint's profile loss too, so each run has its own)."""
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "checkpoint.pt").write_text(f"not a checkpoint ({name})\n")
    paths = [
        ArtifactPaths(cache=CACHE, checkpoint=tmp_path / name / "checkpoint.pt", eval=EVAL)
        for name in ("a", "b")
    ]
    ran: list[tuple[str, int]] = []
    pair = run_pair(*paths, Settings(), on_stage=lambda side, sid: ran.append((side, sid)))
    assert ran == [("A", s) for s in range(1, 8)] + [("B", 3), ("B", 4), ("B", 5), ("B", 7)]
    assert pair.shared == frozenset({1, 2, 6})
    for sid in (1, 2, 6):
        assert pair.b.stage(sid).checks is pair.a.stage(sid).checks
    for kind in ("cache", "raw_summary", "eval"):
        assert pair.b.artifacts[kind] is pair.a.artifacts[kind]  # hashed once
    assert pair.a.artifacts["checkpoint"].sha256 != pair.b.artifacts["checkpoint"].sha256
    assert pair.b.error is not None and pair.b.error["file"] == str(paths[1].checkpoint)


def test_loaded_once(tmp_path: Path) -> None:
    paths_a = ArtifactPaths(cache=CACHE, checkpoint=LINEAR, eval=EVAL)
    paths_b = ArtifactPaths(cache=CACHE, checkpoint=INCREMENTS, eval=tmp_path / "other_eval.pt")
    ctx_a, ctx_b = load_pair(paths_a, paths_b, Settings())
    assert ctx_b.artifacts["cache"] is ctx_a.artifacts["cache"]
    assert ctx_b.timing_cache() is ctx_a.timing_cache() and ctx_b.memo is ctx_a.memo
    assert ctx_b.artifacts["checkpoint"] is not ctx_a.artifacts["checkpoint"]
    assert ctx_b.artifacts["eval"].error is not None  # B's own (missing) eval dump, not A's
    assert shared_stages(ctx_a, ctx_b) == frozenset({1, 2})  # 4 reads each checkpoint


def test_the_probe_fits_each_configuration_once_for_both_runs() -> None:
    """B's healthy configuration was among the alternatives A's probe fitted: B refits
    nothing (that B's result is still what B gets alone is test_cli_compare's concern)."""
    paths_a = ArtifactPaths(cache=CACHE, checkpoint=LINEAR)
    ctx_a, ctx_b = load_pair(paths_a, ArtifactPaths(cache=CACHE, checkpoint=INCREMENTS), Settings())
    run_stage(ctx_a, 3)
    fits = ctx_a.memo[(PROBE_MEMO, id(ctx_a.timing_cache()))]
    assert len(fits) == 5  # four healthy heads and linear+bound+no-mask
    first = dict(fits)
    run_stage(ctx_b, 3)
    assert fits == first and all(fits[k] is first[k] for k in first)
    capacity = ctx_b.results[3].check("model.profile_capacity")
    assert capacity is not None and capacity.status == "pass"


def test_a_shared_stage_carries_each_runs_own_readings() -> None:
    """Stage 2 reads the checkpoint's conditioning width only, so with the same width B
    takes A's result; its readings of the checkpoint (which one, its config) must be B's:
    before, B's report listed A's beside its own (`config mask_padding: False; True`)."""
    said = [
        Assumption("checkpoint", "which checkpoint", name, "named on the command line")
        for name in ("linear", "increments")
    ]
    ctx_a, ctx_b = load_pair(
        ArtifactPaths(cache=CACHE, checkpoint=LINEAR),
        ArtifactPaths(cache=CACHE, checkpoint=INCREMENTS),
        Settings(),
        (said[:1], said[1:]),
    )
    assert Stage.DATASET in shared_stages(ctx_a, ctx_b)
    result_a = run_stage(ctx_a, Stage.DATASET)
    result_b = reused_result(result_a, ctx_a, ctx_b, Stage.DATASET)
    assert result_b.checks is result_a.checks
    assert said[0] in result_a.assumptions and said[1] not in result_a.assumptions
    assert said[1] in result_b.assumptions and said[0] not in result_b.assumptions


@pytest.fixture(scope="module")
def wider_checkpoint(
    sessions_dir: Path,
    small_sessions: list[Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """A real checkpoint conditioned on more features than the sample's (Δt statistics added)."""
    root = tmp_path_factory.mktemp("wide")
    built: BuildResult = build_cache(
        sessions_dir,
        root,
        "wide",
        "train",
        SegmentationParams(dt_features=True),
        files=small_sessions,
    )
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train(built.cache_path, root / "run", options=TrainOptions(epochs=1)).checkpoint
    finally:
        torch.set_num_threads(before)


def test_stage_2_runs_for_each_run_when_feature_widths_differ(wider_checkpoint: Path) -> None:
    """Stage 2 checks the batches' width against the checkpoint's: it is shared only when
    both checkpoints expect the same width."""
    paths_a = ArtifactPaths(cache=CACHE, checkpoint=LINEAR)
    ctx_a, ctx_b = load_pair(paths_a, ArtifactPaths(cache=CACHE, checkpoint=INCREMENTS), Settings())
    assert 2 in shared_stages(ctx_a, ctx_b)
    ctx_a, ctx_w = load_pair(
        paths_a, ArtifactPaths(cache=CACHE, checkpoint=wider_checkpoint), Settings()
    )
    assert ctx_w.value("checkpoint").cond_dim > ctx_a.value("checkpoint").cond_dim
    assert shared_stages(ctx_a, ctx_w) == frozenset({1, 6})  # 4 reads each checkpoint


# -- what counts as what ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "kind"),
    [
        ("fail", "pass", "fixed"),
        ("error", "warn", "fixed"),
        ("pass", "fail", "regressed"),
        ("warn", "error", "regressed"),
        ("pass", "pass", "same"),
        ("skip", "skip", "same"),
        ("pass", "warn", "changed"),
        ("fail", "error", "changed"),
        ("skip", "fail", "changed"),  # B fails a check A did not run: not a regression
        ("fail", "skip", "changed"),
        (None, "pass", "changed"),  # a check only one run has
    ],
)
def test_change_kinds(a: str | None, b: str | None, kind: str) -> None:
    assert change_kind(a, b) == kind  # type: ignore[arg-type]


def _report(statuses: dict[str, str], rule: int, error: bool = False) -> Report:
    checks = [Check(cid, status, 0.5, None, "") for cid, status in statuses.items()]  # type: ignore[arg-type]
    return Report(
        artifacts={},
        stages=[StageResult(3, "model", checks=checks)],
        decision=Decision(verdict=f"rule {rule}", rule=rule),
        error={"file": "x.pt", "key": None, "problem": "unreadable"} if error else None,
    )


def test_summary_and_exit_codes() -> None:
    a = _report({"model.x": "fail", "model.y": "pass", "model.z": "pass", "model.w": "warn"}, 4)
    b = _report({"model.x": "pass", "model.y": "fail", "model.z": "pass", "model.v": "pass"}, 8)
    comparison = compare_reports(a, b)
    assert [(c.id, c.kind) for c in comparison.changes] == [
        ("model.x", "fixed"),
        ("model.y", "regressed"),
        ("model.z", "same"),
        ("model.w", "changed"),
        ("model.v", "changed"),
    ]
    assert comparison.summary == (
        "B against A: fixed 1 (model.x), regressed 1 (model.y), changed 2, same 1; rule 4 → rule 8"
    )
    assert comparison.exit_code == 1
    assert compare_reports(b, b).exit_code == 0
    assert compare_reports(b, b).summary.endswith("same 4; both end at rule 8")
    no_verdict = Report(artifacts={}, stages=[], decision=None)
    assert compare_reports(a, no_verdict).summary.endswith("rule 4 → no verdict")  # not "→ -"
    assert compare_reports(a, _report({}, 1, error=True)).exit_code == 2


def test_one_eval_pairing_rule_for_compare_and_the_tui(tmp_path: Path) -> None:
    """An eval dump in neither run's folder is both runs' (and said); one inside a run is
    that run's alone; one given in neither run's folder is used for both."""
    run_a, run_b = tmp_path / "runs/a", tmp_path / "runs/b"
    loose, own_a, own_b = tmp_path / "eval/eval.pt", run_a / "eval.pt", run_b / "eval.pt"
    folders = (run_a, run_b)
    shared = pair_file("eval", (None, None), folders, found=[loose])
    assert (shared.a, shared.b) == (loose, loose)
    assert shared.note == f"the eval dump {loose} lies in neither run's folder: both runs use it"
    b_only = pair_file("eval", (own_a, None), folders, found=[own_a, loose])
    assert (b_only.a, b_only.b) == (own_a, loose)  # A's own is never B's
    assert b_only.note is not None and "run B uses it (it has none)" in b_only.note
    alone = pair_file("eval", (own_a, None), folders, found=[own_a])
    assert (alone.a, alone.b, alone.note) == (own_a, None, None)
    both = pair_file("eval", (own_a, own_b), folders, found=[loose])
    assert (both.a, both.b, both.note) == (own_a, own_b, None)
    given = pair_file("eval", (own_a, own_b), folders, given=loose, found=[own_a])
    assert (given.a, given.b) == (loose, loose)


def _quantiles(fake: dict[str, float]) -> Check:
    real = {"q05": 0.2, "q50": 1.0, "q95": 3.0}
    measured = {"fake": fake, "real": real, "ks": 0.02}
    return DURATION_QUANTILES.check("pass", measured, None, "")


def test_compare_pairs_the_same_figure_and_words_signs_and_gaps() -> None:
    """A's q95 is shown beside B's q95 (not B's worst, q05); a bin that only A misses is
    shown for B too; a side without a figure reads n/a; a negative gap reads "better"."""
    a = _quantiles({"q05": 0.2, "q50": 1.0, "q95": 3.6})
    b = _quantiles({"q05": 0.3, "q50": 1.0, "q95": 3.1})
    assert (a.key_figure, b.key_figure) == ("q95 3.6 vs 3", "q05 0.3 vs 0.2")
    assert paired_figures(a, b) == ("q95 3.6 vs 3", "q95 3.1 vs 3")
    bins = {"fake": {"first": 0.01, "mid": 0.001}, "real": {"first": 0.08, "mid": 0.001}}
    missed = PROFILE_BINS.check("fail", {**bins, "ok": {"first": False, "mid": True}}, None, "")
    fixed = dict(bins, fake={"first": 0.079, "mid": 0.001}, ok={"first": True, "mid": True})
    held = PROFILE_BINS.check("pass", fixed, None, "")
    assert paired_figures(missed, held) == ("first 0.01 vs 0.08", "first 0.079 vs 0.08")
    change = Change("x", 3, "pass", None, "changed", "KL 1.68", None)
    assert figure_change(change) == "KL 1.68 → n/a"
    better = DURATION_FIT.check("pass", {"gap": -0.05204, "mu_bias": -0.03}, None, "")
    assert better.key_figure == "0.05204 nats/row better than a brief fit, μ bias -0.03"
