"""Find a researcher's artifacts under the working directory (SPEC 2.6 Discovery), or fall
back to the bundled sample data.

Like TensorBoard's `--logdir`: every tensor file and log under the folder is classified by
its contents (classify), whatever its name. A run is the folder of a checkpoint together
with its Lightning siblings (`ckpt/`, `checkpoints/`, `version_N/`,
`lightning_logs/version_N/`): a Lightning run whose `ModelCheckpoint` writes to `ckpt/`
and whose loggers write to `version_0/` and `version_1/` is one run, not three. A log with
no checkpoint near it is a run of its own.

The walk is bounded (depth, entries, files opened) and skips hidden folders, virtual
environments and `site-packages`, so starting timing-tui in a large repository stays
quick. What was found, and what was passed over and why, is kept as data (`found`,
`passed_over`, `notes`) for the `check` output and the TUI's run selector.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from tui_timing.artifacts.files import open_problem
from tui_timing.config import ArtifactPaths, Settings
from tui_timing.resources import sample_data_dir

MAX_DEPTH = 6
#: Folders and files looked at in all; past this the walk stops (and says so).
MAX_ENTRIES = 100_000
#: Files opened to classify; past this the rest are listed as not examined.
MAX_CANDIDATES = 400
#: Seconds classification may take in all; past this the rest are listed as not examined
#: (a folder of large pickles would otherwise keep the tool silent for minutes).
MAX_SECONDS = 20.0
SKIP_DIRS = {
    "node_modules": "node packages",
    "__pycache__": "Python's byte-code cache",
    "site-packages": "installed packages",
    "venv": "a virtual environment",
    "env": "a virtual environment",
    "wandb": "Weights & Biases' own files",
    "mlruns": "MLflow's own files",
}
#: Folders a checkpoint sits in below its run's folder.
CHECKPOINT_FOLDERS = {"ckpt", "ckpts", "checkpoint", "checkpoints", "epochs", "weights"}
#: Folders a log sits in below its run's folder (Lightning's loggers).
_LOG_FOLDER = re.compile(r"^(lightning_logs|version_\d+|tensorboard|tb_logs|csv_logs|logs)$")
#: Checkpoint names that mean "the final one" when a run has several.
FINAL_NAMES = ("checkpoint.pt", "last.ckpt", "last.pt", "final.pt", "model.pt", "timing_head.pt")
#: Log forms in order of preference when a run has several (the richest first).
LOG_ORDER = ("JSONL", "CSV", "TensorBoard", "text")
_CANDIDATE_SUFFIXES = (".pt", ".pth", ".ckpt", ".npz", ".safetensors", ".jsonl", ".csv", ".log")


@dataclass(frozen=True)
class Found:
    """A file discovery kept: its kind (cache, checkpoint, eval, log) and what made it so."""

    path: Path
    kind: str
    detail: str
    timing: bool = False


@dataclass(frozen=True)
class PassedOver:
    """A file or folder discovery did not use, and why."""

    path: Path
    reason: str
    #: Maybe the user's artifact: a file that looked like one, a folder not searched.
    missed: bool = False


@dataclass
class Run:
    """A training run: a folder with a checkpoint and/or a stats log (and maybe an eval)."""

    name: str
    checkpoint: Path | None = None
    log: Path | None = None
    eval: Path | None = None
    folder: Path | None = None
    #: The run's other checkpoints and logs (not the chosen ones).
    others: list[Path] = field(default_factory=list)


@dataclass
class Discovered:
    """Everything found, each list in a stable order (the first is the default choice)."""

    root: Path
    caches: list[Path] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    evals: list[Path] = field(default_factory=list)
    is_sample: bool = False
    found: list[Found] = field(default_factory=list)
    passed_over: list[PassedOver] = field(default_factory=list)
    #: Limits reached and the like, one sentence each.
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.caches or self.runs or self.evals)

    @property
    def missed(self) -> list[PassedOver]:
        """What was passed over that may be the user's artifacts (a file that looked like
        one, a folder that could not be searched): with these, the sample data is no
        stand-in for the user's own."""
        return [item for item in self.passed_over if item.missed]

    def paths(self, cache: int = 0, run: int = 0, eval_dump: int | None = None) -> ArtifactPaths:
        """The artifacts of one selection (indices into the lists); without `eval_dump`,
        the run's own eval dump when it has one, else the first found."""
        chosen = self.runs[run] if self.runs else Run("none")
        if eval_dump is None:
            evaluation = chosen.eval or (self.evals[0] if self.evals else None)
        else:
            evaluation = self.evals[eval_dump] if self.evals else None
        return ArtifactPaths(
            cache=self.caches[cache] if self.caches else None,
            checkpoint=chosen.checkpoint,
            log=chosen.log,
            eval=evaluation,
        )


