"""Scratchpad faults that tests/test_scratchpad.py leaves open: the lock
is really exclusive (an export waits for another holder instead of writing beside it),
the user's bytes survive whatever they are, and the command line turns a device or a
missing folder into exit 2 with a clear message and nothing written.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tui_timing.cli import main
from tui_timing.errors import ArtifactError
from tui_timing.report.scratchpad import append_entry

EXPORT = (
    "import sys\n"
    "from tui_timing.report.scratchpad import append_entry\n"
    "print('ready', flush=True)\n"
    "append_entry(sys.argv[1], '## timing-tui findings (from another process)\\n')\n"
)


def test_an_export_waits_for_the_lock_holder(tmp_path: Path) -> None:
    """While another process holds the exclusive lock (writing its own entry), an export
    writes nothing; once the lock is released it appends after everything written."""
    pad = tmp_path / "scratchpad.md"
    pad.write_text("notes\n")
    with pad.open("a") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        proc = subprocess.Popen(
            [sys.executable, "-c", EXPORT, str(pad)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
            time.sleep(0.5)  # it is exporting now: it must be waiting, not writing
            assert proc.poll() is None, "the export did not wait for the lock"
            assert pad.read_text() == "notes\n"
            holder.write("written by the lock holder\n")
            holder.flush()
        finally:
            fcntl.flock(holder, fcntl.LOCK_UN)
        assert proc.wait(timeout=60) == 0
    text = pad.read_text()
    assert text.startswith("notes\nwritten by the lock holder\n\n## timing-tui findings")


def test_the_users_bytes_survive_byte_for_byte(tmp_path: Path) -> None:
    """Latin-1 bytes that are not UTF-8, CRLF line ends, a NUL, no final newline: the export
    never reads and rewrites the user's text, so all of it stays as it was."""
    pad = tmp_path / "notes.md"
    original = b"caf\xe9 notes\r\nline two\x00 with a NUL\r\nno final newline"
    pad.write_bytes(original)
    append_entry(pad, "## timing-tui findings\n")
    append_entry(pad, "## timing-tui findings again\n")
    data = pad.read_bytes()
    assert data.startswith(original + b"\n\n## timing-tui findings\n")
    assert data.endswith(b"\n## timing-tui findings again\n")


@pytest.mark.parametrize("target", ["dev_full", "missing_folder"])
def test_check_reports_an_unwritable_scratchpad(
    small_cache: Path, tmp_path: Path, target: str
) -> None:
    """Exit 2, the path and the reason on stderr, no traceback, nothing created."""
    if target == "dev_full" and not os.path.exists("/dev/full"):
        pytest.skip("/dev/full is not available on this system")
    path = Path("/dev/full") if target == "dev_full" else tmp_path / "nope" / "pad.md"
    result = CliRunner().invoke(
        main, ["check", "--cache", str(small_cache), "--stage", "1", "--scratchpad", str(path)]
    )
    assert result.exit_code == 2, result.output
    reason = "not a regular file" if target == "dev_full" else "does not exist"
    assert str(path) in result.stderr and reason in result.stderr, result.stderr
    assert "Traceback" not in result.output
    if target == "dev_full":  # found out only when writing: the report was printed first
        assert "Stage 1 cache" in result.stdout
        assert "the report above stands, but was not appended to it" in result.stderr
    else:  # refused before any stage ran: no report that ends "Exit code 0."
        assert result.stdout == ""
    assert not (tmp_path / "nope").exists()


def test_a_found_scratchpad_linked_out_of_the_project_is_refused(tmp_path: Path) -> None:
    """A cloned repository's scratchpad.md linked to ~/.ssh/authorized_keys: the export
    appended to it. Found in the project (or named in its table), it is written only
    inside; named on the command line, it is written where it points."""
    project, home = tmp_path / "project", tmp_path / "home"
    project.mkdir()
    home.mkdir()
    keys = home / "authorized_keys"
    keys.write_text("ssh-ed25519 AAAA mine\n")
    pad = project / "scratchpad.md"
    pad.symlink_to(keys)
    with pytest.raises(ArtifactError) as caught:
        append_entry(pad, "## timing-tui findings\n", within=project)
    assert caught.value.file == str(pad) and "leads out of the project" in caught.value.problem
    assert keys.read_text() == "ssh-ed25519 AAAA mine\n"
    inside = project / "notes.md"
    inside.write_text("notes\n")
    (project / "docs").mkdir()
    (project / "docs" / "scratchpad.md").symlink_to(inside)
    append_entry(project / "docs" / "scratchpad.md", "## findings\n", within=project)
    assert inside.read_text() == "notes\n\n## findings\n"  # a link inside the project is fine
    append_entry(pad, "## findings\n")  # --scratchpad PATH: where it points
    assert keys.read_text().endswith("\n## findings\n")
