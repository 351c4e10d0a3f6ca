"""Discovery by content (docs/artifacts.md#your-own-repo): a research repo laid out at test time
from real files (a real Lightning run on real Balabit rows, a cache and an eval dump under the
user's own key names), with the clutter such repos hold beside them.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from sample_paths import CACHE as SAMPLE_CACHE
from sample_paths import SAMPLE

from tui_timing.artifacts.cache import as_timing_cache, load_cache
from tui_timing.artifacts.discovery import Discovered, discover, discover_or_sample
from tui_timing.artifacts.gitignore import ignored_by, parse, read_patterns
from tui_timing.artifacts.peek import MAX_PICKLE_BYTES
from tui_timing.cli import main
from tui_timing.config import Settings
from tui_timing.data.eval_dump_maker import disjoint_halves, real_sequences
from tui_timing.model.train import TrainOptions, train
from tui_timing.report.discovery import discovery_text


def _user_cache(cache: Path, path: Path) -> None:
    """The real cache under the names of the issue's repo, as an .npz."""
    c = as_timing_cache(load_cache(cache))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        durations_s=c.duration.numpy(),
        dt_profile=c.profile.numpy(),
        valid=c.mask.numpy(),
        lengths=c.length.numpy(),
        cond=c.features.numpy(),
    )


def _user_eval(sessions: list[Path], path: Path) -> None:
    real, fake = disjoint_halves(real_sequences(sessions[:1]), seed=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        gt_xy=real.xy,
        gt_dt=real.dt,
        gt_mask=real.mask,
        gen_xy=fake.xy,
        gen_dt=fake.dt,
        gen_mask=fake.mask,
    )


