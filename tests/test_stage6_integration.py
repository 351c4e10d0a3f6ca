"""Stage 6 on eval dumps made from real Balabit segments, each with one known fault planted.

The oracle is the planted fault: two disjoint halves of the same real segments must pass
both gates and the C2ST; Δt scaled after assignment must fail the Δt gate and the
re-normalization check (and withhold the C2ST); paths left in normalized units must fail
the velocity gate alone, with the factor named.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from report_helpers import measured, run_one, statuses
from session_rows import cache_of

from tui_timing.artifacts.eval_dump import load_eval_dump
from tui_timing.cli import main
from tui_timing.config import ArtifactPaths, Settings
from tui_timing.data.eval_dump_maker import (
    Sequences,
    disjoint_halves,
    real_sequences,
    scale_dt,
    scale_paths,
    write_eval_dump,
)
from tui_timing.errors import ArtifactError
from tui_timing.findings import StageResult
from tui_timing.stages.runner import load_artifacts, run_stage

#: Screen width in pixels: a typical constant paths are normalized by.
SCREEN = 1920.0


@pytest.fixture(scope="module")
def halves(small_sessions: list[Path]) -> tuple[Sequences, Sequences]:
    """Two disjoint random halves of every segment of four real sessions."""
    return disjoint_halves(real_sequences(small_sessions), seed=0)


@pytest.fixture(scope="module")
def real_half_cache(
    halves: tuple[Sequences, Sequences], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A cache of the real half's rows alone: the fake half is real movement it never holds
    (what a generator that copies nothing gives)."""
    return cache_of(halves[0], tmp_path_factory.mktemp("real-half"), "real-half")


def shifted(seqs: Sequences, steps: int) -> Sequences:
    """Each row's Δt rolled by `steps` within its valid steps (sums kept): an off-by-one
    between the Δt and xy columns."""
    dt = seqs.dt.copy()
    for row, n in enumerate(seqs.mask.sum(axis=1)):
        dt[row, :n] = np.roll(seqs.dt[row, :n], steps)
    return Sequences(seqs.xy, dt, seqs.mask)


def stage6(path: Path, cache: Path | None = None) -> StageResult:
    """Stage 6 exactly as `timing-tui check --eval PATH [--cache CACHE]` runs it."""
    return run_one(6, eval=path, cache=cache)


def test_an_eval_whose_real_side_was_cut_differently_warns(
    halves: tuple[Sequences, Sequences], tmp_path: Path, small_cache: Path
) -> None:
    """Each real step split in two (the second a repeated timestamp): half the real steps
    have Δt = 0 where the cache has a few percent."""
    real, fake = halves
    dt = np.zeros((real.n_rows, 2 * real.dt.shape[1]))
    dt[:, 0::2] = real.dt
    steps = real.mask.sum(axis=1)
    cut = Sequences(
        xy=np.repeat(real.xy, 2, axis=1)[:, : dt.shape[1] + 1],
        dt=dt,
        mask=np.arange(dt.shape[1])[None, :] < 2 * steps[:, None],
    )
    path = write_eval_dump(tmp_path / "eval.pt", cut, fake, fake_duration=fake.durations)
    check = stage6(path, cache=small_cache).check("integration.real_vs_cache")
    assert check is not None and check.status == "warn"
    assert "Δt = 0 on" in check.message and "differ from the cache" in check.message
    assert statuses(stage6(path))["integration.real_vs_cache"] == "skip"  # no cache given


