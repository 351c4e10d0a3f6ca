"""A plug-in named wrong in `[tool.timing-tui]` is a usage error, wherever it is first
needed: `check` exits 2 naming it (a dataset typo was stage 2 `fail` and a verdict "fix the
dataset", a sampler typo an `error` and exit 1); the TUI's pipeline shows it in that
stage's pane as an `error` and goes on with the others."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sample_paths import SAMPLE

from tui_timing.cli import main
from tui_timing.config import ArtifactPaths, Settings
from tui_timing.errors import UsageError
from tui_timing.stages.runner import load_artifacts, run_stage, usage_error_result

MODULE = "class Rows:\n    pass\n\n\ndef sample(model, features, length, **kw):\n    pass\n"


def _repo(root: Path, plugin: str, spec: str) -> None:
    shutil.copytree(SAMPLE / "datasets", root / "data")
    shutil.copytree(SAMPLE / "runs/increments", root / "runs/inc")
    (root / "src").mkdir()
    (root / "src/mine.py").write_text(MODULE)
    (root / "pyproject.toml").write_text(
        f'[tool.timing-tui]\npythonpath = ["src"]\ncache = "data/sample/train_timing.pt"\n'
        f'checkpoint = "runs/inc/checkpoint.pt"\n{plugin} = "{spec}"\n'
    )


@pytest.mark.parametrize(
    ("plugin", "spec", "said"),
    [
        ("dataset", "mine:Rowz", "'mine' has no attribute 'Rowz'"),
        ("sampler", "mien:sample", "cannot import 'mien'"),
    ],
)
def test_check_exits_2_naming_the_plugin(tmp_path: Path, plugin: str, spec: str, said: str) -> None:
    _repo(tmp_path, plugin, spec)
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        result = CliRunner().invoke(main, ["check", "--samples", "256", "--no-cache"])
    finally:
        os.chdir(cwd)
    assert result.exit_code == 2, result.output
    assert f"timing-tui: error: --{plugin} {spec}: " in result.stderr and said in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_the_tui_shows_it_in_the_stages_pane(tmp_path: Path) -> None:
    _repo(tmp_path, "dataset", "mine:Rowz")
    settings = Settings(dataset_spec="mine:Rowz", pythonpath=(tmp_path / "src",))
    ctx = load_artifacts(ArtifactPaths(cache=SAMPLE / "datasets/sample/train_timing.pt"), settings)
    with pytest.raises(UsageError) as raised:
        run_stage(ctx, 2)
    result = usage_error_result(ctx, 2, raised.value)
    (check,) = result.checks
    assert check.id == "dataset.usage" and check.status == "error"
    assert "'mine' has no attribute 'Rowz'" in check.message and ctx.results[2] is result