class Harmless:
    """A pickled object whose reduction would create a file if it were ever unpickled."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.target}",))


@pytest.fixture(scope="module")
def repo(
    lightning_run: Any, small_cache: Path, small_sessions: list[Path], tmp_path_factory: Any
) -> Path:
    """The repo: `runs/exp3` (ckpt/, version_0/ CSV, version_1/ TensorBoard, stats.jsonl),
    `data/processed/bb/train.npz`, `eval/samples.npz`, and clutter."""
    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(lightning_run.run, root / "runs" / "exp3")
    _user_cache(small_cache, root / "data/processed/bb/train.npz")
    _user_eval(small_sessions, root / "eval/samples.npz")
    (root / "data/raw").mkdir(parents=True)
    np.savez(root / "data/raw/features.npz", x=np.zeros((4, 3)), y=np.ones(4))
    torch.save(torch.nn.Linear(3, 2), root / "data/raw/whole_model.pt")
    (root / "notes.csv").write_text("name,value\nlr,3e-3\n")
    (root / "outputs").mkdir()
    (root / "outputs/main.log").write_text("[2025-10-24 12:00:00,001][train][INFO] - start\n")
    (root / "evil.pt").write_bytes(pickle.dumps(Harmless(str(root / "PWNED")), protocol=2))
    for hidden in (".git/objects", ".venv/lib"):
        (root / hidden).mkdir(parents=True)
        torch.save({"state_dict": {"a.weight": torch.zeros(2)}}, root / hidden / "x.pt")
    (root / "venv/lib/site-packages/pkg").mkdir(parents=True)
    (root / "venv/pyvenv.cfg").write_text("home = /usr\n")
    torch.save({"durations": torch.ones(3), "profiles": torch.ones(3, 2)}, root / "venv/c.pt")
    return root


def _reasons(found: Discovered, root: Path) -> dict[str, str]:
    return {str(p.path.relative_to(root)): p.reason for p in found.passed_over}


def test_a_lightning_repo_is_one_run_with_its_cache_and_eval(repo: Path) -> None:
    found = discover(repo)
    (run,) = found.runs
    assert run.name == "runs/exp3"
    assert run.checkpoint == repo / "runs/exp3/ckpt/last.ckpt"
    assert run.log == repo / "runs/exp3/stats.jsonl"  # the JSONL the callback wrote
    others = {str(p.relative_to(repo / "runs/exp3")) for p in run.others}
    assert {"version_0/metrics.csv"} <= others
    assert any(o.startswith("ckpt/epoch=") for o in others)
    assert any(o.startswith("version_1/events.out.tfevents") for o in others)
    assert found.caches == [repo / "data/processed/bb/train.npz"]
    assert found.evals == [repo / "eval/samples.npz"]
    assert found.paths().given().keys() == {"cache", "checkpoint", "log", "eval"}
    kinds = {str(f.path.relative_to(repo)): f.kind for f in found.found}
    assert kinds["data/processed/bb/train.npz"] == "cache"
    assert kinds["eval/samples.npz"] == "eval"


def test_what_is_passed_over_says_why(repo: Path) -> None:
    found = discover(repo)
    reasons = _reasons(found, repo)
    assert reasons["data/raw/features.npz"] == "no timing keys (found x, y)"
    assert "pickled torch.nn.modules.linear.Linear object" in reasons["data/raw/whole_model.pt"]
    assert "no known column (found name, value)" in reasons["notes.csv"]
    assert "log_patterns" in reasons["outputs/main.log"]
    assert reasons["venv"] == "a virtual environment"
    assert reasons["evil.pt"] == "a pickled posix.system object, not a dict of tensors"
    assert not (repo / "PWNED").exists()  # read as data: nothing was called
    assert "2 hidden folders not searched" in found.notes


def test_without_the_callbacks_log_the_run_reads_lightnings_csv(repo: Path, tmp_path: Path) -> None:
    shutil.copytree(repo / "runs", tmp_path / "runs")
    (tmp_path / "runs/exp3/stats.jsonl").unlink()
    (run,) = discover(tmp_path).runs
    assert run.log == tmp_path / "runs/exp3/version_0/metrics.csv"
    (tmp_path / "runs/exp3/version_0/metrics.csv").unlink()
    (run,) = discover(tmp_path).runs
    assert run.log is not None and run.log.name.startswith("events.out.tfevents")


def test_lightnings_default_layout_is_one_run_per_version(repo: Path, tmp_path: Path) -> None:
    """`lightning_logs/version_N/{checkpoints/, metrics.csv}` without a dirpath: each
    version is a run of its own."""
    source = repo / "runs/exp3"
    for version in (0, 1):
        folder = tmp_path / "lightning_logs" / f"version_{version}"
        (folder / "checkpoints").mkdir(parents=True)
        shutil.copy(source / "ckpt/last.ckpt", folder / "checkpoints/epoch=2-step=21.ckpt")
        shutil.copy(source / "version_0/metrics.csv", folder / "metrics.csv")
    found = discover(tmp_path)
    assert [r.name for r in found.runs] == ["lightning_logs/version_0", "lightning_logs/version_1"]
    assert all(r.log is not None and r.log.parent == r.folder for r in found.runs)


def test_the_trainers_own_run_and_its_epoch_checkpoints_are_one_run(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE / "runs/increments", tmp_path / "runs/inc")
    (tmp_path / "runs/inc/epochs").mkdir()
    shutil.copy(tmp_path / "runs/inc/checkpoint.pt", tmp_path / "runs/inc/epochs/epoch_0010.pt")
    (run,) = discover(tmp_path).runs
    assert run.checkpoint == tmp_path / "runs/inc/checkpoint.pt"
    assert run.others == [tmp_path / "runs/inc/epochs/epoch_0010.pt"]


def test_a_users_dataclass_config_checkpoint_is_a_checkpoint(tmp_path: Path) -> None:
    """Saved with torch.save and a dataclass config (weights_only would refuse it): its
    structure is read without importing the user's module."""
    script = (
        "import dataclasses, torch, sys\n"
        "@dataclasses.dataclass\n"
        "class TimingModelConfig:\n"
        "    hidden: int = 64\n"
        "    logsigma_floor: float = -3.0\n"
        "head = torch.nn.Linear(4, 2)\n"
        "state = {f'duration_head.{k}': v for k, v in head.state_dict().items()}\n"
        "torch.save({'model': state, 'config': TimingModelConfig()}, sys.argv[1])\n"
    )
    path = tmp_path / "outputs/2025-10-24/12-00-00/timing.pt"
    path.parent.mkdir(parents=True)
    subprocess.run([sys.executable, "-c", script, str(path)], check=True)
    (found,) = discover(tmp_path).found
    assert found.kind == "checkpoint" and found.timing
    assert "config __main__.TimingModelConfig" in found.detail