def test_disjoint_real_halves_pass_both_gates_and_c2st(
    halves: tuple[Sequences, Sequences], tmp_path: Path, real_half_cache: Path
) -> None:
    real, fake = halves
    path = write_eval_dump(tmp_path / "eval.pt", real, fake, fake_duration=fake.durations)
    result = stage6(path, cache=real_half_cache)  # the cache of the real half's rows
    assert statuses(result) == {
        "integration.dt_median": "pass",
        "integration.vel_p95": "pass",
        "integration.renormalization": "pass",
        "integration.fake_generated": "pass",  # only coincidences of short rows
        "integration.dt_pairing": "pass",
        "integration.real_vs_cache": "pass",
        "integration.log_dt_ks": "pass",
        "integration.length_ks": "pass",
        "integration.c2st": "pass",
    }
    c2st = measured(result, "integration.c2st")
    assert c2st["p_value"] >= 0.05
    assert 0.4 < c2st["accuracy"] < 0.6 and 0.4 < c2st["auc"] < 0.6
    assert c2st["n_test_per_class"] > 1000
    dt = measured(result, "integration.dt_median")
    assert dt["zero_dt"]["real"] > 0  # Balabit has real Δt = 0 steps; they are counted
    assert abs(dt["ratio"] - 1) < 0.1
    assert result.figures[-1].startswith("C2ST acc")


def test_dt_scaled_after_assignment_fails_dt_gate_and_renormalization(
    halves: tuple[Sequences, Sequences], tmp_path: Path
) -> None:
    real, fake = halves
    path = write_eval_dump(
        tmp_path / "eval.pt", real, scale_dt(fake, 0.8), fake_duration=fake.durations
    )
    result = stage6(path)
    got = statuses(result)
    assert got["integration.dt_median"] == "fail"
    assert got["integration.renormalization"] == "fail"
    assert got["integration.c2st"] == "skip"
    renorm = result.check("integration.renormalization")
    assert renorm is not None
    assert renorm.measured["dt_factor"]["factor"] == pytest.approx(0.8, rel=0.01)
    assert renorm.measured["rows_off_duration"]["share"] == 1.0
    assert "0.8" in renorm.message
    assert "each fake path's Δt re-normalized to a fixed total" in renorm.message  # plainly
    c2st = result.check("integration.c2st")
    assert c2st is not None and "integration.dt_median" in c2st.message
    # The velocity gate fails too, and says the factor comes from Δt, not from the paths.
    assert measured(result, "integration.vel_p95")["cause"] == "dt"
    assert measured(result, "integration.dt_median")["ratio"] == pytest.approx(0.8, rel=0.01)


def test_constant_dt_factor_is_found_without_fake_duration(
    halves: tuple[Sequences, Sequences], tmp_path: Path
) -> None:
    real, fake = halves
    path = write_eval_dump(tmp_path / "eval.npz", real, scale_dt(fake, 1.25))
    result = stage6(path)
    renorm = result.check("integration.renormalization")
    assert renorm is not None and renorm.status == "fail"
    assert "rows_off_duration" not in renorm.measured
    assert renorm.measured["dt_factor"]["factor"] == pytest.approx(1.25, rel=0.01)


def test_paths_in_normalized_units_fail_the_velocity_gate_alone(
    halves: tuple[Sequences, Sequences], tmp_path: Path
) -> None:
    real, fake = halves
    path = write_eval_dump(
        tmp_path / "eval.npz", real, scale_paths(fake, 1 / SCREEN), fake_duration=fake.durations
    )
    result = stage6(path)
    got = statuses(result)
    assert got["integration.vel_p95"] == "fail"
    assert got["integration.dt_median"] == "pass"
    assert got["integration.renormalization"] == "pass"
    assert got["integration.c2st"] == "skip"
    vel = result.check("integration.vel_p95")
    assert vel is not None
    assert vel.measured["cause"] == "paths"
    assert vel.measured["factor"]["factor"] == pytest.approx(1 / SCREEN, rel=0.05)
    assert "normalized units" in vel.message
    c2st = result.check("integration.c2st")
    assert c2st is not None
    assert "integration.vel_p95" in c2st.message and "integration.dt_median" not in c2st.message


def test_sequences_renormalized_to_a_fixed_total_are_named(
    halves: tuple[Sequences, Sequences], tmp_path: Path
) -> None:
    """Each row's Δt divided by its own duration: no constant factor, but a fixed total."""
    real, fake = halves
    unit = Sequences(fake.xy, fake.dt / fake.durations[:, None], fake.mask)
    result = stage6(write_eval_dump(tmp_path / "eval.pt", real, unit))
    renorm = result.check("integration.renormalization")
    assert renorm is not None and renorm.status == "fail"
    assert renorm.measured["fixed_total"] == pytest.approx(1.0, rel=1e-4)


