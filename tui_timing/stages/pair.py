"""Two runs on one cache (SPEC 5 `compare`): each stage once per run, and only once in all
when its result cannot differ between the runs.

The runs differ in their checkpoint and log (and maybe their eval dump); the cache, its raw
summary and often the eval dump are the same files. Those are loaded once, and a stage
whose inputs are the same for both runs is run for A and its result handed to B: stage 1
always (one cache), stage 2 when both checkpoints expect the same feature width (all it
reads of a checkpoint), stage 6 when both runs use the same eval dump. Stage 7 reads the
other stages' results, so it runs for each run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tui_timing.config import Settings
from tui_timing.findings import Report
from tui_timing.stages.catalog import ALL_STAGES, STAGE_BY_ID, Stage
from tui_timing.stages.context import ArtifactPaths, StageContext
from tui_timing.stages.runner import (
    build_report,
    load_artifact,
    load_artifacts,
    resolve_paths,
    run_stage,
    stages_to_run,
)

#: What a stage reads of an artifact where that is less than the whole file: stage 2 reads
#: only the checkpoint's conditioning width (the batches' feature width is checked
#: against it), so two checkpoints of one width give the same stage 2.
PART_READ: dict[tuple[Stage, str], Callable[[StageContext], object]] = {
    (Stage.DATASET, "checkpoint"): lambda ctx: getattr(ctx.value("checkpoint"), "cond_dim", None),
}


@dataclass(frozen=True)
class PairedEvals:
    """The eval dump each run of a pair is diagnosed with, and a sentence saying where a
    shared one came from (None when each run uses its own, or neither has one)."""

    a: Path | None
    b: Path | None
    note: str | None = None


def pair_evals(
    own: tuple[Path | None, Path | None],
    folders: tuple[Path, Path],
    given: Path | None = None,
    found: Sequence[Path] = (),
) -> PairedEvals:
    """Which eval dump each of two runs is diagnosed with: the one rule that `compare` and
    the TUI's compare mode both follow, so that both reach the same verdict on the same files.

    An eval dump the user gave (`--eval`, or the project table) is used for both runs. Else
    each run uses its own (the one inside its folder); a run without one uses the first of
    `found` (eval dumps discovered around the runs, or the one in use) that lies inside
    neither run's folder: it belongs to no run, so it is both runs' to share. An eval dump
    inside the other run's folder is that run's samples, never shared.
    """
    if given is not None:
        return PairedEvals(given, given, f"the eval dump {given} is used for both runs (given)")
    inside = [folder.resolve() for folder in folders]
    loose = next((p for p in found if not any(f in p.resolve().parents for f in inside)), None)
    a, b = (mine if mine is not None else loose for mine in own)
    if loose is None or loose not in (a, b):
        return PairedEvals(a, b)
    users = [side for side, mine in zip("AB", own, strict=True) if mine is None]
    who = "both runs use it" if len(users) == 2 else f"run {users[0]} uses it (it has none)"
    return PairedEvals(a, b, f"the eval dump {loose} lies in neither run's folder: {who}")


@dataclass
class PairReports:
    """Both runs' reports, and the stages whose result B took from A (same inputs)."""

    a: Report
    b: Report
    shared: frozenset[Stage]


def same_file(first: Path | None, second: Path | None) -> bool:
    """Whether two optional paths name the same file (both absent counts as the same)."""
    if first is None or second is None:
        return first is second
    return first.resolve() == second.resolve()


def load_pair(
    paths_a: ArtifactPaths, paths_b: ArtifactPaths, settings: Settings
) -> tuple[StageContext, StageContext]:
    """Both runs' contexts, every file that both name loaded once (B reads A's copy)."""
    ctx_a = load_artifacts(paths_a, settings)
    return ctx_a, context_beside(ctx_a, paths_b)


def context_beside(ctx_a: StageContext, paths_b: ArtifactPaths) -> StageContext:
    """B's context with A's settings: the files A loaded too are A's loaded copies (the
    cache with its view and memo), the others are loaded now."""
    paths_b = resolve_paths(paths_b)
    ctx_b = StageContext(paths=paths_b, settings=ctx_a.settings)
    given_a = ctx_a.paths.given()
    shared = {k for k, p in paths_b.given().items() if same_file(given_a.get(k), p)}
    ctx_b.share_inputs(ctx_a, shared)
    for kind, path in paths_b.given().items():
        if kind not in shared:
            ctx_b.artifacts[kind] = load_artifact(kind, path, ctx_a.settings)
    return ctx_b


def stage_inputs(ctx: StageContext, stage: Stage) -> tuple[object, ...] | None:
    """What the stage's result depends on in this context besides the settings: the files it
    reads (or the part it reads of them); None for the decision, which reads the results."""
    info = STAGE_BY_ID[stage]
    if not info.reads:
        return None
    given = ctx.paths.given()
    inputs: list[object] = []
    for kind in info.reads:
        part = PART_READ.get((stage, kind))
        if part is not None:
            inputs.append(part(ctx))
        else:
            inputs.append(given[kind].resolve() if kind in given else None)
    return tuple(inputs)


def shared_stages(ctx_a: StageContext, ctx_b: StageContext) -> frozenset[Stage]:
    """The stages whose inputs are the same in both contexts (B can take A's result)."""
    return frozenset(
        stage
        for stage in ALL_STAGES
        if (inputs := stage_inputs(ctx_a, stage)) is not None
        and inputs == stage_inputs(ctx_b, stage)
    )


def run_pair(
    paths_a: ArtifactPaths,
    paths_b: ArtifactPaths,
    settings: Settings,
    on_stage: Callable[[str, int], None] | None = None,
) -> PairReports:
    """Load, run every stage for A, then for B those it does not share; both reports.

    `on_stage(side, stage_id)` is called before each stage that runs ("A" or "B").
    """
    ctx_a, ctx_b = load_pair(paths_a, paths_b, settings)
    shared = shared_stages(ctx_a, ctx_b)
    ids = stages_to_run(None)
    for side, ctx in (("A", ctx_a), ("B", ctx_b)):
        for sid in ids:
            if ctx is ctx_b and sid in shared:
                ctx_b.results[sid] = ctx_a.results[sid]
                continue
            if on_stage is not None:
                on_stage(side, sid)
            run_stage(ctx, sid)
    report_a = build_report(ctx_a, ids)
    return PairReports(
        a=report_a, b=build_report(ctx_b, ids, hashed=report_a.artifacts), shared=shared
    )
