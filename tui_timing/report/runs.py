"""Every run of a repo, each checkpoint diagnosed (`timing-tui runs`, the TUI's runs view).

A row is one run at one checkpoint: its report, the same run's previous checkpoint's
report (so a row says fixed / regressed against the checkpoint before), and the figures a
researcher scans a sweep by. Runs come from discovery (a run is one training's folder);
their checkpoints are ordered by the step in their names, else by modification time, and
that choice is said. Rows are computed through one `Sweep` (the cache's stages once) and
the results cache (a repeat launch computes nothing); the renderers only format rows.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui_timing.artifacts.discovery import Discovered, discover
from tui_timing.artifacts.file_watch import signature
from tui_timing.artifacts.run_members import (
    checkpoint_unit,
    modified_time,
    order_checkpoints,
    step_of,
)
from tui_timing.config import ArtifactPaths, Settings
from tui_timing.findings import Assumption, Plot, Report, Series, StageResult
from tui_timing.report.compare import Comparison, compare_reports
from tui_timing.report.results_cache import ResultsCache, stamps
from tui_timing.stages.catalog import ALL_STAGES, DIAGNOSTIC, Stage
from tui_timing.stages.decision.evidence import UPSTREAM, Evidence
from tui_timing.stages.runner import artifact_refs, first_artifact_error, resolve_paths
from tui_timing.stages.sweep import Sweep


@dataclass(frozen=True)
class Target:
    """One run at one checkpoint: the files one row diagnoses."""

    run: str
    folder: Path
    checkpoint: Path | None
    #: The step (or epoch) number in the checkpoint's name, when it has one.
    step: int | None
    log: Path | None
    eval: Path | None


@dataclass(frozen=True)
class RunTargets:
    """A run's checkpoints, oldest first (the last is the newest), and how they were
    ordered."""

    name: str
    targets: tuple[Target, ...]
    order: Assumption | None


def run_targets(found: Discovered, base: Path | None = None) -> list[RunTargets]:
    """Each discovered run with its checkpoints oldest first, in the order discovery takes
    them (the final-named one, else the highest step, else the newest file is the run's
    newest; run_members.py), a run without a checkpoint as one target with none (its log
    and eval dump are still diagnosed); named by its folder relative to `base` (the working
    directory) when it lies inside it."""
    checkpoints = {checkpoint_unit(f.path) for f in found.found if f.kind == "checkpoint"}
    runs: list[RunTargets] = []
    for discovered in found.runs:
        folder = discovered.folder or found.root
        name = _name(folder, base, discovered.name)
        mine = [
            p
            for p in [discovered.checkpoint, *discovered.others]
            if p is not None and p in checkpoints
        ]
        newest_first, taken = order_checkpoints(mine, name, folder)
        ordered: list[Path | None] = [*reversed(newest_first)] or [None]
        made = [
            Target(
                name, folder, path, step_of(path) if path else None, discovered.log, discovered.eval
            )
            for path in ordered
        ]
        runs.append(RunTargets(name, tuple(made), taken[0] if taken else None))
    return runs


def _name(folder: Path, base: Path | None, fallback: str) -> str:
    if base is not None:
        with contextlib.suppress(ValueError):
            relative = folder.resolve().relative_to(base.resolve())
            return str(relative) if relative.parts else folder.resolve().name
    return fallback


@dataclass
class RunRow:
    """One row of the table: a checkpoint's report, and its run's previous checkpoint's."""

    target: Target
    report: Report
    previous: Report | None = None
    from_cache: bool = False
    #: Whether this is the run's newest checkpoint (its row follows the run's log).
    latest: bool = True

    @property
    def comparison(self) -> Comparison | None:
        """This checkpoint against the run's previous one (None for a run's first)."""
        if self.previous is None:
            return None
        return compare_reports(self.previous, self.report, names=("previous", "this"))

    @property
    def regressed(self) -> bool:
        comparison = self.comparison
        return comparison is not None and comparison.exit_code == 1

    def age_s(self, now: float | None = None) -> float | None:
        """Seconds since the checkpoint was written (None without one)."""
        if self.target.checkpoint is None:
            return None
        return (now or time.time()) - modified_time(self.target.checkpoint)

    def figures(self) -> dict[str, float | None]:
        """The key figures a sweep is scanned by (see `key_figures`)."""
        return key_figures(self.report)

    def as_dict(self) -> dict[str, Any]:
        """The docs/cli.md `runs` entry."""
        comparison = self.comparison
        return {
            "name": self.target.run,
            "path": str(self.target.folder),
            "checkpoint": str(self.target.checkpoint) if self.target.checkpoint else None,
            "step": self.target.step,
            "figures": self.figures(),
            "report": self.report.as_dict(),
            "vs_previous": (
                [c.as_dict() for c in comparison.changes] if comparison is not None else None
            ),
        }


