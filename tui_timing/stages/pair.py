"""Two runs on one cache (docs/cli.md#compare): each stage once per run, and only once in all
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
from tui_timing.findings import Assumption, Report
from tui_timing.stages.catalog import ALL_STAGES, STAGE_BY_ID, Stage
from tui_timing.stages.context import ArtifactPaths, StageContext
from tui_timing.stages.runner import (
    build_report,
    load_artifact,
    load_artifacts,
    resolve_paths,
    reused_result,
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
class Paired:
    """The file of one kind each run of a pair is diagnosed with, and what was assumed in
    choosing it (each side's list; a file both share is said on both)."""

    a: Path | None
    b: Path | None
    said_a: tuple[Assumption, ...] = ()
    said_b: tuple[Assumption, ...] = ()
    #: A sentence saying where a file not the run's own came from (None when each run
    #: uses its own, or neither has one).
    note: str | None = None


def pair_file(
    kind: str,
    own: tuple[Path | None, Path | None],
    folders: tuple[Path, Path],
    given: Path | None = None,
    found: Sequence[Path] = (),
) -> Paired:
    """Which file of `kind` (a log, an eval dump) each of two runs is diagnosed with: the one
    rule `compare` and the TUI's compare mode both follow, so that both reach the same
    verdict on the same files.

    A file the user named (an option, or the project table) that lies in one run's folder
    is that run's alone; the other keeps its own. One that lies in neither is both runs'.
    Without one, each run uses its own (found in its folder), and a run without one uses
    the first of `found` (discovered around the runs, or the one in use) that lies in
    neither folder: it belongs to no run, so both may share it. A file in the other run's
    folder is that run's, never shared.
    """
    inside = [folder.resolve() for folder in folders]
    label = _LABELS.get(kind, kind)

    def owner(path: Path) -> int | None:
        where = path.resolve().parents
        return next((i for i, folder in enumerate(inside) if folder in where), None)

    what = f"{kind} used"
    if given is not None:
        side = owner(given)
        if side is None:
            note = Assumption(kind, what, str(given), "named; in neither run's folder: both use it")
            said = f"the {label} {given} lies in neither run's folder: both runs use it (given)"
            return Paired(given, given, (note,), (note,), said)
        chosen = [own[0], own[1]]
        chosen[side] = given
        notes = [
            Assumption(
                kind,
                what,
                str(chosen[i]) if chosen[i] else "none",
                f"named, in run {'AB'[side]}'s folder: that run's alone"
                if i == side
                else "its own (the one named lies in the other run's folder)",
            )
            for i in range(2)
        ]
        said = f"the {label} {given} lies in run {'AB'[side]}'s folder: that run alone uses it"
        return Paired(chosen[0], chosen[1], (notes[0],), (notes[1],), said)
    loose = next((p for p in found if owner(p) is None), None)
    a, b = (mine if mine is not None else loose for mine in own)
    if loose is None or loose not in (a, b):
        return Paired(a, b)
    note = Assumption(
        kind, what, str(loose), "found in neither run's folder (the run has none of its own)"
    )
    users = [side for side, mine in zip("AB", own, strict=True) if mine is None]
    who = "both runs use it" if len(users) == 2 else f"run {users[0]} uses it (it has none)"
    return Paired(
        a,
        b,
        (note,) if own[0] is None else (),
        (note,) if own[1] is None else (),
        f"the {label} {loose} lies in neither run's folder: {who}",
    )


#: How each kind is named in a note.
_LABELS = {"eval": "eval dump"}


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
    paths_a: ArtifactPaths,
    paths_b: ArtifactPaths,
    settings: Settings,
    assumptions: tuple[Sequence[Assumption], Sequence[Assumption]] = ((), ()),
) -> tuple[StageContext, StageContext]:
    """Both runs' contexts, every file that both name loaded once (B reads A's copy)."""
    ctx_a = load_artifacts(paths_a, settings, assumptions[0])
    return ctx_a, context_beside(ctx_a, paths_b, assumptions[1])


def context_beside(
    ctx_a: StageContext, paths_b: ArtifactPaths, assumptions: Sequence[Assumption] = ()
) -> StageContext:
    """B's context with A's settings: the files A loaded too are A's loaded copies (the
    cache with its view and memo), the others are loaded now."""
    paths_b = resolve_paths(paths_b)
    ctx_b = StageContext(paths=paths_b, settings=ctx_a.settings, assumptions=list(assumptions))
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
    assumptions: tuple[Sequence[Assumption], Sequence[Assumption]] = ((), ()),
) -> PairReports:
    """Load, run every stage for A, then for B those it does not share; both reports.

    `on_stage(side, stage_id)` is called before each stage that runs ("A" or "B");
    `assumptions` are what was assumed in choosing each run's files.
    """
    ctx_a, ctx_b = load_pair(paths_a, paths_b, settings, assumptions)
    shared = shared_stages(ctx_a, ctx_b)
    ids = stages_to_run(None)
    for side, ctx in (("A", ctx_a), ("B", ctx_b)):
        for sid in ids:
            if ctx is ctx_b and sid in shared:
                ctx_b.results[sid] = reused_result(ctx_a.results[sid], ctx_a, ctx_b, Stage(sid))
                continue
            if on_stage is not None:
                on_stage(side, sid)
            run_stage(ctx, sid)
    report_a = build_report(ctx_a, ids)
    return PairReports(
        a=report_a, b=build_report(ctx_b, ids, hashed=report_a.artifacts), shared=shared
    )
