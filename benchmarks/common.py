"""What every benchmark shares: timing child processes, alternating, medians, results.

Every figure is taken from a child process started for that one run: its wall time from
spawn to exit, and its peak resident memory (`ru_maxrss`, read with `os.wait4`). Linux
starts a new program's ru_maxrss at its parent's peak, so the benchmark scripts stay small
(no torch, inputs built by child processes) and `run_child` warns when a figure could be
the script's own. timing-tui and its floor are run
alternately, in ABBA order (A B, then B A, ...), after one untimed warm-up run of each, so
that a change of load on a shared machine lands on both sides alike.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import functools
import importlib.util
import json
import os
import platform
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / "benchmarks"
RESULTS_DIR = BENCH_DIR / "results"
#: The shared Balabit subset sits beside the checkout (see README, "Data").
DEFAULT_RAW = Path(
    os.environ.get("TIMING_TUI_BALABIT")
    or REPO.parent / "shared" / "data" / "balabit" / "training_files"
)
SAMPLE_RUN = REPO / "sample_data" / "runs" / "increments"


@dataclass
class Sample:
    """One run of one command."""

    seconds: float
    maxrss_mb: float
    returncode: int
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Side:
    """One side of a comparison (timing-tui or its floor): the command and its runs."""

    name: str
    command: list[str]
    samples: list[Sample] = field(default_factory=list)

    @property
    def median_s(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def median_mb(self) -> float:
        return statistics.median(s.maxrss_mb for s in self.samples)

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "command": shell_line(self.command),
            "runs": len(self.samples),
            "seconds": [round(s.seconds, 4) for s in self.samples],
            "maxrss_mb": [round(s.maxrss_mb, 1) for s in self.samples],
            "median_s": round(self.median_s, 4),
            "median_maxrss_mb": round(self.median_mb, 1),
        }


def shell_line(command: Sequence[str]) -> str:
    """The command as one would type it (paths relative to the repo where they can be)."""
    parts = []
    for arg in command:
        text = str(arg)
        if text.startswith(str(REPO) + os.sep):
            text = os.path.relpath(text, REPO)
        elif text == sys.executable:
            text = "python"
        parts.append(text if text and " " not in text else repr(text))
    return " ".join(parts)


def timing_tui() -> list[str]:
    """The `timing-tui` command of this interpreter's environment (its modules compiled)."""
    compile_package()
    script = Path(sys.executable).with_name("timing-tui")
    if script.exists():
        return [str(script)]
    found = shutil.which("timing-tui")
    if found:
        return [found]
    return [sys.executable, "-c", "from tui_timing.cli import main; main()"]


@functools.lru_cache(maxsize=1)
def compile_package() -> None:
    """Write timing-tui's bytecode, as `pip install` does for an installed package. Under
    PYTHONDONTWRITEBYTECODE=1 (set on the development box) an editable install has none,
    and every launch would compile every module it imports (tens of milliseconds of the
    TUI's start-up) while torch, Textual and the floors load theirs."""
    spec = importlib.util.find_spec("tui_timing")  # found, not imported
    for folder in (spec.submodule_search_locations or []) if spec else []:
        compileall.compile_dir(folder, quiet=1)


