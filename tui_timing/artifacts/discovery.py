"""Find a researcher's artifacts under the working directory (docs/artifacts.md#discovery), or fall
back to the bundled sample data.

Like TensorBoard's `--logdir`: every tensor file and log under the folder is classified by
its contents (classify), whatever its name. A run is the folder of a checkpoint together
with its Lightning siblings (`ckpt/`, `checkpoints/`, `version_N/`,
`lightning_logs/version_N/`): a Lightning run whose `ModelCheckpoint` writes to `ckpt/`
and whose loggers write to `version_0/` and `version_1/` is one run, not three. A log with
no checkpoint near it is a run of its own.

The walk is bounded (depth, entries, files opened) and skips hidden folders, virtual
environments, `site-packages` and build output (`build/`, `dist/`: copies of what a
checkout holds), so starting timing-tui in a large repository stays quick. What the
repository's `.gitignore` files ignore is still searched (research repos ignore their
`runs/` and `*.pt`), but ranked after what the repository keeps: a git-ignored copy is
never the default when a kept original exists. What was found, and what was passed over
and why, is kept as data (`found`, `passed_over`, `notes`) for the `check` output and the
TUI's run selector.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from tui_timing.artifact_kinds import discovered_kinds
from tui_timing.artifacts.files import open_problem
from tui_timing.artifacts.gitignore import Pattern, ignored_by, read_patterns
from tui_timing.artifacts.run_members import (
    LOG_FOLDER,
    checkpoint_unit,
    log_assumption,
    log_only_run,
    log_rank,
    members_assumption,
    order_checkpoints,
    owning_run,
    run_folder,
)
from tui_timing.config import ArtifactPaths, Settings
from tui_timing.findings import Assumption
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
    "build": "build output (copies of the checkout's files)",
    "dist": "build output (packages of the checkout)",
    "site-packages": "installed packages",
    "venv": "a virtual environment",
    "env": "a virtual environment",
    "wandb": "Weights & Biases' own files",
    "mlruns": "MLflow's own files",
}
#: How discovery ranks the runs it found (`_runs`), as the default run's assumption says it.
RUN_ORDER = (
    "ranked by: files the repository keeps before git-ignored ones, a checkpoint read as "
    "a timing head before others, a checkpoint and a log before one of them, then the "
    "folder's name"
)
#: The bundled sample's order (`_as_sample`).
SAMPLE_ORDER = "the bundled sample's broken run (linear) first, its diagnosis the one to see"
#: Folders skipped without a word: they never hold artifacts, and a repository has many.
SILENT_DIRS = {"__pycache__"}


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
    #: Which files make the run and which of them were taken, with why.
    assumptions: list[Assumption] = field(default_factory=list)


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
    #: Candidate files the repository's `.gitignore` files ignore (ranked last).
    ignored: set[Path] = field(default_factory=set)
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

    @property
    def loose_evals(self) -> list[Path]:
        """Eval dumps that are no run's own (in no run's folder): any run may use them."""
        owned = {run.eval for run in self.runs}
        return [path for path in self.evals if path not in owned]

    def paths(self, cache: int = 0, run: int = 0, eval_dump: int | None = None) -> ArtifactPaths:
        """The artifacts of one selection (indices into the lists); without `eval_dump`,
        the run's own eval dump when it has one, else the first in no run's folder."""
        chosen = self.runs[run] if self.runs else Run("none")
        return ArtifactPaths(
            cache=self.caches[cache] if self.caches else None,
            checkpoint=chosen.checkpoint,
            log=chosen.log,
            eval=self._eval(chosen, eval_dump),
        )

    def assumptions(self, run: int = 0, eval_dump: int | None = None) -> list[Assumption]:
        """What discovery assumed for one selection: the run's files and choices, and an
        eval dump taken from outside the run."""
        if not self.runs:
            return []
        chosen = self.runs[run]
        notes = list(chosen.assumptions)
        if run == 0 and len(self.runs) > 1:
            order = SAMPLE_ORDER if self.is_sample else RUN_ORDER
            others = len(self.runs) - 1
            notes.insert(
                0,
                Assumption(
                    "run",
                    "which run",
                    chosen.name,
                    f"the first of the runs found ({others} more), {order}; pick another "
                    "with the TUI's run selector (s), or name its files in [tool.timing-tui]",
                ),
            )
        evaluation = self._eval(chosen, eval_dump)
        if evaluation is not None and evaluation != chosen.eval:
            notes.append(
                Assumption(
                    "eval",
                    "which eval dump",
                    str(evaluation),
                    f"run {chosen.name} has none in its folder; the first found in no run's "
                    "folder, which every run without its own uses; name another with --eval "
                    'PATH, or eval = "PATH" in [tool.timing-tui]',
                )
            )
        return notes

    def _eval(self, chosen: Run, eval_dump: int | None) -> Path | None:
        """The chosen eval dump, else the run's own, else the first in no run's folder:
        another run's own eval dump is never taken for it (its samples are that run's)."""
        if eval_dump is None:
            loose = self.loose_evals
            return chosen.eval or (loose[0] if loose else None)
        return self.evals[eval_dump] if self.evals else None


def discover(
    root: Path | None = None,
    settings: Settings | None = None,
    max_candidates: int = MAX_CANDIDATES,
    budget_s: float = MAX_SECONDS,
) -> Discovered:
    """Caches, runs and eval dumps under `root` (the working directory), by content; at
    most `max_candidates` files are opened (`timing-tui runs`, asked to look at a sweep,
    opens more), for at most `budget_s` seconds: the rest are listed as not examined."""
    from tui_timing.artifacts.classify import classify

    root = (root or Path.cwd()).resolve()
    settings = settings or Settings()
    found = Discovered(root=root)
    candidates = _walk(root, found)
    deadline = time.monotonic() + budget_s
    examined = 0
    for path in candidates[:max_candidates]:
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
            f"discovery opens at most {max_candidates}"
            if examined == max_candidates
            else f"discovery classifies for at most {budget_s:g} s"
        )
        found.notes.append(
            f"{len(candidates) - examined} more files were not examined ({why}): name the "
            "artifacts with options or in [tool.timing-tui]"
        )
        found.passed_over.extend(
            PassedOver(path, f"not examined ({why})", missed=True) for path in candidates[examined:]
        )
    found.caches = sorted(
        (f.path for f in found.found if f.kind == "cache"), key=lambda p: p in found.ignored
    )
    found.runs = _runs(root, found.found, found.ignored)
    found.evals = _evals(found.found, found.runs, found.ignored)
    return found


def candidate_files(root: Path) -> list[Path]:
    """The files discovery would classify under `root`, with the same skips (what a
    watcher following a repo polls)."""
    root = root.resolve()
    return _walk(root, Discovered(root=root))


def _walk(root: Path, found: Discovered) -> list[Path]:
    """Candidate files under `root`, in a stable order (a folder's files, then its folders
    one by one); skipped folders go to passed_over, git-ignored candidates to
    `found.ignored`.

    Symbolic links to folders are followed (a `runs/` linked to a data disk is the user's
    runs), each folder at most once by its device and inode, so a link back up the tree
    ends the walk there instead of looping. A folder that cannot be listed (permissions,
    `lost+found`) is passed over with the reason; it never stops the walk.
    """
    candidates: list[Path] = []
    entries = 0
    hidden = 0
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[Path, int, list[Pattern], bool]] = [(root, 0, [], False)]
    while stack:
        folder, depth, inherited, ignored_here = stack.pop()
        listing = _listing(folder, seen, found)
        if listing is None:
            continue
        rules = inherited
        if (".gitignore", False) in listing:
            rules = [*rules, *read_patterns(folder)]
        subfolders = []
        for name, is_folder in listing:
            path = folder / name
            if not is_folder:
                if not name.startswith(".") and _is_candidate(name):
                    candidates.append(path)
                    if ignored_here or ignored_by(rules, path, is_dir=False):
                        found.ignored.add(path)
                continue
            if name.startswith("."):
                hidden += 1
                continue
            if name in SILENT_DIRS:
                continue
            why = _skip_reason(path, name)
            if why is None and depth + 1 > MAX_DEPTH:
                why = f"deeper than {MAX_DEPTH} levels: not searched"
            if why is not None:
                found.passed_over.append(PassedOver(path, why))
                continue
            ignored = ignored_here or ignored_by(rules, path, is_dir=True) is not None
            subfolders.append((path, depth + 1, rules, ignored))
        stack.extend(reversed(subfolders))
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
    return bool(discovered_kinds(name))


def _runs(root: Path, found: list[Found], ignored: set[Path]) -> list[Run]:
    """Group checkpoints, logs and eval dumps into runs, one per training's folder
    (run_members), and choose each run's checkpoint and log, saying why. A run whose
    chosen files are git-ignored comes after those the repository keeps."""
    units: dict[Path, Found] = {}
    for item in found:
        if item.kind == "checkpoint":
            units.setdefault(checkpoint_unit(item.path), item)
    folders = _checkpoint_run_folders(root, list(units))
    members: dict[Path, list[Path]] = {}
    timing: set[Path] = set()
    for unit, item in units.items():
        members.setdefault(folders[unit], []).append(unit)
        if item.timing:
            timing.add(folders[unit])
    checkpoint_runs = set(members)
    logs: dict[Path, list[Found]] = {}
    for item in found:
        if item.kind == "log":
            folder = owning_run(root, item.path, checkpoint_runs) or log_only_run(root, item.path)
            logs.setdefault(folder, []).append(item)
    runs = []
    for folder in [*members, *(f for f in logs if f not in members)]:
        name = _run_name(root, folder)
        checkpoints, taken = order_checkpoints(members.get(folder, []), name, folder)
        ranked = sorted(logs.get(folder, []), key=lambda i: log_rank(i.detail, i.path))
        log_paths = [i.path for i in ranked]
        run = Run(
            name=name,
            checkpoint=checkpoints[0] if checkpoints else None,
            log=log_paths[0] if log_paths else None,
            folder=folder,
            others=checkpoints[1:] + log_paths[1:],
        )
        run.eval = _own_eval(root, folder, set(members) | set(logs), found)
        files = checkpoints + log_paths + ([run.eval] if run.eval else [])
        run.assumptions = [
            members_assumption(name, folder, files),
            *taken,
            *log_assumption(log_paths, name, folder),
        ]
        runs.append(run)
    runs.sort(  # as RUN_ORDER says
        key=lambda r: (
            bool({r.checkpoint, r.log} & ignored),
            r.folder not in timing,
            r.checkpoint is None or r.log is None,
            r.name,
        )
    )
    return runs


def _checkpoint_run_folders(root: Path, units: list[Path]) -> dict[Path, Path]:
    """Each checkpoint's run folder. A run folder below another one through log folders
    only (Lightning's `version_0/checkpoints/` beside the run's own `ckpt/`) is that run:
    one training is never split."""
    folders = {unit: run_folder(root, unit) for unit in units}
    runs = set(folders.values())

    def outermost(folder: Path) -> Path:
        above = folder
        while above != root and LOG_FOLDER.match(above.name):
            above = above.parent
            if above in runs and above != root:
                folder = above
        return folder

    return {unit: outermost(folder) for unit, folder in folders.items()}


def _own_eval(root: Path, folder: Path, runs: set[Path], found: list[Found]) -> Path | None:
    """The first eval dump whose nearest run folder is this run's."""
    for item in found:
        if item.kind == "eval" and owning_run(root, item.path, runs) == folder:
            return item.path
    return None


