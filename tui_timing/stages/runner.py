"""Load the artifacts once, run the stages in order, assemble the report.

Both renderers (the `check` command and the TUI) call these functions; neither runs a
stage any other way. Stage functions live one per module and are imported here lazily, so
that importing the runner does not pull in torch-heavy code before it is needed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tui_timing.artifact_kinds import KIND, KIND_NAMES
from tui_timing.artifacts.hashing import file_sha256
from tui_timing.artifacts.raw_summary import resolve_paths
from tui_timing.config import ArtifactPaths, Settings
from tui_timing.errors import ArtifactError, UsageError, out_of_memory
from tui_timing.findings import (
    ArtifactRef,
    Assumption,
    Report,
    StageResult,
    merge_assumptions,
)
from tui_timing.plugins import CallMismatch, UserCodeError
from tui_timing.stages.catalog import ALL_STAGES, STAGE_BY_ID, Stage
from tui_timing.stages.checks import CheckSpec
from tui_timing.stages.context import Loaded, StageCancelled, StageContext


def load_artifact(kind: str, path: Path, settings: Settings) -> Loaded[Any]:
    """Load one artifact; any failure becomes the Loaded's error, never an exception,
    except a UsageError (the command line or the table must change: exit 2)."""
    try:
        return Loaded(path=path, value=KIND[kind].load()(path, settings))
    except ArtifactError as exc:
        return Loaded(path=path, error=exc)
    except UsageError:
        raise  # a plug-in that cannot be imported, a key map that names no contract key
    except MemoryError:
        problem = f"ran out of memory while reading it ({_file_size(path)})"
        return Loaded(path=path, error=ArtifactError(str(path), None, problem))
    except (OSError, ValueError, TypeError, RuntimeError, KeyError, IndexError) as exc:
        return Loaded(path=path, error=ArtifactError(str(path), None, f"not usable ({exc})"))
    except Exception as exc:  # a loader bug must not become a traceback (docs/cli.md)
        problem = (
            f"timing-tui failed while reading it ({type(exc).__name__}: {exc}); please report this"
        )
        return Loaded(path=path, error=ArtifactError(str(path), None, problem))


def load_artifacts(
    paths: ArtifactPaths, settings: Settings, assumptions: Sequence[Assumption] = ()
) -> StageContext:
    """A fresh context with every given artifact loaded (or its load error recorded), and
    the assumptions made in choosing the files (which run, which of its checkpoints)."""
    paths = resolve_paths(paths)
    ctx = StageContext(paths=paths, settings=settings, assumptions=list(assumptions))
    for kind, path in paths.given().items():
        ctx.artifacts[kind] = load_artifact(kind, path, settings)
    return ctx


def run_stage(ctx: StageContext, stage_id: int) -> StageResult:
    """Run one stage on the context and store its result there (replacing an older one)."""
    info = STAGE_BY_ID[stage_id]
    try:
        module = importlib.import_module(f"tui_timing.stages.{info.module}")
        with _one_thread_if_torch():
            result: StageResult = module.run(ctx)
    except (StageCancelled, UsageError):
        raise  # a plug-in named wrong in the table must change there: exit 2, as at load
    except UserCodeError as exc:  # their plug-in raised: theirs to fix, the others still run
        ctx.user_errors.append(exc)
        result = StageResult(
            id=int(info.id),
            name=info.name,
            checks=[
                CheckSpec(f"{info.name}.user_code", "load").check(
                    "error",
                    measured=exc.problem,
                    expected="your plug-in runs on the cache's rows",
                    message=(
                        f"Stage {info.id} could not call your plug-in: {exc.problem}."
                        if isinstance(exc, CallMismatch)
                        else f"Your code failed in stage {info.id}: {exc.problem}."
                    ),
                )
            ],
        )
    except Exception as exc:  # a bug must not cost the user the other stages
        result = StageResult(
            id=int(info.id),
            name=info.name,
            checks=[
                CheckSpec(f"{info.name}.internal", "structural").check(
                    "error",
                    measured=f"{type(exc).__name__}: {exc}",
                    expected="the stage completes",
                    message=(
                        f"Stage {info.id} ran out of memory on these artifacts "
                        f"({_given_sizes(ctx)}); the other stages still ran."
                        if out_of_memory(exc)
                        else f"timing-tui failed inside stage {info.id} ({type(exc).__name__}: "
                        f"{exc}); the other stages still ran. Please report this."
                    ),
                )
            ],
        )
    result.assumptions = merge_assumptions(ctx.assumptions_about(info.reads), result.assumptions)
    ctx.results[stage_id] = result
    return result


def usage_error_result(ctx: StageContext, stage_id: int, exc: UsageError) -> StageResult:
    """The stage's result when a plug-in or key map it needs is named wrong (`run_stage`
    raises the UsageError: `check` exits 2 on it; the TUI shows this in the stage's pane
    and goes on with the other stages)."""
    info = STAGE_BY_ID[stage_id]
    check = CheckSpec(f"{info.name}.usage", "load").check(
        "error",
        measured=str(exc),
        expected="the plug-ins and key maps the stage needs, named as they are",
        message=f"Stage {info.id} could not start: {exc}. Fix that line of [tool.timing-tui] "
        "(or the option), then re-run.",
    )
    result = StageResult(id=int(info.id), name=info.name, checks=[check])
    ctx.results[stage_id] = result
    return result


def reused_result(
    result: StageResult, source: StageContext, ctx: StageContext, stage: Stage
) -> StageResult:
    """A result computed in `source` handed to `ctx`, whose inputs for the stage are the
    same: the stage's own assumptions are kept, and those about the files it read are
    `ctx`'s, so that a run never shows another run's readings (its checkpoint, its
    config) as its own."""
    reads = STAGE_BY_ID[stage].reads
    theirs = set(source.assumptions_about(reads))
    own = [a for a in result.assumptions if a not in theirs]
    return dataclasses.replace(
        result, assumptions=merge_assumptions(ctx.assumptions_about(reads), own)
    )


def _file_size(path: Path) -> str:
    try:
        return f"{path.stat().st_size / 1e6:.1f} MB"
    except OSError:
        return "size unknown"


def _given_sizes(ctx: StageContext) -> str:
    return ", ".join(f"{path}: {_file_size(path)}" for path in ctx.paths.given().values())


def _one_thread_if_torch() -> contextlib.AbstractContextManager[None]:
    """One torch CPU thread while a stage runs, when it uses torch: stage 1 reads numpy
    arrays only, and runs before torch is imported (it takes over a second)."""
    if "torch" not in sys.modules:
        return contextlib.nullcontext()
    from tui_timing.model.threads import one_cpu_thread

    return one_cpu_thread()


def stages_to_run(only: int | None) -> list[int]:
    """All stages, or one; the decision needs every other stage's result."""
    if only is None or only == Stage.DECISION:
        return list(ALL_STAGES)
    return [only]


