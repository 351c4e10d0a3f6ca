"""The facts declared once are whole: the stage table, each stage's checks, the rules.

A new check, stage or rule that forgets part of its declaration fails here, not as a
silently different verdict.
"""

from __future__ import annotations

import dataclasses
import importlib
import subprocess
import sys

import click

from tui_timing.artifact_kinds import KIND_NAMES
from tui_timing.cli import main
from tui_timing.config import Settings, Tolerances
from tui_timing.model.options import (
    PROFILE_HEADS,
    PROFILE_LOSSES,
    HeadConfig,
    TrainOptions,
    default_of,
)
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


def _option(command: str, name: str) -> click.Option:
    group = main if not command else main.commands[command]
    found = [p for p in group.params if isinstance(p, click.Option) and p.name == name]
    assert len(found) == 1, (command, name)
    return found[0]


def test_the_train_command_offers_the_heads_the_model_builds_with_their_defaults() -> None:
    """`cli.py` cannot import torch, so it reads the torch-free declarations; the registry
    of profile modules (torch) must build exactly the heads declared there."""
    from tui_timing.model.heads import PROFILE_MODULES

    assert set(PROFILE_MODULES) == set(PROFILE_HEADS)
    head = _option("train", "profile_head")
    assert isinstance(head.type, click.Choice)
    assert tuple(head.type.choices) == PROFILE_HEADS
    loss = _option("train", "profile_loss")
    assert isinstance(loss.type, click.Choice)
    assert tuple(loss.type.choices) == PROFILE_LOSSES
    for name in ("profile_head", "hidden", "n_templates", "profile_loss"):
        assert _option("train", name).default == default_of(HeadConfig, name), name
    for name in ("epochs", "batch_size", "lr", "val_fraction"):
        assert _option("train", name).default == default_of(TrainOptions, name), name


def test_the_sample_count_and_temperature_defaults_are_the_settings_ones() -> None:
    assert f"(default {Settings.samples})" in (_option("", "samples").help or "")
    assert f"(default {Settings.samples})" in (_option("sample", "samples").help or "")
    assert _option("sample", "temperature").default == Settings.temperature


def test_the_declarations_the_cli_reads_do_not_import_torch() -> None:
    code = "import sys, tui_timing.cli, tui_timing.model.options; print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