def test_reversed_sequences_pass_the_gates_and_c2st_warns_never_fails(
    halves: tuple[Sequences, Sequences], tmp_path: Path
) -> None:
    """Each fake path run backwards: pooled Δt and |vel| are the real ones, but the
    profile is reversed (a pause at the end instead of the start); only the C2ST sees it."""
    real, fake = halves
    lengths = fake.mask.sum(axis=1)[:, None]
    point = np.maximum(lengths - np.arange(fake.xy.shape[1]), 0)
    step = np.where(fake.mask, lengths - 1 - np.arange(fake.dt.shape[1]), 0)
    backwards = Sequences(
        xy=np.take_along_axis(fake.xy, point[..., None], axis=1),
        dt=np.where(fake.mask, np.take_along_axis(fake.dt, step, axis=1), 0.0),
        mask=fake.mask,
    )
    path = write_eval_dump(tmp_path / "eval.pt", real, backwards, fake.durations)
    result = stage6(path)
    got = statuses(result)
    assert got["integration.dt_median"] == "pass"
    assert got["integration.vel_p95"] == "pass"
    assert got["integration.renormalization"] == "pass"
    assert got["integration.c2st"] == "warn"
    assert measured(result, "integration.c2st")["p_value"] < 1e-6
    assert result.status == "warn"


def test_points_and_displacements_read_alike(
    halves: tuple[Sequences, Sequences], tmp_path: Path
) -> None:
    real, fake = halves
    points = load_eval_dump(write_eval_dump(tmp_path / "points.pt", real, fake))
    steps = np.diff(real.xy, axis=1)
    dump = {
        "real": {
            "xy": torch.from_numpy(steps),
            "dt": torch.from_numpy(real.dt),
            "mask": torch.from_numpy(real.mask),
        },
        "fake": fake.as_tensors(),
    }
    torch.save(dump, tmp_path / "disp.pt")
    disp = load_eval_dump(tmp_path / "disp.pt")
    assert disp.real.xy_form == "displacements" and points.real.xy_form == "points"
    assert disp.real.vel_p95() == pytest.approx(points.real.vel_p95(), rel=1e-5)
    assert disp.real.dt_median() == pytest.approx(points.real.dt_median(), rel=1e-6)


def test_stage6_skips_without_an_eval_dump() -> None:
    result = run_stage(load_artifacts(ArtifactPaths(), Settings()), 6)
    assert result.skip_reason == "no eval dump given"
    assert set(statuses(result).values()) == {"skip"}


def _good(n: int = 6, steps: int = 5) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    return {
        "xy": rng.normal(size=(n, steps + 1, 2)),
        "dt": rng.uniform(0.01, 0.02, size=(n, steps)),
        "mask": np.ones((n, steps), dtype=bool),
    }


def _with(side: str, **changes: Any) -> dict[str, Any]:
    dump: dict[str, Any] = {"real": _good(), "fake": _good()}
    dump[side] = {**dump[side], **changes}
    return dump


