"""Logs as research repos write them (docs/artifacts.md, Stats log): split prefixes in
every form (`train/`, `eval/`, HF's `eval_`), fractional epochs and step axes, `keys.log`
after the split prefix, mean log σ, HF's `trainer_state.json`, and text logs of any name.
Each log is written by the real writer (torch's SummaryWriter, json, csv) from the figures
of a real training on Balabit sessions (the sample run's stats.jsonl), and each test
asserts the values it computes itself from those figures.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from report_helpers import run_one
from sample_paths import REPO

from tui_timing.artifacts.stats_log import load_stats_log
from tui_timing.cli import main
from tui_timing.config import Settings
from tui_timing.errors import ArtifactError

SAMPLE_LOG = REPO / "sample_data/runs/increments/stats.jsonl"
SAMPLE_CACHE = REPO / "sample_data/datasets/sample/train_timing.pt"
#: The made-up HF-style run: 12 optimizer steps an epoch, a train record every 4 steps.
STEPS_PER_EPOCH = 12
LOGGING_STEPS = 4
EPOCHS = 6

Record = dict[str, Any]


def real(split: str) -> list[Record]:
    """The sample training's records of one split, epoch 1 first."""
    rows = [json.loads(line) for line in SAMPLE_LOG.read_text().splitlines()]
    return [r for r in rows if r["split"] == split]


def hf_history() -> list[Record]:
    """HF Trainer's log_history for the sample training: train records every
    LOGGING_STEPS (fractional epochs; between boundaries a loss that is not the epoch's),
    an eval record at each epoch end, and the end-of-training summary."""
    train, val = real("train"), real("val")
    history: list[Record] = []
    for step in range(LOGGING_STEPS, EPOCHS * STEPS_PER_EPOCH + 1, LOGGING_STEPS):
        epoch = step / STEPS_PER_EPOCH
        index = math.ceil(epoch) - 1
        at_boundary = step % STEPS_PER_EPOCH == 0
        loss = train[index]["loss"] * (1.0 if at_boundary else 1.5)
        history.append(
            {"loss": loss, "learning_rate": 3e-4, "epoch": round(epoch, 4), "step": step}
        )
        if at_boundary:
            history.append(
                {
                    "eval_loss": val[index]["loss"],
                    "eval_dur_sigma": val[index]["dur_sigma"],
                    "eval_runtime": 0.5,
                    "epoch": epoch,
                    "step": step,
                }
            )
    history.append(
        {"train_runtime": 12.0, "train_loss": 9.99, "epoch": float(EPOCHS), "step": step}
    )
    return history


def expected_train_loss() -> list[float]:
    return [r["loss"] for r in real("train")[:EPOCHS]]


def expected_val_loss() -> list[float]:
    return [r["loss"] for r in real("val")[:EPOCHS]]


def assumption(log: Any, what: str) -> Any:
    (found,) = [a for a in log.assumptions if a.what == what]
    return found


# --- HF: JSONL with fractional epochs, and trainer_state.json --------------------------------


@pytest.mark.parametrize("form", ["jsonl", "trainer_state", "one_line_state"])
def test_fractional_epochs_keep_each_epochs_boundary_record_and_eval_is_val(
    tmp_path: Path, form: str
) -> None:
    history = hf_history()
    if form == "jsonl":
        path = tmp_path / "log.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in history))
    elif form == "trainer_state":
        path = tmp_path / "trainer_state.json"
        path.write_text(json.dumps({"global_step": 72, "log_history": history}, indent=2))
    else:  # a copy under another name, on one line
        path = tmp_path / "state_72.json"
        path.write_text(json.dumps({"log_history": history, "global_step": 72}))
    log = load_stats_log(path)
    assert log.format == ("jsonl" if form == "jsonl" else "trainer_state.json")
    assert log.x_axis == "epoch" and log.reading.fractional
    epochs = list(range(1, EPOCHS + 1))
    assert log.series("train", "loss") == (epochs, pytest.approx(expected_train_loss()))
    assert log.series("val", "loss") == (epochs, pytest.approx(expected_val_loss()))
    # the summary's train_loss (the mean of the whole run) is not the last epoch's loss
    assert log.last("train")["loss"] == pytest.approx(expected_train_loss()[-1])
    assert any("summary" in note for note in log.notes)
    assert "holds fractional epochs" in assumption(log, "x axis").source
    assert assumption(log, "split prefixes").value == "eval_ → val"


# --- TensorBoard: train/ and eval/ at shared steps, a train/epoch scalar --------------------


