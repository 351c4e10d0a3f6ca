"""The wheel carries the sample data and the themes, and an installed copy finds them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_installed_wheel_opens_the_bundled_sample_data(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("timing_tui-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for bundled in (
        "tui_timing/sample_data/datasets/sample/train_timing.pt",
        "tui_timing/sample_data/datasets/sample/train_summary.json",
        "tui_timing/sample_data/runs/linear/checkpoint.pt",
        "tui_timing/sample_data/runs/increments/stats.jsonl",
        "tui_timing/sample_data/eval/eval.pt",
        "tui_timing/themes/timing-dark.toml",
        "tui_timing/tui/app.tcss",
    ):
        assert bundled in names, bundled
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = (
        "from tui_timing.artifacts.discovery import sample_data\n"
        "from tui_timing.resources import themes_dir\n"
        "found = sample_data()\n"
        "print(found.root, [r.name for r in found.runs], len(found.caches), len(found.evals))\n"
        "print(sorted(p.name for p in themes_dir().glob('*.toml')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    root_line, themes_line = done.stdout.splitlines()
    assert root_line.startswith(str(site / "tui_timing" / "sample_data"))
    assert "['runs/linear', 'runs/increments'] 1 1" in root_line
    assert "timing-dark.toml" in themes_line
