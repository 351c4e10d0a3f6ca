"""`timing-tui check`: exit codes, the JSON object (docs/cli.md#json-report), unusable inputs,
formats."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cache_faults
import pytest
import torch
from click.testing import CliRunner

from tui_timing.cli import main


def run_check(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["check", *args])
    return result.exit_code, result.stdout, result.stderr


def test_clean_cache_json_report(small_cache: Path) -> None:
    code, out, _ = run_check("--cache", str(small_cache), "--stage", "1", "--format", "json")
    report = json.loads(out)
    assert report["version"] == 1
    assert set(report["artifacts"]) == {"cache", "raw_summary"}
    assert len(report["artifacts"]["cache"]["sha256"]) == 64
    (stage,) = report["stages"]
    assert stage["id"] == 1 and stage["name"] == "cache" and stage["status"] in ("pass", "warn")
    for check in stage["checks"]:
        assert set(check) == {"id", "status", "measured", "expected", "message"}
    assert "error" not in report
    assert code == 0


def test_failed_check_exits_1(small_cache: Path, tmp_path: Path) -> None:
    cache = cache_faults.load(small_cache)
    cache_faults.negative_duration(cache)
    faulty = cache_faults.save_beside(cache, small_cache, tmp_path)
    code, out, _ = run_check("--cache", str(faulty), "--stage", "1")
    assert code == 1
    assert "[FAIL] cache.nonnegative" in out


def _unusable_inputs(small_cache: Path, folder: Path) -> dict[str, tuple[Path, str | None]]:
    """name -> (file, the key the error must name)."""
    folder.mkdir(exist_ok=True)
    files: dict[str, tuple[Path, str | None]] = {}

    def put(name: str, obj: object, key: str | None) -> None:
        path = folder / f"{name}_timing.pt"
        torch.save(obj, path)
        files[name] = (path, key)

    (folder / "empty_timing.pt").write_bytes(b"")
    files["empty"] = (folder / "empty_timing.pt", None)
    (folder / "text_timing.pt").write_text("duration,profile\n1,2\n")
    files["text"] = (folder / "text_timing.pt", None)
    raw = small_cache.read_bytes()
    (folder / "truncated_timing.pt").write_bytes(raw[: len(raw) // 2])
    files["truncated"] = (folder / "truncated_timing.pt", None)
    cache = cache_faults.load(small_cache)
    put("list", [cache["duration"], cache["profile"]], None)
    put("tensor", cache["profile"], None)
    put("no_profile", {k: v for k, v in cache.items() if k != "profile"}, "profile")
    empty_rows = {k: (v[:0] if isinstance(v, torch.Tensor) else v) for k, v in cache.items()}
    put("zero_rows", empty_rows, "duration")
    zero_steps = dict(cache, profile=cache["profile"][:, :0], mask=cache["mask"][:, :0])
    put("zero_steps", zero_steps, "profile")
    return files


def test_unusable_caches_exit_2_with_error_object(small_cache: Path, tmp_path: Path) -> None:
    for name, (path, key) in _unusable_inputs(small_cache, tmp_path).items():
        code, out, err = run_check("--cache", str(path), "--format", "json")
        assert code == 2, (name, out, err)
        report = json.loads(out)
        assert report["error"]["file"] == str(path), name
        assert report["error"]["key"] == key, (name, report["error"])
        assert report["error"]["problem"], name
        stage1 = report["stages"][0]
        load = next(c for c in stage1["checks"] if c["id"] == "cache.load")
        assert load["status"] == "fail", name
        assert all(c["status"] == "skip" for c in stage1["checks"] if c["id"] != "cache.load")
        assert report["stages"][1]["status"] == "skip", name
        assert "Traceback" not in out + err


def test_unsafe_pickle_is_refused_without_running(small_cache: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = tmp_path / "evil_timing.pt"
    script = (
        "import os, torch\n"
        "class Evil:\n"
        f"    def __reduce__(self): return (os.system, ('touch {marker}',))\n"
        f"torch.save({{'duration': Evil()}}, {str(payload)!r})\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    code, out, _ = run_check("--cache", str(payload), "--format", "json")
    assert code == 2
    problem = json.loads(out)["error"]["problem"]
    assert "unsafe" in problem and "weights_only=False" not in problem
    assert not marker.exists()


def test_missing_file_and_bad_options_exit_2(tmp_path: Path) -> None:
    """A path that does not exist is a usage error naming it, before any stage runs, with
    a way to get the file (not a build-cache line made of the missing name)."""
    code, out, err = run_check("--cache", "nope.pt", "--format", "json")
    assert code == 2 and out == ""
    assert "'--cache': nope.pt: no such file" in err
    assert "timing-tui build-cache RAW_DIR --out DIR --id ID --split SPLIT" in err
    code, out, err = run_check("--checkpoint", str(tmp_path / "gone.pt"))
    assert code == 2 and out == "" and "timing-tui train --cache CACHE --out RUN_DIR" in err
    (tmp_path / "x.pt").write_bytes(b"")  # there, so that the options are what is refused
    code, _, err = run_check("--cache", str(tmp_path / "x.pt"), "--key", "nonsense")
    assert code == 2 and "NAME=THEIR_NAME" in err
    code, _, err = run_check("--cache", str(tmp_path / "x.pt"), "--tol", "nope=1")
    assert code == 2 and "unknown tolerance" in err
    code, _, _ = run_check("--stage", "9")
    assert code == 2


def test_a_scratchpad_folder_is_refused_before_the_report(
    small_cache: Path, tmp_path: Path
) -> None:
    code, out, err = run_check("--cache", str(small_cache), "--scratchpad", str(tmp_path))
    assert code == 2 and out == ""  # no report that ends "Exit code 0."
    assert f"--scratchpad {tmp_path}: is a folder; name a file" in err
    code, out, err = run_check("--cache", str(small_cache), "--scratchpad", "no/such/pad.md")
    assert code == 2 and out == "" and "the folder no/such does not exist" in err


def test_text_errors_go_to_stderr_and_theme_is_the_tuis_alone(tmp_path: Path) -> None:
    """An unusable artifact is said on stderr (where a shell shows errors), not only at the
    end of the text report; `--theme` is not offered where nothing is drawn."""
    (tmp_path / "empty_timing.pt").write_bytes(b"")
    code, out, err = run_check("--cache", str(tmp_path / "empty_timing.pt"))
    assert code == 2 and "[FAIL] cache.load" in out
    assert f"timing-tui: error: {tmp_path / 'empty_timing.pt'}: " in err
    for command in (["check"], ["compare", "A", "B"]):
        help_text = CliRunner().invoke(main, [*command[:1], "--help"]).stdout
        assert "--theme" not in help_text and "--cache" in help_text
        refused = CliRunner().invoke(main, [*command, "--theme", "dark"])
        assert refused.exit_code == 2 and "No such option '--theme'" in refused.stderr
    assert "--theme" in CliRunner().invoke(main, ["--help"]).stdout


def test_pyproject_tolerances_apply(
    small_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tolerance of 0 in [tool.timing-tui] makes float32 row sums fail; --tol wins over it."""
    (tmp_path / "pyproject.toml").write_text("[tool.timing-tui]\nprofile_row_sum = 0.0\n")
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_check("--cache", str(small_cache), "--stage", "1", "--format", "json")
    check = next(
        c for c in json.loads(out)["stages"][0]["checks"] if c["id"] == "cache.profile_normalized"
    )
    assert check["status"] == "fail" and code == 1
    code, out, _ = run_check(
        "--cache",
        str(small_cache),
        "--stage",
        "1",
        "--tol",
        "profile_row_sum=1e-4",
        "--format",
        "json",
    )
    check = next(
        c for c in json.loads(out)["stages"][0]["checks"] if c["id"] == "cache.profile_normalized"
    )
    assert check["status"] == "pass"
    (tmp_path / "pyproject.toml").write_text("[tool.timing-tui]\nprofile_row_sum = 'tight'\n")
    code, _, err = run_check("--cache", str(small_cache), "--stage", "1")
    assert code == 2 and "profile_row_sum" in err


