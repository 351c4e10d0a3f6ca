"""Find a researcher's artifacts under the working directory (SPEC 5), or fall back to the
bundled sample data.

The walk is bounded (a few levels, no hidden folders, virtual environments or caches) so
that starting timing-tui in a large repository stays instant.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from tui_timing.config import ArtifactPaths
from tui_timing.resources import sample_data_dir

MAX_DEPTH = 4
SKIP_DIRS = {"node_modules", "__pycache__", "site-packages", "venv", "env", "wandb", "mlruns"}
CHECKPOINT_NAMES = ("checkpoint.pt", "last.ckpt", "model.pt", "timing_head.pt")
LOG_NAMES = ("stats.jsonl", "stats.csv", "metrics.csv")
EVAL_SUFFIXES = (".pt", ".npz")


@dataclass
class Run:
    """A training run: a folder with a checkpoint and/or a stats log."""

    name: str
    checkpoint: Path | None = None
    log: Path | None = None


@dataclass
class Discovered:
    """Everything found, each list in a stable order (the first is the default choice)."""

    root: Path
    caches: list[Path] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    evals: list[Path] = field(default_factory=list)
    is_sample: bool = False

    @property
    def empty(self) -> bool:
        return not (self.caches or self.runs or self.evals)

    def paths(self, cache: int = 0, run: int = 0, eval_dump: int = 0) -> ArtifactPaths:
        """The artifacts of one selection (indices into the lists)."""
        chosen = self.runs[run] if self.runs else Run("none")
        return ArtifactPaths(
            cache=self.caches[cache] if self.caches else None,
            checkpoint=chosen.checkpoint,
            log=chosen.log,
            eval=self.evals[eval_dump] if self.evals else None,
        )


def _walk(root: Path) -> list[Path]:
    found: list[Path] = []
    root_depth = len(root.parts)
    for folder, dirs, files in os.walk(root):
        depth = len(Path(folder).parts) - root_depth
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS and depth < MAX_DEPTH
        )
        found.extend(Path(folder) / f for f in sorted(files) if not f.startswith("."))
    return found


def discover(root: Path | None = None) -> Discovered:
    """Caches (`datasets/*/*_timing.pt` and the like), runs and eval dumps under `root`."""
    root = (root or Path.cwd()).resolve()
    files = _walk(root)
    caches = [
        f for f in files if f.name.endswith(("_timing.pt", "_timing.npz", "_timing.safetensors"))
    ]
    runs: dict[Path, Run] = {}
    for f in files:
        if f.name in CHECKPOINT_NAMES or f.name in LOG_NAMES:
            run = runs.setdefault(f.parent, Run(name=_run_name(root, f.parent)))
            if f.name in CHECKPOINT_NAMES and run.checkpoint is None:
                run.checkpoint = f
            elif f.name in LOG_NAMES and run.log is None:
                run.log = f
    evals = [
        f
        for f in files
        if f.suffix in EVAL_SUFFIXES and "eval" in f.name.lower() and f not in caches
    ]
    return Discovered(root=root, caches=caches, runs=list(runs.values()), evals=evals)


def _run_name(root: Path, folder: Path) -> str:
    try:
        return str(folder.relative_to(root))
    except ValueError:
        return folder.name


def sample_data() -> Discovered:
    """The bundled sample data, with the `linear` run first (SPEC 5)."""
    found = discover(sample_data_dir())
    found.runs.sort(key=lambda run: (run.name.split("/")[-1] != "linear", run.name))
    found.is_sample = True
    return found


def discover_or_sample(root: Path | None = None) -> Discovered:
    """What timing-tui opens when given no artifact options."""
    found = discover(root)
    return sample_data() if found.empty else found
