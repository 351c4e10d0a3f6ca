"""Eval dumps in the forms diffusion code writes them (docs/artifacts.md#eval-dump), on real Balabit
segments: flat and nested keys under the built-in group aliases, the user's names through
`keys.eval`, and sides kept as one [N, T, 3] tensor of normalized (Δx, Δy, Δt) channels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from report_helpers import run_one, statuses

from tui_timing.artifacts.eval_dump import EvalDump, load_eval_dump
from tui_timing.config import ArtifactPaths, Settings
from tui_timing.data.eval_dump_maker import Sequences, disjoint_halves, real_sequences
from tui_timing.errors import ArtifactError
from tui_timing.stages.integration import CHECKS as INTEGRATION_CHECKS
from tui_timing.stages.runner import run_check


@pytest.fixture(scope="module")
def halves(small_sessions: list[Path]) -> tuple[Sequences, Sequences]:
    """Two disjoint halves of real segments: real and fake with no fault between them."""
    real, fake = disjoint_halves(real_sequences(small_sessions), seed=0)
    return real.trimmed(), fake.trimmed()


@pytest.fixture(scope="module")
def plain(
    halves: tuple[Sequences, Sequences], tmp_path_factory: pytest.TempPathFactory
) -> EvalDump:
    path = tmp_path_factory.mktemp("plain") / "eval.pt"
    torch.save({"real": halves[0].as_tensors(), "fake": halves[1].as_tensors()}, path)
    return load_eval_dump(path)


def _same(a: EvalDump, b: EvalDump) -> None:
    for side in ("real", "fake"):
        x, y = getattr(a, side), getattr(b, side)
        assert np.array_equal(x.mask, y.mask)
        np.testing.assert_allclose(x.dt, y.dt, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(x.disp, y.disp, rtol=1e-5, atol=1e-6)


def _arrays(seqs: Sequences) -> dict[str, np.ndarray]:
    return {"xy": seqs.xy.astype(np.float32), "dt": seqs.dt.astype(np.float32), "mask": seqs.mask}


@pytest.mark.parametrize(
    ("real", "fake", "sep"),
    [("gt", "gen", "_"), ("target", "pred", "/"), ("real", "generated", "."), ("gt", "gen", "/")],
)
def test_flat_keys_under_the_built_in_group_aliases(
    halves: tuple[Sequences, Sequences],
    plain: EvalDump,
    tmp_path: Path,
    real: str,
    fake: str,
    sep: str,
) -> None:
    flat = {
        f"{group}{sep}{key}": value
        for group, seqs in ((real, halves[0]), (fake, halves[1]))
        for key, value in _arrays(seqs).items()
    }
    path = tmp_path / "samples.npz"
    np.savez(path, **flat)
    dump = load_eval_dump(path)
    _same(dump, plain)
    if real != "real":
        assert f"real read from {real!r}" in dump.notes


def test_nested_groups_and_field_names_through_keys_eval(
    halves: tuple[Sequences, Sequences], plain: EvalDump, tmp_path: Path
) -> None:
    def side(seqs: Sequences) -> dict[str, torch.Tensor]:
        tensors = seqs.as_tensors()
        return {"pos": tensors["xy"], "delta_t_s": tensors["dt"], "keep": tensors["mask"]}

    path = tmp_path / "eval.pt"
    torch.save({"reference": side(halves[0]), "model_out": side(halves[1])}, path)
    keys = {
        "real": "reference",
        "fake": "model_out",
        "xy": "pos",
        "dt": "delta_t_s",
        "mask": "keep",
    }
    _same(load_eval_dump(path, Settings(keys={"eval": keys})), plain)
    with pytest.raises(ArtifactError) as caught:
        load_eval_dump(path)
    assert caught.value.key == "real"
    problem = caught.value.problem
    assert "found keys: reference, model_out" in problem and 'real = "..."' in problem
    with pytest.raises(ArtifactError, match=r"keys\.eval maps it to 'delta'") as caught:
        load_eval_dump(path, Settings(keys={"eval": {**keys, "dt": "delta"}}))
    assert caught.value.key == "real.dt"


def _channels(seqs: Sequences, order: str = "dx,dy,dt") -> np.ndarray:
    named = {
        "dx": np.diff(seqs.xy[..., 0], axis=1),
        "dy": np.diff(seqs.xy[..., 1], axis=1),
        "dt": seqs.dt,
    }
    return np.stack([named[c] for c in order.split(",")], axis=-1)


def _normalization(data: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    valid = data[mask]
    return valid.mean(axis=0), valid.std(axis=0)


def test_normalized_channels_are_denormalized_and_both_readings_reported(
    halves: tuple[Sequences, Sequences], plain: EvalDump, tmp_path: Path
) -> None:
    """`gt` / `gen` as [N, T, 3] normalized with the training data's per-channel mean and
    std (the real side's), masks beside them: read as the plain dump, the stored figures
    kept as the other reading, and stage 6 passes as it does on the plain dump."""
    real, fake = halves
    mean, std = _normalization(_channels(real), real.mask)
    path = tmp_path / "samples.npz"
    np.savez(
        path,
        gt=((_channels(real) - mean) / std).astype(np.float32),
        gen=((_channels(fake) - mean) / std).astype(np.float32),
        gt_mask=real.mask,
        gen_mask=fake.mask,
        mean=mean,
        std=std,
    )
    dump = load_eval_dump(path)
    _same(dump, plain)
    assert dump.fake.xy_form == "channels (dx, dy, dt)"
    fake = dump.readings["fake"]
    assert fake["denormalized"]["dt_median"] == pytest.approx(plain.fake.dt_median(), rel=1e-5)
    assert fake["as_stored"]["dt_median"] < 0  # a standardized Δt: most steps below the mean
    assert fake["nearer"] == "denormalized"
    report = run_check(ArtifactPaths(eval=path), Settings(), only=6)
    (stage,) = [s for s in report.stages if s.id == 6]
    got = statuses(stage)
    assert got["integration.dt_median"] == got["integration.vel_p95"] == "pass"
    assert any("as stored (nearer: denormalized)" in f for f in stage.figures)
    assert stage.stats["readings"]["fake"]["nearer"] == "denormalized"


def test_a_dump_already_denormalized_is_named_by_the_other_reading(
    halves: tuple[Sequences, Sequences], tmp_path: Path
) -> None:
    """The eval wrote `gen` in seconds and pixels but kept the mean/std beside it: read as
    the contract says, Δt is off and the gate fails; the as-stored reading matches the
    real side, and the note says so."""
    real, fake = halves
    mean, std = _normalization(_channels(real), real.mask)
    path = tmp_path / "samples.pt"
    torch.save(
        {
            "real": {
                "xy": torch.from_numpy(real.xy),
                "dt": torch.from_numpy(real.dt),
                "mask": torch.from_numpy(real.mask),
            },
            "fake": {"x": torch.from_numpy(_channels(fake)), "mask": torch.from_numpy(fake.mask)},
            "meta": {"mean": mean.tolist(), "std": std.tolist()},
        },
        path,
    )
    dump = load_eval_dump(path)
    assert dump.readings["fake"]["nearer"] == "as stored"
    assert any("was the dump written already denormalized?" in note for note in dump.notes)
    report = run_check(ArtifactPaths(eval=path), Settings(), only=6)
    (stage,) = [s for s in report.stages if s.id == 6]
    assert statuses(stage)["integration.dt_median"] == "fail"


@pytest.mark.parametrize("where", ["dump", "keys"])
def test_the_channel_order_is_read_from_the_dump_or_keys_eval(
    halves: tuple[Sequences, Sequences], plain: EvalDump, tmp_path: Path, where: str
) -> None:
    order = "dt,dx,dy"
    entries: dict[str, Any] = {
        "real": _channels(halves[0], order),
        "fake": _channels(halves[1], order),
        "real_length": halves[0].mask.sum(axis=1),
        "fake_length": halves[1].mask.sum(axis=1),
    }
    settings = Settings(keys={"eval": {"channels": order}}) if where == "keys" else Settings()
    if where == "dump":
        entries["channels"] = np.array(order.split(","))  # strings: no pickle in the npz
    path = tmp_path / "samples.npz"
    np.savez(path, **entries)
    dump = load_eval_dump(path, settings)
    _same(dump, plain)
    read = {a.what: a.value for a in dump.assumptions}
    assert read["real xy"] == "displacements" and read["fake Δt"] == "per step"


def test_channels_that_do_not_name_dx_dy_dt_are_refused(
    halves: tuple[Sequences, Sequences], tmp_path: Path
) -> None:
    path = tmp_path / "samples.npz"
    np.savez(path, real=_channels(halves[0]), fake=_channels(halves[1]))
    with pytest.raises(ArtifactError, match=r"must name dx, dy and dt \(steps\) or x, y and t"):
        load_eval_dump(path, Settings(keys={"eval": {"channels": "dx,dx,dt"}}))


def _points_and_time(seqs: Sequences) -> tuple[np.ndarray, np.ndarray]:
    """A side as (x, y, t) over its L+1 points, t the time since the row's first point, and
    its mask over the points (zeros after the last one, as a padded batch leaves them)."""
    n = seqs.n_rows
    time = np.concatenate([np.zeros((n, 1)), np.cumsum(seqs.dt, axis=1)], axis=1)
    points = np.concatenate([np.ones((n, 1), bool), seqs.mask], axis=1)
    data = np.concatenate([seqs.xy, time[..., None]], axis=-1) * points[..., None]
    return data.astype(np.float32), points


@pytest.mark.parametrize("told", ["names", "eval_xy"])
def test_channels_of_points_and_time_are_read_as_points(
    halves: tuple[Sequences, Sequences], plain: EvalDump, tmp_path: Path, told: str
) -> None:
    """[N, L+1, 3] of (x, y, t), as a diffusion model that generates whole paths keeps them,
    named x, y, t in the dump (or unnamed, with eval_xy = "points"): the steps are the
    differences of consecutive points, the mask counts points, and |vel| p95 and the Δt
    median equal numpy's on the same paths (read as (dx, dy, dt), the times would be
    steps and the positions displacements: a Δt median of seconds, velocities ×10)."""
    real, fake = halves
    entries: dict[str, Any] = {}
    for group, seqs in (("ref", real), ("synth", fake)):
        entries[f"{group}/traj"], entries[f"{group}/pts_ok"] = _points_and_time(seqs)
    if told == "names":
        entries["channels"] = np.array(["x", "y", "t"])
    path = tmp_path / "samples.npz"
    np.savez(path, **entries)
    keys = {"real": "ref", "fake": "synth", "mask": "pts_ok"}
    settings = Settings(keys={"eval": keys}, eval_xy="points" if told == "eval_xy" else None)
    dump = load_eval_dump(path, settings)
    for side in ("real", "fake"):
        got, want = getattr(dump, side), getattr(plain, side)
        assert np.array_equal(got.mask, want.mask)
        np.testing.assert_allclose(got.dt[got.mask], want.dt[want.mask], rtol=1e-5, atol=1e-5)
    vel_p95, dt_median, zeros = _numpy_figures(real)
    assert dump.real.vel_p95() == pytest.approx(vel_p95, rel=1e-3)
    assert float(np.median(dump.real.dt[dump.real.mask])) == pytest.approx(dt_median, rel=1e-4)
    assert dump.real.n_zero_dt() == zeros
    read = {a.what: a.value for a in dump.assumptions}
    assert read["real xy"] == "points" and read["fake Δt"] == "differences of consecutive times"


@pytest.mark.parametrize("normalized", [False, True])
def test_unnamed_channels_whose_third_looks_like_time_are_undecided_until_eval_xy_says(
    halves: tuple[Sequences, Sequences], tmp_path: Path, normalized: bool
) -> None:
    """[N, L+1, 3] of (x, y, t) with no channel names and no eval_xy was read as (dx, dy, dt):
    the times became steps (a Δt median of seconds). A third channel that starts at 0 and
    never decreases in every row looks like time, so stage 6 asks: every check that reads
    Δt or the steps skips with the question and the table line (the Δt sums too: they are
    not the same under both readings); only the copy check, the same either way, runs.
    The same channels of per-step (dx, dy, dt) are read as steps, undisturbed."""
    real, fake = halves
    entries: dict[str, Any] = {}
    for group, seqs in (("real", real), ("fake", fake)):
        entries[group], entries[f"{group}_mask"] = _points_and_time(seqs)
    if normalized:  # a time channel standardized as diffusion code does: still 0 first
        mean, std = _normalization(entries["real"], entries["real_mask"])
        mean[2] = 0.0
        for group in ("real", "fake"):
            entries[group] = ((entries[group] - mean) / std).astype(np.float32)
        entries.update(mean=mean, std=std)
    path = tmp_path / "samples.npz"
    np.savez(path, **entries, fake_duration=fake.durations)
    dump = load_eval_dump(path)
    assert dump.question is not None, "read as steps: " + str(dump.assumptions)
    assert "whose third starts at 0 and never decreases" in dump.question and dump.dt_open
    result = run_one(6, eval=path)
    status = statuses(result)
    assert list(status) == [spec.id for spec in INTEGRATION_CHECKS.specs]
    assert status.pop("integration.fake_generated") == "pass"  # disjoint halves: no copies
    assert set(status.values()) == {"skip"}
    for check in result.checks:
        if check.id in status:
            assert 'Set eval_xy = "points" or "steps" in [tool.timing-tui]' in check.message
    undecided = {a.what: a.source for a in result.assumptions if a.value == "undecided"}
    assert set(undecided) == {"real xy", "fake xy"}  # an assumption shown for each side
    assert "(x, y, t) points and their time, or per-step (dx, dy, dt)?" in undecided["real xy"]
    # the table line settles it: points, with numpy's figures on the same paths
    as_points = load_eval_dump(path, Settings(eval_xy="points"))
    assert as_points.question is None
    assert as_points.real.vel_p95() == pytest.approx(_numpy_figures(real)[0], rel=1e-3)
    assert load_eval_dump(path, Settings(eval_xy="steps")).question is None
    # per-step channels, unnamed: Δt are not a running time, so they are read as steps
    np.savez(path, real=_channels(real), fake=_channels(fake), real_mask=real.mask)
    steps = load_eval_dump(path)
    assert steps.question is None and steps.real.xy_form == "channels (dx, dy, dt)"


def test_channels_named_as_steps_contradicting_eval_xy_are_refused(
    halves: tuple[Sequences, Sequences], tmp_path: Path
) -> None:
    path = tmp_path / "samples.npz"
    order = np.array(["dx", "dy", "dt"])
    np.savez(path, real=_channels(halves[0]), fake=_channels(halves[1]), channels=order)
    with pytest.raises(ArtifactError, match='set eval_xy = "steps" or remove it'):
        load_eval_dump(path, Settings(eval_xy="points"))


# --- points or steps (per-point Δt with a leading 0; settled by eval_xy) ----------------------


def _per_point(seqs: Sequences, origin: bool = False) -> dict[str, torch.Tensor]:
    """A side as diffusion code often keeps it: the points [N, L+1, 2], per-point Δt
    [N, L+1] (the time since the previous point: 0 first) and a mask over the points."""
    n = seqs.n_rows
    xy = seqs.xy - seqs.xy[:, :1] if origin else seqs.xy
    return {
        "xy": torch.from_numpy(xy),
        "dt": torch.from_numpy(np.concatenate([np.zeros((n, 1)), seqs.dt], axis=1)),
        "mask": torch.from_numpy(np.concatenate([np.ones((n, 1), bool), seqs.mask], axis=1)),
    }


def _numpy_figures(seqs: Sequences) -> tuple[float, float, int]:
    """|vel| p95, Δt median and the count of Δt = 0 steps, straight from the points."""
    steps = np.diff(seqs.xy, axis=1)
    length = np.hypot(steps[..., 0], steps[..., 1])
    moving = seqs.mask & (seqs.dt > 0)
    vel = length[moving] / seqs.dt[moving]
    zeros = int(np.count_nonzero(seqs.mask & (seqs.dt == 0)))
    return float(np.quantile(vel, 0.95)), float(np.median(seqs.dt[seqs.mask])), zeros


def test_points_with_per_point_dt_read_the_leading_zero_as_no_step(
    halves: tuple[Sequences, Sequences], tmp_path: Path, small_cache: Path
) -> None:
    real, fake = halves
    path = tmp_path / "eval.pt"
    torch.save({"real": _per_point(real), "fake": _per_point(fake)}, path)
    dump = load_eval_dump(path)
    vel_p95, dt_median, zeros = _numpy_figures(real)
    assert dump.real.vel_p95() == pytest.approx(vel_p95, rel=1e-9)
    assert dump.real.dt_median() == pytest.approx(dt_median, rel=1e-9)
    assert dump.real.n_zero_dt() == zeros  # the leading 0 of each row is not a step
    assert np.array_equal(dump.real.mask, real.mask)
    read = {(a.what, a.value): a.source for a in dump.assumptions}
    assert "first column 0 in every row" in read[("real xy", "points")]
    assert ("real Δt", "per point (its first column, 0, is not a step)") in read
    # stage 6 with the cache built from the same sessions: the real side is the cache's
    result = run_one(6, eval=path, cache=small_cache)
    checks = {c.id: c for c in result.checks}
    assert checks["integration.real_vs_cache"].status == "pass"
    assert checks["integration.vel_p95"].status == "pass"
    assert result.stats["vel_p95"]["real"] == pytest.approx(vel_p95, rel=1e-9)
    assert any(a.artifact == "eval" and a.what == "real xy" for a in result.assumptions)


def test_per_point_lengths_count_points(
    halves: tuple[Sequences, Sequences], tmp_path: Path
) -> None:
    real, fake = halves
    side = _per_point(real)
    del side["mask"]
    side["lengths"] = torch.from_numpy(real.mask.sum(axis=1) + 1)
    path = tmp_path / "eval.pt"
    torch.save({"real": side, "fake": _per_point(fake)}, path)
    assert np.array_equal(load_eval_dump(path).real.mask, real.mask)


def test_points_from_the_origin_are_undecided_until_eval_xy_says(
    halves: tuple[Sequences, Sequences], tmp_path: Path
) -> None:
    real, fake = halves
    path = tmp_path / "eval.pt"
    dump = {"real": _per_point(real, origin=True), "fake": _per_point(fake, origin=True)}
    torch.save({**dump, "fake_duration": torch.from_numpy(fake.durations)}, path)
    result = run_one(6, eval=path)
    status = statuses(result)
    assert list(status) == [spec.id for spec in INTEGRATION_CHECKS.specs]
    shared = {"integration.renormalization", "integration.fake_generated"}
    depends = set(status) - shared
    assert {status[c] for c in depends} == {"skip"}
    assert status["integration.fake_generated"] == "pass"  # disjoint halves: no copies
    for check_id in depends:
        message = next(c.message for c in result.checks if c.id == check_id)
        assert 'eval_xy = "points" or "steps" in [tool.timing-tui]' in message
    assert status["integration.renormalization"] == "pass"  # Δt sums: the same either way
    undecided = [a for a in result.assumptions if a.value == "undecided"]
    assert undecided and "points that start at (0, 0)" in undecided[0].source
    # the table line settles it: points (velocities do not move with a translation)
    as_points = load_eval_dump(path, Settings(eval_xy="points"))
    assert as_points.undecided is None
    read = {a.what: a for a in as_points.assumptions}
    assert read["real xy"].value == "points"
    assert read["real xy"].source.startswith('eval_xy = "points" in [tool.timing-tui]')
    assert as_points.real.vel_p95() == pytest.approx(_numpy_figures(real)[0], rel=1e-9)
    # or steps: each entry a displacement, the leading (0, 0) in 0 s a step of its own
    as_steps = load_eval_dump(path, Settings(eval_xy="steps"))
    assert as_steps.real.xy_form == "displacements"
    assert as_steps.real.n_zero_dt() == _numpy_figures(real)[2] + real.n_rows


def test_eval_xy_steps_against_shapes_that_say_points_is_refused(
    halves: tuple[Sequences, Sequences], tmp_path: Path
) -> None:
    path = tmp_path / "eval.pt"
    torch.save({"real": halves[0].as_tensors(), "fake": halves[1].as_tensors()}, path)
    with pytest.raises(ArtifactError) as caught:
        load_eval_dump(path, Settings(eval_xy="steps"))
    assert caught.value.key == "real.xy" and 'set eval_xy = "points"' in caught.value.problem
    read = {a.what: a for a in load_eval_dump(path).assumptions}
    assert read["real xy"].value == "points" and "one wider than dt" in read["real xy"].source


def test_the_table_checks_eval_xy(tmp_path: Path) -> None:
    from tui_timing.errors import UsageError
    from tui_timing.project import read_project

    assert read_project({"eval_xy": "points"}, tmp_path / "pyproject.toml").eval_xy == "points"
    with pytest.raises(UsageError, match='eval_xy must be "points"'):
        read_project({"eval_xy": "pts"}, tmp_path / "pyproject.toml")


def test_init_leaves_eval_xy_to_the_user_with_the_question(
    halves: tuple[Sequences, Sequences], tmp_path: Path
) -> None:
    from tui_timing.report.init_table import infer_table

    real, fake = halves
    (tmp_path / "eval").mkdir()
    dump = {"real": _per_point(real, origin=True), "fake": _per_point(fake, origin=True)}
    torch.save(dump, tmp_path / "eval/samples.pt")
    text = infer_table(tmp_path).text(tmp_path)
    (line,) = [line for line in text.splitlines() if line.lstrip("# ").startswith("eval_xy")]
    assert line.startswith('# eval_xy = "..."') and "points that start at (0, 0)" in line
    torch.save({"real": _per_point(real), "fake": _per_point(fake)}, tmp_path / "eval/samples.pt")
    lines = infer_table(tmp_path).text(tmp_path).splitlines()
    assert not [line for line in lines if line.lstrip("# ").startswith("eval_xy")]  # decided


def _with_lengths(seqs: Sequences, extra: int, pad: int = 0) -> dict[str, torch.Tensor]:
    """Points and per-step Δt (padded by `pad` more steps) with per-row lengths instead of
    a mask: the steps, or (extra = 1) the points."""
    n = seqs.n_rows
    xy = np.concatenate([seqs.xy, np.repeat(seqs.xy[:, -1:], pad, axis=1)], axis=1)
    return {
        "xy": torch.from_numpy(xy),
        "dt": torch.from_numpy(np.concatenate([seqs.dt, np.zeros((n, pad))], axis=1)),
        "lengths": torch.from_numpy(seqs.mask.sum(axis=1) + extra),
    }


@pytest.mark.parametrize(
    ("extra", "pad", "counts", "why"),
    [
        (0, 0, "counts steps", "not every row's last counted step"),
        (1, 0, "counts points", "exceeds the"),
        (1, 3, "counts points", "has Δt = 0 in every row"),
    ],
)
def test_lengths_count_steps_or_points_as_their_values_say(
    halves: tuple[Sequences, Sequences],
    tmp_path: Path,
    extra: int,
    pad: int,
    counts: str,
    why: str,
) -> None:
    real, fake = halves
    path = tmp_path / "eval.pt"
    torch.save({"real": _with_lengths(real, extra, pad), "fake": fake.as_tensors()}, path)
    dump = load_eval_dump(path)
    assert np.array_equal(dump.real.mask[:, : real.mask.shape[1]], real.mask)
    assert dump.real.n_zero_dt() == _numpy_figures(real)[2]
    (length,) = [a for a in dump.assumptions if a.what == "real length"]
    assert length.value == counts and why in length.source
