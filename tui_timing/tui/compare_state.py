"""Compare mode (`c`): the second run, its stage results so far, and which side it is.

The run on show stays the pipeline's run; the second run's results arrive from the
CompareRunner. Which of the two is A (the run a change started from) and which is B (the
new one) depends on how compare mode began: a run picked with `c` is B; after an action
trained a new run, the run it came from is A. The comparison itself is the report
layer's (report/compare.py); this holds what the panes need to ask for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from tui_timing.findings import Assumption, Plot, Report, StageResult
from tui_timing.stages.catalog import ALL_STAGES, Stage

if TYPE_CHECKING:
    from tui_timing.report.compare import Change, Comparison
    from tui_timing.stages.context import ArtifactPaths


@dataclass
class CompareState:
    """The second run of a comparison and what is known of it."""

    #: The second run's name and artifacts (the cache and eval dump are the first run's).
    name: str
    paths: ArtifactPaths
    #: The run on show, by name, when compare mode began.
    first: str
    #: What was assumed in choosing the second run's files (its discovery, the pairing).
    assumptions: list[Assumption] = field(default_factory=list)
    #: Which side the second run is: "B" (picked with `c`) or "A" (the run an action's
    #: new run came from).
    side: Literal["A", "B"] = "B"
    generation: int = 0
    results: dict[int, StageResult] = field(default_factory=dict)
    #: Stages taken from the first run (same inputs) rather than run again.
    shared: set[int] = field(default_factory=set)
    running: int | None = None
    problem: str | None = None

    @property
    def names(self) -> tuple[str, str]:
        """(A's name, B's name)."""
        return (self.first, self.name) if self.side == "B" else (self.name, self.first)

    def sides(
        self, first: dict[int, StageResult]
    ) -> tuple[dict[int, StageResult], dict[int, StageResult]]:
        """(A's results, B's results), given the first run's."""
        return (first, self.results) if self.side == "B" else (self.results, first)

    def comparison(self, first: dict[int, StageResult]) -> Comparison:
        """The comparison of the results both runs have so far."""
        from tui_timing.report.compare import compare_reports  # compare mode's, not the start's

        results_a, results_b = self.sides(first)
        return compare_reports(
            _report(results_a),
            _report(results_b),
            frozenset(self.shared),
            names=self.names,
        )


@dataclass
class ComparedStage:
    """One stage of both runs, as a pane shows it in compare mode."""

    stage: int
    comparison: Comparison
    #: Each run's display status ("pending", "running", "pass", ...).
    status_a: str
    status_b: str
    figures_a: list[str]
    figures_b: list[str]
    #: Cache, A and B on one chart each (report/compare_plots.py).
    plots: list[Plot]
    #: The second run took this stage from the first (same inputs).
    shared: bool

    @property
    def changes(self) -> list[Change]:
        return self.comparison.stage_changes(self.stage)


def compared_stage(
    compare: CompareState, stage: int, first_status: str, first: dict[int, StageResult]
) -> ComparedStage:
    """The stage of both runs: the first run's status and results as the app has them."""
    from tui_timing.report.compare_plots import overlay_plots

    result_first = first.get(stage)
    result_second = compare.results.get(stage)
    second_status = (
        "running"
        if compare.running == stage
        else result_second.status
        if result_second is not None
        else "pending"
    )
    pairs = [(first_status, result_first), (second_status, result_second)]
    (status_a, result_a), (status_b, result_b) = pairs if compare.side == "B" else pairs[::-1]
    return ComparedStage(
        stage=stage,
        comparison=compare.comparison(first),
        status_a=status_a,
        status_b=status_b,
        figures_a=result_a.figures if result_a else [],
        figures_b=result_b.figures if result_b else [],
        plots=overlay_plots(result_a.plots if result_a else [], result_b.plots if result_b else []),
        shared=stage in compare.shared,
    )


def _report(results: dict[int, StageResult]) -> Report:
    """A report of the stages done so far (no artifact hashes: the panes do not show them)."""
    decision = results.get(Stage.DECISION)
    return Report(
        artifacts={},
        stages=[results[s] for s in ALL_STAGES if s in results],
        decision=decision.decision if decision is not None else None,
    )
