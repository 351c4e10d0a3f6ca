"""The scratchpad habits (docs/cli.md#scratchpad): a scratchpad kept as dated bullets under sections
gets one dated bullet with nested lines in its last section (append-only); any other gets its own
section; `E` exports one stage; `docs/*scratchpad*.md` is found without --scratchpad."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from sample_paths import CACHE as SAMPLE_CACHE

from tui_timing.cli import main
from tui_timing.findings import (
    Action,
    ArtifactRef,
    Check,
    Decision,
    Report,
    RuleOutcome,
    StageResult,
)
from tui_timing.report.markdown import findings_bullet, findings_markdown
from tui_timing.report.scratchpad import append_entry, dated_bullet_marker
from tui_timing.tui.export import default_scratchpad

WHEN = datetime(2025, 11, 28, 14, 3, 22, tzinfo=timezone.utc)

#: As research repos often keep docs/task_scratchpad.md.
TASK_SCRATCHPAD = """# Task scratchpad

## Backlog
- 2025-10-20: try the increments head
  - needs a new run folder

## In Progress
- 2025-10-22: timing head diagnosis

## Done
- 2025-10-21: rebuilt the cache

## Notes
- 2025-10-23: C2ST is 0.93 on the linear run
- 2025-10-24: the eval re-normalizes after assigning dt?
  - check scripts/eval_diffusion.py