def run_child(
    command: Sequence[str],
    *,
    ok_codes: Sequence[int] = (0,),
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    capture: bool = False,
) -> Sample:
    """Run a command once; its wall time and peak RSS. Raises when its exit code is not ok.

    With `capture`, the child's stdout is parsed as JSON into `Sample.extra` (the drivers
    print figures they measured from inside).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(command), stdout=out, stderr=err, env=env, cwd=cwd or REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped by wait4
        if proc.returncode not in ok_codes:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-2000:]
            raise RuntimeError(
                f"{shell_line(command)} exited {proc.returncode}, expected {list(ok_codes)}:\n"
                f"{tail}"
            )
        own_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if usage.ru_maxrss / 1024 <= own_peak_mb:
            # Linux starts a program's ru_maxrss at its parent's peak: this figure may be ours
            print(
                f"warning: {shell_line(command)}: peak RSS {usage.ru_maxrss / 1024:.0f} MB is "
                f"not above the benchmark's own ({own_peak_mb:.0f} MB), so it may be that",
                file=sys.stderr,
            )
        extra: dict[str, Any] = {}
        if capture:
            out.seek(0)
            extra = json.loads(out.read().decode())
    return Sample(seconds, usage.ru_maxrss / 1024, proc.returncode, extra)


def alternate(
    sides: Sequence[Side],
    runs: int,
    measure: Callable[[Side], Sample],
    *,
    warmup: bool = True,
) -> None:
    """Run the sides alternately (ABBA...), `runs` timed runs each, after one warm-up each."""
    if warmup:
        for side in sides:
            measure(side)
    for round_ in range(runs):
        order = sides if round_ % 2 == 0 else list(reversed(sides))
        for side in order:
            side.samples.append(measure(side))


def load_average() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def machine() -> dict[str, Any]:
    """Cores, memory, CPU model, GPU (when nvidia-smi answers), OS, Python and torch."""
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
    }
    try:
        meminfo = Path("/proc/meminfo").read_text().splitlines()
        total_kb = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
        info["memory_gb"] = round(total_kb / 1024**2, 1)
    except (OSError, StopIteration, ValueError):
        info["memory_gb"] = None
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
        info["cpu"] = (
            next(line for line in cpuinfo if line.startswith("model name")).split(":", 1)[1].strip()
        )
    except (OSError, StopIteration):
        info["cpu"] = platform.processor() or None
    try:
        gpus = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        info["gpu"] = gpus or None
    except (OSError, subprocess.SubprocessError):
        info["gpu"] = None
    info["torch"] = _version("torch")
    return info


def _version(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def work_dir(path: str | None) -> Path:
    """Where built caches and logs go: outside the repo, reused between runs."""
    folder = Path(path) if path else Path(tempfile.gettempdir()) / "timing-tui-bench"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def parser(description: str) -> argparse.ArgumentParser:
    """The options every benchmark takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--runs", type=int, default=5, help="timed runs of each side (default 5)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="tiny inputs and one run: checks the benchmark works, measures nothing",
    )
    p.add_argument("--work", help="folder for built inputs (default $TMPDIR/timing-tui-bench)")
    p.add_argument(
        "--results", default=str(RESULTS_DIR), help="folder the JSON results are written to"
    )
    return p


def add_before_option(p: argparse.ArgumentParser, launched: str) -> None:
    """`--before DIR`: another checkout launched in the same rounds as this one (a change
    measured at the same load); `launched` says how its timing-tui is started."""
    p.add_argument(
        "--before",
        metavar="DIR",
        help="also launch the timing-tui of another checkout (`git worktree add --detach DIR "
        f"COMMIT`), alternating with this one's; {launched}",
    )


def before_checkout(folder: str) -> Path:
    """The other checkout's folder, its modules and this one's compiled (as `timing_tui`
    does): no timed launch compiles a module itself."""
    before = Path(folder).resolve()
    compile_package()
    compileall.compile_dir(str(before / "tui_timing"), quiet=1)
    return before


def ratio_row(
    target: str, tui: Side, floor: Side, limit: float | None, *, memory: bool = False
) -> dict[str, Any]:
    """One result row: medians of both sides, their ratio and whether the target is met
    (`limit` None: a comparison without a target)."""
    mine, base = (tui.median_mb, floor.median_mb) if memory else (tui.median_s, floor.median_s)
    return compare(target, mine, base, limit, unit="MB" if memory else "s")


