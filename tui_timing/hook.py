"""The eval hook: the line to put in a diffusion eval before computing C2ST (step 6 of
docs/README.md#the-plan).

    from tui_timing import assert_timing_stats
    assert_timing_stats(real, fake)  # raises AssertionError with the figures

A C2ST score on sequences whose Δt or velocities are off by a constant factor measures the
plumbing (units, re-normalization), not the model; this assertion stops the eval there.
It takes the two dicts of docs/artifacts.md#eval-dump (`xy`, `dt`, `mask`; torch tensors or numpy
arrays), reads them with the same rules as stage 6, and needs numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tui_timing.artifacts.eval_dump import EvalSide, parse_side
from tui_timing.errors import ArtifactError
from tui_timing.numerics.figures import close
from tui_timing.numerics.fmt import fmt

DEFAULT_TOL = 0.10


@dataclass(frozen=True)
class Gate:
    """One ±tol gate: a pooled statistic of the real and the fake sequences."""

    name: str  # "dt_median" or "vel_p95"
    label: str  # how a sentence names it
    real: float
    fake: float
    tol: float
    #: What fake/real should be when nothing drifted (1, or the share of time the zero-Δt
    #: steps of one side leave to the others: `zero_dt_factor`).
    expected: float = 1.0
    #: Why `expected` is not 1, in words ('' when it is).
    why: str = ""

    @property
    def ratio(self) -> float:
        """fake / real (inf when real is 0 and fake is not)."""
        if self.real == 0:
            return 1.0 if self.fake == 0 else float("inf")
        return self.fake / self.real

    @property
    def passed(self) -> bool:
        return close(self.fake, self.real * self.expected, self.tol)

    def describe(self) -> str:
        """'Δt median: real 0.016, fake 0.012, fake/real 0.75 (allowed 0.9-1.1)'."""
        low, high = self.expected * (1 - self.tol), self.expected * (1 + self.tol)
        return (
            f"{self.label}: real {fmt(self.real)}, fake {fmt(self.fake)}, fake/real "
            f"{fmt(self.ratio)} (allowed {fmt(low)}-{fmt(high)}"
            + (f": {self.why}" if self.why else "")
            + ")"
        )

    def as_dict(self) -> dict[str, float]:
        return {
            "real": self.real,
            "fake": self.fake,
            "ratio": self.ratio,
            "expected": self.expected,
        }


def zero_dt_factor(real: EvalSide, fake: EvalSide) -> tuple[float, str]:
    """What fake/real of the Δt > 0 medians is when only the zero-Δt steps differ.

    Real data repeat timestamps (Δt = 0 on 4-46% of Balabit steps); a profile head gives
    every step some time. The same duration spread over all n steps instead of the moving
    ones leaves each step (1 − z_real)/(1 − z_fake) of the time, with z the zero shares: a
    healthy head's fake steps sit at that factor of real, not at 1.
    """
    z_real, z_fake = real.zero_dt_share(), fake.zero_dt_share()
    if z_real == z_fake or z_fake >= 1:
        return 1.0, ""
    factor = (1 - z_real) / (1 - z_fake)
    return factor, (
        f"Δt = 0 on {z_real:.0%} of real and {z_fake:.0%} of fake steps leaves fake steps "
        f"{fmt(factor)}× the time"
    )


def timing_gates(real: EvalSide, fake: EvalSide, tol: float) -> tuple[Gate, Gate]:
    """The Δt-median gate and the |vel|-p95 gate of step 6 of docs/README.md#the-plan, both over
    steps with Δt > 0; zero-Δt steps (duplicate timestamps) are a share of their own, and the Δt
    gate expects the factor their difference makes (`zero_dt_factor`)."""
    expected, why = zero_dt_factor(real, fake)
    return (
        Gate(
            "dt_median",
            "Δt median (Δt > 0)",
            real.moving_dt_median(),
            fake.moving_dt_median(),
            tol,
            expected,
            why,
        ),
        Gate("vel_p95", "|vel| p95", real.vel_p95(), fake.vel_p95(), tol),
    )


def assert_timing_stats(
    real: Mapping[str, Any],
    fake: Mapping[str, Any],
    tol: float = DEFAULT_TOL,
    eval_xy: str | None = None,
) -> dict[str, Any]:
    """Check that fake Δt median and |vel| p95 are within ±`tol` of real; return the figures.

    `eval_xy` ("points" or "steps") says what `xy` holds where its shape and Δt's leave it
    open (xy and Δt of one width, both starting at 0).

    Raises AssertionError naming each failing statistic (real, fake, ratio), and ValueError
    when a dict cannot be read as docs/artifacts.md#eval-dump sequences at all, or is open to two
    readings.
    """
    try:
        sides = [
            parse_side(obj, name, "assert_timing_stats", eval_xy)
            for obj, name in ((real, "real"), (fake, "fake"))
        ]
    except ArtifactError as exc:
        raise ValueError(f"{exc.key}: {exc.problem}") from None
    gates = timing_gates(sides[0], sides[1], tol)
    failing = [gate for gate in gates if not gate.passed]
    if failing:
        raise AssertionError(
            "timing statistics of the fake sequences drift from the real ones: "
            + "; ".join(gate.describe() for gate in failing)
        )
    figures: dict[str, Any] = {gate.name: gate.as_dict() for gate in gates}
    figures["zero_dt"] = {side.name: side.n_zero_dt() for side in sides}
    return figures