"""


def a_report() -> Report:
    model = StageResult(
        3,
        "model",
        checks=[
            Check("model.load", "pass", True, True, "The checkpoint loads."),
            Check("model.profile_capacity", "fail", {"best": "increments"}, None, "Cannot fit."),
        ],
        figures=["linear head, hidden 64"],
    )
    action = Action("Retrain", "KL 1.68 vs 0.23", ["model.profile_capacity"], "timing-tui train")
    decision = StageResult(
        7,
        "decision",
        status_override="fail",
        decision=Decision(
            "Revisit the architecture",
            4,
            actions=[action],
            path=[RuleOutcome(4, "the architecture cannot fit the profile", True, "KL 1.68")],
        ),
    )
    return Report(
        artifacts={"checkpoint": ArtifactRef("runs/linear/checkpoint.pt", "ab" * 32)},
        stages=[model, decision],
        decision=decision.decision,
    )


@pytest.mark.parametrize(
    ("text", "marker"),
    [
        (TASK_SCRATCHPAD, "-"),
        ("## Log\n* 2025-10-24: one\n* 2025-10-25: two\n\n", "*"),
        ("- 2025-10-24: no heading at all\n", "-"),
        ("## Notes\n- 2025-10-24: dated\n- undated item\n", None),
        ("## Notes\n- 2025-10-24: dated\n\nA paragraph after the list.\n", None),
        ("## Done\n- 2025-10-24: dated\n\n## Ideas\nfree text\n", None),  # last section
        ("# My notes\n\nkeep this line\n", None),
        ("", None),
    ],
)
def test_a_list_of_dated_bullets_is_recognised(text: str, marker: str | None) -> None:
    assert dated_bullet_marker(text) == marker


def test_a_task_scratchpad_gets_a_dated_bullet_in_its_last_section(tmp_path: Path) -> None:
    pad = tmp_path / "task_scratchpad.md"
    pad.write_text(TASK_SCRATCHPAD)
    report = a_report()
    append_entry(pad, findings_markdown(report, WHEN), bullet=findings_bullet(report, WHEN))
    text = pad.read_text()
    assert text.startswith(TASK_SCRATCHPAD)  # append-only
    added = text[len(TASK_SCRATCHPAD) :].splitlines()
    assert added[0] == (
        "- 2025-11-28: timing-tui findings at 14:03, verdict of rule 4 (the architecture cannot "
        "fit the profile): Revisit the architecture"
    )
    assert all(line.startswith("  - ") for line in added[1:]) and len(added) > 2
    assert "  - stage 3 model: fail; linear head, hidden 64; not passing: " in text
    assert "## timing-tui findings" not in text
    assert dated_bullet_marker(text) == "-"  # still a list of dated bullets: next time too


def test_other_scratchpads_get_a_section(tmp_path: Path) -> None:
    pad = tmp_path / "notes.md"
    pad.write_text("# My notes\n\nlr 3e-4 looked fine")
    report = a_report()
    append_entry(pad, findings_markdown(report, WHEN), bullet=findings_bullet(report, WHEN))
    text = pad.read_text()
    assert text.startswith("# My notes\n\nlr 3e-4 looked fine\n\n## timing-tui findings 2025-")


def test_a_bullet_keeps_the_files_own_bullet_character(tmp_path: Path) -> None:
    pad = tmp_path / "log.md"
    pad.write_text("## Log\n* 2025-10-24: one")  # no trailing newline
    report = a_report()
    append_entry(pad, findings_markdown(report, WHEN), bullet=findings_bullet(report, WHEN))
    assert pad.read_text().startswith("## Log\n* 2025-10-24: one\n* 2025-11-28: timing-tui")


def test_one_stage_alone(tmp_path: Path) -> None:
    report = a_report()
    section = findings_markdown(report, WHEN, stage=3)
    assert section.startswith("## timing-tui findings 2025-11-28T14:03:22+00:00 (stage 3 model)")
    assert "| 3 model | fail |" in section and "| 7 decision" not in section
    assert "- model.profile_capacity (fail): Cannot fit." in section
    assert "Verdict" not in section and "model.load" not in section
    bullet = findings_bullet(report, WHEN, stage=3)
    assert bullet.startswith("- 2025-11-28: timing-tui findings at 14:03, stage 3 model: fail\n")
    assert "  - model.profile_capacity (fail): Cannot fit." in bullet
    decision = findings_markdown(report, WHEN, stage=7)
    assert "Verdict of rule 4 (the architecture cannot fit the profile): Revisit" in decision
    assert "`timing-tui train`" in decision


def test_the_scratchpad_is_found_in_docs(tmp_path: Path) -> None:
    assert default_scratchpad(tmp_path) == tmp_path / "scratchpad.md"  # created on export
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "task_scratchpad.md").write_text(TASK_SCRATCHPAD)
    (docs / "z_scratchpad.md").write_text("")
    assert default_scratchpad(tmp_path) == docs / "task_scratchpad.md"
    (tmp_path / "scratchpad.md").write_text("here")
    assert default_scratchpad(tmp_path) == tmp_path / "scratchpad.md"


def test_check_appends_a_dated_bullet_to_a_task_scratchpad(
    small_cache: Path, tmp_path: Path
) -> None:
    """`check --scratchpad` goes through the same function: a task scratchpad gets a bullet."""
    pad = tmp_path / "docs" / "task_scratchpad.md"
    pad.parent.mkdir()
    pad.write_text(TASK_SCRATCHPAD)
    result = CliRunner().invoke(
        main, ["check", "--cache", str(small_cache), "--stage", "1", "--scratchpad", str(pad)]
    )
    assert result.exit_code == 0, result.output
    text = pad.read_text()
    assert text.startswith(TASK_SCRATCHPAD)
    added = text[len(TASK_SCRATCHPAD) :].splitlines()
    assert re.fullmatch(r"- \d{4}-\d{2}-\d{2}: timing-tui findings at \d\d:\d\d, .+", added[0])
    assert f"  - artifacts: cache `{small_cache}` (" in text
    assert "  - stage 1 cache: pass; " in text and "## timing-tui findings" not in text


def test_an_export_of_the_bundled_sample_data_is_marked(tmp_path: Path) -> None:
    """Findings about the sample data land in the user's own scratchpad marked as such;
    findings about the user's files (above) are not."""
    pad = tmp_path / "scratchpad.md"
    result = CliRunner().invoke(
        main, ["check", "--cache", str(SAMPLE_CACHE), "--stage", "1", "--scratchpad", str(pad)]
    )
    assert result.exit_code == 0, result.output
    assert re.match(r"## timing-tui findings \S+ \(bundled sample data\)\n", pad.read_text())
    pad.write_text(TASK_SCRATCHPAD)
    report = Report(
        artifacts={"cache": ArtifactRef(str(SAMPLE_CACHE), None)}, stages=[], decision=None
    )
    assert findings_bullet(report, WHEN).startswith(
        "- 2025-11-28: timing-tui findings at 14:03 (bundled sample data), "
    )
