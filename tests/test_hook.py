"""`assert_timing_stats`, the line a diffusion eval runs before its C2ST, on real segments."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tui_timing import assert_timing_stats
from tui_timing.data.eval_dump_maker import (
    Sequences,
    disjoint_halves,
    real_sequences,
    scale_dt,
    scale_paths,
)
from tui_timing.numerics.fmt import fmt


@pytest.fixture(scope="module")
def halves(small_sessions: list[Path]) -> tuple[Sequences, Sequences]:
    return disjoint_halves(real_sequences(small_sessions), seed=1)


def as_numpy(seqs: Sequences) -> dict[str, Any]:
    return {"xy": seqs.xy, "dt": seqs.dt, "mask": seqs.mask}


def test_halves_of_real_data_pass_and_the_figures_come_back(
    halves: tuple[Sequences, Sequences],
) -> None:
    real, fake = halves
    figures = assert_timing_stats(as_numpy(real), as_numpy(fake))
    assert set(figures) == {"dt_median", "vel_p95", "zero_dt"}
    for gate in ("dt_median", "vel_p95"):
        assert figures[gate]["fake"] == pytest.approx(figures[gate]["real"], rel=0.1)
        assert figures[gate]["ratio"] == pytest.approx(
            figures[gate]["fake"] / figures[gate]["real"]
        )
    assert figures["zero_dt"]["real"] > 0


def test_torch_tensors_are_accepted(halves: tuple[Sequences, Sequences]) -> None:
    real, fake = halves
    figures = assert_timing_stats(real.as_tensors(), fake.as_tensors())
    assert figures["dt_median"]["ratio"] == pytest.approx(1.0, abs=0.1)


def test_rescaled_dt_raise_with_real_fake_and_ratio(halves: tuple[Sequences, Sequences]) -> None:
    real, fake = halves
    with pytest.raises(AssertionError) as caught:
        assert_timing_stats(as_numpy(real), as_numpy(scale_dt(fake, 0.5)))
    message = str(caught.value)
    assert "Δt median" in message and "|vel| p95" in message
    assert "fake/real 0.5" in message
    median = float(np.median(real.dt[real.mask & (real.dt > 0)]))  # zero-Δt steps aside
    assert f"real {fmt(median)}" in message


def test_paths_in_normalized_units_fail_the_velocity_gate_only(
    halves: tuple[Sequences, Sequences],
) -> None:
    real, fake = halves
    with pytest.raises(AssertionError) as caught:
        assert_timing_stats(as_numpy(real), as_numpy(scale_paths(fake, 1 / 1920)))
    assert "|vel| p95" in str(caught.value)
    assert "Δt median" not in str(caught.value)


def test_the_tolerance_is_the_callers(halves: tuple[Sequences, Sequences]) -> None:
    real, fake = halves
    slower = as_numpy(scale_dt(fake, 1.07))
    assert_timing_stats(as_numpy(real), slower, tol=0.10)
    with pytest.raises(AssertionError, match="Δt median"):
        assert_timing_stats(as_numpy(real), slower, tol=0.05)


def test_unreadable_input_is_a_value_error(halves: tuple[Sequences, Sequences]) -> None:
    real, _ = halves
    with pytest.raises(ValueError, match=r"fake\.dt"):
        assert_timing_stats(as_numpy(real), {"xy": real.xy, "mask": real.mask})


def test_points_from_the_origin_with_per_point_dt_need_eval_xy(
    halves: tuple[Sequences, Sequences],
) -> None:
    """xy and Δt of one width, both starting at 0: the hook cannot tell points from steps
    and says what to pass; told, it reads the points (velocities as numpy gives them)."""

    def per_point(seqs: Sequences) -> dict[str, Any]:
        n = seqs.n_rows
        return {
            "xy": seqs.xy - seqs.xy[:, :1],
            "dt": np.concatenate([np.zeros((n, 1)), seqs.dt], axis=1),
            "mask": np.concatenate([np.ones((n, 1), bool), seqs.mask], axis=1),
        }

    real, fake = halves
    with pytest.raises(ValueError, match='Pass eval_xy="points" or eval_xy="steps"'):
        assert_timing_stats(per_point(real), per_point(fake))
    figures = assert_timing_stats(per_point(real), per_point(fake), eval_xy="points")
    steps = np.diff(real.xy, axis=1)
    moving = real.mask & (real.dt > 0)
    speeds = np.hypot(steps[..., 0], steps[..., 1])[moving] / real.dt[moving]
    assert figures["vel_p95"]["real"] == pytest.approx(np.quantile(speeds, 0.95), rel=1e-9)


def test_the_hook_and_the_package_import_without_torch() -> None:
    """The TUI's start-up imports the package; the hook is for eval loops: neither needs torch."""
    script = (
        "import sys\n"
        "import tui_timing\n"
        "assert 'torch' not in sys.modules, 'package import pulled in torch'\n"
        "from tui_timing import assert_timing_stats\n"
        "assert callable(assert_timing_stats)\n"
        "assert 'torch' not in sys.modules, 'the hook pulled in torch'\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
