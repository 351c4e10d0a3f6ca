"""The verdicts' confusion matrix (VALIDITY.md), asserted: each fault planted in real Balabit
artifacts is caught by its check and ends at its rule with a headline that names it, the healthy
runs end at rule 9, and the clean cache of every Balabit user raises no warning and no failure.

The faults and how they are planted are in verdict_faults.py (benchmarks/validity.py runs
the same list on every user and writes VALIDITY.md). The runs here are on user9, whose data
no other test uses, with user16 (the other Balabit clock) as the "other users" a checkpoint
is trained on. Everything is trained by the package's own trainer (the research repo's head
by its own loop) on the first four sessions of user9, once per session.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from verdict_faults import CLEAN, FAULTS, Fault, World, clean_cache_findings, diagnose, outcome

from tui_timing.config import ArtifactPaths, Settings
from tui_timing.data.build_cache import build_cache
from tui_timing.stages.runner import load_artifacts, run_stage

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.slow]

USER, OTHER_USER = "user9", "user16"


@pytest.fixture(scope="session")
def world(balabit_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> World:
    return World(
        raw_dir=balabit_dir, root=tmp_path_factory.mktemp("verdicts"), user=USER,
        other_user=OTHER_USER, sessions=4, epochs=30,
    )  # fmt: skip


def _explain(fault: Fault, report: dict[str, object]) -> str:
    found = outcome(fault, report)
    return (
        f"{fault.name}: {fault.expect.check} is {found.status} (want {fault.expect.status}), "
        f"rule {found.rule} (want {fault.expect.rule}), failing {list(found.failing)}; "
        f"verdict: {found.verdict}"
    )


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_a_planted_fault_is_caught_and_ends_at_its_rule(world: World, fault: Fault) -> None:
    report = diagnose(world, fault.plant(world))
    found = outcome(fault, report)
    assert found.caught, _explain(fault, report)
    assert found.right_rule, _explain(fault, report)
    assert found.named, _explain(fault, report)


@pytest.mark.parametrize("fault", CLEAN, ids=lambda f: f.name)
def test_a_healthy_run_ends_at_rule_9_and_nothing_fails(world: World, fault: Fault) -> None:
    report = diagnose(world, fault.plant(world))
    found = outcome(fault, report)
    assert found.failing == (), _explain(fault, report)
    assert found.right_rule and found.named, _explain(fault, report)


def test_stage_3_is_deterministic_so_the_harness_may_reuse_it(world: World) -> None:
    """diagnose() reuses stage 3 between cases with the same inputs; that is only sound if
    running it again on them gives the same result."""
    case = CLEAN[0].plant(world)
    diagnose(world, case)
    key = (case.paths.cache, case.paths.checkpoint, case.model, Settings().seed)
    kept = copy.deepcopy(world._stage3[key])
    again = run_stage(load_artifacts(case.paths, Settings(device="cpu")), 3)
    for before, after in zip(kept.checks, again.checks, strict=True):
        assert (before.id, before.status, before.message) == (after.id, after.status, after.message)


def test_clean_caches_of_every_balabit_user_raise_nothing(
    balabit_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Stages 1 and 2 on the cache of each user's whole data: every check passes (or skips
    with its reason), so a warning or failure on a user's cache means something."""
    root = tmp_path_factory.mktemp("users")
    users = sorted(p.name for p in balabit_dir.iterdir() if p.is_dir())
    assert len(users) >= 7
    findings: dict[str, list[str]] = {}
    for user in users:
        built = build_cache(balabit_dir / user, root, user, "train")
        ctx = load_artifacts(ArtifactPaths(cache=built.cache_path), Settings(device="cpu"))
        for stage in (1, 2):
            run_stage(ctx, stage)
        report = {"stages": [ctx.results[1].as_dict(), ctx.results[2].as_dict()]}
        if found := clean_cache_findings(report):
            findings[user] = found
    assert findings == {}
