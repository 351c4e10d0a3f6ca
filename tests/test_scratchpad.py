"""The findings export: append-only, whole under concurrency, clear errors that change nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tui_timing.cli import main
from tui_timing.errors import ArtifactError
from tui_timing.report.scratchpad import append_entry


def test_check_appends_findings_after_the_users_notes(small_cache: Path, tmp_path: Path) -> None:
    pad = tmp_path / "scratchpad.md"
    notes = "# my notes\nlr 3e-4 looked fine"  # no trailing newline, on purpose
    pad.write_text(notes)
    result = CliRunner().invoke(
        main, ["check", "--cache", str(small_cache), "--stage", "1", "--scratchpad", str(pad)]
    )
    assert result.exit_code == 0, result.output
    text = pad.read_text()
    assert text.startswith(notes + "\n\n## timing-tui findings ")
    assert "| 1 cache |" in text and "Verdict:" in text
    assert f"cache: `{small_cache}`" in text


def test_concurrent_exports_land_whole(tmp_path: Path) -> None:
    """Eight processes append 40 large entries each at once: every entry is intact."""
    pad = tmp_path / "pad.md"
    pad.write_text("before\n")
    script = (
        "import sys\n"
        "from tui_timing.report.scratchpad import append_entry\n"
        "tag = sys.argv[1]\n"
        "for i in range(40):\n"
        "    body = ''.join(f'{tag}-{i}-line-{j}\\n' for j in range(400))\n"
        "    append_entry(sys.argv[2], f'## entry {tag}-{i}\\n' + body + f'end {tag}-{i}\\n')\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, f"p{n}", str(pad)]) for n in range(8)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    text = pad.read_text()
    assert text.startswith("before\n")
    entries = text.split("## entry ")[1:]
    assert len(entries) == 8 * 40
    for entry in entries:
        tag = entry.split("\n", 1)[0]
        lines = entry.strip("\n").split("\n")
        assert lines[1:-1] == [f"{tag}-line-{j}" for j in range(400)], tag
        assert lines[-1] == f"end {tag}"


@pytest.mark.parametrize("target", ["folder", "missing_folder", "dev_full"])
def test_unwritable_scratchpad_is_a_clear_error(tmp_path: Path, target: str) -> None:
    path = {
        "folder": tmp_path,
        "missing_folder": tmp_path / "nope" / "pad.md",
        "dev_full": Path("/dev/full"),
    }[target]
    if target == "dev_full" and not os.path.exists("/dev/full"):
        pytest.skip("/dev/full is not available on this system")
    with pytest.raises(ArtifactError) as caught:
        append_entry(path, "## entry\n")
    assert str(path) in str(caught.value)
    assert not (tmp_path / "nope").exists()


def test_cli_exit_2_for_unwritable_scratchpad(small_cache: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["check", "--cache", str(small_cache), "--stage", "1", "--scratchpad", str(tmp_path)],
    )
    assert result.exit_code == 2
    assert "is a folder" in result.stderr


def test_full_disk_leaves_the_file_unchanged(tmp_path: Path) -> None:
    """A real small file system (tmpfs is not available unprivileged): fill a loop-free
    stand-in by writing to a file whose size limit is set with RLIMIT_FSIZE."""
    pad = tmp_path / "pad.md"
    pad.write_text("keep me\n")
    script = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "from tui_timing.errors import ArtifactError\n"
        "from tui_timing.report.scratchpad import append_entry\n"
        "try:\n"
        "    append_entry(sys.argv[1], 'x' * 100_000)\n"
        "except ArtifactError as exc:\n"
        "    print(exc)\n"
        "    sys.exit(3)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(pad)], capture_output=True, text=True)
    assert done.returncode == 3, done.stderr
    assert "unchanged" in done.stdout
    assert pad.read_text() == "keep me\n"
