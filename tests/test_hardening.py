"""Hostile inputs, each through the real `timing-tui` in its own process.

Configuration that is not what it claims, special files, sizes that would take the
machine's memory, full disks, plug-ins that exit, files rewritten while they are read. For
each, the command must exit as docs/cli.md says (2 for an unusable input or usage error, with a
message naming the file, the key and the problem), never with a traceback, a hang or a
signal; and what it may cost is asserted on the child process's own resource usage (peak
RSS and CPU seconds from `getrusage(RUSAGE_CHILDREN)`, taken in a small launcher that
starts nothing else, so that the test process's own memory does not count), never on wall
time. A timeout on each child is only a safety net against a hang.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from cache_faults import npz_with_a_text_member
from child_process import interruptible
from sample_paths import CACHE, INCREMENTS

from tui_timing.artifacts.safe_load import load_container

#: Peak RSS any of these runs may reach: a normal `check` is about 300 MB (most of it
#: torch), the defects this file guards against cost gigabytes.
PEAK_MB = 700
#: CPU seconds any of these runs may take: a normal run is a few; the defects ran minutes.
CPU_S = 90

LAUNCHER = """
import json, os, resource, subprocess, sys
limit = int(os.environ.pop("HARDEN_DATA_LIMIT", "0"))
if limit:
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
done = subprocess.run(sys.argv[1:], capture_output=True, text=True, errors="replace")
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"code": done.returncode, "stdout": done.stdout, "stderr": done.stderr,
                  "peak_mb": usage.ru_maxrss / 1024, "cpu_s": usage.ru_utime + usage.ru_stime}))
"""


@dataclass
class Run:
    """One finished child: exit code, output, and what it cost."""

    code: int
    stdout: str
    stderr: str
    peak_mb: float
    cpu_s: float

    @property
    def error(self) -> dict[str, Any] | None:
        """The JSON report's top-level `error` (check --format json)."""
        report = json.loads(self.stdout)
        return report.get("error")

    def assert_clean(self, peak_mb: float = PEAK_MB, cpu_s: float = CPU_S) -> None:
        """No traceback, no signal, no 'please report this', and within the budget."""
        output = self.stdout + self.stderr
        assert self.code >= 0, f"killed by signal {-self.code}: {self.stderr[-2000:]}"
        assert "Traceback" not in output, self.stderr[-3000:]
        assert "please report" not in output.lower(), output[-2000:]
        assert self.peak_mb < peak_mb, (self.peak_mb, self.stderr[-1000:])
        assert self.cpu_s < cpu_s, (self.cpu_s, self.stderr[-1000:])


def run_measured(
    *args: str,
    cwd: Path | None = None,
    data_limit_mb: int = 0,
    timeout: float = 300,
    wrap: tuple[str, ...] = (),
) -> Run:
    """`timing-tui ARGS` in a child process; its exit and its resource usage.

    `data_limit_mb` sets the child's RLIMIT_DATA (`ulimit -d`): a machine with that much
    memory, as far as the memory budget can tell. `wrap` is a command the child runs under
    (`capsh ... --`).
    """
    env = dict(os.environ)
    if data_limit_mb:
        env["HARDEN_DATA_LIMIT"] = str(data_limit_mb << 20)
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *wrap, sys.executable, "-m", "tui_timing", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return Run(**json.loads(done.stdout))


def check_json(path: Path, option: str = "--cache", *extra: str, **kwargs: Any) -> Run:
    return run_measured("check", option, str(path), "--format", "json", *extra, **kwargs)


def assert_unusable(run: Run, path: Path, key: str | None, *phrases: str) -> None:
    """Exit 2 and the JSON error (docs/cli.md#json-report) naming the file, the key and the
    problem."""
    run.assert_clean()
    assert run.code == 2, (run.code, run.stdout[-2000:], run.stderr[-2000:])
    error = run.error
    assert error is not None and error["file"] == str(path), error
    assert error["key"] == key, error
    for phrase in phrases:
        assert phrase in error["problem"], error


def sample_cache() -> dict[str, Any]:
    return torch.load(CACHE, weights_only=True)


# --- 1 and 7: pyproject.toml ----------------------------------------------------------------


