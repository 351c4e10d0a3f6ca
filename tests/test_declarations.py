"""The facts declared once are whole: the stage table, each stage's checks, the rules.

A new check, stage or rule that forgets part of its declaration fails here, not as a
silently different verdict.
"""

from __future__ import annotations

import dataclasses
import importlib

from tui_timing.artifact_kinds import KIND_NAMES
from tui_timing.config import Tolerances
from tui_timing.stages.catalog import ALL_STAGES, DIAGNOSTIC, STAGE_BY_ID, STAGES, Stage
from tui_timing.stages.checks import checks_of, declared_checks
from tui_timing.stages.decision.evidence import GATES, PADDING_CHECKS, STATISTICS, UNUSABLE
from tui_timing.stages.decision.rules import RULES


def test_the_stage_table_numbers_the_stages_in_order_and_names_real_modules() -> None:
    assert [s.id for s in STAGES] == list(Stage) == list(range(1, len(STAGES) + 1))
    assert ALL_STAGES[-1] == Stage.DECISION and Stage.DECISION not in DIAGNOSTIC
    for info in STAGES:
        module = importlib.import_module(f"tui_timing.stages.{info.module}")
        assert callable(module.run), info
        assert set(info.reads) <= set(KIND_NAMES), info


def test_each_diagnostic_stage_declares_its_checks_once() -> None:
    ids = [spec.id for spec in declared_checks()]
    assert len(ids) == len(set(ids))
    for stage in DIAGNOSTIC:
        checks = checks_of(stage)
        assert checks.stage == stage
        assert checks.specs[0].kind == "load" or stage == Stage.INTEGRATION, stage
        prefixes = {spec.id.split(".")[0] for spec in checks.specs}
        assert len(prefixes) == 1, (STAGE_BY_ID[stage].name, prefixes)


def test_every_tolerance_belongs_to_a_check_and_every_named_one_exists() -> None:
    fields = {f.name for f in dataclasses.fields(Tolerances)}
    named = {name for spec in declared_checks() for name in spec.tolerances}
    assert named <= fields, named - fields
    assert fields <= named, f"tolerances no check declares: {sorted(fields - named)}"


def test_the_decision_groupings_come_from_the_declarations() -> None:
    """The checks each grouping held when it was a hand-written list still belong to it (a
    new check joins by its declaration; reclassifying one of these changes rule 8)."""
    assert {
        "train.stats_convergence",
        "sampler.duration_quantiles",
        "sampler.profile_bins",
        "integration.dt_median",
        "integration.vel_p95",
        "integration.log_dt_ks",
        "integration.length_ks",
        "integration.c2st",
    } <= STATISTICS
    assert {"model.load", "train.log", "sampler.run"} <= UNUSABLE
    assert {"integration.dt_median", "integration.vel_p95"} <= set(GATES)
    assert {"model.length_masking", "sampler.padding_mass"} <= set(PADDING_CHECKS)


def test_the_rules_are_numbered_by_the_table() -> None:
    assert [rule.number for rule in RULES] == list(range(1, len(RULES) + 1)) == list(range(1, 10))
    assert len({rule.question for rule in RULES}) == len(RULES)
    assert len({rule.evaluate for rule in RULES}) == len(RULES)