def run_stages(ctx: StageContext, stage_ids: Iterable[int]) -> list[StageResult]:
    """Run the given stages in order."""
    return [run_stage(ctx, sid) for sid in stage_ids]


def build_report(
    ctx: StageContext, stage_ids: Iterable[int], hashed: Mapping[str, ArtifactRef] | None = None
) -> Report:
    """The report of the stages run so far (in `stage_ids` order) with hashes and errors;
    `hashed` holds refs already computed for the same files (not hashed again)."""
    stages = [ctx.results[sid] for sid in stage_ids if sid in ctx.results]
    decision_stage = ctx.results.get(Stage.DECISION)
    decision = decision_stage.decision if decision_stage else None
    return Report(
        artifacts=artifact_refs(ctx, hashed),
        stages=stages,
        decision=decision,
        error=first_artifact_error(ctx),
        run_assumptions=list(ctx.assumptions),
    )


def run_check(paths: ArtifactPaths, settings: Settings, only: int | None = None) -> Report:
    """Everything `timing-tui check` does short of rendering: load, run, report."""
    return check_report(checked_context(paths, settings, only), only)


def checked_context(
    paths: ArtifactPaths,
    settings: Settings,
    only: int | None,
    assumptions: Sequence[Assumption] = (),
) -> StageContext:
    """The context after loading and running what `check` runs (its results included)."""
    ctx = load_artifacts(paths, settings, assumptions)
    run_stages(ctx, stages_to_run(only))
    return ctx


def check_report(ctx: StageContext, only: int | None) -> Report:
    """`check`'s report of a context from `checked_context`: all stages, or the one asked."""
    ids = stages_to_run(only)
    return build_report(ctx, [only] if only is not None and only != Stage.DECISION else ids)


def first_artifact_error(ctx: StageContext) -> dict[str, str | None] | None:
    """The JSON `error` object (docs/cli.md#json-report) of the first given artifact that cannot be
    used at all, or else of the first exception the user's own code raised."""
    for kind in KIND_NAMES:
        outcome = ctx.artifacts.get(kind)
        if outcome is not None and outcome.error is not None:
            return outcome.error.as_dict()
    return ctx.user_errors[0].as_dict() if ctx.user_errors else None


def artifact_refs(
    ctx: StageContext, hashed: Mapping[str, ArtifactRef] | None = None
) -> dict[str, ArtifactRef]:
    """Each given artifact's path and content hash (None when it cannot be read), reusing
    the refs in `hashed` whose path is the same (a 1M-row cache is hashed once, not twice)."""
    known = {ref.path: ref for ref in (hashed or {}).values()}
    return {
        kind: known.get(str(path)) or ArtifactRef(path=str(path), sha256=file_sha256(path))
        for kind, path in ctx.paths.given().items()
    }