@pytest.mark.parametrize("text", ["tool = 5\n", "[[tool]]\nname = 'x'\n", "[tool]\nother = 1\n"])
def test_a_pyproject_without_a_usable_tool_table_is_ignored(text: str, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    run = run_measured("check", "--cache", str(CACHE), "--stage", "1", cwd=tmp_path)
    run.assert_clean()
    assert run.code == 0, run.stderr
    assert "Stage 1 cache" in run.stdout


@pytest.mark.parametrize("entry", ["[1, 2]", "5", "'fast'"])
@pytest.mark.parametrize("command", [["check", "--stage", "1"], []])
def test_a_timing_tui_entry_that_is_not_a_table_is_a_usage_error(
    entry: str, command: list[str], tmp_path: Path
) -> None:
    """`check`, and the TUI (no command), which must stop before it opens."""
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(f"[tool]\ntiming-tui = {entry}\n")
    run = run_measured(*command, "--cache", str(CACHE), cwd=tmp_path)
    run.assert_clean()
    assert run.code == 2, run.stderr
    assert f"{pyproject}: [tool.timing-tui] must be a table" in run.stderr


def test_a_huge_pyproject_is_refused_unread(tmp_path: Path) -> None:
    """2 GB (sparse: no disk used) took 4.6 GB of memory to be refused."""
    pyproject = tmp_path / "pyproject.toml"
    with pyproject.open("wb") as handle:
        handle.truncate(2 << 30)
    run = run_measured("check", "--cache", str(CACHE), "--stage", "1", cwd=tmp_path)
    run.assert_clean(peak_mb=500)
    assert run.code == 2
    assert f"{pyproject}: larger than 4 MB" in run.stderr


# --- 5 and 8: options out of range ------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [("--samples", "1000000000"), ("--samples", "0"), ("--seed", str(2**70)), ("--seed", "-1")],
)
def test_numbers_out_of_range_are_usage_errors(option: str, value: str) -> None:
    """1e9 samples took 9 GB after 40 s; seed 2**70 was 'internal error ... report this'."""
    run = run_measured("check", "--cache", str(CACHE), option, value)
    run.assert_clean(cpu_s=30)
    assert run.code == 2
    assert f"Invalid value for '{option}'" in run.stderr and "range" in run.stderr


@pytest.mark.parametrize("setting", ["samples = 1000000000", f"seed = {2**70}", "seed = -1"])
def test_numbers_out_of_range_in_the_table_are_usage_errors(setting: str, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.timing-tui]\n{setting}\n")
    run = run_measured("check", "--cache", str(CACHE), "--stage", "1", cwd=tmp_path)
    run.assert_clean(cpu_s=30)
    assert run.code == 2
    key = setting.split(" = ")[0]
    assert f"[tool.timing-tui] {key} must be an integer" in run.stderr, run.stderr


def test_the_largest_seed_works() -> None:
    run = run_measured("check", "--cache", str(CACHE), "--stage", "1", "--seed", str(2**63 - 1))
    run.assert_clean()
    assert run.code == 0, run.stderr


# --- 4: expanded tensors and the memory budget ------------------------------------------------


def test_expanded_rows_are_refused(tmp_path: Path) -> None:
    """A 3 kB file declaring 10⁹ rows (stride 0) ran stage 1 past 120 s and 2.5 GB."""
    path = tmp_path / "expanded_timing.pt"
    n = 10**9
    torch.save(
        {
            "duration": torch.ones(1).expand(n),
            "profile": torch.full((1, 128), 1 / 128).expand(n, 128),
            "features": torch.ones(1, 8).expand(n, 8),
        },
        path,
    )
    assert path.stat().st_size < 10_000
    run = check_json(path)
    assert_unusable(run, path, "duration", "expanded", "stride 0", ".contiguous()")


def test_a_cache_larger_than_the_memory_budget_is_refused_before_reading(tmp_path: Path) -> None:
    """On a machine (here: a process limit) with too little memory for the file, the load
    is refused with a message that says so, instead of a MemoryError or the OOM killer."""
    path = tmp_path / "big_timing.pt"
    cache = sample_cache()
    cache["padding"] = torch.zeros(64 << 20)  # 268 MB: over half the limit, whatever is in use
    torch.save(cache, path)
    run = check_json(path, data_limit_mb=500)
    assert_unusable(run, path, None, "loading it needs 2", "of memory, more than half of the")


def test_an_npz_that_inflates_past_the_budget_is_refused_before_inflating(tmp_path: Path) -> None:
    """An honest member of 640 MB deflating from about 1 MB (4 GB from 18 MB took 4.4 GB)."""
    path = tmp_path / "inflating_timing.npz"
    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        member, {"descr": "<f4", "fortran_order": False, "shape": (160 << 20,)}
    )
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("duration.npy", "w", force_zip64=True) as out,
    ):
        out.write(member.getvalue())
        zeros = bytes(4 << 20)
        for _ in range(160):
            out.write(zeros)
    assert path.stat().st_size < 5 << 20
    run = check_json(path, data_limit_mb=700)
    assert_unusable(run, path, None, "needs 671.1 MB of memory")
    assert run.peak_mb < 450


# --- 7: a gzip session that inflates to one endless line ----------------------------------


