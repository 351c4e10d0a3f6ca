"""Stats logs: JSONL, CSV and Lightning metrics.csv; growing files; precise refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tui_timing.artifacts.stats_log import load_stats_log
from tui_timing.errors import ArtifactError

REPO = Path(__file__).resolve().parents[1]
LOG = REPO / "sample_data/runs/increments/stats.jsonl"


def test_the_trainers_log_reads_back() -> None:
    log = load_stats_log(LOG)
    assert log.format == "jsonl"
    assert log.splits == ["train", "val"]
    epochs, loss = log.series("val", "loss")
    assert epochs == list(range(1, 31))
    assert loss[-1] < loss[0]
    assert log.ignored_last_line is None


def test_a_half_written_last_line_is_ignored_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "stats.jsonl"
    path.write_text(LOG.read_text() + '{"epoch": 31, "split": "train", "lo')
    log = load_stats_log(path)
    assert log.positions[-1] == 30
    assert log.ignored_last_line is not None and "line 61" in log.ignored_last_line


def test_a_broken_line_in_the_middle_is_an_error(tmp_path: Path) -> None:
    text = LOG.read_text().splitlines()
    text[4] = text[4][:20]
    path = tmp_path / "stats.jsonl"
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(ArtifactError) as caught:
        load_stats_log(path)
    assert caught.value.key == "line 5"


def test_a_number_written_as_a_string_names_line_and_key(tmp_path: Path) -> None:
    records = [json.loads(line) for line in LOG.read_text().splitlines()]
    records[2]["dur_sigma"] = "0.41"
    path = tmp_path / "stats.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    with pytest.raises(ArtifactError) as caught:
        load_stats_log(path)
    assert caught.value.key == "dur_sigma"
    assert "line 3" in caught.value.problem and "'0.41'" in caught.value.problem


def test_csv_with_the_same_columns(tmp_path: Path) -> None:
    records = [json.loads(line) for line in LOG.read_text().splitlines()]
    columns = list(records[0])
    rows = [",".join(str(r[c]) for c in columns) for r in records]
    path = tmp_path / "stats.csv"
    path.write_text(",".join(columns) + "\n" + "\n".join(rows) + "\n")
    log = load_stats_log(path)
    assert log.format == "csv"
    assert log.series("val", "profile_first") == load_stats_log(LOG).series("val", "profile_first")


def test_lightning_metrics_csv(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text(
        "epoch,step,train/loss_step,train/loss_epoch,val/loss,val/dur_sigma\n"
        "0,10,1.5,,,\n"
        "0,19,,1.4,1.6,0.5\n"
        "1,29,1.1,,,\n"
        "1,39,,1.0,1.2,0.45\n"
        "2,49,0.9,,,\n"
        "2,59,,0.8"
    )
    log = load_stats_log(path)
    assert log.format == "lightning metrics.csv"
    assert log.series("train", "loss") == ([0, 1], [1.4, 1.0])
    assert log.series("val", "dur_sigma") == ([0, 1], [0.5, 0.45])
    assert log.ignored_last_line is not None  # the last row was still being written


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "empty"),
        (b"\xff\xfe\x00garbage", "not a text log"),
        (b"[1, 2]\n", "no complete record"),
        (b'{"epoch": 1}\n', "no complete record"),
        (b'{"epoch": -1, "split": "train", "loss": 1}\n', "expected an epoch"),
    ],
)
def test_unusable_logs(tmp_path: Path, data: bytes, problem: str) -> None:
    path = tmp_path / "stats.jsonl"
    path.write_bytes(data)
    with pytest.raises(ArtifactError, match=problem):
        load_stats_log(path)


def test_a_missing_log_is_named(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="file not found"):
        load_stats_log(tmp_path / "nope.jsonl")