BROKEN: dict[str, tuple[dict[str, Any], str]] = {
    "no fake": ({"real": _good()}, "fake"),
    "xy neither points nor displacements": (_with("fake", xy=np.zeros((6, 9, 2))), "fake.xy"),
    "mask shape": (_with("real", mask=np.ones((6, 4), dtype=bool)), "real.mask"),
    "mask not 0/1": (_with("real", mask=np.full((6, 5), 2)), "real.mask"),
    "all-zero dt": (_with("fake", dt=np.zeros((6, 5))), "fake.dt"),
    "negative dt": (_with("fake", dt=-np.ones((6, 5))), "fake.dt"),
    "nan dt": (_with("real", dt=np.full((6, 5), np.nan)), "real.dt"),
    "no valid step": (_with("real", mask=np.zeros((6, 5), dtype=bool)), "real.mask"),
    "missing dt": (
        {"real": {"xy": _good()["xy"], "mask": _good()["mask"]}, "fake": _good()},
        "real.dt",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_unusable_dumps_raise_with_file_and_key(name: str, tmp_path: Path) -> None:
    dump, key = BROKEN[name]
    tensors = {
        side: {k: torch.from_numpy(np.asarray(v)) for k, v in arrays.items()}
        for side, arrays in dump.items()
    }
    path = tmp_path / "eval.pt"
    torch.save(tensors, path)
    with pytest.raises(ArtifactError) as caught:
        load_eval_dump(path)
    assert caught.value.key == key
    assert caught.value.file == str(path)


def test_fake_duration_of_the_wrong_length_is_refused(
    halves: tuple[Sequences, Sequences], tmp_path: Path
) -> None:
    real, fake = halves
    path = write_eval_dump(tmp_path / "eval.pt", real, fake, fake_duration=fake.durations[:-1])
    with pytest.raises(ArtifactError, match="fake has"):
        load_eval_dump(path)


def test_unusable_dump_errors_every_stage6_check_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "eval.pt"
    torch.save({"real": {"dt": torch.zeros(3, 4)}}, path)
    result = CliRunner().invoke(main, ["check", "--eval", str(path), "--format", "json"])
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["error"]["file"] == str(path)
    (stage,) = [s for s in report["stages"] if s["id"] == 6]
    assert {c["status"] for c in stage["checks"]} == {"error"}
    assert all("cannot be used" in c["message"] for c in stage["checks"])
    assert "Traceback" not in result.output


def test_a_mask_over_points_is_read_as_steps_between_valid_points(
    halves: tuple[Sequences, Sequences], tmp_path: Path
) -> None:
    real, fake = halves
    point_mask = np.concatenate([np.ones((real.n_rows, 1), dtype=bool), real.mask], axis=1)
    dump = {
        "real": {**real.as_tensors(), "mask": torch.from_numpy(point_mask)},
        "fake": fake.as_tensors(),
    }
    torch.save(dump, tmp_path / "eval.pt")
    loaded = load_eval_dump(tmp_path / "eval.pt")
    assert np.array_equal(loaded.real.mask, real.mask)


def _zero_steps_spread(seqs: Sequences) -> Sequences:
    """The same paths and durations with the time spread over every step, Δt = 0 steps
    included (each gets the row's mean Δt, the others give up as much): what a profile
    head, which never outputs 0, makes of them."""
    valid, zero = seqs.mask, seqs.mask & (seqs.dt == 0)
    steps = valid.sum(axis=1)
    duration = seqs.dt.sum(axis=1)
    share = zero.sum(axis=1) / np.maximum(steps, 1)
    mean = duration / np.maximum(steps, 1)
    dt = np.where(zero, mean[:, None], seqs.dt * (1 - share)[:, None])
    return Sequences(seqs.xy, np.where(valid, dt, 0.0), seqs.mask)


def test_zero_dt_steps_are_their_own_finding_not_a_gate_failure(
    balabit_dir: Path, tmp_path: Path
) -> None:
    """user9 has Δt = 0 on about half of its steps (duplicate timestamps). A fake side with
    the same movements and durations but no zero steps, as a softmax head makes them,
    passes the Δt gate (its expected factor is the zero shares'), and a Δt factor on top
    of it still fails."""
    sessions = sorted((balabit_dir / "user9").iterdir())[:2]
    real, fake = disjoint_halves(real_sequences(sessions), seed=0)
    fake = _zero_steps_spread(fake)
    path = write_eval_dump(tmp_path / "eval.pt", real, fake, fake_duration=fake.durations)
    check = stage6(path).check("integration.dt_median")
    assert check.status == "pass", check.message
    assert check.measured["zero_share"]["real"] > 0.2 and check.measured["zero_share"]["fake"] == 0
    assert check.measured["ratio"] < 0.8 and "duplicate events" in check.message
    scaled = scale_dt(fake, 1.5)
    path = write_eval_dump(tmp_path / "scaled.pt", real, scaled, fake_duration=scaled.durations)
    assert stage6(path).check("integration.dt_median").status == "fail"


def test_a_fake_side_that_is_real_data_is_named_and_rule_7(
    halves: tuple[Sequences, Sequences], tmp_path: Path, small_cache: Path
) -> None:
    """The fake side is the real rows themselves (not generated): every gate and the C2ST
    would pass, so only this check can say so, and the verdict names it. Two disjoint real
    halves share only coincidences of short rows."""
    real, fake = halves
    path = write_eval_dump(tmp_path / "eval.pt", real, real, fake_duration=real.durations)
    ctx = load_artifacts(ArtifactPaths(eval=path, cache=small_cache), Settings())
    check = run_stage(ctx, 6).check("integration.fake_generated")
    assert check.status == "fail" and check.measured["share"] == 1.0, check.message
    verdict = run_stage(ctx, 7).stats
    assert verdict["rule"] == 7 and "copies of real rows" in verdict["verdict"], verdict
    halves_path = write_eval_dump(tmp_path / "halves.pt", real, fake, fake_duration=fake.durations)
    alone = stage6(halves_path).check("integration.fake_generated")
    assert alone.status == "pass" and alone.measured["share"] < 0.1, alone.message


def test_histogram_bins_follow_the_bulk_not_the_outliers() -> None:
    """Δt of about 10 ms, shifted by 1.3x in the fake, with two outliers decades away: the
    bins spread over the bulk (the shift is visible), and the outliers still count."""
    import numpy as np

    from tui_timing.numerics.figures import histogram, log_edges

    rng = np.random.default_rng(0)
    real = rng.lognormal(np.log(0.01), 0.2, 5000)
    fake = np.concatenate([1.3 * rng.lognormal(np.log(0.01), 0.2, 5000), [1e-7, 900.0]])
    edges = log_edges(np.concatenate([real, fake]), 40)
    shown = [histogram(name, values, edges) for name, values in (("real", real), ("fake", fake))]
    assert sum(shown[1].y) == fake.size  # nothing dropped
    busy = [sum(1 for count in series.y if count > 0.01 * sum(series.y)) for series in shown]
    assert min(busy) >= 10, busy  # was 2 or 3 bins with edges from the smallest to the largest
    peaks = [series.x[series.y.index(max(series.y))] for series in shown]
    assert peaks[1] > peaks[0]  # the fake's shift shows


def test_a_fake_side_of_cache_rows_is_named_real_data_and_rule_7(
    halves: tuple[Sequences, Sequences], tmp_path: Path, small_cache: Path, real_half_cache: Path
) -> None:
    """The fake side is rows of the cache that are not on the eval's real side: real
    training data handed over as generated. Against the eval's real side alone it looks
    like two disjoint real halves; against the cache's rows it is 100% copies."""
    real, fake = halves
    path = write_eval_dump(tmp_path / "eval.pt", real, fake, fake_duration=fake.durations)
    ctx = load_artifacts(ArtifactPaths(eval=path, cache=small_cache), Settings())
    check = run_stage(ctx, 6).check("integration.fake_generated")
    assert check.status == "fail", check.message
    assert check.measured["of_cache"] == fake.n_rows and check.measured["share"] == 1.0
    assert check.measured["of_real_side"] < 0.1 * fake.n_rows
    assert "the cache" in check.message and "real data" in check.message
    verdict = run_stage(ctx, 7).stats
    assert verdict["rule"] == 7, verdict
    assert "rows of the cache" in verdict["verdict"] and "real data" in verdict["verdict"]
    # The same dump with a cache that never held the fake rows: coincidences only.
    clean = stage6(path, cache=real_half_cache).check("integration.fake_generated")
    assert clean.status == "pass" and clean.measured["of_cache"] < 0.1 * fake.n_rows


@pytest.mark.parametrize("steps", [1, -1])
def test_dt_shifted_one_step_against_the_points_fails_pairing_and_rule_7(
    halves: tuple[Sequences, Sequences], tmp_path: Path, real_half_cache: Path, steps: int
) -> None:
    """Δt rolled by one step against the points keep every pooled distribution: the gates
    and the re-normalization pass, and the lag profile of step length against Δt finds the
    shift, in its direction; the verdict is rule 7 and names it."""
    real, fake = halves
    moved = shifted(fake, steps)
    path = write_eval_dump(tmp_path / "eval.pt", real, moved, fake_duration=moved.durations)
    ctx = load_artifacts(ArtifactPaths(eval=path, cache=real_half_cache), Settings())
    result = run_stage(ctx, 6)
    got = statuses(result)
    assert got["integration.dt_median"] == got["integration.renormalization"] == "pass"
    check = result.check("integration.dt_pairing")
    assert check.status == "fail", check.message
    assert check.measured["shift"] == steps
    assert "shifted by one step" in check.message
    verdict = run_stage(ctx, 7).stats
    assert verdict["rule"] == 7 and "shifted by one step" in verdict["verdict"], verdict


def test_fake_dt_that_ignore_the_step_lengths_are_not_called_shifted(
    halves: tuple[Sequences, Sequences], tmp_path: Path
) -> None:
    """A fake side whose Δt do not go with its steps at any lag (each row's duration spread
    evenly, as a smooth head's profile under generated paths) is as far from real at every
    shift: no shift is named."""
    real, fake = halves
    steps = fake.mask.sum(axis=1)
    even = np.where(fake.mask, (fake.durations / np.maximum(steps, 1))[:, None], 0.0)
    flat = Sequences(fake.xy, even, fake.mask)
    path = write_eval_dump(tmp_path / "eval.pt", real, flat, fake_duration=flat.durations)
    check = stage6(path).check("integration.dt_pairing")
    assert check.status == "pass", check.message
    assert check.measured["gain"] < 0.01


def test_a_velocity_factor_is_said_constant_only_where_the_gate_and_its_causes_agree() -> None:
    """The figures of a Hydra repo's eval dump (other users' sessions on the real side):
    the velocities' deciles 1.526x real but their p95 2.464x, and a Δt factor of 0.80 that
    does not explain Δt. It was "a constant 1.526x real, which follows from the fake Δt
    being 0.7998x real", beside `renormalization` saying no constant factor."""
    from tui_timing.config import Tolerances
    from tui_timing.hook import Gate
    from tui_timing.stages.integration import ScaleFit, _vel_check

    tol = Tolerances()
    gate = Gate("vel_p95", "Fake |vel| p95", real=1609.0, fake=3965.0, tol=0.1)
    vel = ScaleFit(1.526, 0.01, 0.05)  # constant by the KS left: the bulk of the speeds
    dt_not_constant = ScaleFit(0.7998, 0.2, 0.05)
    step = ScaleFit(1.2, 0.2, 0.05)
    check = _vel_check(gate, vel, dt_not_constant, step, tol)
    assert check.status == "fail" and check.measured["cause"] is None
    assert "no single factor explains it" in check.message
    assert "constant" not in check.message and "follows from" not in check.message

    # a real re-scaling: speeds and their p95 1.25x, Δt a constant 0.8x real
    gate = Gate("vel_p95", "Fake |vel| p95", real=1600.0, fake=2000.0, tol=0.1)
    vel, dt = ScaleFit(1.25, 0.01, 0.05), ScaleFit(0.8, 0.01, 0.05)
    check = _vel_check(gate, vel, dt, step, tol)
    assert check.measured["cause"] == "dt" and "follows from the fake Δt being 0.8" in check.message
    # the same speeds, but Δt 0.95x: Δt do not account for 1.25x
    check = _vel_check(gate, vel, ScaleFit(0.95, 0.01, 0.05), step, tol)
    assert check.measured["cause"] is None and "do not account for it" in check.message