def test_a_gzip_session_of_one_endless_line_stops_at_one_megabyte(tmp_path: Path) -> None:
    """300 MB of one line from 300 kB of gzip (2 GB took 15 GB before its error)."""
    raw = tmp_path / "raw"
    raw.mkdir()
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    parts = [deflate.compress(b"record timestamp,client timestamp,button,state,x,y\n")]
    block = b"1" * (1 << 20)
    parts += [deflate.compress(block) for _ in range(300)]
    parts.append(deflate.flush())
    session = raw / "session_0"
    session.write_bytes(b"".join(parts))
    out = tmp_path / "out"
    run = run_measured("build-cache", str(raw), "--out", str(out), "--id", "x", "--split", "t")
    run.assert_clean(peak_mb=450)
    assert run.code == 2
    assert f"{session}: line 2: longer than 1 MB" in run.stderr
    assert not out.exists() or not any(out.rglob("*_timing.pt"))


def test_a_cache_wider_than_memory_is_refused_before_allocating(
    small_sessions: list[Path], tmp_path: Path
) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(small_sessions[0], raw / small_sessions[0].name)
    args = ["--out", str(tmp_path / "out"), "--id", "x", "--split", "t", "--max-len", "10000000000"]
    run = run_measured("build-cache", str(raw), *args)
    run.assert_clean()
    assert run.code == 2
    assert "of L = 10000000000 needs" in run.stderr and "more than half of" in run.stderr


def test_training_a_head_too_large_for_memory_says_so() -> None:
    run = run_measured(
        "train", "--cache", str(CACHE), "--out", "/nonexistent/never", "--hidden", "1000000",
        data_limit_mb=1500,
    )  # fmt: skip
    run.assert_clean()
    assert run.code == 2
    assert "not enough memory to train this head" in run.stderr


# --- 3: special files as the scratchpad ----------------------------------------------------


def test_a_fifo_scratchpad_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "scratchpad.md"
    os.mkfifo(fifo)
    run = run_measured(
        "check", "--cache", str(CACHE), "--stage", "1", "--scratchpad", str(fifo), timeout=120
    )
    run.assert_clean()
    assert run.code == 2
    assert f"scratchpad {fifo}: not a regular file" in run.stderr
    assert "Stage 1 cache" in run.stdout  # the report itself was printed


TUI_EXPORT = """
import asyncio, sys
from pathlib import Path
from textual.widgets._toast import Toast
from tui_timing.cli import Invocation
from tui_timing.config import Settings
from tui_timing.stages.context import ArtifactPaths
from tui_timing.tui.app import TimingApp

async def main():
    invocation = Invocation(
        paths=ArtifactPaths(cache=Path(sys.argv[1])), settings=Settings(samples=64),
        scratchpad=Path(sys.argv[2]), theme=None,
    )
    app = TimingApp(invocation, cwd=Path(sys.argv[2]).parent)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        while not app.is_idle:
            await pilot.pause(0.05)
        await pilot.press("e")
        for _ in range(600):
            await pilot.pause(0.05)
            toasts = [" ".join(str(t.render()).split()) for t in app.screen.query(Toast)]
            if any("not a regular file" in t for t in toasts):
                print("refused:", toasts)
                break
        await pilot.press("q")

asyncio.run(main())
print("exited")
"""