def discover(
    root: Path | None = None, settings: Settings | None = None, budget_s: float = MAX_SECONDS
) -> Discovered:
    """Caches, runs and eval dumps under `root` (the working directory), by content; the
    files beyond `budget_s` seconds of classifying, or beyond MAX_CANDIDATES, are listed
    as not examined."""
    from tui_timing.artifacts.classify import classify

    root = (root or Path.cwd()).resolve()
    settings = settings or Settings()
    found = Discovered(root=root)
    candidates = _walk(root, found)
    deadline = time.monotonic() + budget_s
    examined = 0
    for path in candidates[:MAX_CANDIDATES]:
        if time.monotonic() >= deadline:
            break
        examined += 1
        verdict = classify(path, settings)
        if verdict is None:
            continue
        if verdict.kind is None:
            found.passed_over.append(PassedOver(path, verdict.detail, missed=True))
        else:
            found.found.append(Found(path, verdict.kind, verdict.detail, verdict.timing))
    if examined < len(candidates):
        why = (
            f"discovery opens at most {MAX_CANDIDATES}"
            if examined == MAX_CANDIDATES
            else f"discovery classifies for at most {budget_s:g} s"
        )
        found.notes.append(
            f"{len(candidates) - examined} more files were not examined ({why}): name the "
            "artifacts with options or in [tool.timing-tui]"
        )
        found.passed_over.extend(
            PassedOver(path, f"not examined ({why})", missed=True) for path in candidates[examined:]
        )
    found.caches = [f.path for f in found.found if f.kind == "cache"]
    found.runs = _runs(root, found.found)
    found.evals = _evals(found.found, found.runs)
    return found


def _walk(root: Path, found: Discovered) -> list[Path]:
    """Candidate files under `root`, in a stable order (a folder's files, then its folders
    one by one); skipped folders go to passed_over.

    Symbolic links to folders are followed (a `runs/` linked to a data disk is the user's
    runs), each folder at most once by its device and inode, so a link back up the tree
    ends the walk there instead of looping. A folder that cannot be listed (permissions,
    `lost+found`) is passed over with the reason; it never stops the walk.
    """
    candidates: list[Path] = []
    entries = 0
    hidden = 0
    seen: set[tuple[int, int]] = set()
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        listing = _listing(folder, seen, found)
        if listing is None:
            continue
        subfolders = []
        for name, is_folder in listing:
            path = folder / name
            if not is_folder:
                if not name.startswith(".") and _is_candidate(name):
                    candidates.append(path)
                continue
            if name.startswith("."):
                hidden += 1
                continue
            why = _skip_reason(path, name)
            if why is None and depth + 1 > MAX_DEPTH:
                why = f"deeper than {MAX_DEPTH} levels: not searched"
            if why is not None:
                found.passed_over.append(PassedOver(path, why))
            else:
                subfolders.append(path)
        stack.extend((sub, depth + 1) for sub in reversed(subfolders))
        entries += len(listing)
        if entries > MAX_ENTRIES:
            found.notes.append(
                f"stopped after {MAX_ENTRIES:,} folders and files; name the artifacts with "
                "options or in [tool.timing-tui]"
            )
            break
    if hidden:
        found.notes.append(f"{hidden} hidden folders not searched")
    return candidates


def _listing(
    folder: Path, seen: set[tuple[int, int]], found: Discovered
) -> list[tuple[str, bool]] | None:
    """A folder's entries (name, is a folder, following links) in name order; None, with
    the folder passed over, when it was searched already or cannot be listed."""
    try:
        info = folder.stat()
        if (info.st_dev, info.st_ino) in seen:
            found.passed_over.append(
                PassedOver(folder, "a link to a folder already searched: not searched again")
            )
            return None
        seen.add((info.st_dev, info.st_ino))
        with os.scandir(folder) as scan:
            entries = [(entry.name, _is_folder(entry)) for entry in scan]
    except OSError as exc:
        found.passed_over.append(
            PassedOver(folder, f"cannot be listed ({open_problem(folder, exc)})", missed=True)
        )
        return None
    return sorted(entries)


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _skip_reason(path: Path, name: str) -> str | None:
    if name in SKIP_DIRS:
        return SKIP_DIRS[name]
    try:
        virtual = (path / "pyvenv.cfg").is_file() or (path / "conda-meta").is_dir()
    except OSError:  # a folder that cannot be searched: listing it says why
        return None
    return "a virtual environment" if virtual else None


