"""Stats logs in the forms researchers' training loops write (docs/artifacts.md#stats-log), each
written by the real writer: Lightning's CSVLogger and TensorBoardLogger, torch's SummaryWriter, the
`tensorboard` package's own event writer, Python `logging`; and the refusals that name
what to fix.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner
from sample_paths import REPO

from tui_timing.artifacts.stats_log import load_stats_log
from tui_timing.cli import main
from tui_timing.config import Settings
from tui_timing.errors import ArtifactError
from tui_timing.model.train import TrainOptions, train

SAMPLE_LOG = REPO / "sample_data/runs/increments/stats.jsonl"
SAMPLE_CACHE = REPO / "sample_data/datasets/sample/train_timing.pt"


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- Lightning and TensorBoard, from a real run --------------------------------------------


def test_lightning_tensorboard_events_read_like_its_metrics_csv(lightning_run: Any) -> None:
    """The TensorBoardLogger's event file (a folder or the file) holds the same epoch
    figures as the CSVLogger's metrics.csv; `epoch` scalars give the epoch, `_step` values
    are not figures."""
    from_csv = load_stats_log(lightning_run.metrics_csv)
    (event_file,) = lightning_run.events_dir.glob("events.out.tfevents.*")
    for source in (lightning_run.events_dir, event_file):
        events = load_stats_log(source)
        assert events.format == "tensorboard"
        assert events.splits == ["train", "val"]
        assert events.columns == {"loss", "dur_mu", "dur_sigma", "time"}
        for split in ("train", "val"):
            for key in ("loss", "dur_mu", "dur_sigma"):
                epochs, values = events.series(split, key)
                assert epochs == list(range(lightning_run.epochs))
                assert values == pytest.approx(from_csv.series(split, key)[1], rel=1e-6)


def test_summary_writer_scalars_under_any_prefix_match_tensorboards_reader(
    tmp_path: Path,
) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    logged = records(SAMPLE_LOG)
    writer = SummaryWriter(tmp_path)
    writer.add_image("noise", torch.rand(3, 700, 700), 0)  # a record over 1 MB: seeked past
    for record in logged:
        split, epoch = record["split"], record["epoch"]
        writer.add_scalar(f"timing/{split}/dur_sigma", record["dur_sigma"], epoch)
        writer.add_scalar(f"loss/{split}", record["loss"], epoch)
        writer.add_scalar(f"{split}_profile_first", record["profile_first"], epoch)
        writer.add_scalar("lr", 3e-3, epoch)
        writer.add_histogram("weights", torch.randn(500), epoch)
    writer.close()
    log = load_stats_log(tmp_path)
    reference = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0})
    reference.Reload()
    for split in ("train", "val"):
        for ours, tag in (
            ("dur_sigma", f"timing/{split}/dur_sigma"),
            ("loss", f"loss/{split}"),
            ("profile_first", f"{split}_profile_first"),
        ):
            theirs = reference.Scalars(tag)
            assert log.series(split, ours) == ([e.step for e in theirs], [e.value for e in theirs])
            assert log.series(split, ours)[1] == pytest.approx(
                [r[ours] for r in logged if r["split"] == split], rel=1e-6
            )
    assert "lr" not in log.columns


def test_tensor_scalars_as_tf2_and_the_tensorboard_package_write_them(tmp_path: Path) -> None:
    from tensorboard.compat.proto import event_pb2
    from tensorboard.plugins.scalar import summary_v2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(tmp_path))
    for epoch, sigma in enumerate((0.9, 0.7, 0.55)):
        summary = summary_v2.scalar_pb("val/dur_sigma", sigma)
        writer.add_event(event_pb2.Event(step=epoch, wall_time=1.7e9 + epoch, summary=summary))
    writer.close()
    log = load_stats_log(tmp_path)
    assert log.series("val", "dur_sigma")[0] == [0, 1, 2]
    assert log.series("val", "dur_sigma")[1] == pytest.approx([0.9, 0.7, 0.55], rel=1e-6)
    assert log.series("val", "time")[1] == [1.7e9, 1.7e9 + 1, 1.7e9 + 2]


def _event_log(tmp_path: Path) -> Path:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(tmp_path)
    for epoch in range(4):
        writer.add_scalar("val/loss", 1.0 / (epoch + 1), epoch)
    writer.close()
    (path,) = tmp_path.glob("events.out.tfevents.*")
    return path


def test_an_event_file_still_being_written_is_read_up_to_its_last_record(
    tmp_path: Path,
) -> None:
    path = _event_log(tmp_path)
    path.write_bytes(path.read_bytes()[:-7])
    log = load_stats_log(path)
    assert log.series("val", "loss")[0] == [0, 1, 2]
    assert log.ignored_last_line is not None and "cut off" in log.ignored_last_line


def test_a_damaged_event_file_names_the_record(tmp_path: Path) -> None:
    path = _event_log(tmp_path)
    data = bytearray(path.read_bytes())
    first = int.from_bytes(data[:8], "little") + 16  # the second record starts here
    data[first] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError) as caught:
        load_stats_log(path)
    assert caught.value.key == "record 2"
    assert "CRC" in caught.value.problem


# --- text logs through log_patterns ------------------------------------------------------


def _logging_run(tmp_path: Path) -> tuple[Path, Path]:
    """Train the reference head for real and log each epoch through Python `logging` the
    way a research repo's `_log_stats` does (Hydra's format: time, logger, level)."""
    log_path = tmp_path / "train.log"
    handler = logging.FileHandler(log_path)
    handler.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
    logger = logging.getLogger("mousediff.timing.train")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False

    def on_epoch(epoch: int, epochs: int, stats: dict[str, dict[str, float]]) -> None:
        logger.info("Epoch %d/%d", epoch, epochs)
        logger.info("lr now 0.003 (no figures on this line)")
        for split, figures in stats.items():
            pairs = " ".join(f"{k}={v:.9g}" for k, v in figures.items() if k != "profile_first")
            logger.info("%s | %s p0: %.9g", split, pairs, figures["profile_first"])

    try:
        result = train(
            SAMPLE_CACHE, tmp_path / "run", options=TrainOptions(epochs=3), on_epoch=on_epoch
        )
    finally:
        logger.removeHandler(handler)
        handler.close()
    return log_path, result.stats


PATTERNS = (
    {"pattern": r"Epoch (?P<epoch>\d+)/"},
    {"pattern": r"^\[(?P<time>[^\]]+)\].* - (?P<split>train|val) \| (?P<fields>.*)"},
)


def test_a_logging_text_log_reads_like_the_runs_jsonl(one_thread: None, tmp_path: Path) -> None:
    log_path, jsonl = _logging_run(tmp_path)
    settings = Settings(log_patterns=PATTERNS, keys={"log": {"profile_first": "p0"}})
    text = load_stats_log(log_path, settings)
    reference = load_stats_log(jsonl)
    assert text.format == "text"
    assert text.columns == reference.columns  # time from asctime, p0 through keys.log
    for split in ("train", "val"):
        for key in ("loss", "dur_sigma", "profile_first", "profile_last"):
            epochs, values = text.series(split, key)
            assert epochs == [1, 2, 3]
            assert values == pytest.approx(reference.series(split, key)[1], rel=1e-8)
    times = text.series("train", "time")[1]
    assert times == sorted(times) and times[0] > 1.6e9  # ISO-like asctime as POSIX seconds


def test_a_fixed_split_and_lines_without_an_epoch(tmp_path: Path) -> None:
    path = tmp_path / "main.log"
    path.write_text(
        "starting\nepoch 1\nvalidation: loss 0.9 sigma 0.5\nepoch 2\nvalidation: loss 0.8 sig"
    )
    patterns = (
        {"pattern": r"^epoch (?P<epoch>\d+)"},
        {"pattern": r"validation: loss (?P<loss>\S+) sigma (?P<dur_sigma>\S+)", "split": "val"},
    )
    log = load_stats_log(path, Settings(log_patterns=patterns))
    assert log.series("val", "loss") == ([1], [0.9])
    assert log.series("val", "dur_sigma") == ([1], [0.5])


def test_a_text_log_without_patterns_says_what_to_write(tmp_path: Path) -> None:
    path = tmp_path / "train.log"
    path.write_text("epoch 1 train loss=0.9\n")
    with pytest.raises(ArtifactError, match=r"\[\[tool.timing-tui.log_patterns\]\]\npattern ="):
        load_stats_log(path)
    with pytest.raises(ArtifactError, match="no line matches any of the 1 log_patterns"):
        load_stats_log(path, Settings(log_patterns=({"pattern": r"step (?P<loss>\S+)"},)))
    with pytest.raises(ArtifactError, match="not a regular expression") as caught:
        load_stats_log(path, Settings(log_patterns=({"pattern": r"(?P<loss>"},)))
    assert caught.value.key == "log_patterns[1]"


# --- CSV, JSONL: names, splits, times -----------------------------------------------------


def test_long_csv_with_phase_ep_iso_time_and_unknown_columns(tmp_path: Path) -> None:
    logged = records(SAMPLE_LOG)
    path = tmp_path / "history.csv"
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["ep", "phase", "lr", "loss", "dur_sigma", "time", "note"])
        for r in logged:
            phase = {"train": "training", "val": "validation"}[r["split"]]
            when = f"2025-10-24T12:{r['epoch']:02d}:00Z"
            out.writerow([r["epoch"], phase, 0.003, r["loss"], r["dur_sigma"], when, "a note"])
    log = load_stats_log(path)
    assert log.splits == ["train", "val"]
    assert log.series("val", "dur_sigma") == load_stats_log(SAMPLE_LOG).series("val", "dur_sigma")
    _, times = log.series("train", "time")
    assert times[1] - times[0] == 60.0
    assert log.columns == {"loss", "dur_sigma", "time"}


def test_wide_csv_and_a_key_map(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(
        "epoch,train_total,val_total,valid_p0,train/p0\n1,2.0,2.2,0.1,0.09\n2,1.5,1.9,0.11,0.1\n"
    )
    keys = {"log": {"loss": "total", "profile_first": "p0"}}
    log = load_stats_log(path, Settings(keys=keys))
    assert log.series("val", "loss") == ([1, 2], [2.2, 1.9])
    assert log.series("train", "profile_first") == ([1, 2], [0.09, 0.1])
    assert log.series("val", "profile_first") == ([1, 2], [0.1, 0.11])


def test_a_mapped_name_the_log_lacks_names_the_names_found(tmp_path: Path) -> None:
    path = tmp_path / "stats.jsonl"
    path.write_text(SAMPLE_LOG.read_text())
    with pytest.raises(ArtifactError) as caught:
        load_stats_log(path, Settings(keys={"log": {"profile_first": "p0"}}))
    assert caught.value.key == "p0"
    assert "names found: epoch, split, loss" in caught.value.problem


def test_jsonl_with_iso_time_string_split_aliases_and_extra_fields(tmp_path: Path) -> None:
    path = tmp_path / "stats.jsonl"
    path.write_text(
        '{"ep": 0, "stage": "valid", "loss": 1.0, "time": "2025-10-24T12:00:00+00:00", "lr": 1}\n'
        '{"ep": 1, "stage": "valid", "loss": 0.5, "time": "2025-10-24T12:00:30+00:00", "x": "y"}\n'
    )
    log = load_stats_log(path)
    assert log.series("val", "loss") == ([0, 1], [1.0, 0.5])
    assert log.series("val", "time")[1][1] - log.series("val", "time")[1][0] == 30.0


# --- refusals through the CLI (exit 2, naming file, key and problem) ------------------------


def _check_json(log: Path) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(main, ["check", "--log", str(log), "--format", "json"])
    return result.exit_code, json.loads(result.stdout)


def test_a_csv_with_no_known_column_is_unusable_naming_expected_and_found(
    tmp_path: Path,
) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,step,lr-Adam,grad_norm\n0,10,0.001,3.2\n")
    code, report = _check_json(path)
    assert code == 2
    problem = report["error"]["problem"]
    assert "expected some of loss, duration_nll" in problem
    assert "found 'epoch', 'step', 'lr-Adam', 'grad_norm'" in problem
    assert "--key log.profile_first=p0" in problem


def test_a_line_over_1_mb_is_unusable_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "stats.jsonl"
    with path.open("wb") as handle:
        handle.write(SAMPLE_LOG.read_bytes()[:2000].rsplit(b"\n", 1)[0] + b"\n")
        handle.write(b"\0" * (3 << 20))
    code, report = _check_json(path)
    assert code == 2
    assert report["error"]["key"].startswith("line ")
    assert "longer than 1 MB" in report["error"]["problem"]


# --- bounded memory ------------------------------------------------------------------------


def _peak_mb(script: str, *args: str) -> tuple[str, int]:
    """Run `script` in a fresh Python; its stdout and its own peak memory (VmHWM, MB)."""
    tail = (
        "\nfrom pathlib import Path as _P\n"
        "_s = _P('/proc/self/status').read_text().split('VmHWM:')[1]\n"
        "print(int(_s.split()[0]) // 1024)\n"
    )
    done = subprocess.run(
        ["nice", sys.executable, "-c", script + tail, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        check=True,
    )
    *out, peak = done.stdout.splitlines()
    return "\n".join(out), int(peak)


@pytest.mark.parametrize("name", ["stats.jsonl", "metrics.csv", "train.log"])
def test_a_2_gb_line_is_refused_after_reading_1_mb(tmp_path: Path, name: str) -> None:
    """A 2 GB file of zero bytes (one line; sparse, so it costs no disk) is unusable, and
    `check` says so with exit 2 naming line 1, in megabytes of memory, not gigabytes."""
    path = tmp_path / name
    with path.open("wb") as handle:
        handle.truncate(2 << 30)
    script = (
        "import json, os, sys\n"
        "from click.testing import CliRunner\n"
        "from tui_timing.cli import main\n"
        "os.chdir(sys.argv[2])\n"
        "done = CliRunner().invoke(main, ['check', '--log', sys.argv[1], '--format', 'json'])\n"
        "print(done.exit_code)\n"
        "print(json.dumps(json.loads(done.stdout)['error']))\n"
    )
    out, peak = _peak_mb(script, str(path), str(tmp_path))
    code, error = out.splitlines()
    assert code == "2"
    assert json.loads(error)["key"] == "line 1"
    assert "longer than 1 MB" in json.loads(error)["problem"]
    assert peak < 1024, f"{peak} MB to refuse a 2 GB line"


def test_a_300_mb_log_reads_in_bounded_memory(tmp_path: Path) -> None:
    """A 300 MB JSONL log costs its series, not its size: the child process reading it
    stays far below the file's size in memory (a million-line one took 3.45 GB before).
    300,000 lines padded to 1 kB each keep the size at a third of the parsing."""
    path = tmp_path / "stats.jsonl"
    pad = "x" * 740
    with path.open("w") as handle:
        for i in range(300_000):
            epoch, val = divmod(i, 2)
            handle.write(
                f'{{"epoch": {epoch}, "split": "{"val" if val else "train"}", "loss": '
                f'{1 / (epoch + 1):.12f}, "duration_nll": 0.712345678901, "profile_loss": '
                '0.237123456789, "dur_mu": -0.126543210987, "dur_sigma": 0.475223925686, '
                '"profile_first": 0.082115115344, "profile_mid": 0.000827233347, '
                f'"profile_last": 0.000076607325, "time": {i * 0.01:.3f}, "lr": 0.003, '
                f'"step": {i * 7}, "note": "{pad}"}}\n'
            )
    size = path.stat().st_size
    assert size > 300e6
    script = (  # VmHWM: the process's own peak (ru_maxrss carries the forking parent's)
        "import sys\n"
        "from pathlib import Path\n"
        "from tui_timing.artifacts.stats_log import load_stats_log\n"
        "log = load_stats_log(sys.argv[1])\n"
        "status = Path('/proc/self/status').read_text().split('VmHWM:')[1]\n"
        "print(len(log.positions), int(status.split()[0]))\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        ["nice", sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    epochs, peak_kb = map(int, done.stdout.split())
    assert epochs == 150_000
    peak_mb = peak_kb / 1024
    print(f"\n{size / 1e6:.0f} MB log: peak RSS {peak_mb:.0f} MB")
    assert peak_mb < 600, f"peak RSS {peak_mb:.0f} MB reading a {size / 1e6:.0f} MB log"