def test_text_logs_are_logs_when_log_patterns_exist(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "main.log").write_text(
        "[2025-10-24 12:00:00,001][train][INFO] - epoch 1 train loss=0.9 dur_sigma=0.5\n"
    )
    settings = Settings(log_patterns=({"pattern": r"epoch (?P<epoch>\d+) (?P<fields>.*)"},))
    (run,) = discover(tmp_path, settings).runs
    assert run.log == tmp_path / "main.log"
    assert discover(tmp_path).runs == []


def test_a_fifo_does_not_block_discovery(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "stream.pt")
    os.mkfifo(tmp_path / "stats.jsonl")
    found = discover(tmp_path)
    assert set(_reasons(found, tmp_path).values()) == {"not a regular file"}


def test_large_files_are_classified_from_their_headers(tmp_path: Path) -> None:
    """A 400 MB checkpoint and an 800 MB .npz are classified without reading their data:
    the process doing it stays far below their size in memory (its own high-water mark,
    VmHWM: ru_maxrss would carry the forking parent's)."""
    make = (
        "import sys, numpy as np, torch\n"
        "root = sys.argv[1]\n"
        "weights = {'duration.weight': torch.zeros(100_000_000)}\n"
        "torch.save({'state_dict': weights}, root + '/big.pt')\n"
        "del weights\n"
        "rows = np.zeros((100_000, 1000))\n"
        "np.savez(root + '/big.npz', durations=np.ones(100_000), profiles=rows,\n"
        "         features=np.zeros((100_000, 4)))\n"
    )
    subprocess.run([sys.executable, "-c", make, str(tmp_path)], check=True)
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from tui_timing.artifacts.discovery import discover\n"
        "found = discover(Path(sys.argv[1]))\n"
        "print(sorted(f.kind for f in found.found))\n"
        "status = Path('/proc/self/status').read_text().split('VmHWM:')[1]\n"
        "print(int(status.split()[0]) // 1024)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, check=True
    )
    kinds, peak_mb = done.stdout.splitlines()
    assert kinds == "['cache', 'checkpoint']"
    assert int(peak_mb) < 400, f"{peak_mb} MB to classify a 400 MB and an 800 MB file"


def test_a_pickle_record_past_its_cap_is_passed_over_unread(tmp_path: Path) -> None:
    """Discovery reads a torch file's `data.pkl` record to classify it, up to a cap: a
    checkpoint whose pickle holds 64 MB and one byte more (a blob of notes) is passed over
    saying so, where a read without the cap would take the whole record and call the file
    a checkpoint; one byte less and it is one."""
    weights = {"duration.weight": torch.zeros(4), "profile.weight": torch.zeros(4)}

    def save(name: str, notes: bytes) -> int:
        """The size of the file's pickle record."""
        torch.save({"state_dict": weights, "notes": notes}, tmp_path / name)
        with zipfile.ZipFile(tmp_path / name) as archive:
            (size,) = [i.file_size for i in archive.infolist() if i.filename.endswith(".pkl")]
        return size

    # the pickle's bytes around a blob (one over 255 bytes has the opcode a large one has)
    around = save("at_cap.pt", b"x" * 1000) - 1000
    for name, extra in (("at_cap.pt", 0), ("past_cap.pt", 1)):
        notes = b"x" * (MAX_PICKLE_BYTES + extra - around)
        assert save(name, notes) == MAX_PICKLE_BYTES + extra
    found = discover(tmp_path)
    assert [f.path.name for f in found.found] == ["at_cap.pt"]
    assert _reasons(found, tmp_path)["past_cap.pt"].endswith(
        f"its pickle is over {MAX_PICKLE_BYTES >> 20} MB)"
    )