def hf_events(tmp_path: Path, epoch_scalar: bool = True) -> Path:
    """The same run as HF's TensorBoard callback writes it: `train/` and `eval/` tags at the
    same global step, `train/epoch` beside them (when `epoch_scalar`)."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(tmp_path)
    for record in hf_history()[:-1]:
        step = record["step"]
        prefix = "eval/" if "eval_loss" in record else "train/"
        for key, value in record.items():
            if key in ("epoch", "step"):
                continue
            writer.add_scalar(prefix + key.removeprefix("eval_"), value, step)
        if epoch_scalar:
            writer.add_scalar("train/epoch", record["epoch"], step)
    writer.close()
    return tmp_path


def test_tensorboard_eval_values_stay_val_and_steps_convert_with_train_epoch(
    tmp_path: Path,
) -> None:
    log = load_stats_log(hf_events(tmp_path))
    assert log.x_axis == "epoch" and log.reading.fractional
    epochs = list(range(1, EPOCHS + 1))
    train = log.series("train", "loss")
    assert train == (epochs, pytest.approx(expected_train_loss(), rel=1e-6))
    # at every epoch's last step both were logged: the train loss is not the eval loss
    pairs = zip(train[1], expected_val_loss(), strict=True)
    assert all(t != pytest.approx(v, rel=1e-3) for t, v in pairs)
    assert log.series("val", "loss") == (epochs, pytest.approx(expected_val_loss(), rel=1e-6))
    prefixes = assumption(log, "split prefixes").value
    assert "eval/ → val" in prefixes and "train/ → train" in prefixes
    assert "train/epoch" in assumption(log, "x axis").source


def test_tensorboard_without_an_epoch_is_read_over_steps_never_called_epochs(
    tmp_path: Path,
) -> None:
    log = load_stats_log(hf_events(tmp_path, epoch_scalar=False))
    assert log.x_axis == "step"
    boundaries = [STEPS_PER_EPOCH * e for e in range(1, EPOCHS + 1)]
    assert log.series("val", "loss") == (
        boundaries,
        pytest.approx(expected_val_loss(), rel=1e-6),
    )
    assert len(log.series("train", "loss")[0]) == EPOCHS * STEPS_PER_EPOCH // LOGGING_STEPS
    assert assumption(log, "x axis").value == "step"
    # the user says the event step counts epochs: then it is the epoch axis
    as_epochs = load_stats_log(tmp_path, Settings(keys={"log": {"epoch": "step"}}))
    assert as_epochs.x_axis == "epoch"
    assert as_epochs.series("val", "loss")[0] == boundaries


def test_stage4_on_a_step_axis_says_step_in_messages_and_fields(tmp_path: Path) -> None:
    """A σ that collapses in a log with steps only: `train.collapse` names the step, and
    the stage's stats say the axis is steps and carry no epoch count."""
    from torch.utils.tensorboard import SummaryWriter

    val = real("val")
    # the fault planted from the 20th record on: σ × 0.3, the duration NLL 1 nat worse
    sigmas = [r["dur_sigma"] * (0.3 if i >= 19 else 1.0) for i, r in enumerate(val)]
    nll = [r["duration_nll"] + (1.0 if i >= 19 else 0.0) for i, r in enumerate(val)]
    writer = SummaryWriter(tmp_path)
    for index, record in enumerate(val):
        step = 50 * (index + 1)
        writer.add_scalar("eval/dur_sigma", sigmas[index], step)
        writer.add_scalar("eval/duration_nll", nll[index], step)
        writer.add_scalar("eval/loss", record["loss"], step)
    writer.close()
    best = min(range(len(nll)), key=nll.__getitem__)
    first = next(i for i in range(best + 1, len(val)) if sigmas[i] < 0.5 * sigmas[best])
    result = run_one(4, log=tmp_path)
    collapse = next(c for c in result.checks if c.id == "train.collapse")
    assert collapse.status == "fail"
    assert collapse.measured["x_axis"] == "step"
    assert collapse.measured["step"] == 50 * (first + 1)
    assert "epoch" not in collapse.measured
    assert f"σ collapses from step {50 * (first + 1)}" in collapse.message
    assert "epoch" not in collapse.message and "epoch" not in str(collapse.expected)
    assert result.stats["fitted"]["x_axis"] == "step" and "epochs" not in result.stats["fitted"]
    assert result.stats["x_axis"] == "step" and result.stats["epochs"] is None
    assert result.stats["positions"] == len(val)
    log_check = next(c for c in result.checks if c.id == "train.log")
    assert log_check.message.startswith(f"Read {len(val)} steps (50–{50 * len(val)})")
    assert any(a.what == "x axis" and a.value == "step" for a in result.assumptions)


