"""`timing-tui compare A B` (docs/cli.md): the sample runs both ways, two runs trained here on
real Balabit data (one with a planted fault) both ways, the JSON's shape, the scratchpad,
and how a run folder or checkpoint is resolved to its files."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner
from sample_paths import CACHE, SAMPLE

from tui_timing.artifacts.run_folder import resolve_run
from tui_timing.cli import main
from tui_timing.errors import UsageError
from tui_timing.model.train import TrainOptions, train

LINEAR = SAMPLE / "runs/linear"
INCREMENTS = SAMPLE / "runs/increments"
EVAL = SAMPLE / "eval/eval.pt"
REPORT_KEYS = {"version", "artifacts", "stages", "decision"}
CHANGE_KEYS = {"id", "a", "b", "kind", "figure_a", "figure_b"}
KINDS = {"fixed", "regressed", "same", "changed"}


@pytest.fixture(autouse=True)
def elsewhere(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each compare runs from an empty folder: discovery there finds nothing to share, so
    what another test writes meanwhile in the checkout (tests run in parallel) cannot
    become both runs' log or eval dump."""
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))


def run_compare(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["compare", *args])
    return result.exit_code, result.stdout, result.stderr


def changes_of(report: dict[str, Any], kind: str) -> list[str]:
    return [c["id"] for c in report["changes"] if c["kind"] == kind]


def change(report: dict[str, Any], check_id: str) -> dict[str, Any]:
    (found,) = [c for c in report["changes"] if c["id"] == check_id]
    return found


@pytest.fixture(scope="module")
def sample_forward_run() -> tuple[int, str, str]:
    """linear → increments on the bundled sample cache (found around the runs)."""
    return run_compare(str(LINEAR), str(INCREMENTS), "--format", "json")


@pytest.fixture(scope="module")
def sample_forward(sample_forward_run: tuple[int, str, str]) -> tuple[int, dict[str, Any]]:
    code, out, _ = sample_forward_run
    return code, json.loads(out)


#: A scratchpad kept as dated bullets under sections (as research repos keep
#: docs/task_scratchpad.md).
TASK_SCRATCHPAD = """# Task scratchpad

## In Progress
- 2025-10-22: timing head diagnosis

## Notes
- 2025-10-24: the eval re-normalizes after assigning dt?
  - check scripts/eval_diffusion.py
"""