# --- what `check` shows ---------------------------------------------------------------------


def test_check_shows_what_was_found_and_passed_over(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    result = CliRunner().invoke(main, ["check", "--stage", "1"])
    out = result.stdout
    assert "Discovery in" in out and "run runs/exp3: checkpoint runs/exp3/ckpt/last.ckpt" in out
    assert "cache data/processed/bb/train.npz: timing cache (durations_s" in out
    assert "eval eval/samples.npz: eval dump (gt / gen)" in out
    assert "data/raw/features.npz: no timing keys (found x, y)" in out
    assert "venv: a virtual environment" in out
    json_run = CliRunner().invoke(main, ["check", "--stage", "1", "--format", "json"])
    report = json.loads(json_run.stdout)  # discovery goes beside it, not into it
    assert report["artifacts"]["cache"]["path"] == str(repo / "data/processed/bb/train.npz")
    assert "Discovery in" in json_run.stderr


def test_an_empty_folder_opens_the_sample_and_says_what_it_passed_over(tmp_path: Path) -> None:
    (tmp_path / "weights.npz").write_bytes(b"not a zip")
    found = discover_or_sample(tmp_path)
    assert found.is_sample and found.caches == [SAMPLE_CACHE.resolve()]
    assert [p.path.name for p in found.passed_over] == ["weights.npz"]
    assert found.notes[0] == f"nothing usable found in {tmp_path.resolve()}"


def test_symlinked_run_folders_are_followed_once_each(tmp_path: Path) -> None:
    """`runs/` linked to a data disk was skipped silently (and `check` fell back to the
    bundled sample data); a link back up the tree must not loop."""
    disk = tmp_path / "disk"
    shutil.copytree(SAMPLE / "runs" / "linear", disk / "runs" / "linear")
    project = tmp_path / "project"
    project.mkdir()
    (project / "runs").symlink_to(disk / "runs")
    (disk / "runs" / "linear" / "up").symlink_to(project)  # a loop through the link
    found = discover(project)
    assert [run.name for run in found.runs] == ["runs/linear"]
    assert found.runs[0].checkpoint == project / "runs/linear/checkpoint.pt"
    reasons = _reasons(found, project)
    assert reasons["runs/linear/up"] == "a link to a folder already searched: not searched again"


def test_discovery_past_its_time_budget_lists_what_it_did_not_examine(tmp_path: Path) -> None:
    shutil.copy(SAMPLE_CACHE, tmp_path / "train_timing.pt")
    found = discover(tmp_path, budget_s=0.0)
    assert found.empty and found.missed
    assert _reasons(found, tmp_path)["train_timing.pt"].startswith("not examined (discovery")
    assert "1 more files were not examined" in found.notes[0]


def test_check_never_stands_the_sample_data_in_for_the_users_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder whose only tensor file cannot be read ran `check` on the sample, exit 0."""
    (tmp_path / "weights.npz").write_bytes(b"not a zip")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["check", "--stage", "1"])
    assert result.exit_code == 2, result.output
    assert "weights.npz: cannot be read" in result.stderr
    assert "none usable found in" in result.stderr and "passed over" in result.stderr


# --- the checkout, build output and .gitignore ------------------------------------------------


def test_in_the_checkout_the_sample_opens_on_the_linear_run() -> None:
    """`timing-tui` in the checkout finds the bundled sample and shows it as the sample: the
    broken `linear` run first, as in an empty folder (the quick start's promise)."""
    found = discover_or_sample(SAMPLE.parent)
    assert found.is_sample
    assert found.runs[0].name.split("/")[-1] == "linear"
    assert found.paths().checkpoint == (SAMPLE / "runs/linear/checkpoint.pt").resolve()
    assert not any(p.path.name == "__pycache__" for p in found.passed_over)


def test_build_output_is_skipped_and_git_ignored_copies_rank_last(tmp_path: Path) -> None:
    """A checkout after `pip install .` (build/lib copies), a git-ignored copy of a run and
    byte-code caches: the kept run is the default, build/ is passed over once, __pycache__
    not at all."""
    shutil.copytree(SAMPLE / "runs/linear", tmp_path / "runs/linear")
    shutil.copytree(SAMPLE / "runs/increments", tmp_path / "build/lib/pkg/runs/increments")
    shutil.copytree(SAMPLE / "runs/increments", tmp_path / "old/copy/increments")
    shutil.copytree(SAMPLE / "runs/increments", tmp_path / "dist/increments")
    (tmp_path / "pkg/__pycache__").mkdir(parents=True)
    (tmp_path / ".gitignore").write_text("# copies\n/old/\n*.tmp\n!keep.tmp\n")
    found = discover(tmp_path)
    assert [run.name for run in found.runs] == ["runs/linear", "old/copy/increments"]
    assert found.ignored == {
        tmp_path / "old/copy/increments/checkpoint.pt",
        tmp_path / "old/copy/increments/stats.jsonl",
    }
    reasons = _reasons(found, tmp_path)
    assert reasons == {
        "build": "build output (copies of the checkout's files)",
        "dist": "build output (packages of the checkout)",
    }
    text = discovery_text(found, tmp_path)
    assert "run old/copy/increments: checkpoint" in text and "(git-ignored: listed after" in text
    assert "run runs/linear: checkpoint runs/linear/checkpoint.pt, log" in text


@pytest.mark.parametrize(
    ("line", "path", "is_dir", "ignored"),
    [
        ("build/", "build", True, True),
        ("build/", "build", False, False),  # a trailing slash: folders only
        ("build/", "src/build", True, True),  # no inner slash: at any depth
        ("/build", "src/build", True, False),  # anchored
        ("*.pt", "runs/a/checkpoint.pt", False, True),
        ("runs/*.pt", "runs/a/checkpoint.pt", False, False),  # * stays within one name
        ("runs/**/*.pt", "runs/a/b/checkpoint.pt", False, True),
        ("**/ckpt", "x/y/ckpt", True, True),
        ("logs/**", "logs/a/b.csv", False, True),
        ("ckpt_?.pt", "ckpt_1.pt", False, True),
        ("ckpt_[0-9].pt", "ckpt_a.pt", False, False),
    ],
)
def test_gitignore_patterns(line: str, path: str, is_dir: bool, ignored: bool) -> None:
    base = Path("/repo")
    pattern = parse(base, line)
    assert pattern is not None
    assert (ignored_by([pattern], base / path, is_dir) is not None) is ignored


def test_gitignore_negation_comments_and_nesting(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("# runs are local\n\n*.pt\n!keep.pt\n")
    rules = read_patterns(tmp_path)
    assert [r.text for r in rules] == ["*.pt", "!keep.pt"]
    assert ignored_by(rules, tmp_path / "a/x.pt", False) is not None
    assert ignored_by(rules, tmp_path / "a/keep.pt", False) is None  # the last match decides
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub/.gitignore").write_text("!x.pt\n")
    nested = [*rules, *read_patterns(tmp_path / "sub")]
    assert ignored_by(nested, tmp_path / "sub/x.pt", False) is None  # the deeper file wins
    assert ignored_by(nested, tmp_path / "x.pt", False) is not None
    assert read_patterns(tmp_path / "none") == []


def test_a_raw_summary_beside_a_cache_named_otherwise_is_paired_and_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`data/cache.pt` beside `data/train_summary.json`, the only summary there, is paired
    (and `check` says so); with two summaries none is, and the skip names them and why."""
    (tmp_path / "data").mkdir()
    shutil.copy(SAMPLE_CACHE, tmp_path / "data/cache.pt")
    shutil.copy(SAMPLE / "datasets/sample/train_summary.json", tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["check", "--stage", "1", "--format", "json"])
    report = json.loads(result.stdout)
    summary = tmp_path.resolve() / "data/train_summary.json"  # discovery's paths are absolute
    assert report["artifacts"]["raw_summary"]["path"] == str(summary)
    vs_raw = next(c for c in report["stages"][0]["checks"] if c["id"] == "cache.vs_raw")
    assert vs_raw["status"] == "pass"
    assert f"raw summary {summary}: the only one beside cache.pt" in result.stderr
    read_as = {a["what"]: a for a in report["assumptions"]}  # in the report, not stderr alone
    assert read_as["raw summary"]["value"] == str(summary)
    assert "whose name does not follow <split>_timing.pt" in read_as["raw summary"]["source"]
    shutil.copy(tmp_path / "data/train_summary.json", tmp_path / "data/val_summary.json")
    result = CliRunner().invoke(main, ["check", "--stage", "1", "--format", "json"])
    report = json.loads(result.stdout)
    assert "raw_summary" not in report["artifacts"]
    vs_raw = next(c for c in report["stages"][0]["checks"] if c["id"] == "cache.vs_raw")
    assert vs_raw["status"] == "skip"
    assert (
        "cache_summary.json does not exist and beside it are train_summary.json, "
        "val_summary.json (none is named after it); name one with --raw-summary"
    ) in vs_raw["message"]


def test_a_run_trained_on_the_sample_resumes_with_its_cache(tmp_path: Path) -> None:
    """After an action trained `runs/linear-increments` on the sample cache in an empty
    folder, the next launch there finds that run with the cache it was trained on (named in
    its checkpoint) and the sample's runs and eval dump that were open before; a checkpoint
    that records only the cache's sha256 finds the sample cache by it."""
    run = tmp_path / "runs/linear-increments"
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(SAMPLE_CACHE, run, {"profile_head": "increments"}, TrainOptions(epochs=1))
    finally:
        torch.set_num_threads(before)
    found = discover_or_sample(tmp_path)
    names = [r.name for r in found.runs]
    assert names[0] == "runs/linear-increments" and names[1].endswith("linear")
    assert found.caches == [SAMPLE_CACHE.resolve()]
    paths = found.paths()
    assert paths.checkpoint == run.resolve() / "checkpoint.pt"
    assert paths.cache == SAMPLE_CACHE.resolve()
    assert paths.eval == (SAMPLE / "eval/eval.pt").resolve()
    assert "runs/linear-increments was trained on" in discovery_text(found, tmp_path)
    checkpoint = torch.load(run / "checkpoint.pt", weights_only=True)
    del checkpoint["config"]["cache_path"]  # as written before the path was recorded
    torch.save(checkpoint, run / "checkpoint.pt")
    assert discover_or_sample(tmp_path).caches == [SAMPLE_CACHE.resolve()]


def test_init_names_files_kept_under_unknown_keys_and_the_key_map_to_write(
    tmp_path: Path,
) -> None:
    """A cache saved under the user's own key names is not recognised (no guess), but init
    says which files it passed over, with their keys, and the table lines that read them;
    before, it said no cache existed and to build one."""
    from tui_timing.report.init_table import infer_table

    folder = tmp_path / "data/cache"
    folder.mkdir(parents=True)
    np.savez(folder / "bb_train.npz", seg_dur=np.ones(3), step_frac=np.ones((3, 4)) / 4)
    lines = infer_table(tmp_path).text(tmp_path).splitlines()
    (cache,) = [line for line in lines if line.startswith('# cache = "..."')]
    assert "data/cache/bb_train.npz (found seg_dur, step_frac)" in cache
    assert "[tool.timing-tui.keys.cache]" in cache and "build-cache" not in cache
    (evaluation,) = [line for line in lines if line.startswith('# eval = "..."')]
    assert "[tool.timing-tui.keys.eval]" in evaluation