def key_figures(report: Report) -> dict[str, float | None]:
    """The figures a sweep is scanned by, None where the check did not compute: the
    duration fit's gap to the probe (nats per row), σ against the residual spread, and the
    fake/real Δt median of the eval dump."""
    fit = _measured(report, Stage.MODEL, "model.duration_fit")
    head = _measured(report, Stage.MODEL, "model.duration_head")
    dt = _measured(report, Stage.INTEGRATION, "integration.dt_median")
    return {
        "fit_gap_nats": _number(fit.get("gap")),
        "sigma_ratio": _number(head.get("sigma_ratio")),
        "dt_median_ratio": _number(dt.get("ratio")),
    }


def _measured(report: Report, stage: Stage, check_id: str) -> dict[str, Any]:
    result = report.stage(stage)
    check = result.check(check_id) if result is not None else None
    measured = check.measured if check is not None and check.status != "skip" else None
    return measured if isinstance(measured, dict) else {}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class RunDiagnoser:
    """Diagnoses targets on one cache: the results cache first, else the sweep (shared
    stages once), storing what it computed."""

    def __init__(self, shared: ArtifactPaths, settings: Settings, use_cache: bool = True) -> None:
        self.shared = shared
        self.settings = settings
        self.sweep = Sweep(
            ArtifactPaths(cache=shared.cache, raw_summary=shared.raw_summary, eval=shared.eval),
            settings,
        )
        self.results = ResultsCache() if use_cache else None
        #: Reports of this launch by the files' versions: `--follow` asks again for every
        #: row whenever anything changed, and only rows whose files changed are computed.
        self._memo: dict[tuple[object, ...], tuple[Report, bool]] = {}
        #: The run folder the shared eval dump lies in (`place_eval`), None when in none.
        self._eval_owner: Path | None = None

    def place_eval(self, folders: Iterable[Path]) -> None:
        """Note which of the runs' folders the shared eval dump lies in (the nearest): one
        named in a run's folder holds that run's samples, so it is that run's alone (as in
        `compare`); one in no run's folder serves every run without its own."""
        named = self.shared.eval
        where = named.resolve() if named is not None else None
        holding = [f for f in folders if where is not None and f.resolve() in where.parents]
        self._eval_owner = max(holding, key=lambda f: len(f.resolve().parts), default=None)

    def paths(self, target: Target) -> ArtifactPaths:
        """The files one target's report reads: the shared cache, the run's own checkpoint,
        log and eval dump (the shared eval dump when the run has none and the shared one
        lies in no run's folder; the shared one when it lies in this run's)."""
        evaluation = target.eval or self.shared.eval
        if self._eval_owner is not None:
            mine = self._eval_owner.resolve() == target.folder.resolve()
            evaluation = self.shared.eval if mine else target.eval
        return resolve_paths(
            ArtifactPaths(
                cache=self.shared.cache,
                raw_summary=self.shared.raw_summary,
                checkpoint=target.checkpoint,
                log=target.log,
                eval=evaluation,
            )
        )

    def report(self, target: Target, latest: bool = True) -> tuple[Report, bool]:
        """The target's report, and whether it came from the results cache (or an earlier
        call of this launch on the same files). An earlier checkpoint of a run (`latest`
        False) keeps its first diagnosis while the run's log grows: the log is the run's,
        and a training that logs every step would otherwise re-diagnose every checkpoint."""
        paths = self.paths(target)
        key = versions(paths, pin_log=not latest)
        if key in self._memo:
            return self._memo[key][0], True
        done = self._report(paths)
        # Kept under both keys: a row that stops being its run's newest is not redone.
        self._memo[versions(paths)] = self._memo[versions(paths, pin_log=True)] = done
        return done

    def _report(self, paths: ArtifactPaths) -> tuple[Report, bool]:
        if self.results is not None:
            cached = self.results.lookup(paths, self.settings)
            if cached is not None and all(s in cached.stages for s in ALL_STAGES):
                return self._from_cache(
                    paths, {s: c.result for s, c in cached.stages.items()}
                ), True
        try:
            loaded = stamps(paths) if self.results is not None else None
        except OSError:  # a checkpoint folder (HF-style) has no file stamp: not cached
            loaded = None
        report, ctx = self.sweep.diagnose(paths)
        if self.results is not None and loaded is not None:
            self.results.store_context(ctx, loaded, report)
        return report, False

    def _from_cache(self, paths: ArtifactPaths, results: dict[int, StageResult]) -> Report:
        from tui_timing.stages.context import StageContext

        ctx = StageContext(paths=paths, settings=self.settings)
        ctx.results.update(results)
        decision = results[Stage.DECISION].decision
        return Report(
            artifacts=artifact_refs(ctx),
            stages=[results[s] for s in ALL_STAGES],
            decision=decision,
            error=first_artifact_error(ctx),
        )


def versions(paths: ArtifactPaths, pin_log: bool = False) -> tuple[object, ...]:
    """Each given file with its (inode, size, mtime): the same tuple means the same inputs
    (`pin_log`: the log by its path alone)."""
    return tuple(
        (kind, str(path), None if pin_log and kind == "log" else signature(path))
        for kind, path in paths.given().items()
    )


