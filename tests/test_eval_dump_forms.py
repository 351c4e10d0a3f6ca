"""Eval dumps in the forms diffusion code writes them (SPEC 2.5), on real Balabit segments:
flat and nested keys under the built-in group aliases, the user's names through
`keys.eval`, and sides kept as one [N, T, 3] tensor of normalized (Δx, Δy, Δt) channels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from report_helpers import statuses

from tui_timing.artifacts.eval_dump import EvalDump, load_eval_dump
from tui_timing.config import ArtifactPaths, Settings
from tui_timing.data.eval_dump_maker import Sequences, disjoint_halves, real_sequences
from tui_timing.errors import ArtifactError
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
    _same(load_eval_dump(path, settings), plain)


def test_channels_that_do_not_name_dx_dy_dt_are_refused(
    halves: tuple[Sequences, Sequences], tmp_path: Path
) -> None:
    path = tmp_path / "samples.npz"
    np.savez(path, real=_channels(halves[0]), fake=_channels(halves[1]))
    with pytest.raises(ArtifactError, match="must name dx, dy and dt once each"):
        load_eval_dump(path, Settings(keys={"eval": {"channels": "dx,dx,dt"}}))
