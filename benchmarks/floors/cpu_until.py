"""Run a TUI in this process and record its CPU time until each marker is first written.

    python benchmarks/floors/cpu_until.py OUT.json MARKER [MARKER ...] -- textual
    python benchmarks/floors/cpu_until.py OUT.json MARKER [MARKER ...] -- timing-tui ARGS...

Wall time on a loaded machine says more about the load than about the program; CPU time
until the first frame (`time.process_time()`: every thread of this process) says what the
program itself spends on it. Textual's Linux driver writes every frame to
`sys.__stderr__` from its writer thread, so that stream is wrapped here before anything of
Textual is imported: each write's text, escape sequences removed, is appended to what was
written so far, and the first time a marker is in it, the process's CPU time is taken,
with its children's (the forked stage-1 child: `/proc` for one still running or not yet
reaped, `RUSAGE_CHILDREN` for one reaped). A marker `statuses:N` stands for the stage
list's first N lines all showing a final status in one write.

With `$CPU_UNTIL_PROFILE` set to a path, the run is profiled (cProfile, all of it on the
main thread) until the first marker and the profile is written there (for `pstats`; the
figures of such a run carry the profiler's cost).

With `$CPU_UNTIL_HANDED` set, markers are looked for in the text the UI thread hands to
Textual's writer thread (`WriterThread.write`, which queues it), not in what that thread
writes: the order of a frame and the UI thread's imports is then the program's own, the
same on a busy machine as on an idle one (the writer thread may get a core only later).
The tests use it; the benchmarks time the writes.

Once every marker was seen, OUT.json is written (atomically) with the figures and the
modules imported until the first marker, and the process keeps running until it is killed
(the benchmark kills the tmux session), or, with `$CPU_UNTIL_EXIT` set, exits there and
then (so that `valgrind --tool=cachegrind` counts the instructions until the marker).
Only the standard library is imported here (and start_points.py beside it), and little
of it: what is imported here is counted on both sides alike.
"""

from __future__ import annotations

import gc
import os
import re
import resource
import sys
import time
from typing import Any, TextIO

from start_points import OnImport  # this folder's: the first on sys.path

#: CSI sequences (styles, cursor moves), OSC sequences and lone escapes.
ESCAPES = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b.")
#: One stage-list line with a final status: `3 model        ✘ fail`.
STATUS_LINE = r"\b{n} [a-z]+ +[✔▲✘–!x] ?(pass|warn|fail|skip|error)\b"
TICK = os.sysconf("SC_CLK_TCK")
#: Markers are looked for as frames are handed to the writer thread (see the docstring).
HANDED = bool(os.environ.get("CPU_UNTIL_HANDED"))


def children_cpu() -> float:
    """CPU seconds of this process's children: those reaped, and those not (yet)."""
    total = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = total.ru_utime + total.ru_stime
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return seconds
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/children") as f:
                pids = f.read().split()
        except OSError:
            continue
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            seconds += (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
    return seconds


class Watched:
    """sys.__stderr__ as Textual's writer thread sees it, watching for the markers."""

    def __init__(self, stream: TextIO, out: str, markers: list[str]) -> None:
        self._stream = stream
        self._out = out
        self._markers = markers
        self._text = ""
        self._seen: dict[str, dict[str, Any]] = {}
        self._modules: list[str] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        if not HANDED:
            self.look(text)
        return written

    def look(self, text: str) -> None:
        """Take in a frame's text (escape sequences removed) while markers are unseen."""
        if len(self._seen) < len(self._markers):
            self._look(ESCAPES.sub("", text))

    def _look(self, plain: str) -> None:
        self._text += plain
        for marker in self._markers:
            if marker in self._seen or not self._shows(marker, plain):
                continue
            self._seen[marker] = {
                "cpu_s": time.process_time(),
                "children_cpu_s": children_cpu(),
                "wall_s": time.perf_counter() - START,
                "gc_enabled": gc.isenabled(),
                "gc_collections": sum(gen["collections"] for gen in gc.get_stats()),
            }
            if self._modules is None:
                self._modules = sorted(sys.modules)
                if PROFILE is not None:
                    PROFILE.disable()
                    PROFILE.dump_stats(os.environ["CPU_UNTIL_PROFILE"])
        if len(self._seen) == len(self._markers):
            self._save()

    def _shows(self, marker: str, plain: str) -> bool:
        if marker.startswith("statuses:"):
            count = int(marker.split(":", 1)[1])
            return all(re.search(STATUS_LINE.format(n=n), plain) for n in range(1, count + 1))
        return marker in self._text

    def _save(self) -> None:
        import json

        tmp = self._out + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"markers": self._seen, "modules": self._modules}, f)
        os.replace(tmp, self._out)
        if os.environ.get("CPU_UNTIL_EXIT"):
            os._exit(0)  # at once: an instruction count (valgrind) stops here


def hand_frames_to(watched: Watched) -> None:
    """Watch the text handed to Textual's writer thread: `WriterThread.write` patched as
    its module is imported (nothing of Textual is imported here before that)."""

    def patch(module: Any) -> None:
        queue_text = module.WriterThread.write

        def write(thread: Any, text: str) -> None:
            watched.look(text)
            queue_text(thread, text)

        module.WriterThread.write = write

    sys.meta_path.insert(0, OnImport({"textual.drivers._writer_thread": patch}))


START = time.perf_counter()
PROFILE: Any = None


def main() -> None:
    out, *rest = sys.argv[1:]
    split = rest.index("--")
    markers, (target, *args) = rest[:split], rest[split + 1 :]
    watched = Watched(sys.__stderr__, out, markers)  # type: ignore[arg-type]
    sys.__stderr__ = watched  # type: ignore[misc, assignment]
    if HANDED:
        hand_frames_to(watched)
    if os.environ.get("CPU_UNTIL_PROFILE"):
        import cProfile

        global PROFILE
        PROFILE = cProfile.Profile()
        PROFILE.enable()
    if target == "textual":
        from minimal_textual import Minimal

        Minimal().run()
    elif target == "timing-tui":
        from tui_timing.cli import main as cli

        cli(args, prog_name="timing-tui")
    else:
        sys.exit(f"unknown target {target!r}: textual or timing-tui")


if __name__ == "__main__":
    main()