def paired(this: Side, that: Side, marker: str) -> dict[str, Any]:
    """`this` against `that` at `marker`, round by round (both launched in each round, so a
    machine that speeds up or slows down between rounds moves both): the median of the
    rounds' ratios, in how many rounds `this` was sooner, the median difference."""
    pairs = [
        (a.extra[marker], b.extra[marker]) for a, b in zip(this.samples, that.samples, strict=True)
    ]
    return {
        "paired_ratio": round(statistics.median(a / b for a, b in pairs), 3),
        "sooner_in": f"{sum(a < b for a, b in pairs)}/{len(pairs)} rounds",
        "median_difference_s": round(statistics.median(a - b for a, b in pairs), 4),
    }


def compare(
    target: str, mine: float, base: float, limit: float | None, *, unit: str = "s"
) -> dict[str, Any]:
    """A result row from two figures."""
    ratio = mine / base if base else float("inf")
    return {
        "target": target,
        "timing_tui": round(mine, 3),
        "floor": round(base, 3),
        "unit": unit,
        "ratio": round(ratio, 3),
        "limit": limit,
        "met": None if limit is None else ratio <= limit,
    }


def write_results(
    results_dir: str,
    name: str,
    rows: list[dict[str, Any]],
    sides: Sequence[Side],
    *,
    quick: bool,
    load_before: list[float],
    notes: dict[str, Any] | None = None,
) -> Path:
    """Write `<results>/<name>.json` (or `<name>.quick.json`) and print the rows."""
    folder = Path(results_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}{'.quick' if quick else ''}.json"
    payload = {
        "benchmark": name,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": shell_line([sys.executable, *sys.argv]),
        "quick": quick,
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "rows": rows,
        "sides": [s.summary() for s in sides],
        "notes": notes or {},
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    for row in rows:
        print(json.dumps(row))
    print(f"results: {path}", file=sys.stderr)
    return path


class Tmux:
    """A private tmux server in which commands are started and their screens watched.

    A placeholder session keeps the server up, so that starting the server is not in any
    timed part. `until` starts a command in a fresh pane of a fixed size and returns, for
    each marker text, the seconds from the spawn until `capture-pane` first shows it,
    polled every `poll` seconds; the command is then killed and waited for, so that no run
    competes with the next one.

    The screen is captured through one control-mode client (`tmux -C`), not a `tmux
    capture-pane` process per poll: spawning one every 5 ms kept about half a core busy,
    and on a two-core box that slowed the program under test (a parent and the child
    computing stage 1) by 0.3-0.5 s, while the floor it is compared with ran unwatched.
    """

    def __init__(self, width: int = 160, height: int = 50) -> None:
        if shutil.which("tmux") is None:
            raise RuntimeError("tmux is not installed")
        self.width, self.height = width, height
        self.base = ["tmux", "-L", f"timing-bench-{os.getpid()}"]
        self._tmux("new-session", "-d", "-s", "keep", "sleep 86400")
        self._control = self._attach()

    def _attach(self, tries: int = 3) -> subprocess.Popen[str]:
        """The control client, attached and answering: now and then (3 benchmark runs in
        about 10) one exited before its first command, and the run ended on a broken pipe;
        one that does not answer a first command is replaced."""
        for _ in range(tries):
            control = subprocess.Popen(
                [*self.base, "-C", "attach-session", "-t", "keep"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                encoding="utf-8",
                errors="replace",
            )
            self._control = control
            try:
                if self._command("display-message -p attached").strip() == "attached":
                    return control
            except (OSError, RuntimeError):
                pass
            control.kill()
            control.wait()
        raise RuntimeError(f"tmux's control client would not attach in {tries} tries")

    def _tmux(self, *args: str) -> str:
        done = subprocess.run([*self.base, *args], capture_output=True, text=True, check=False)
        return done.stdout

    def _command(self, command: str) -> str:
        """One command through the control client, and its output."""
        self._send(command)
        return self._reply()

    def _send(self, command: str) -> None:
        stdin = self._control.stdin
        assert stdin is not None
        stdin.write(command + "\n")
        stdin.flush()

    def _reply(self) -> str:
        """The next reply to a command of ours: the text between `%begin` and `%end` of a
        block whose flags are 1 (the attach's own block has 0; notifications are outside
        blocks)."""
        stdout = self._control.stdout
        assert stdout is not None
        lines: list[str] | None = None
        for line in stdout:
            if lines is None:
                if line.startswith("%begin ") and line.split()[-1] == "1":
                    lines = []
                elif line.startswith("%exit"):
                    break
                continue
            if line.startswith(("%end ", "%error ")):
                return "".join(lines)
            lines.append(line)
        raise RuntimeError("the tmux control client ended")

    def until(
        self,
        command: Sequence[str],
        markers: Sequence[str],
        *,
        timeout: float = 120.0,
        poll: float = 0.005,
        tests: dict[str, Callable[[str], bool]] | None = None,
    ) -> dict[str, float]:
        """Seconds until each marker is on screen (raises after `timeout`); `tests` names
        a test of the whole screen for markers that are not one piece of text."""
        line = f"cd {shlex.quote(str(REPO))} && exec {shlex.join(command)}"
        tests = tests or {}
        seen: dict[str, float] = {}
        start = time.perf_counter()
        self._tmux("new-session", "-d", "-s", "run", "-x", str(self.width), "-y",
                   str(self.height), line)  # fmt: skip
        pid = int(self._tmux("display-message", "-p", "-t", "run", "#{pane_pid}").strip() or 0)
        try:
            while len(seen) < len(markers):
                screen = self._command("capture-pane -p -t run")
                now = time.perf_counter() - start
                for marker in markers:
                    shown = tests[marker](screen) if marker in tests else marker in screen
                    if marker not in seen and shown:
                        seen[marker] = now
                if now > timeout:
                    raise RuntimeError(
                        f"{shell_line(command)}: {sorted(set(markers) - set(seen))} not on "
                        f"screen after {timeout:.0f} s; last screen:\n{screen}"
                    )
                time.sleep(poll)
        finally:
            self._tmux("kill-session", "-t", "run")
            _wait_gone(pid)
        return seen

    def until_written(
        self, command: Sequence[str], path: Path, *, timeout: float = 120.0, exits: bool = False
    ) -> int:
        """Run a command in a fresh pane until it has written `path` (it measures itself:
        floors/cpu_until.py), then kill it (`exits`: first give it time to exit by itself,
        as one under valgrind must to write its counts); its pid. Raises after `timeout`."""
        line = f"cd {shlex.quote(str(REPO))} && exec {shlex.join(command)}"
        start = time.perf_counter()
        self._tmux("new-session", "-d", "-s", "run", "-x", str(self.width), "-y",
                   str(self.height), line)  # fmt: skip
        pid = int(self._tmux("display-message", "-p", "-t", "run", "#{pane_pid}").strip() or 0)
        self._tmux("set-option", "-t", "run", "remain-on-exit", "on")  # its last words
        try:
            polls = 0
            while not path.exists():
                polls += 1  # whether it died: every 0.5 s (a tmux process each time)
                alive = (
                    polls % 25
                    or self._tmux("display-message", "-p", "-t", "run", "#{pane_dead}").strip()
                    == "0"
                )
                if not alive or time.perf_counter() - start > timeout:
                    screen = self._tmux("capture-pane", "-p", "-t", "run")
                    why = "it exited" if not alive else f"after {timeout:.0f} s"
                    raise RuntimeError(
                        f"{shell_line(command)}: {path} not written ({why}); last screen:\n{screen}"
                    )
                time.sleep(0.02)
            if exits:
                _wait_gone(pid, kill=False)
        finally:
            self._tmux("kill-session", "-t", "run")
            _wait_gone(pid)
        return pid

    def close(self) -> None:
        self._tmux("kill-server")
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._control.wait(timeout=5)


def _wait_gone(pid: int, timeout: float = 30.0, *, kill: bool = True) -> None:
    """Wait until a process has exited (tmux's SIGHUP), then kill it if it has not and
    `kill` says so."""
    deadline = time.perf_counter() + timeout
    while pid and time.perf_counter() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)
    if pid and kill:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