def _evals(found: list[Found], runs: list[Run], ignored: set[Path]) -> list[Path]:
    """Eval dumps, the default run's own first, git-ignored ones last."""
    evals = [f.path for f in found if f.kind == "eval"]
    first = runs[0].eval if runs else None
    return sorted(evals, key=lambda p: (p != first, p in ignored))


def _run_name(root: Path, folder: Path) -> str:
    try:
        relative = folder.relative_to(root)
    except ValueError:
        return folder.name
    return str(relative) if relative.parts else root.name


def sample_data() -> Discovered:
    """The bundled sample data, with the `linear` run first (docs/cli.md)."""
    return _as_sample(discover(sample_data_dir()))


def _as_sample(found: Discovered) -> Discovered:
    """`found`, known to be the bundled sample data, in the sample's order: the broken
    `linear` run first (its diagnosis is what the first screen should show)."""
    found.runs.sort(key=lambda run: (run.name.split("/")[-1] != "linear", run.name))
    found.evals = _evals(found.found, found.runs, found.ignored)
    found.is_sample = True
    return found


def _only_sample(found: Discovered) -> bool:
    """Whether everything discovery kept is the bundled sample data (run in the checkout)."""
    sample = sample_data_dir().resolve()
    return bool(found.found) and all(sample in item.path.parents for item in found.found)


