"""What a suggested command makes, and removing only that after a cancel: real folders,
real files, nothing that existed before is touched."""

from __future__ import annotations

from pathlib import Path

from tui_timing.tui.action_outputs import ActionOutputs, outputs_of


def test_train_and_build_cache_outputs_are_read_from_the_command(tmp_path: Path) -> None:
    train = outputs_of("timing-tui train --cache 'a b/c.pt' --out runs/x --epochs 2", tmp_path)
    assert train == ActionOutputs(run_dir=tmp_path / "runs" / "x")
    build = outputs_of("timing-tui build-cache RAW --out=datasets --id ds --split val", tmp_path)
    assert build == ActionOutputs(cache=tmp_path / "datasets" / "ds" / "val_timing.pt")
    absolute = outputs_of("timing-tui train --cache c --out /elsewhere/run", tmp_path)
    assert absolute.run_dir == Path("/elsewhere/run")
    for other in ("timing-tui check --cache c", "python -c pass", "timing-tui train 'x", ""):
        assert outputs_of(other, tmp_path) == ActionOutputs()


def test_a_cancel_removes_what_the_command_made_and_nothing_else(tmp_path: Path) -> None:
    keep = tmp_path / "runs" / "old" / "stats.jsonl"
    keep.parent.mkdir(parents=True)
    keep.write_text("theirs\n")
    outputs = outputs_of("timing-tui train --cache c --out runs/new/deep", tmp_path)
    before = outputs.existing(tmp_path)
    made = tmp_path / "runs" / "new" / "deep"
    made.mkdir(parents=True)
    (made / "stats.jsonl").write_text('{"epoch": 1}\n{"ep')  # cut mid-line
    (made / ".checkpoint.pt.tmp-abc").write_bytes(b"half")
    removed = outputs.remove_new(before, tmp_path)
    assert removed == [tmp_path / "runs" / "new"]
    assert not (tmp_path / "runs" / "new").exists()
    assert keep.read_text() == "theirs\n"


def test_a_cancel_into_an_existing_folder_keeps_its_files(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "exp"
    run.mkdir(parents=True)
    (run / "notes.txt").write_text("mine")
    outputs = outputs_of("timing-tui train --cache c --out runs/exp", tmp_path)
    before = outputs.existing(tmp_path)
    (run / "stats.jsonl").write_text("partial")
    (run / "epochs").mkdir()
    (run / "epochs" / "epoch_0001.pt").write_bytes(b"x")
    removed = outputs.remove_new(before, tmp_path)
    assert sorted(removed) == [run / "epochs", run / "stats.jsonl"]
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"]
