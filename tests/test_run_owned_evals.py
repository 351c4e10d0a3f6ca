"""An eval dump in one run's folder holds that run's samples: it is never another run's.

Laid out from the bundled sample (real checkpoints written by the trainer, a real eval dump
of Balabit sequences): two runs, the eval dump in the second one's folder. Discovery gives
the first run none (and says so in `init`), an eval dump in no run's folder serves every
run without its own, and `runs` uses a named one only for the run whose folder holds it
(one in no run's folder, for every run without its own).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sample_paths import SAMPLE

from tui_timing.artifacts.discovery import discover
from tui_timing.config import ArtifactPaths, Settings
from tui_timing.report.init_table import infer_table
from tui_timing.report.runs import RunDiagnoser, run_targets


def _two_runs(root: Path) -> Path:
    """runs/a and runs/b (each a checkpoint and its log), the eval dump in runs/b/eval/."""
    for name, source in (("a", "increments"), ("b", "linear")):
        shutil.copytree(SAMPLE / "runs" / source, root / "runs" / name)
    (root / "runs/b/eval").mkdir()
    shutil.copy(SAMPLE / "eval/eval.pt", root / "runs/b/eval/samples.pt")
    return root / "runs/b/eval/samples.pt"


def test_a_run_without_an_eval_dump_does_not_take_another_runs(tmp_path: Path) -> None:
    owned = _two_runs(tmp_path)
    found = discover(tmp_path)
    assert [run.name for run in found.runs] == ["runs/a", "runs/b"]
    assert found.runs[1].eval == owned and found.runs[0].eval is None
    assert found.paths(run=0).eval is None
    assert found.paths(run=1).eval == owned
    assert not [a for a in found.assumptions(run=0) if a.what == "which eval dump"]
    table = infer_table(tmp_path).text(tmp_path)
    assert '# eval = "..."' in table
    assert "run runs/a has none in its folder; those found are other runs'" in table


def test_an_eval_dump_in_no_runs_folder_serves_a_run_without_its_own(tmp_path: Path) -> None:
    owned = _two_runs(tmp_path)
    (tmp_path / "eval").mkdir()
    loose = tmp_path / "eval/shared.pt"
    shutil.copy(SAMPLE / "eval/eval.pt", loose)
    found = discover(tmp_path)
    assert found.loose_evals == [loose]
    assert found.paths(run=0).eval == loose
    assert found.paths(run=1).eval == owned
    (said,) = [a for a in found.assumptions(run=0) if a.what == "which eval dump"]
    assert said.value == str(loose) and "in no run's folder" in said.source


def test_runs_uses_a_named_eval_dump_only_for_the_run_whose_folder_holds_it(
    tmp_path: Path,
) -> None:
    named = _two_runs(tmp_path)  # as in a table: eval = "runs/b/eval/samples.pt"
    runs = run_targets(discover(tmp_path), tmp_path)
    targets = {run.name: run.targets[-1] for run in runs}
    diagnoser = RunDiagnoser(ArtifactPaths(eval=named), Settings(), use_cache=False)
    diagnoser.place_eval({target.folder for target in targets.values()})
    assert diagnoser.paths(targets["runs/b"]).eval == named
    assert diagnoser.paths(targets["runs/a"]).eval is None

    elsewhere = tmp_path / "shared.pt"
    shutil.copy(SAMPLE / "eval/eval.pt", elsewhere)
    diagnoser = RunDiagnoser(ArtifactPaths(eval=elsewhere), Settings(), use_cache=False)
    diagnoser.place_eval({target.folder for target in targets.values()})
    assert diagnoser.paths(targets["runs/a"]).eval == elsewhere
    assert diagnoser.paths(targets["runs/b"]).eval == named  # its own