def _add_trained_on(found: Discovered) -> None:
    """Runs found without a cache: add the cache a run's checkpoint says it was trained on
    (`timing-tui train` records its path and sha256), so that a session resumes with it. A
    run trained on the bundled sample data (an action taken on the sample) brings the
    sample's runs and eval dump too, after the runs found here: what was open before."""
    for run in found.runs:
        cache = _trained_on(run.checkpoint) if run.checkpoint is not None else None
        if cache is None:
            continue
        detail = f"timing cache that {run.name} was trained on (its checkpoint names it)"
        found.found.append(Found(cache, "cache", detail))
        found.caches.append(cache)
        if sample_data_dir().resolve() in cache.parents:
            sample = sample_data()
            found.runs += sample.runs
            found.evals += sample.evals
            found.found += [f for f in sample.found if f.kind != "cache"]
        found.notes.append(f"{run.name} was trained on {cache}: it is used with the runs here")
        return


def _trained_on(checkpoint: Path) -> Path | None:
    """The cache a checkpoint of `timing-tui train` was trained on, where it still is: the
    recorded `cache_path` (or, for a checkpoint that records only the sha256, the bundled
    sample cache when its bytes are those), read from the checkpoint's skeleton."""
    from tui_timing.artifacts.hashing import file_sha256
    from tui_timing.artifacts.peek import PeekError, peek

    try:
        skeleton = peek(checkpoint)
    except (PeekError, OSError, ValueError, EOFError):
        return None
    config = skeleton.get("config") if isinstance(skeleton, dict) else None
    if not isinstance(config, dict):
        return None
    recorded = config.get("cache_path")
    if isinstance(recorded, str) and Path(recorded).is_file():
        return Path(recorded)
    sha = config.get("cache_sha256")
    if not isinstance(sha, str):
        return None
    return next((c for c in sample_data().caches if file_sha256(c) == sha), None)


def discover_or_sample(root: Path | None = None, settings: Settings | None = None) -> Discovered:
    """What timing-tui opens when given no artifact options: what is found under `root`,
    else the sample data (carrying what was passed over here, and why). Found in the
    checkout, where the sample data is all there is, it is shown as the sample data."""
    found = discover(root, settings)
    if _only_sample(found):
        return _as_sample(found)
    if found.runs and not found.caches:
        _add_trained_on(found)
    if not found.empty:
        return found
    sample = sample_data()
    sample.passed_over = found.passed_over
    sample.notes = [f"nothing usable found in {found.root}", *found.notes]
    return sample
