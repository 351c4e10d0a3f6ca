"""How much memory one artifact may take: half of what this process can still get.

A file can declare far more than it holds (an .npz member that inflates a thousandfold, a
gzip session that is one endless line): the loaders ask here before they allocate, so that
such a file is refused with a message instead of taking the machine's memory or ending in
a MemoryError. "What this process can still get" is the least of the machine's available
memory (`MemAvailable`), the headroom under the process's own limits (`ulimit -v`/`-d`)
and the headroom under its cgroup's limit (a batch job's memory allocation), whichever
are known. Half of it, because the stages need working memory beside the data.
"""

from __future__ import annotations

import resource
from pathlib import Path

from tui_timing.errors import ArtifactError

#: The share of the available memory one artifact may take.
SHARE = 0.5
#: A cgroup v1 "no limit" is a huge number, not a word.
_NO_LIMIT = 1 << 60


def memory_budget() -> int | None:
    """The bytes one artifact may take now (None when nothing can be read)."""
    available = available_bytes()
    return None if available is None else int(SHARE * available)


def require_memory(path: str | Path, key: str | None, need: int, what: str) -> None:
    """Raise ArtifactError when `need` bytes (what loading `what` takes) exceed the budget."""
    available = available_bytes()
    if available is None or need <= SHARE * available:
        return
    raise ArtifactError(
        str(path),
        key,
        f"{what} needs {size_text(need)} of memory, more than half of the {size_text(available)} "
        "this process can still use; refused before allocating it (free memory, or raise "
        "the process's memory limit, or use a machine with more)",
    )


def available_bytes() -> int | None:
    """The memory this process can still get (None when nothing can be read)."""
    known = [
        value
        for value in (_meminfo_available(), _rlimit_headroom(), _cgroup_headroom())
        if value is not None
    ]
    return max(min(known), 0) if known else None


def size_text(count: int) -> str:
    """A byte count for a message: 4 bytes, 812.3 kB, 4.0 GB."""
    if count < 1000:
        return f"{count} bytes"
    if count < 10**6:
        return f"{count / 1e3:.1f} kB"
    if count < 10**9:
        return f"{count / 1e6:.1f} MB"
    return f"{count / 1e9:.1f} GB"


def _read_fields(path: str, unit: int = 1) -> dict[str, int]:
    """`name value` or `name: value kB` lines as a dict of integers (empty if unreadable)."""
    out: dict[str, int] = {}
    try:
        with open(path, encoding="ascii") as handle:
            for line in handle:
                name, _, rest = line.partition(":" if ":" in line else " ")
                words = rest.split()
                if words and words[0].isdigit():
                    out[name.strip()] = int(words[0]) * unit
    except (OSError, UnicodeDecodeError):
        pass
    return out


def _meminfo_available() -> int | None:
    return _read_fields("/proc/meminfo", 1024).get("MemAvailable")


def _rlimit_headroom() -> int | None:
    """The room left under `ulimit -v` (address space) and `ulimit -d` (data)."""
    status = _read_fields("/proc/self/status", 1024)
    room = []
    for limit, used in ((resource.RLIMIT_AS, "VmSize"), (resource.RLIMIT_DATA, "VmData")):
        soft, _ = resource.getrlimit(limit)
        if soft != resource.RLIM_INFINITY and used in status:
            room.append(soft - status[used])
    return min(room) if room else None


def _cgroup_headroom() -> int | None:
    """The room left under the cgroup's memory limit (v2 or v1); page cache that the kernel
    can drop (inactive file pages) does not count as used."""
    try:
        lines = Path("/proc/self/cgroup").read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for line in lines:
        _, controllers, group = line.split(":", 2)
        if controllers == "":  # cgroup v2
            folder = Path("/sys/fs/cgroup") / group.lstrip("/")
            names = ("memory.max", "memory.current", "inactive_file")
        elif "memory" in controllers.split(","):
            folder = Path("/sys/fs/cgroup/memory") / group.lstrip("/")
            names = ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
        else:
            continue
        limit = _read_number(folder / names[0])
        used = _read_number(folder / names[1])
        if limit is not None and used is not None and limit < _NO_LIMIT:
            reclaimable = _read_fields(str(folder / "memory.stat")).get(names[2], 0)
            return limit - (used - reclaimable)
    return None


def _read_number(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None