def _is_candidate(name: str) -> bool:
    return name.startswith("events.out.tfevents") or name.lower().endswith(_CANDIDATE_SUFFIXES)


def _runs(root: Path, found: list[Found]) -> list[Run]:
    """Group checkpoints and logs into runs; choose each run's checkpoint and log."""
    members: dict[Path, list[Found]] = {}
    timing: set[Path] = set()
    for item in found:
        if item.kind == "checkpoint":
            folder = _checkpoint_run(root, item.path)
            members.setdefault(folder, []).append(item)
            if item.timing:
                timing.add(folder)
    checkpoint_runs = set(members)
    for item in found:
        if item.kind == "log":
            members.setdefault(_log_run(root, item.path, checkpoint_runs), []).append(item)
    runs = []
    for folder, items in members.items():
        checkpoints = sorted((i.path for i in items if i.kind == "checkpoint"), key=_final_first)
        logs = sorted((i for i in items if i.kind == "log"), key=_log_rank)
        chosen = checkpoints[:1] + [log.path for log in logs[:1]]
        runs.append(
            Run(
                name=_run_name(root, folder),
                checkpoint=checkpoints[0] if checkpoints else None,
                log=logs[0].path if logs else None,
                folder=folder,
                others=[i.path for i in items if i.path not in chosen],
            )
        )
    for run in runs:
        run.eval = _own_eval(root, run, found)
    runs.sort(key=lambda r: (r.folder not in timing, r.checkpoint is None or r.log is None, r.name))
    return runs


def _checkpoint_run(root: Path, path: Path) -> Path:
    folder = path.parent
    while folder != root and folder.name in CHECKPOINT_FOLDERS:
        folder = folder.parent
    return folder


def _log_run(root: Path, path: Path, checkpoint_runs: set[Path]) -> Path:
    """The run a log belongs to: the nearest checkpoint run reached through Lightning's
    log folders, else the log's folder without them."""
    folder = path.parent
    while True:
        if folder in checkpoint_runs:
            return folder
        if folder == root or not _LOG_FOLDER.match(folder.name):
            break
        folder = folder.parent
    return folder


def _final_first(path: Path) -> tuple[int, float, str]:
    """Final-named checkpoints first, then the newest."""
    final = path.name in FINAL_NAMES
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = 0.0
    return (0 if final else 1, -mtime, str(path))


def _log_rank(item: Found) -> tuple[int, float, str]:
    form = next((i for i, name in enumerate(LOG_ORDER) if name in item.detail), len(LOG_ORDER))
    try:
        mtime = item.path.stat().st_mtime
    except OSError:
        mtime = 0.0
    return (form, -mtime, str(item.path))


def _own_eval(root: Path, run: Run, found: list[Found]) -> Path | None:
    """An eval dump inside the run's folder (directly in it when the run is the root)."""
    if run.folder is None:
        return None
    for item in found:
        if item.kind != "eval":
            continue
        inside = item.path.parent == run.folder or (
            run.folder != root and run.folder in item.path.parents
        )
        if inside:
            return item.path
    return None


def _evals(found: list[Found], runs: list[Run]) -> list[Path]:
    """Eval dumps, the default run's own first."""
    evals = [f.path for f in found if f.kind == "eval"]
    first = runs[0].eval if runs else None
    return sorted(evals, key=lambda p: p != first)


def _run_name(root: Path, folder: Path) -> str:
    try:
        relative = folder.relative_to(root)
    except ValueError:
        return folder.name
    return str(relative) if relative.parts else root.name


def sample_data() -> Discovered:
    """The bundled sample data, with the `linear` run first (SPEC 5)."""
    found = discover(sample_data_dir())
    found.runs.sort(key=lambda run: (run.name.split("/")[-1] != "linear", run.name))
    found.evals = _evals(found.found, found.runs)
    found.is_sample = True
    return found


def discover_or_sample(root: Path | None = None, settings: Settings | None = None) -> Discovered:
    """What timing-tui opens when given no artifact options: what is found under `root`,
    else the sample data (carrying what was passed over here, and why)."""
    found = discover(root, settings)
    if not found.empty:
        return found
    sample = sample_data()
    sample.passed_over = found.passed_over
    sample.notes = [f"nothing usable found in {found.root}", *found.notes]
    return sample
