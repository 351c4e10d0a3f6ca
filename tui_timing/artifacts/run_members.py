"""What makes one training's run, and which of its checkpoints and logs is taken.

A trainer writes one run's outputs under one folder, in sub-folders of its habit: its
checkpoints in `ckpt/`, `checkpoints/` or one folder per save (`checkpoint-500/`,
`step_500/`: HuggingFace's, each one checkpoint), its logs in `logs/`, `tb/`,
`lightning_logs/version_0/`. The run's folder is found from a checkpoint by climbing out
of those folders; every log and eval dump below it is the run's. Of several checkpoints
the one taken is the final-named one, else the highest step in the names, else the newest
file; of several logs the richest form. Each choice is an assumption with its source, so
that a wrong one is seen and overridden by naming the file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from tui_timing.artifacts.checkpoint_folder import INDEX_FILES, WEIGHT_FILES
from tui_timing.findings import Assumption

#: Folders a checkpoint sits in below its run's folder.
CHECKPOINT_FOLDERS = {"ckpt", "ckpts", "checkpoint", "checkpoints", "epochs", "weights"}
#: One folder per saved checkpoint (`checkpoint-500`, `step_500`, `epoch=3`, `global_step500`).
STEP_FOLDER = re.compile(r"^(checkpoint|ckpt|step|steps|global_step|iter|epoch)[-_=]?\d+$", re.I)
#: Folders a log sits in below its run's folder (loggers' own, and a split's sub-folder).
LOG_FOLDER = re.compile(
    r"^(lightning_logs|version_\d+|tensorboard|tb|tb_logs|tblogs|csv_logs|logs|log|metrics"
    r"|train|val|valid|validation|eval|test)$"
)
#: Checkpoint names that mean "the final one" when a run has several.
FINAL_NAMES = ("checkpoint.pt", "last.ckpt", "last.pt", "final.pt", "model.pt", "timing_head.pt")
#: The weights files (and shard indexes) that make their folder one HuggingFace-style
#: checkpoint, and the shards' names.
HF_WEIGHTS = (*WEIGHT_FILES, *INDEX_FILES)
_HF_SHARD = re.compile(r"^(model|pytorch_model)-\d+-of-\d+\.(safetensors|bin)$")
#: Log forms in order of preference when a run has several (the richest first).
LOG_ORDER = ("JSONL", "CSV", "TensorBoard", "trainer_state", "text")
_STEP = re.compile(
    r"(?:^|[^a-z])(?:global_step|step|steps|iter|iteration|checkpoint|ckpt)[-_=]?(\d+)", re.I
)
_EPOCH = re.compile(r"(?:^|[^a-z])epoch[-_=]?(\d+)", re.I)
#: What the user writes to take another file than the one discovery took.
_OVERRIDE = 'name another with {option} PATH, or {key} = "PATH" in [tool.timing-tui]'


def checkpoint_unit(path: Path) -> Path:
    """The checkpoint a weights file is part of: its folder when that is a HuggingFace-style
    checkpoint folder (`model.safetensors` or shards with their index), else the file."""
    if path.name in HF_WEIGHTS or _HF_SHARD.match(path.name):
        return path.parent
    return path


def run_folder(root: Path, checkpoint: Path) -> Path:
    """The run folder of a checkpoint: its folder, above the checkpoint folders and the
    one-folder-per-save folders it sits in (never above `root`)."""
    folder = checkpoint.parent
    while folder != root and (folder.name in CHECKPOINT_FOLDERS or STEP_FOLDER.match(folder.name)):
        folder = folder.parent
    return folder


def owning_run(root: Path, path: Path, runs: set[Path]) -> Path | None:
    """The run folder a log or eval dump lies in: the nearest of `runs` above it. The root
    as a run owns only what lies in it directly or in log folders (a checkpoint at the top
    of a repository does not make every log of the repository its own)."""
    folder = path.parent
    through_logs = True
    while True:
        if folder in runs and (folder != root or through_logs):
            return folder
        if folder == root or folder.parent == folder:
            return None
        through_logs = through_logs and bool(LOG_FOLDER.match(folder.name))
        folder = folder.parent


def log_only_run(root: Path, path: Path) -> Path:
    """The run folder of a log no checkpoint run holds: its folder, above the log folders."""
    folder = path.parent
    while folder != root and LOG_FOLDER.match(folder.name):
        folder = folder.parent
    return folder


def step_of(checkpoint: Path) -> int | None:
    """The step (else the epoch) a checkpoint's name says it was saved at, or its folder's
    when that folder is one save (`checkpoint-500/model.safetensors`); None when neither
    says (a run folder's number, `run3/`, is not a step)."""
    for pattern in (_STEP, _EPOCH):
        match = pattern.search(checkpoint.name)
        if match:
            return int(match.group(1))
    if STEP_FOLDER.match(checkpoint.parent.name):
        return step_of(checkpoint.parent)
    return None


def modified_time(path: Path) -> float:
    """The file's mtime, 0 when it cannot be read (gone since it was listed)."""
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def order_checkpoints(
    checkpoints: Sequence[Path], run: str, folder: Path
) -> tuple[list[Path], list[Assumption]]:
    """The run's checkpoints, the one taken first, and why it was taken (no assumption
    when there is only one)."""
    if len(checkpoints) < 2:
        return list(checkpoints), []
    final = [c for c in checkpoints if c.name in FINAL_NAMES]
    steps = {c: step_of(c) for c in checkpoints}
    if final:
        ordered = sorted(checkpoints, key=lambda c: (c not in final, -modified_time(c), str(c)))
        how = f"its name says it is the final one ({ordered[0].name})"
    elif None not in steps.values() and len(set(steps.values())) == len(steps):
        ordered = sorted(checkpoints, key=lambda c: (-(steps[c] or 0), str(c)))
        how = f"the highest step in the names ({steps[ordered[0]]})"
    else:
        ordered = sorted(checkpoints, key=lambda c: (-modified_time(c), str(c)))
        how = "the newest file (their names carry no distinct step numbers)"
    others = ", ".join(_relative(c, folder) for c in ordered[1:])
    override = _OVERRIDE.format(option="--checkpoint", key="checkpoint")
    source = f"run {run}: {how}; its other checkpoints: {others}; {override}"
    taken = Assumption("checkpoint", "which checkpoint", _relative(ordered[0], folder), source)
    return ordered, [taken]


def log_rank(detail: str, path: Path) -> tuple[int, float, str]:
    """Where a log of `detail` (classify's) comes among a run's logs: richest form first,
    then the newest."""
    form = next((i for i, name in enumerate(LOG_ORDER) if name in detail), len(LOG_ORDER))
    return (form, -modified_time(path), str(path))


def log_assumption(logs: Sequence[Path], run: str, folder: Path) -> list[Assumption]:
    """Why the first of a run's logs (in log_rank order) was taken, when it has several."""
    if len(logs) < 2:
        return []
    others = ", ".join(_relative(p, folder) for p in logs[1:])
    source = (
        f"run {run}: the richest form ({', '.join(LOG_ORDER)}, in that order), then the "
        f"newest; its other logs: {others}; " + _OVERRIDE.format(option="--log", key="log")
    )
    return [Assumption("log", "which log", _relative(logs[0], folder), source)]


def members_assumption(run: str, folder: Path, files: Sequence[Path]) -> Assumption:
    """Which files discovery took to be one training's run."""
    return Assumption(
        "run",
        "files of the run",
        ", ".join(_relative(p, folder) for p in files),
        f"run {run}, one training's folder ({folder}): its checkpoints, in ckpt/, "
        "checkpoints/ or one folder per save, and the logs and eval dumps anywhere below it; "
        "name the files in "
        "[tool.timing-tui] (checkpoint, log, eval) to use others",
    )


def _relative(path: Path, folder: Path) -> str:
    try:
        return str(path.relative_to(folder)) or "."
    except ValueError:
        return str(path)
