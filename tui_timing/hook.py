"""The eval hook: the line to put in a diffusion eval before computing C2ST (the seed's §6).

    from tui_timing import assert_timing_stats
    assert_timing_stats(real, fake)  # raises AssertionError with the figures

A C2ST score on sequences whose Δt or velocities are off by a constant factor measures the
plumbing (units, re-normalization), not the model; this assertion stops the eval there.
It takes the two dicts of SPEC 2.5 (`xy`, `dt`, `mask`; torch tensors or numpy arrays),
reads them with the same rules as stage 6, and needs numpy only.
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

    @property
    def ratio(self) -> float:
        """fake / real (inf when real is 0 and fake is not)."""
        if self.real == 0:
            return 1.0 if self.fake == 0 else float("inf")
        return self.fake / self.real

    @property
    def passed(self) -> bool:
        return close(self.fake, self.real, self.tol)

    def describe(self) -> str:
        """'Δt median: real 0.016, fake 0.012, fake/real 0.75 (allowed 0.9-1.1)'."""
        return (
            f"{self.label}: real {fmt(self.real)}, fake {fmt(self.fake)}, fake/real "
            f"{fmt(self.ratio)} (allowed {fmt(1 - self.tol)}-{fmt(1 + self.tol)})"
        )

    def as_dict(self) -> dict[str, float]:
        return {"real": self.real, "fake": self.fake, "ratio": self.ratio}


def timing_gates(real: EvalSide, fake: EvalSide, tol: float) -> tuple[Gate, Gate]:
    """The Δt-median gate and the |vel|-p95 gate of the seed's §6."""
    return (
        Gate("dt_median", "Δt median", real.dt_median(), fake.dt_median(), tol),
        Gate("vel_p95", "|vel| p95", real.vel_p95(), fake.vel_p95(), tol),
    )


def assert_timing_stats(
    real: Mapping[str, Any], fake: Mapping[str, Any], tol: float = DEFAULT_TOL
) -> dict[str, Any]:
    """Check that fake Δt median and |vel| p95 are within ±`tol` of real; return the figures.

    Raises AssertionError naming each failing statistic (real, fake, ratio), and ValueError
    when a dict cannot be read as SPEC 2.5 sequences at all.
    """
    try:
        sides = [
            parse_side(obj, name, "assert_timing_stats")
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
