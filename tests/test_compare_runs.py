"""`compare` takes each run's own files from inside its folder (docs/cli.md#compare): a
file the table or an option names is that run's alone when it lies in one run's folder and
both runs' when it lies in neither, each choice said; the comparison shows where A's and
B's readings differ. Real runs (the sample data's) in a repo laid out here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sample_paths import CACHE, SAMPLE

from tui_timing.cli import main
from tui_timing.findings import Report
from tui_timing.report.compare import compare_reports
from tui_timing.report.compare_render import compare_markdown
from tui_timing.report.markdown import full_markdown
from tui_timing.stages.pair import pair_file

EVAL = SAMPLE / "eval/eval.pt"


def _runs(root: Path) -> tuple[Path, Path]:
    for name in ("linear", "increments"):
        shutil.copytree(SAMPLE / "runs" / name, root / "runs" / name)
    return root / "runs/linear", root / "runs/increments"


def test_a_named_file_in_one_run_is_that_runs_alone(tmp_path: Path) -> None:
    a, b = _runs(tmp_path)
    mine = a / "eval.pt"
    shutil.copy(EVAL, mine)
    paired = pair_file("eval", (None, None), (a, b), given=mine)
    assert (paired.a, paired.b) == (mine, None)
    assert "in run A's folder: that run's alone" in paired.said_a[0].source
    assert paired.said_b[0].value == "none"
    loose = tmp_path / "eval/eval.pt"
    loose.parent.mkdir()
    shutil.copy(EVAL, loose)
    both = pair_file("eval", (mine, None), (a, b), given=loose)
    assert (both.a, both.b) == (loose, loose)
    assert both.said_a == both.said_b and "both use it" in both.said_a[0].source


def test_without_a_named_file_a_run_without_its_own_shares_a_loose_one(tmp_path: Path) -> None:
    a, b = _runs(tmp_path)
    own = a / "eval.pt"
    shutil.copy(EVAL, own)
    loose = tmp_path / "eval/eval.pt"
    loose.parent.mkdir()
    shutil.copy(EVAL, loose)
    paired = pair_file("eval", (own, None), (a, b), found=[own, loose])
    assert (paired.a, paired.b) == (own, loose)  # A's own is never B's
    assert paired.said_a == () and paired.said_b[0].value == str(loose)
    alone = pair_file("eval", (own, None), (a, b), found=[own])
    assert (alone.a, alone.b) == (own, None)


def test_compare_uses_a_table_entry_for_its_run_alone_and_shows_the_difference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = _runs(tmp_path)
    shutil.copy(EVAL, a / "samples.pt")
    (tmp_path / "data").mkdir()
    shutil.copy(CACHE, tmp_path / "data/train_timing.pt")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.timing-tui]\ncache = "data/train_timing.pt"\neval = "runs/linear/samples.pt"\n'
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main, ["compare", "runs/linear", "runs/increments", "--format", "json"]
    )
    comparison = json.loads(result.stdout)
    assert comparison["a"]["artifacts"]["eval"]["path"] == str(tmp_path / "runs/linear/samples.pt")
    assert "eval" not in comparison["b"]["artifacts"]
    assert comparison["a"]["artifacts"]["log"]["path"].endswith("runs/linear/stats.jsonl")
    assert comparison["b"]["artifacts"]["log"]["path"].endswith("runs/increments/stats.jsonl")
    differ = {(d["artifact"], d["what"]): d for d in comparison["assumptions_differ"]}
    used = differ[("eval", "eval used")]
    assert used["a"] == str(tmp_path / "runs/linear/samples.pt") and used["b"] == "none"
    text = CliRunner().invoke(main, ["compare", "runs/linear", "runs/increments"]).stdout
    assert "Read differently:" in text
    assert f"eval: eval used: A {tmp_path / 'runs/linear/samples.pt'} · B none" in text
    # the table in use is named, as `check` names it (it can run code and set tolerances)
    table = str(tmp_path / "pyproject.toml")
    assert comparison["project"] == comparison["a"]["project"] == comparison["b"]["project"]
    assert comparison["project"] == table
    assert f"Project table: [tool.timing-tui] of {table}" in text.splitlines()[:3]


def test_the_markdown_reports_name_the_project_table() -> None:
    """Reports of runs configured by a table: `compare`'s and `check`'s markdown name it,
    as their text and JSON do; without a table they say nothing of one."""
    table = "/repo/pyproject.toml"
    runs = [Report(artifacts={}, stages=[], project=table) for _ in "ab"]
    named = f"Project table: [tool.timing-tui] of {table}"
    assert named in compare_markdown(compare_reports(*runs))
    assert named in full_markdown(runs[0])
    bare = [Report(artifacts={}, stages=[]) for _ in "ab"]
    assert "Project table" not in compare_markdown(compare_reports(*bare))
    assert "Project table" not in full_markdown(bare[0])