def test_markdown_and_text_formats(small_cache: Path) -> None:
    _, out, _ = run_check("--cache", str(small_cache), "--stage", "2", "--format", "markdown")
    assert out.startswith("## timing-tui findings ")
    assert "| 2 dataset | pass |" in out and "`dataset.coverage`" in out
    _, out, _ = run_check("--cache", str(small_cache), "--stage", "2")
    assert "Stage 2 dataset" in out and "[ok  ] dataset.coverage" in out


def test_console_script_runs_headless(small_cache: Path) -> None:
    """The real entry point in a subprocess: no traceback, the documented exit code."""
    done = subprocess.run(
        [sys.executable, "-m", "tui_timing", "check", "--cache", str(small_cache), "--stage", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Stage 1 cache" in done.stdout and "Traceback" not in done.stderr


def test_timing_tui_log_says_which_files_torch_read(small_cache: Path, tmp_path: Path) -> None:
    """$TIMING_TUI_LOG gets what the report leaves out: a legacy-format cache is read by
    torch, not the numpy reader, and the report is the same either way."""
    legacy = tmp_path / "legacy_timing.pt"
    torch.save(
        torch.load(small_cache, weights_only=True), legacy, _use_new_zipfile_serialization=False
    )
    log = tmp_path / "timing.log"
    env = {**os.environ, "TIMING_TUI_LOG": str(log)}
    args = [sys.executable, "-m", "tui_timing", "check", "--stage", "1", "--format", "json"]
    done = subprocess.run([*args, "--cache", str(legacy)], capture_output=True, text=True, env=env)
    assert done.returncode in (0, 1), done.stderr
    assert f"{legacy}: read by torch.load, not the numpy reader" in log.read_text()
    before = log.read_text()
    done = subprocess.run(
        [*args, "--cache", str(small_cache)], capture_output=True, text=True, env=env
    )
    assert done.returncode in (0, 1), done.stderr
    assert log.read_text() == before  # a zip-format cache: the numpy reader, nothing to say


@pytest.mark.parametrize("where", ["folder", "missing_parent"])
def test_an_unusable_timing_tui_log_is_named(where: str, tmp_path: Path) -> None:
    target = tmp_path if where == "folder" else tmp_path / "no" / "timing.log"
    done = subprocess.run(
        [sys.executable, "-m", "tui_timing", "check", "--stage", "1"],
        capture_output=True,
        text=True,
        env={**os.environ, "TIMING_TUI_LOG": str(target)},
        timeout=120,
    )
    assert done.returncode == 2
    assert f"$TIMING_TUI_LOG {target}" in done.stderr and "Traceback" not in done.stderr


def test_options_before_the_command_are_refused_saying_where_they_go(
    small_cache: Path, tmp_path: Path
) -> None:
    """`timing-tui --scratchpad X check` used to append nothing and exit 0 while `--cache`
    in the same place was honoured: an option means one thing, after the command name."""
    notes = tmp_path / "notes.md"
    args = ["--scratchpad", str(notes), "check", "--cache", str(small_cache), "--stage", "1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert f"timing-tui check --scratchpad {notes} ..." in result.stderr
    assert not notes.exists()
    result = CliRunner().invoke(main, ["--cache", str(small_cache), "check", "--stage", "1"])
    assert result.exit_code == 2
    assert f"timing-tui check --cache {small_cache} ..." in result.stderr
    result = CliRunner().invoke(
        main, ["--theme", "dark", "build-cache", str(tmp_path), "--out", str(tmp_path)]
    )
    assert result.exit_code == 2 and "which takes no --theme" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    result = CliRunner().invoke(main, ["check", "--cache", str(small_cache), "--stage", "1"])
    assert result.exit_code == 0  # after the command name, the same options are honoured