@pytest.fixture(scope="module")
def task_scratchpad(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where sample_reverse appends its comparison (a scratchpad of dated bullets)."""
    pad = tmp_path_factory.mktemp("task") / "task_scratchpad.md"
    pad.write_text(TASK_SCRATCHPAD)
    return pad


@pytest.fixture(scope="module")
def sample_reverse(task_scratchpad: Path) -> tuple[int, dict[str, Any]]:
    code, out, _ = run_compare(
        str(INCREMENTS), str(LINEAR), "--format", "json", "--scratchpad", str(task_scratchpad)
    )
    return code, json.loads(out)


def test_sample_linear_to_increments_fixes_the_capacity(
    sample_forward: tuple[int, dict[str, Any]],
) -> None:
    code, report = sample_forward
    capacity = change(report, "model.profile_capacity")
    assert (capacity["a"], capacity["b"], capacity["kind"]) == ("fail", "pass", "fixed")
    assert "model.length_masking" in changes_of(report, "fixed")
    assert changes_of(report, "regressed") == []
    assert code == 0
    assert report["a"]["decision"]["rule"] == 4 and report["b"]["decision"]["rule"] != 4
    assert "fixed 7 (model.profile_capacity" in report["summary"]
    assert "; rule 4 (the architecture cannot fit the profile) → rule 7 (" in report["summary"]


def test_sample_increments_to_linear_regresses_it(
    sample_reverse: tuple[int, dict[str, Any]],
) -> None:
    code, report = sample_reverse
    capacity = change(report, "model.profile_capacity")
    assert (capacity["a"], capacity["b"], capacity["kind"]) == ("pass", "fail", "regressed")
    assert changes_of(report, "fixed") == []
    assert "regressed 7 (model.profile_capacity" in report["summary"]
    assert code == 1


def test_a_scratchpad_of_dated_bullets_gets_the_comparison_as_one(
    sample_reverse: tuple[int, dict[str, Any]], task_scratchpad: Path
) -> None:
    """The scratchpad habits (docs/cli.md#scratchpad) hold for compare too: one dated bullet with
    nested lines in the last section, through the same append-only function as check and the TUI's
    export."""
    _, report = sample_reverse
    text = task_scratchpad.read_text()
    assert text.startswith(TASK_SCRATCHPAD)  # append-only
    added = text[len(TASK_SCRATCHPAD) :].splitlines()
    assert re.fullmatch(
        r"- \d{4}-\d{2}-\d{2}: timing-tui comparison at \d\d:\d\d \(bundled sample data\), .+",
        added[0],
    )  # the sample's runs: marked, never read as a finding about the user's model
    assert report["summary"] in added[0]
    assert len(added) > 3 and all(line.startswith("  - ") for line in added[1:])
    assert f"  - A {INCREMENTS}: checkpoint `{INCREMENTS / 'checkpoint.pt'}`" in text
    assert any(
        line.startswith("  - stage 3 model: A pass, B fail; regressed `model.profile_capacity`")
        for line in added
    ), added
    assert "  - Verdict B, rule 4 (the architecture cannot fit the profile): " in text
    assert "## timing-tui comparison" not in text


def test_json_is_the_spec_5_object(sample_forward: tuple[int, dict[str, Any]]) -> None:
    _, report = sample_forward
    keys = {"version", "a", "b", "changes", "assumptions_differ", "summary", "project"}
    assert set(report) == keys and report["project"] is None  # no table: none named
    assert report["version"] == 1 and isinstance(report["summary"], str)
    for side in ("a", "b"):
        assert set(report[side]) >= REPORT_KEYS and report[side]["version"] == 1
        assert [s["id"] for s in report[side]["stages"]] == [1, 2, 3, 4, 5, 6, 7]
    # one cache, hashed once and named the same in both; each run its own checkpoint and log
    assert report["a"]["artifacts"]["cache"] == report["b"]["artifacts"]["cache"]
    for kind in ("checkpoint", "log"):
        assert report["a"]["artifacts"][kind]["path"].startswith(str(LINEAR))
        assert report["b"]["artifacts"][kind]["path"].startswith(str(INCREMENTS))
    checks = [c["id"] for s in report["a"]["stages"] for c in s["checks"]]
    assert [c["id"] for c in report["changes"]] == checks  # every check once, in report order
    status = {c["id"]: c["status"] for s in report["b"]["stages"] for c in s["checks"]}
    for item in report["changes"]:
        assert set(item) == CHANGE_KEYS and item["kind"] in KINDS
        assert item["b"] == status[item["id"]]
        assert item["figure_a"] is None or isinstance(item["figure_a"], str)
    padding = change(report, "model.length_masking")
    assert padding["figure_a"] != padding["figure_b"]  # the key figure moved with the fix


def test_an_eval_dump_in_neither_run_is_both_runs(
    sample_forward_run: tuple[int, str, str],
    sample_forward: tuple[int, dict[str, Any]],
    sample_reverse: tuple[int, dict[str, Any]],
) -> None:
    """The README's example: the sample's eval dump lies beside the runs, in neither run's
    folder, so both runs are diagnosed with it (stage 6 runs once) and reach the verdicts
    the TUI's compare mode reaches on the same files (tests/test_tui_compare.py)."""
    for (_, report), rules in ((sample_forward, (4, 7)), (sample_reverse, (7, 4))):
        for side in ("a", "b"):
            assert report[side]["artifacts"]["eval"]["path"] == str(EVAL.resolve())
            stage6 = next(s for s in report[side]["stages"] if s["id"] == 6)
            assert stage6["status"] == "fail", stage6
        assert (report["a"]["decision"]["rule"], report["b"]["decision"]["rule"]) == rules
    said = sample_forward_run[2]
    assert f"the eval dump {EVAL.resolve()} lies in neither run's folder: both runs use it" in said


def _without_timings(value: Any) -> Any:
    """A report's values without wall-clock seconds (the only thing a rerun may change)."""
    if isinstance(value, dict):
        return {
            k: _without_timings(v)
            for k, v in value.items()
            if k not in ("seconds", "message") and not k.startswith("time")
        }
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def test_shared_work_gives_the_results_a_run_gets_alone(
    sample_forward: tuple[int, dict[str, Any]], sample_reverse: tuple[int, dict[str, Any]]
) -> None:
    """Each sample run is A in one order (every stage its own) and B in the other (stages 1,
    2 and 6 and the probe's healthy fits taken from A): its report must not depend on that."""
    forward, reverse = sample_forward[1], sample_reverse[1]
    assert _without_timings(forward["b"]["stages"]) == _without_timings(reverse["a"]["stages"])
    assert _without_timings(forward["a"]["stages"]) == _without_timings(reverse["b"]["stages"])
    assert forward["b"]["decision"] == reverse["a"]["decision"]


@pytest.fixture(scope="module")
def balabit_runs(small_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two runs of the package's trainer on the real Balabit cache: a healthy head, and the
    same head with a planted fault (logits bounded to ±0.3, softmax over padding)."""
    root = tmp_path_factory.mktemp("runs")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        options = TrainOptions(epochs=4, seed=1)
        train(small_cache, root / "healthy", {"profile_head": "increments"}, options)
        faulty = {"profile_head": "increments", "logit_bound": 0.3, "mask_padding": False}
        train(small_cache, root / "faulty", faulty, options)
    finally:
        torch.set_num_threads(before)
    return {"healthy": root / "healthy", "faulty": root / "faulty"}


PLANTED = ("model.profile_capacity", "model.length_masking", "sampler.padding_mass")


def test_planted_fault_regresses_and_keeps_the_scratchpad(
    balabit_runs: dict[str, Path], small_cache: Path, tmp_path: Path
) -> None:
    notes = tmp_path / "scratchpad.md"
    earlier = "# My task\n\n## Notes\n\nThe eval dump is from Tuesday.\n"
    notes.write_text(earlier)
    healthy, faulty = balabit_runs["healthy"], balabit_runs["faulty"]
    code, out, err = run_compare(
        str(healthy), str(faulty), "--cache", str(small_cache), "--format", "json",
        "--scratchpad", str(notes),
    )  # fmt: skip
    report = json.loads(out)
    assert code == 1
    for check_id in PLANTED:
        assert change(report, check_id)["kind"] == "regressed", check_id
    assert report["b"]["decision"]["rule"] == 4
    text = notes.read_text()
    assert text.startswith(earlier)  # append-only: the earlier notes are kept byte for byte
    entry = text[len(earlier) :]
    assert entry.startswith("\n## timing-tui comparison ")
    assert f"`{healthy / 'checkpoint.pt'}`" in entry and f"`{small_cache}`" in entry
    # Stage 3 fails in A too: the briefly trained healthy head's σ is far wider than its
    # residual spread (model.duration_head, two-sided).
    assert "| 3 model | fail | fail | regressed `model.profile_capacity`" in entry
    assert f"- {report['summary']}" in entry
    assert "comparison appended to" in err


def test_planted_fault_fixed_in_the_other_order(
    balabit_runs: dict[str, Path], small_cache: Path
) -> None:
    faulty, healthy = balabit_runs["faulty"], balabit_runs["healthy"]
    code, out, _ = run_compare(
        str(faulty / "checkpoint.pt"), str(healthy), "--cache", str(small_cache)
    )
    lines = out.splitlines()
    for check_id in PLANTED:
        (line,) = [ln for ln in lines if f" {check_id} " in ln and ln.lstrip().startswith("[")]
        assert line.split(check_id)[0].strip() == "[FAIL] → [ok  ]", line
        assert line.split(check_id)[1].split()[0] == "fixed"
    assert "regressed 0" in out and code == 0
    assert "Stage 1 cache (Cache integrity): A " in out and "(same inputs: run once)" in out
    assert out.rstrip().endswith("Exit code 0.")


def test_markdown_names_both_runs(balabit_runs: dict[str, Path], small_cache: Path) -> None:
    healthy, faulty = balabit_runs["healthy"], balabit_runs["faulty"]
    code, out, _ = run_compare(
        str(healthy), str(faulty), "--cache", str(small_cache), "--format", "markdown"
    )
    assert code == 1
    assert out.startswith("## timing-tui comparison ")
    assert f"- A {healthy}: checkpoint `{healthy / 'checkpoint.pt'}`" in out
    assert "| `model.length_masking` | pass | fail | regressed |" in out


# -- resolving A and B, and what exits 2 ---------------------------------------------------


def test_a_run_folder_gives_its_checkpoint_log_and_eval(tmp_path: Path) -> None:
    run = tmp_path / "exp3"
    run.mkdir()
    shutil.copy(LINEAR / "checkpoint.pt", run / "checkpoint.pt")
    shutil.copy(LINEAR / "stats.jsonl", run / "stats.jsonl")
    shutil.copy(EVAL, run / "samples.pt")  # an eval dump by its content, whatever its name
    (run / "notes.txt").write_text("lr 3e-3\n")
    found = resolve_run(run, "A")
    assert (found.checkpoint, found.log, found.eval) == (
        run / "checkpoint.pt",
        run / "stats.jsonl",
        run / "samples.pt",
    )
    beside = resolve_run(run / "checkpoint.pt", "A")
    assert (beside.log, beside.eval) == (run / "stats.jsonl", run / "samples.pt")


def test_a_lightning_run_keeps_checkpoint_and_log_in_subfolders(tmp_path: Path) -> None:
    run = tmp_path / "exp4"
    (run / "ckpt").mkdir(parents=True)
    (run / "version_0").mkdir()
    shutil.copy(INCREMENTS / "checkpoint.pt", run / "ckpt/last.ckpt")
    records = [json.loads(line) for line in (INCREMENTS / "stats.jsonl").read_text().splitlines()]
    columns = ["epoch", "split", "loss", "dur_mu", "dur_sigma", "profile_first"]
    rows = [",".join(str(r[c]) for c in columns) for r in records]
    (run / "version_0/metrics.csv").write_text("\n".join([",".join(columns), *rows]) + "\n")
    found = resolve_run(run, "B")
    assert (found.checkpoint, found.log, found.eval) == (
        run / "ckpt/last.ckpt",
        run / "version_0/metrics.csv",
        None,
    )
    in_ckpt = resolve_run(run / "ckpt/last.ckpt", "B")  # the run of the folder above ckpt/
    assert in_ckpt.log == run / "version_0/metrics.csv"


def test_runs_that_cannot_be_resolved_say_what_to_name(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"B: .*missing does not exist"):
        resolve_run(tmp_path / "missing", "B")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty/checkpoint.pt").write_text("not a checkpoint\n")
    with pytest.raises(
        UsageError, match=r"no checkpoint found in .*empty \(passed over: checkpoint.pt: cannot"
    ):
        resolve_run(tmp_path / "empty", "A")
    for name in ("one", "two"):
        shutil.copytree(LINEAR, tmp_path / "runs" / name)
    with pytest.raises(UsageError, match=r"several runs \(one, two\); name one run's folder"):
        resolve_run(tmp_path / "runs", "A")


def test_usage_errors_exit_2_before_any_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run_compare(str(tmp_path / "nope"), str(LINEAR))
    assert code == 2 and "A: " in err and "does not exist" in err
    code, _, err = run_compare(str(LINEAR), str(INCREMENTS), "--checkpoint", str(LINEAR))
    assert code == 2 and "drop --checkpoint" in err
    run = tmp_path / "project/runs/deep/run"  # no cache around it, nor under the current folder
    run.mkdir(parents=True)
    shutil.copy(LINEAR / "checkpoint.pt", run / "checkpoint.pt")
    monkeypatch.chdir(tmp_path / "project")
    code, _, err = run_compare(str(run), str(run))
    assert code == 2 and "no timing cache found" in err and "--cache" in err


def test_an_unusable_checkpoint_exits_2_naming_it(tmp_path: Path) -> None:
    """Named as a file, a checkpoint that cannot be read is loaded, fails, and the report
    says so (exit 2), as `check` does."""
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    shutil.copy(LINEAR / "checkpoint.pt", tmp_path / "a/checkpoint.pt")
    (tmp_path / "b/checkpoint.pt").write_text("not a checkpoint\n")
    code, out, _ = run_compare(
        str(tmp_path / "a/checkpoint.pt"),
        str(tmp_path / "b/checkpoint.pt"),
        "--cache",
        str(CACHE),
        "--format",
        "json",
    )
    report = json.loads(out)
    assert code == 2
    assert report["b"]["error"]["file"] == str(tmp_path / "b/checkpoint.pt")
    assert "error" not in report["a"]


def test_with_the_cache_given_no_eval_dump_is_taken_from_around_the_runs(
    tmp_path: Path,
) -> None:
    """An eval dump two folders above the runs (another project's, another test's) is not
    shared by both runs when the cache was given: what was given is what is used, as for
    `check`. (A parallel CI run picked up another test's broken dump this way: exit 2.)"""
    for name, source in (("a", LINEAR), ("b", INCREMENTS)):
        (tmp_path / "x" / name).mkdir(parents=True)
        shutil.copy(source / "checkpoint.pt", tmp_path / "x" / name / "checkpoint.pt")
    shutil.copy(EVAL, tmp_path / "someone_elses_eval.pt")
    shutil.copy(CACHE, tmp_path / "a_cache_here_timing.pt")  # makes the folder a repo
    code, out, _ = run_compare(
        str(tmp_path / "x/a"), str(tmp_path / "x/b"), "--cache", str(CACHE), "--format", "json"
    )
    report = json.loads(out)
    assert "eval" not in report["a"]["artifacts"] and "eval" not in report["b"]["artifacts"]
    assert code in (0, 1)
