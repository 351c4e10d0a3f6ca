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
from dataclasses import dataclass, field
from pathlib import Path

from tui_timing.artifacts.stats_trainer_state import NAME as TRAINER_STATE
from tui_timing.config import ArtifactPaths, Settings
from tui_timing.resources import sample_data_dir

MAX_DEPTH = 6
#: Folders and files looked at in all; past this the walk stops (and says so).
MAX_ENTRIES = 100_000
#: Files opened to classify; past this the rest are listed as not examined.
MAX_CANDIDATES = 400
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
LOG_ORDER = ("JSONL", "CSV", "TensorBoard", "trainer_state", "text")
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


def discover(root: Path | None = None, settings: Settings | None = None) -> Discovered:
    """Caches, runs and eval dumps under `root` (the working directory), by content."""
    from tui_timing.artifacts.classify import classify

    root = (root or Path.cwd()).resolve()
    settings = settings or Settings()
    found = Discovered(root=root)
    candidates = _walk(root, found)
    for path in candidates[:MAX_CANDIDATES]:
        verdict = classify(path, settings)
        if verdict is None:
            continue
        if verdict.kind is None:
            found.passed_over.append(PassedOver(path, verdict.detail))
        else:
            found.found.append(Found(path, verdict.kind, verdict.detail, verdict.timing))
    if len(candidates) > MAX_CANDIDATES:
        found.notes.append(
            f"{len(candidates) - MAX_CANDIDATES} more files were not examined (discovery "
            f"opens at most {MAX_CANDIDATES}): name the artifacts with options or in "
            "[tool.timing-tui]"
        )
    found.caches = [f.path for f in found.found if f.kind == "cache"]
    found.runs = _runs(root, found.found)
    found.evals = _evals(found.found, found.runs)
    return found


def candidate_files(root: Path) -> list[Path]:
    """The files discovery would classify under `root`, with the same skips (what a
    watcher following a repo polls)."""
    root = root.resolve()
    return _walk(root, Discovered(root=root))


def _walk(root: Path, found: Discovered) -> list[Path]:
    """Candidate files under `root`, in a stable order; skipped folders go to passed_over."""
    candidates: list[Path] = []
    entries = 0
    hidden = 0

    def on_error(exc: OSError) -> None:
        found.passed_over.append(PassedOver(Path(exc.filename or root), "cannot be listed"))

    for folder, dirs, files in os.walk(root, onerror=on_error):
        here = Path(folder)
        depth = len(here.relative_to(root).parts)
        kept = []
        for name in sorted(dirs):
            if name.startswith("."):
                hidden += 1
                continue
            why = _skip_reason(here / name, name)
            if why is None and depth + 1 > MAX_DEPTH:
                why = f"deeper than {MAX_DEPTH} levels: not searched"
            if why is not None:
                found.passed_over.append(PassedOver(here / name, why))
            else:
                kept.append(name)
        dirs[:] = kept
        for name in sorted(files):
            if not name.startswith(".") and _is_candidate(name):
                candidates.append(here / name)
        entries += len(dirs) + len(files)
        if entries > MAX_ENTRIES:
            found.notes.append(
                f"stopped after {MAX_ENTRIES:,} folders and files; name the artifacts with "
                "options or in [tool.timing-tui]"
            )
            break
    if hidden:
        found.notes.append(f"{hidden} hidden folders not searched")
    return candidates


def _skip_reason(path: Path, name: str) -> str | None:
    if name in SKIP_DIRS:
        return SKIP_DIRS[name]
    if (path / "pyvenv.cfg").is_file() or (path / "conda-meta").is_dir():
        return "a virtual environment"
    return None


def _is_candidate(name: str) -> bool:
    return (
        name.startswith("events.out.tfevents")
        or name == TRAINER_STATE
        or name.lower().endswith(_CANDIDATE_SUFFIXES)
    )


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
