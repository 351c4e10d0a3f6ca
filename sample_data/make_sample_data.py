"""Rebuild everything under sample_data/ (SPEC 7) from the shared Balabit sessions.

    python sample_data/make_sample_data.py [RAW_DIR]

RAW_DIR (default ../shared/data/balabit, relative to the repository) holds the sessions.

1. The cache: three real sessions of three different users, segmented with the default
   parameters into `datasets/sample/train_timing.pt` (about 2,600 rows, short and long
   paths mixed) and its raw summary.
2. Two runs of the real trainer on that cache (CPU, seed 0, so a rebuild is identical):
   - `runs/linear/`: per-step linear logits squashed by a tight logit bound (b = 0.3, so
     no two steps' shares can differ by more than e^0.6) and a softmax over all L steps,
     padding included: the mistake as researchers meet it. Its profiles go flat and the
     capacity probe fails its configuration.
   - `runs/increments/`: the healthy reference head; stages 3 and 5 pass on it.
3. The eval dump `eval/eval.pt`: real segments of the same sessions against the other
   half of them, whose Δt were re-normalized after assignment (stage 6 fails, rule 7).

Everything written stays well under 5 MB, so it ships inside the wheel.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tui_timing.data.build_cache import BuildResult, SegmentationParams, build_cache
from tui_timing.data.eval_dump_maker import renormalized_eval_dump
from tui_timing.model.train import TrainOptions, TrainResult, train

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_RAW = Path("../shared/data/balabit")

#: One session each of three users: short (user21) and long (user20, user7) paths.
SESSIONS = (
    "training_files/user21/session_7767882493.gz",
    "training_files/user20/session_7888368102.gz",
    "training_files/user7/session_1060325796.gz",
)

#: The two runs: head knobs passed to the trainer.
RUNS: dict[str, dict[str, object]] = {
    "linear": {"profile_head": "linear", "logit_bound": 0.3, "mask_padding": False},
    "increments": {"profile_head": "increments"},
}
EPOCHS = 30
#: Sequences per side of the eval dump (about 1.7 MB).
EVAL_ROWS = 500


def build_sample_cache(raw_dir: Path) -> BuildResult:
    """`datasets/sample/train_timing.pt` and `train_summary.json` from SESSIONS."""
    files = [raw_dir / name for name in SESSIONS]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise SystemExit(f"missing Balabit sessions: {', '.join(missing)}")
    return build_cache(
        raw_dir, HERE / "datasets", "sample", "train", SegmentationParams(), files=files
    )


def train_runs(cache: Path) -> dict[str, TrainResult]:
    """Train each of RUNS into `runs/<name>/` (checkpoint.pt and stats.jsonl)."""
    options = TrainOptions(epochs=EPOCHS, seed=0, device="cpu")
    return {name: train(cache, HERE / "runs" / name, head, options) for name, head in RUNS.items()}


def make_eval_dump(raw_dir: Path) -> Path:
    """`eval/eval.pt`: real segments of SESSIONS against fakes re-normalized after assignment."""
    files = [raw_dir / name for name in SESSIONS]
    return renormalized_eval_dump(HERE / "eval" / "eval.pt", files, seed=0, rows=EVAL_ROWS)


def main(argv: list[str]) -> None:
    # Relative paths are relative to the repository, and stay relative in the cache's
    # meta.source, so the shipped files do not carry this machine's folders.
    os.chdir(REPO)
    raw_dir = Path(argv[0]) if argv else DEFAULT_RAW
    built = build_sample_cache(raw_dir)
    print(f"cache: {built.cache_path} ({built.n_segments} rows from {built.n_files} sessions)")
    for name, result in train_runs(built.cache_path).items():
        final = result.final.get("val") or result.final["train"]
        print(
            f"run {name}: {result.checkpoint.parent} "
            f"(val loss {final['loss']:.4g}, first/mid/last {final['profile_first']:.4g}/"
            f"{final['profile_mid']:.4g}/{final['profile_last']:.4g})"
        )
    print(f"eval dump: {make_eval_dump(raw_dir)}")


if __name__ == "__main__":
    main(sys.argv[1:])