def diagnose_runs(
    runs: Iterable[RunTargets],
    diagnoser: RunDiagnoser,
    every_checkpoint: bool,
    on_row: Callable[[RunRow], None] | None = None,
) -> list[RunRow]:
    """The rows: each run's newest checkpoint against its previous one, or every checkpoint
    against the one before it (`every_checkpoint`)."""
    runs = list(runs)
    diagnoser.place_eval({target.folder for run in runs for target in run.targets})
    rows: list[RunRow] = []
    for run in runs:
        for row in _run_rows(run, diagnoser, every_checkpoint):
            rows.append(row)
            if on_row is not None:
                on_row(row)
    return rows


def _run_rows(run: RunTargets, diagnoser: RunDiagnoser, every: bool) -> Iterator[RunRow]:
    wanted = run.targets if every else run.targets[-2:]
    previous: Report | None = None
    for index, target in enumerate(wanted):
        latest = index == len(wanted) - 1
        report, cached = diagnoser.report(target, latest)
        if run.order is not None:
            report.run_assumptions.append(run.order)
        if every or latest:
            yield RunRow(target, report, previous, cached, latest)
        previous = report


def health(report: Report) -> tuple[int, int, float]:
    """How a sweep ranks runs, healthiest first: fewer failed (or errored) checks, then
    fewer warnings, then the smaller duration-fit gap."""
    statuses = [c.status for stage in report.stages for c in stage.checks]
    gap = key_figures(report)["fit_gap_nats"]
    return (
        sum(s in ("fail", "error") for s in statuses),
        statuses.count("warn"),
        gap if gap is not None else float("inf"),
    )


def ranked(rows: list[RunRow]) -> list[RunRow]:
    """The rows with runs in health order (by each run's newest row), each run's rows kept
    together in checkpoint order."""
    newest: dict[str, RunRow] = {}
    for row in rows:
        newest[row.target.run] = row
    order = sorted(newest, key=lambda run: (health(newest[run].report), run))
    place = {run: index for index, run in enumerate(order)}
    return sorted(rows, key=lambda row: place[row.target.run])


def runs_exit_code(rows: list[RunRow]) -> int:
    """2 when an artifact could not be used at all, 1 when a run's newest checkpoint
    regressed against its previous one, else 0."""
    if any(row.report.error is not None for row in rows):
        return 2
    newest: dict[str, RunRow] = {}
    for row in rows:
        newest[row.target.run] = row
    return 1 if any(row.regressed for row in newest.values()) else 0


#: Files `runs` classifies under each folder it is given: a sweep of 100 runs with 5
#: checkpoints and a log each is 600 files, past discovery's default for a bare launch.
RUNS_CANDIDATES = 5_000


def find_runs(roots: list[Path], settings: Settings) -> tuple[list[RunTargets], list[Discovered]]:
    """Runs under each root (discovery: one training's folder is one run), in root order."""
    found = [discover(root, settings, max_candidates=RUNS_CANDIDATES) for root in roots]
    return [run for each in found for run in run_targets(each, Path.cwd())], found


def stage_marks(report: Report) -> list[str]:
    """Each diagnostic stage's status, in order; a stage 3-6 that failed only because its
    input could not be used (a checkpoint that did not load) is `error`, as the decision
    reads it (not assessed): beside rule 9 a `fail` mark said a fault was found."""
    evidence = Evidence({stage.id: stage for stage in report.stages})
    marks: list[str] = []
    for sid in DIAGNOSTIC:
        stage = report.stage(sid)
        status = stage.status if stage is not None else "skip"
        if status == "fail" and sid not in UPSTREAM and not evidence.failures(sid):
            status = "error"
        marks.append(status)
    return marks


#: The stage-5 charts the runs view overlays: (title in the report, title of the overlay).
_OVERLAID = (
    ("Durations: real vs sampled", "Sampled durations (s), marked runs"),
    ("Mean profile: real vs sampled", "Sampled mean profile per step, marked runs"),
)


def overlay_plots(rows: list[RunRow]) -> list[Plot]:
    """The marked runs' sampled duration histograms and mean profiles in one chart each,
    a series per run (and the cache's real one once), drawn as lines: each run's histogram
    has bins of its own, so they are overlaid over their own bin centres."""
    plots: list[Plot] = []
    for source, title in _OVERLAID:
        series: list[Series] = []
        template: Plot | None = None
        for row in rows:
            stage = row.report.stage(Stage.SAMPLER)
            plot = next((p for p in stage.plots if p.title == source), None) if stage else None
            if plot is None:
                continue
            template = template or plot
            if not series:
                series += [s for s in plot.series if s.label == "real"]
            series += [
                Series(row.target.run, s.x, s.y) for s in plot.series if s.label == "sampled"
            ]
        if template is not None and len(series) > 1:
            plots.append(
                Plot(
                    title=title,
                    kind="line",
                    series=series,
                    xlabel=template.xlabel,
                    ylabel=template.ylabel,
                    log_x=template.log_x,
                    log_y=template.log_y,
                )
            )
    return plots
