"""The header's line names a given checkpoint's run by its run folder, as discovery does:
`outputs/<date>/<time>/ckpt/final.pt` is run `<time>`, not `ckpt` (a log alone: the folder
above its log folders, `exp/lightning_logs/version_0/` is run `exp`)."""

from __future__ import annotations

from pathlib import Path

from tui_timing.config import ArtifactPaths
from tui_timing.tui.describe import describe_artifacts
from tui_timing.tui.pipeline import Selection


def test_a_given_checkpoint_is_named_by_its_run_folder(tmp_path: Path) -> None:
    run = tmp_path / "outputs/2025-01-15/09-05-12"
    for checkpoint in (run / "ckpt/final.pt", run / "checkpoints/step_500/model.safetensors"):
        paths = ArtifactPaths(checkpoint=checkpoint)
        line = describe_artifacts(paths, None, Selection(), tmp_path)
        assert line == "given artifacts · run 09-05-12"
    log = ArtifactPaths(log=tmp_path / "exp/lightning_logs/version_0/metrics.csv")
    assert describe_artifacts(log, None, Selection(), tmp_path).endswith("run exp")