def test_a_log_under_its_own_names_says_which_fields_it_holds_and_the_line_to_write(
    tmp_path: Path,
) -> None:
    """Per-step JSONL with `train/` and `valid/` prefixes and the user's own names: the
    warning lists the fields read as nothing (prefix removed) and a keys.log line."""
    path = tmp_path / "metrics.jsonl"
    lines = []
    for step in range(1, 41):
        lines.append(
            {"step": step, "epoch": step / 10, "train/loss": 1 / step, "train/mu_logd": -0.1}
        )
        if step % 10 == 0:
            lines.append(
                {"step": step, "epoch": step / 10, "valid/loss": 1 / step, "valid/p_head": 0.1}
            )
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    check = run_one(4, log=path).check("train.log")
    assert check is not None and check.status == "warn"
    assert check.measured["unread_fields"] == ["mu_logd", "p_head"]
    assert "Fields it holds that were read as none of them: mu_logd, p_head" in check.message
    assert '[tool.timing-tui.keys.log], one line each: duration_nll = "FIELD"' in check.message


# --- keys.log after the split prefix --------------------------------------------------------


def test_keys_log_matches_after_the_split_prefix_in_tensorboard_and_jsonl(
    tmp_path: Path,
) -> None:
    from torch.utils.tensorboard import SummaryWriter

    train, val = real("train")[:5], real("val")[:5]
    writer = SummaryWriter(tmp_path / "tb")
    for epoch, (t, v) in enumerate(zip(train, val, strict=True)):
        writer.add_scalar("train/loss/nll", t["duration_nll"], epoch)
        writer.add_scalar("eval/loss/nll", v["duration_nll"], epoch)
        writer.add_scalar("epoch", epoch, epoch)
    writer.close()
    jsonl = tmp_path / "log.jsonl"
    jsonl.write_text(
        "".join(
            json.dumps({"epoch": e, "split": r["split"], "loss/nll": r["duration_nll"]}) + "\n"
            for e, pair in enumerate(zip(train, val, strict=True))
            for r in pair
        )
    )
    settings = Settings(keys={"log": {"duration_nll": "loss/nll"}})
    for path in (tmp_path / "tb", jsonl):
        log = load_stats_log(path, settings)
        for split, rows in (("train", train), ("val", val)):
            assert log.series(split, "duration_nll") == (
                list(range(5)),
                pytest.approx([r["duration_nll"] for r in rows], rel=1e-6),
            )


def test_wide_csv_with_eval_and_test_prefixes(tmp_path: Path) -> None:
    train, val = real("train")[:4], real("val")[:4]
    path = tmp_path / "metrics.csv"
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["epoch", "train/loss", "eval/loss", "eval_dur_mu", "test/loss"])
        for epoch, (t, v) in enumerate(zip(train, val, strict=True)):
            out.writerow([epoch, t["loss"], v["loss"], v["dur_mu"], 2 * v["loss"]])
    log = load_stats_log(path)
    assert log.splits == ["train", "val", "test"]
    assert log.series("train", "loss")[1] == pytest.approx([r["loss"] for r in train])
    assert log.series("val", "loss")[1] == pytest.approx([r["loss"] for r in val])
    assert log.series("val", "dur_mu")[1] == pytest.approx([r["dur_mu"] for r in val])
    assert log.series("test", "loss")[1] == pytest.approx([2 * r["loss"] for r in val])


# --- mean log σ -----------------------------------------------------------------------------


def test_a_log_sigma_column_gives_sigma_as_its_exp(tmp_path: Path) -> None:
    val = real("val")[:5]
    path = tmp_path / "log.jsonl"
    path.write_text(
        "".join(
            json.dumps({"epoch": e, "split": "val", "dur_log_sigma": math.log(r["dur_sigma"])})
            + "\n"
            for e, r in enumerate(val)
        )
    )
    log = load_stats_log(path)
    assert log.series("val", "dur_sigma")[1] == pytest.approx([r["dur_sigma"] for r in val])
    assert assumption(log, "σ").value == "exp(dur_log_sigma)"


def test_a_negative_sigma_is_log_sigma_misnamed_and_exits_2_saying_what_to_write(
    tmp_path: Path,
) -> None:
    val = real("val")[:5]
    path = tmp_path / "log.jsonl"
    path.write_text(
        "".join(
            json.dumps({"epoch": e, "split": "val", "sig": math.log(r["dur_sigma"])}) + "\n"
            for e, r in enumerate(val)
        )
    )
    assert all(math.log(r["dur_sigma"]) < 0 for r in val)  # the sample's σ are below 1
    with pytest.raises(ArtifactError) as caught:
        load_stats_log(path, Settings(keys={"log": {"dur_sigma": "sig"}}))
    assert caught.value.key == "sig"
    assert 'map it with log_sigma = "sig"' in caught.value.problem
    result = CliRunner().invoke(
        main, ["check", "--log", str(path), "--key", "log.dur_sigma=sig", "--format", "json"]
    )
    assert result.exit_code == 2
    assert "--key log.log_sigma=sig" in json.loads(result.stdout)["error"]["problem"]
    fixed = load_stats_log(path, Settings(keys={"log": {"log_sigma": "sig"}}))
    assert fixed.series("val", "dur_sigma")[1] == pytest.approx([r["dur_sigma"] for r in val])