def test_the_tuis_export_to_a_fifo_fails_and_the_app_still_exits(tmp_path: Path) -> None:
    """`e` on a FIFO scratchpad: an error toast, and `q` then ends the process (it hung in
    the open of the pipe, on a thread the interpreter waited for at exit)."""
    fifo = tmp_path / "scratchpad.md"
    os.mkfifo(fifo)
    done = subprocess.run(
        [sys.executable, "-c", TUI_EXPORT, str(CACHE), str(fifo)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "refused:" in done.stdout and done.stdout.rstrip().endswith("exited"), done.stdout


# --- 8: a plug-in that exits while it is imported ------------------------------------------


def test_a_plugin_that_exits_on_import_is_the_users_error(tmp_path: Path) -> None:
    (tmp_path / "trainscript.py").write_text(
        "import argparse\n"
        "parser = argparse.ArgumentParser()\n"
        "parser.add_argument('--lr', type=float, required=True)\n"
        "args = parser.parse_args()\n"
        "def make_model(**config):\n"
        "    raise AssertionError('never reached')\n"
    )
    run = run_measured(
        "check", "--checkpoint", str(INCREMENTS), "--model", "trainscript:make_model",
        "--stage", "3", cwd=tmp_path,
    )  # fmt: skip
    run.assert_clean()
    assert run.code == 2
    assert "trainscript" in run.stderr and "sys.exit(2)" in run.stderr, run.stderr


# --- 9: unsigned lengths ----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.uint16, torch.uint32, torch.uint64], ids=str)
def test_unsigned_lengths_are_read(dtype: torch.dtype, tmp_path: Path) -> None:
    """uint16 passed cache.shapes and then failed stage 2 inside timing-tui."""
    path = tmp_path / "unsigned_timing.pt"
    cache = sample_cache()
    cache["length"] = cache["length"].to(dtype)
    torch.save(cache, path)
    run = check_json(path, "--cache", "--stage", "2")
    run.assert_clean()
    assert run.code == 0, run.stdout[-3000:]
    (stage,) = json.loads(run.stdout)["stages"]
    assert {c["status"] for c in stage["checks"]} <= {"pass", "warn", "skip"}, stage


# --- 10: messages that say what is wrong -------------------------------------------------------


class Payload:
    """Unpickling this would create a file: a weights-only load must refuse it first."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [4, 5])
@pytest.mark.parametrize("zipped", [True, False])
def test_a_protocol_4_or_5_pickle_says_to_save_with_the_default(
    protocol: int, zipped: bool, tmp_path: Path
) -> None:
    path = tmp_path / "proto_timing.pt"
    torch.save(
        sample_cache(), path, pickle_protocol=protocol, _use_new_zipfile_serialization=zipped
    )
    run = check_json(path)
    assert_unusable(run, path, None, f"pickle protocol {protocol}", "default protocol")


def test_storage_bytes_after_a_legacy_pickle_are_not_read_as_opcodes(tmp_path: Path) -> None:
    """A legacy file's raw storages follow its pickles: 2688 elements write the size header
    b"\\x80\\x0a...", which read as opcodes would be PROTO 10."""
    path = tmp_path / "proto_timing.pt"
    cache = {"duration": torch.zeros(0x0A80, dtype=torch.uint8)}
    torch.save(cache, path, pickle_protocol=4, _use_new_zipfile_serialization=False)
    run = check_json(path)
    assert_unusable(run, path, None, "pickle protocol 4", "default protocol")


@pytest.mark.parametrize("zipped", [True, False])
def test_a_hostile_protocol_4_pickle_is_still_named_unsafe(zipped: bool, tmp_path: Path) -> None:
    """The advice to re-save must never be given for a file that asks to run code."""
    path = tmp_path / "hostile_timing.pt"
    marker = tmp_path / "ran"
    torch.save(
        {"duration": torch.ones(3), "meta": Payload(marker)},
        path,
        pickle_protocol=4,
        _use_new_zipfile_serialization=zipped,
    )
    run = check_json(path)
    assert_unusable(run, path, None, "refused as unsafe", "system")
    assert "default protocol" not in run.error["problem"]
    assert not marker.exists()


def test_a_pickle_named_safetensors_is_not_called_a_bad_header(tmp_path: Path) -> None:
    path = tmp_path / "cache.safetensors"
    path.write_bytes(b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01K\x01s.")  # pickle of {"a": 1}
    run = check_json(path)
    assert_unusable(run, path, None, "not a safetensors file")
    assert "header too large" not in run.error["problem"]


def test_a_torch_file_named_safetensors_loads_as_what_it_is(tmp_path: Path) -> None:
    path = tmp_path / "cache.safetensors"
    shutil.copy(CACHE, path)
    run = check_json(path, "--cache", "--stage", "1")
    run.assert_clean()
    assert run.code == 0, run.stdout[-2000:]


def test_an_npz_with_a_member_that_is_not_an_array(tmp_path: Path) -> None:
    path = npz_with_a_text_member(tmp_path / "extra_timing.npz")
    run = check_json(path)
    assert_unusable(run, path, None, "only .npy arrays", "README.txt")
    assert "enforce fail" not in run.error["problem"]


def big_endian_fortran(path: Path) -> dict[str, np.ndarray]:
    cache = sample_cache()
    arrays = {
        "duration": cache["duration"].numpy().astype(">f4"),
        "profile": np.asfortranarray(cache["profile"].numpy().astype(">f4")),
        "mask": np.asfortranarray(cache["mask"].numpy()),
        "length": cache["length"].numpy().astype(">i8"),
        "features": np.asfortranarray(cache["features"].numpy()),
    }
    np.savez(path, **arrays)
    return arrays


def test_big_endian_and_fortran_npz_arrays_are_converted(tmp_path: Path) -> None:
    path = tmp_path / "be_timing.npz"
    arrays = big_endian_fortran(path)
    loaded = load_container(path)
    for name, array in arrays.items():
        assert torch.equal(
            loaded[name], torch.from_numpy(array.astype(array.dtype.newbyteorder("=")))
        )
    run = check_json(path, "--cache", "--stage", "1")
    run.assert_clean()
    assert run.code in (0, 1) and run.error is None, run.stdout[-2000:]


def test_a_5000_digit_integer_in_meta_is_named(tmp_path: Path) -> None:
    """A weights-only load reads integers of at most 255 bytes, so the cache cannot load
    whole; the message names the number and where it is."""
    path = tmp_path / "bigint_timing.pt"
    cache = sample_cache()
    cache["meta"] = {**cache["meta"], "max_len": 10**4999}
    torch.save(cache, path)
    run = check_json(path)
    assert_unusable(run, path, None, "5000 digits", "'max_len'", "as a string")


def test_a_symlink_loop_is_named_as_one(tmp_path: Path) -> None:
    first, second = tmp_path / "a_timing.pt", tmp_path / "b_timing.pt"
    first.symlink_to(second)
    second.symlink_to(first)
    run = check_json(first)
    assert_unusable(run, first, None, "symbolic link loop")


def test_a_dangling_symlink_names_its_target(tmp_path: Path) -> None:
    link = tmp_path / "train_timing.pt"
    link.symlink_to(tmp_path / "gone.pt")
    run = check_json(link)
    assert_unusable(run, link, None, f"a symbolic link to {tmp_path / 'gone.pt'}")


# --- 6: a cache rewritten in place while it is read -----------------------------------------

RACE = """
import random, sys, threading, time
from pathlib import Path
import torch
from tui_timing.artifacts.safe_load import load_container
from tui_timing.errors import ArtifactError

pristine, path = Path(sys.argv[1]), Path(sys.argv[2])
data = pristine.read_bytes()
rng = random.Random(0)
outcomes = []
for attempt in range(3):
    path.write_bytes(data)
    delay = rng.uniform(0.0, 0.5)
    def cut():
        time.sleep(delay)
        with path.open("r+b") as handle:  # what a plain torch.save does first
            handle.truncate(len(data) // 3)
    cutter = threading.Thread(target=cut)
    cutter.start()
    try:
        loaded = load_container(path)
        cutter.join()
        sum(float(v.double().sum()) for v in loaded.values() if isinstance(v, torch.Tensor))
        mapped = [line for line in open("/proc/self/maps") if str(path.resolve()) in line]
        outcomes.append("mapped" if mapped else "loaded")
    except ArtifactError as exc:
        outcomes.append(exc.problem)
    cutter.join()
print("\\n".join(outcomes))
"""


def test_a_cache_truncated_in_place_while_read_never_kills_the_reader(tmp_path: Path) -> None:
    """A 290 MB cache (larger than the 256 MB from which caches used to be memory-mapped:
    SIGBUS, exit 135, in 2 of 3 tries) cut to a third while it is loaded and read: each
    try loads whole (and nothing of the file stays mapped) or says the file changed."""
    pristine = tmp_path / "pristine_timing.pt"
    rows = 530_000
    torch.save(
        {
            "duration": torch.rand(rows) + 0.1,
            "profile": torch.rand(rows, 128),
            "features": torch.rand(rows, 8),
        },
        pristine,
    )
    assert pristine.stat().st_size > 256 << 20
    done = subprocess.run(
        [sys.executable, "-c", RACE, str(pristine), str(tmp_path / "train_timing.pt")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    outcomes = done.stdout.splitlines()
    assert len(outcomes) == 3, done.stdout
    for outcome in outcomes:
        assert (
            outcome == "loaded"
            or "changed while it was being read" in outcome
            or ("truncated" in outcome)
        ), outcome


# --- 2: a full disk ------------------------------------------------------------------------------


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 32 kB tmpfs: room for a stats log, not for a checkpoint or a cache."""
    folder = tmp_path / "small_disk"
    folder.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root and mount(8)")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32k", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*.tmp-*"))


def test_build_cache_on_a_full_disk_is_exit_2(
    small_sessions: list[Path], full_disk: Path, tmp_path: Path
) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(small_sessions[0], raw / small_sessions[0].name)
    run = run_measured(
        "build-cache", str(raw), "--out", str(full_disk), "--id", "x", "--split", "t"
    )
    run.assert_clean()
    assert run.code == 2, run.stderr
    cache = full_disk / "x" / "t_timing.pt"
    assert f"{cache}: cannot be written (the disk is full); nothing was written" in run.stderr
    assert not cache.exists() and leftovers(full_disk) == []


def test_train_on_a_full_disk_says_what_the_run_folder_holds(full_disk: Path) -> None:
    """stats.jsonl fits, checkpoint.pt does not: exit 2, and the message says the stats log
    holds both epochs but there is no checkpoint (it used to end in a traceback)."""
    run_dir = full_disk / "run"
    run = run_measured("train", "--cache", str(CACHE), "--out", str(run_dir), "--epochs", "2")
    run.assert_clean()
    assert run.code == 2, run.stderr
    message = run.stderr
    assert f"{run_dir / 'checkpoint.pt'}: cannot be written (the disk is full)" in message
    assert f"{run_dir / 'stats.jsonl'} holds epochs 1-2" in message
    assert "no final checkpoint.pt" in message
    assert not (run_dir / "checkpoint.pt").exists() and leftovers(full_disk) == []


def test_train_whose_stats_log_cannot_be_written_says_so(full_disk: Path) -> None:
    run_dir = full_disk / "run"
    run_dir.mkdir()
    filler = os.open(full_disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(filler, bytes(4096)):
            pass
    except OSError:  # the disk is full now
        pass
    finally:
        os.close(filler)
    run = run_measured("train", "--cache", str(CACHE), "--out", str(run_dir), "--epochs", "2")
    run.assert_clean()
    assert run.code == 2, run.stderr
    assert f"{run_dir / 'stats.jsonl'}: cannot be written" in run.stderr
    assert "no final checkpoint.pt" in run.stderr


# --- a normal day: folders, plug-ins, options -----------------------------------------------


def without_root_powers() -> tuple[str, ...]:
    """A prefix that runs a command without the power to read any folder (root has it):
    capsh dropping CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH. Empty for a normal user."""
    if os.geteuid() != 0:
        return ()
    if shutil.which("capsh") is None:
        pytest.skip("running as root without capsh: a folder cannot be made unreadable")
    drop = "--drop=cap_dac_override,cap_dac_read_search"
    return ("capsh", drop, "--", "-c", 'exec "$0" "$@"')


def test_a_folder_that_cannot_be_listed_never_stops_discovery(tmp_path: Path) -> None:
    """A root-owned folder or lost+found below the working directory: PermissionError
    traceback, exit 1. Now it is passed over with the reason and the rest is used."""
    shutil.copy(CACHE, tmp_path / "train_timing.pt")
    for name in ("lost+found", "locked"):
        (tmp_path / name / "inner").mkdir(parents=True)
        (tmp_path / name).chmod(0)
    try:
        run = run_measured("check", "--stage", "1", cwd=tmp_path, wrap=without_root_powers())
    finally:
        for name in ("lost+found", "locked"):
            (tmp_path / name).chmod(0o700)
    run.assert_clean()
    assert run.code == 0, run.stderr[-2000:]
    assert "locked: cannot be listed (permission denied)" in run.stdout, run.stdout
    assert "lost+found: cannot be listed (permission denied)" in run.stdout
    assert "cache train_timing.pt: timing cache" in run.stdout


LOUD_DATASET = """
import os, sys, threading, time
from tui_timing.data.dataset import TimingDataset

class Loud(TimingDataset):
    def __init__(self, cache_path):
        print("hello from the dataset")
        threading.Thread(target=time.sleep, args=(10**6,)).start()
        super().__init__(cache_path)

class Quits(TimingDataset):
    def __init__(self, cache_path):
        os._exit(0)
"""


def test_a_plugins_print_and_stray_thread_leave_one_json_object_and_an_exit(
    tmp_path: Path,
) -> None:
    """A plug-in's print() went into `--format json` (stdout no longer one object), and a
    thread it started that never ends kept the process alive after the report."""
    (tmp_path / "loud.py").write_text(LOUD_DATASET)
    run = check_json(CACHE, "--cache", "--dataset", "loud:Loud", "--stage", "2", cwd=tmp_path)
    run.assert_clean()
    report = json.loads(run.stdout)  # exactly one object: the print went to stderr
    assert report["stages"][0]["id"] == 2 and run.code in (0, 1)
    assert "hello from the dataset" in run.stderr


def test_a_plugin_calling_os_exit_is_reported_not_obeyed(tmp_path: Path) -> None:
    """os._exit(0) in a plug-in ended `check` with exit 0 and no report."""
    (tmp_path / "loud.py").write_text(LOUD_DATASET)
    run = run_measured(
        "check", "--cache", str(CACHE), "--dataset", "loud:Quits", "--stage", "2", cwd=tmp_path
    )
    run.assert_clean()
    assert run.code == 1, (run.stdout[-1000:], run.stderr[-1000:])
    assert "[FAIL] dataset.instantiate" in run.stdout and "os._exit(0)" in run.stdout


def test_ctrl_c_exits_130(tmp_path: Path) -> None:
    """Ctrl-C exited 1, the code of a failed check."""
    (tmp_path / "waits.py").write_text(
        "import sys, time\n"
        "from tui_timing.data.dataset import TimingDataset\n"
        "class Waits(TimingDataset):\n"
        "    def __init__(self, cache_path):\n"
        "        print('waiting', file=sys.stderr, flush=True)\n"
        "        time.sleep(10**6)\n"
    )
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tui_timing",
            "check",
            "--cache",
            str(CACHE),
            "--dataset",
            "waits:Waits",
            "--stage",
            "2",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,  # Ctrl-C delivered even when the tests run in the background
    )
    assert child.stderr is not None
    try:
        for line in child.stderr:  # the plug-in is running: Ctrl-C now
            if line.startswith("waiting"):
                break
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=120)
    finally:
        child.kill()  # a no-op once it has exited; a child that ignored Ctrl-C is not left
    assert child.returncode == 130, err[-2000:]
    assert "interrupted" in err and "Traceback" not in err


def test_an_empty_path_is_a_usage_error(tmp_path: Path) -> None:
    """`--cache "$CACHE"` with the variable unset let discovery pick other files, exit 1."""
    shutil.copy(CACHE, tmp_path / "other_timing.pt")
    run = run_measured("check", "--cache", "", "--stage", "1", cwd=tmp_path)
    run.assert_clean()
    assert run.code == 2
    assert "Invalid value for '--cache': an empty path" in run.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_device_cuda_without_cuda_is_a_usage_error() -> None:
    """The model-side checks skipped, and `--stage 3` passed on a model that never ran."""
    run = run_measured(
        "check", "--cache", str(CACHE), "--checkpoint", str(INCREMENTS), "--device", "cuda",
        "--stage", "3",
    )  # fmt: skip
    run.assert_clean()
    assert run.code == 2
    assert "torch sees no usable CUDA device" in run.stderr


def test_train_onto_an_existing_run_is_refused_unless_overwrite(tmp_path: Path) -> None:
    """`train --out EXISTING_RUN` replaced a 60-line stats.jsonl with 2 lines."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "stats.jsonl").write_text("kept\n")
    run = run_measured("train", "--cache", str(CACHE), "--out", str(run_dir), "--epochs", "1")
    run.assert_clean()
    assert run.code == 2
    assert "already holds a run (stats.jsonl); give --overwrite" in run.stderr
    assert (run_dir / "stats.jsonl").read_text() == "kept\n"
    again = run_measured(
        "train", "--cache", str(CACHE), "--out", str(run_dir), "--epochs", "1", "--overwrite"
    )
    assert again.code == 0, again.stderr[-2000:]
    assert (run_dir / "checkpoint.pt").is_file()


def test_a_validation_fraction_of_one_is_a_usage_error(tmp_path: Path) -> None:
    run = run_measured(
        "train", "--cache", str(CACHE), "--out", str(tmp_path / "r"), "--val-fraction", "1"
    )
    run.assert_clean()
    assert run.code == 2 and "Invalid value for '--val-fraction'" in run.stderr


def test_the_tui_without_a_terminal_says_to_run_check() -> None:
    """Started from CI or a pipe, the TUI never exited."""
    run = run_measured("--cache", str(CACHE), timeout=120)
    run.assert_clean()
    assert run.code == 2
    assert "needs a terminal" in run.stderr and "timing-tui check" in run.stderr


def test_stdout_on_a_full_device_is_a_clean_exit() -> None:
    """`check > /dev/full` exited 120 with an exception at shutdown."""
    if not os.path.exists("/dev/full"):
        pytest.skip("/dev/full is not available on this system")
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "tui_timing", "check", "--cache", str(CACHE), "--stage", "1"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
        )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "cannot write the output (No space left on device)" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_pyproject_nested_thousands_deep_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    run = run_measured("check", "--cache", str(CACHE), "--stage", "1", cwd=tmp_path)
    run.assert_clean()
    assert run.code == 2 and "nested too deeply" in run.stderr


# --- a hostile repository: whose table, whose names ----------------------------------------

PLANTED = "import pathlib\npathlib.Path(__file__).with_name('RAN').write_text('x')\n"
PLANTED_TABLE = '[tool.timing-tui]\ndataset = "planted:Data"\n'


def test_a_pyproject_others_can_write_is_ignored_and_says_so(tmp_path: Path) -> None:
    """A table in a shared parent folder (or /tmp) imported and ran the planter's module
    while the user named only their own artifacts, and nothing named that pyproject."""
    shared = tmp_path / "shared"
    (shared / "mine").mkdir(parents=True)
    shared.chmod(0o777)
    (shared / "pyproject.toml").write_text(PLANTED_TABLE)
    (shared / "mine" / "planted.py").write_text(PLANTED)
    run = run_measured("check", "--cache", str(CACHE), "--stage", "2", cwd=shared / "mine")
    run.assert_clean()
    assert not (shared / "mine" / "RAN").exists()
    assert f"ignoring {shared / 'pyproject.toml'}: it is in a folder other users" in run.stderr
    assert "Project table" not in run.stdout


def test_a_pyproject_above_the_repository_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PLANTED_TABLE)
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "planted.py").write_text(PLANTED)
    run = run_measured("check", "--cache", str(CACHE), "--stage", "2", cwd=repo)
    run.assert_clean()
    assert run.code == 0 and not (repo / "RAN").exists()
    (repo / "pyproject.toml").write_text("[tool.timing-tui]\nsamples = 64\n")
    run = run_measured("check", "--cache", str(CACHE), "--stage", "1", cwd=repo)
    assert f"Project table: [tool.timing-tui] of {repo / 'pyproject.toml'}" in run.stdout
    report = json.loads(check_json(CACHE, cwd=repo).stdout)
    assert report["project"] == str(repo / "pyproject.toml")


def test_names_from_files_reach_the_terminal_escaped(tmp_path: Path) -> None:
    """A cache and a scratchpad whose names hold OSC 52 (a clipboard write), a newline and
    a right-to-left override: the path echoes printed them raw."""
    weird = tmp_path / "a\x1b]52;c;aGk=\x07\nssh-rsa AAAA key\u202e"
    weird.mkdir()
    cache = weird / "train_timing.pt"
    shutil.copy(CACHE, cache)
    pad = weird / "notes\x1b[2J.md"
    run = run_measured("check", "--cache", str(cache), "--stage", "1", "--scratchpad", str(pad))
    run.assert_clean()
    assert run.code == 0, run.stderr[-2000:]
    for text in (run.stdout, run.stderr, pad.read_text()):
        assert "\x1b" not in text and "\u202e" not in text
        assert not any(line.startswith("ssh-rsa") for line in text.splitlines())
    assert "appended to " in run.stderr and "\\x1b]52" in run.stderr
    sampled = run_measured("sample", "--checkpoint", str(INCREMENTS), "--cache", str(cache),
                           "--samples", "16")  # fmt: skip
    assert sampled.code == 0, sampled.stderr[-2000:]
    assert "\x1b" not in sampled.stdout and "rows of " in sampled.stdout


def test_a_name_that_is_not_utf8_never_crashes_the_export(tmp_path: Path) -> None:
    """`check --scratchpad` exited 1 and left an empty scratchpad."""
    cache = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9_timing.pt"))
    shutil.copy(CACHE, cache)
    pad = tmp_path / "notes.md"
    run = run_measured("check", "--cache", str(cache), "--stage", "1", "--scratchpad", str(pad))
    run.assert_clean()
    assert run.code == 0, run.stderr[-2000:]
    assert "caf\\udce9_timing.pt" in pad.read_text()


@pytest.mark.parametrize("name", ["stats.jsonl", "train.safetensors", "events.out.tfevents.1"])
def test_the_scratchpad_is_never_an_artifact(name: str, tmp_path: Path) -> None:
    artifact = tmp_path / name
    artifact.write_bytes(b"{}\n")
    run = run_measured("check", "--cache", str(CACHE), "--stage", "1", "--scratchpad",
                       str(artifact))  # fmt: skip
    run.assert_clean()
    assert run.code == 2 and "not a scratchpad" in run.stderr
    assert artifact.read_bytes() == b"{}\n"


def test_a_dangling_scratchpad_link_gets_no_target(tmp_path: Path) -> None:
    pad = tmp_path / "scratchpad.md"
    target = tmp_path / "elsewhere" / "authorized_keys"
    target.parent.mkdir()
    pad.symlink_to(target)
    run = run_measured("check", "--cache", str(CACHE), "--stage", "1", "--scratchpad", str(pad))
    run.assert_clean()
    assert run.code == 2 and "which does not exist" in run.stderr
    assert not target.exists()


@pytest.mark.parametrize("epoch", [2**63, 2**64 + 5])
def test_an_epoch_beyond_int64_is_named(epoch: int, tmp_path: Path) -> None:
    """An epoch of 2**63 or more became -9223372036854775808 in the figures."""
    log = tmp_path / "stats.jsonl"
    lines = (INCREMENTS.parent / "stats.jsonl").read_text().splitlines()
    last = json.loads(lines[-1])
    last["epoch"] = epoch
    log.write_text("\n".join([*lines[:-1], json.dumps(last)]) + "\n")
    run = run_measured("check", "--log", str(log), "--stage", "4", "--no-cache")
    run.assert_clean()
    assert run.code == 2
    assert f"[epoch]: line {len(lines)}: expected an epoch" in run.stderr
    assert "below 2**63" in run.stderr


def test_a_working_folder_path_over_4096_characters(tmp_path: Path) -> None:
    """Longer than PATH_MAX, the working folder cannot be named absolutely: a traceback."""
    here = Path.cwd()
    os.chdir(tmp_path)
    try:
        for _ in range(25):  # 25 × 201 characters, made one relative step at a time
            os.mkdir("d" * 200)
            os.chdir("d" * 200)
        run = run_measured("check", "--cache", str(CACHE), "--stage", "1", "--no-cache")
        found = run_measured("check", "--stage", "1", "--no-cache")
    finally:
        os.chdir(here)
    run.assert_clean()
    assert run.code == 0, run.stderr[-2000:]
    found.assert_clean()
    assert found.code == 2 and "cannot be listed" in found.stderr, found.stderr[-2000:]