# --- text logs of any name ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["stdout", "train.txt", "slurm-1234.out"])
def test_log_patterns_read_any_text_file_named_as_the_log(tmp_path: Path, name: str) -> None:
    val = real("val")[:3]
    path = tmp_path / name
    path.write_text(
        "".join(
            f"== epoch {e} ==\nINFO eval loss={r['loss']!r} dur_sigma={r['dur_sigma']!r}\n"
            for e, r in enumerate(val)
        )
    )
    patterns = (
        {"pattern": r"== epoch (?P<epoch>\d+) =="},
        {"pattern": r"INFO (?P<split>eval) (?P<fields>.*)"},
    )
    log = load_stats_log(path, Settings(log_patterns=patterns))
    assert log.format == "text"
    assert log.series("val", "loss") == ([0, 1, 2], pytest.approx([r["loss"] for r in val]))


def test_discovery_finds_a_trainer_state_json_as_a_log(tmp_path: Path) -> None:
    from tui_timing.artifacts.discovery import discover

    folder = tmp_path / "outputs" / "checkpoint-72"
    folder.mkdir(parents=True)
    (folder / "trainer_state.json").write_text(json.dumps({"log_history": hf_history()}))
    (folder / "config.json").write_text("{}")  # a model config: not a log, not a candidate
    found = discover(tmp_path)
    (log,) = [f for f in found.found if f.kind == "log"]
    assert log.path == folder / "trainer_state.json"
    assert "loss" in log.detail and "trainer_state" in log.detail


def test_keys_log_accepts_exactly_the_names_the_reader_knows() -> None:
    """The table's contract names for keys.log and the reader's roles are one list: a name
    the reader would ignore is not accepted in the table, and every name it reads is."""
    from tui_timing.artifacts.stats_rows import EPOCH_FIELDS, FIGURES, SPLIT_FIELDS, STEP_FIELDS
    from tui_timing.project import CONTRACT_FIELDS

    reader = {*FIGURES, SPLIT_FIELDS[0], EPOCH_FIELDS[0], STEP_FIELDS[0]}
    assert set(CONTRACT_FIELDS["log"]) == reader


def test_check_json_lists_the_logs_readings_and_stage4s_axis(tmp_path: Path) -> None:
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps({"log_history": hf_history()}))
    result = CliRunner().invoke(main, ["check", "--log", str(path), "--format", "json"])
    report = json.loads(result.stdout)
    read = {(a["artifact"], a["what"]): a["value"] for a in report["assumptions"]}
    assert read[("log", "x axis")] == "epoch"
    assert read[("log", "split prefixes")] == "eval_ → val"
    (stage4,) = [s for s in report["stages"] if s["name"] == "training"]
    assert stage4["stats"]["x_axis"] == "epoch" and stage4["stats"]["epochs"] == EPOCHS
    assert stage4["stats"]["format"] == "trainer_state.json"
    assert stage4["stats"]["splits"] == ["train", "val"]


def test_a_record_with_only_a_step_takes_the_epoch_logged_at_or_before_it(
    tmp_path: Path,
) -> None:
    """The epoch scalar is logged with the train figures only; the eval figures, logged a
    step later, belong to the epoch logged before them."""
    from torch.utils.tensorboard import SummaryWriter

    train, val = real("train")[:4], real("val")[:4]
    writer = SummaryWriter(tmp_path)
    for epoch, (t, v) in enumerate(zip(train, val, strict=True)):
        writer.add_scalar("train/loss", t["loss"], 10 * epoch)
        writer.add_scalar("epoch", epoch, 10 * epoch)
        writer.add_scalar("eval/loss", v["loss"], 10 * epoch + 1)
    writer.close()
    log = load_stats_log(tmp_path)
    assert log.x_axis == "epoch"
    assert log.series("val", "loss") == ([0, 1, 2, 3], pytest.approx([r["loss"] for r in val]))
    assert log.reading.converted == 4
    assert "the figures at 4 steps with no epoch took the one" in assumption(log, "x axis").source
