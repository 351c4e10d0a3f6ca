"""The raw-sessions → timing-cache builder (docs/artifacts.md#timing-cache and #building-a-cache),
on real Balabit sessions.

Figures are checked against a deliberately plain re-implementation in this file (Python's
csv and gzip modules, one loop iteration per event), so the vectorised builder is compared
with code that shares nothing with it.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import math
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import torch

from tui_timing.data.build_cache import BuildResult, SegmentationParams, build_cache
from tui_timing.data.segments import concatenate, segment
from tui_timing.data.sessions import read_sessions
from tui_timing.errors import ArtifactError, UsageError

HEADER = "record timestamp,client timestamp,button,state,x,y\n"

Point = tuple[float, float, float]  # (client time, x, y)


# --- the plain reference ---------------------------------------------------------------


def reference_segments(
    paths: list[Path], pause: float = 0.5, max_len: int = 128, min_points: int = 4
) -> list[list[Point]]:
    """Segments as docs/artifacts.md#building-a-cache words them, one event at a time."""
    segments: list[list[Point]] = []
    for path in sorted(paths):
        raw = path.read_bytes()
        text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode()
        run: list[Point] = []
        for row in list(csv.reader(io.StringIO(text)))[1:]:
            if not row:
                continue
            t, state, x, y = float(row[1]), row[3], float(row[4]), float(row[5])
            if state not in ("Move", "Drag"):
                segments += chunks(run, max_len, min_points)
                run = []
                continue
            if run and not 0 <= t - run[-1][0] <= pause:
                segments += chunks(run, max_len, min_points)
                run = []
            run.append((t, x, y))
        segments += chunks(run, max_len, min_points)
    return segments


def chunks(run: list[Point], max_len: int, min_points: int) -> list[list[Point]]:
    """Cut a run into chunks of at most max_len steps sharing end points; drop short/flat."""
    out = []
    first = 0
    while first < len(run) - 1:
        chunk = run[first : first + max_len + 1]
        if len(chunk) >= min_points and chunk[-1][0] - chunk[0][0] > 0:
            out.append(chunk)
        first += max_len
    return out


def reference_features(points: list[Point]) -> dict[str, float]:
    """The path features of one segment, straight from their definitions."""
    xs = [p[1] for p in points]
    ys = [p[2] for p in points]
    path = sum(math.hypot(xs[i] - xs[i - 1], ys[i] - ys[i - 1]) for i in range(1, len(xs)))
    ex, ey = xs[-1] - xs[0], ys[-1] - ys[0]
    straight = math.hypot(ex, ey)
    angles = [
        math.atan2(ys[i] - ys[i - 1], xs[i] - xs[i - 1])
        for i in range(1, len(xs))
        if (xs[i], ys[i]) != (xs[i - 1], ys[i - 1])
    ]
    turns = []
    for a, b in itertools.pairwise(angles):
        d = b - a
        while d > math.pi:
            d -= 2 * math.pi
        while d < -math.pi:
            d += 2 * math.pi
        turns.append(abs(d))
    return {
        "path_length": path,
        "log_path_length": math.log1p(path),
        "straight_distance": straight,
        "straightness": straight / path if path > 0 else 1.0,
        "dir_sin": ey / straight if straight > 0 else 0.0,
        "dir_cos": ex / straight if straight > 0 else 0.0,
        "mean_abs_turning": sum(turns) / len(turns) if turns else 0.0,
        "n_points": float(len(points)),
        "bbox_width": max(xs) - min(xs),
        "bbox_height": max(ys) - min(ys),
    }


def load(path: Path) -> dict[str, Any]:
    return torch.load(path, weights_only=True)


def write_session(path: Path, rows: list[str], gz: bool = False) -> Path:
    """A synthetic session file with the Balabit header (for edge cases only)."""
    data = (HEADER + "".join(r + "\n" for r in rows)).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@dataclass
class Built:
    result: BuildResult
    cache: dict[str, Any]
    summary: dict[str, Any]


def build(raw_dir: Path, out: Path, **kwargs: Any) -> Built:
    result = build_cache(raw_dir, out, "ds", "train", **kwargs)
    return Built(result, load(result.cache_path), json.loads(result.summary_path.read_text()))


# --- real sessions vs the reference ------------------------------------------------------


def test_matches_plain_reference(small_sessions: list[Path], small_cache: Path) -> None:
    ref = reference_segments(small_sessions)
    cache = load(small_cache)
    assert len(ref) == cache["duration"].shape[0] > 100
    ref_length = torch.tensor([len(s) - 1 for s in ref])
    assert torch.equal(cache["length"], ref_length)
    ref_duration = torch.tensor([s[-1][0] - s[0][0] for s in ref], dtype=torch.float64)
    torch.testing.assert_close(cache["duration"].double(), ref_duration, rtol=1e-6, atol=0)

    full_row = int(torch.argmax(cache["length"]))  # the longest row
    points = ref[full_row]
    duration = points[-1][0] - points[0][0]
    expected = [(points[i][0] - points[i - 1][0]) / duration for i in range(1, len(points))]
    got = cache["profile"][full_row, : len(expected)].double()
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64), atol=1e-7, rtol=0)

    names = cache["meta"]["feature_names"]
    for row in (0, len(ref) // 2, full_row):
        expected_features = reference_features(ref[row])
        got_features = dict(zip(names, cache["features"][row].tolist(), strict=True))
        for name, value in expected_features.items():
            assert got_features[name] == pytest.approx(value, rel=1e-5, abs=1e-5), name


def test_meta_and_result(small_build: BuildResult, small_sessions: list[Path]) -> None:
    meta = load(small_build.cache_path)["meta"]
    assert small_build.cache_path.name == "train_timing.pt"
    assert small_build.summary_path == small_build.cache_path.with_name("train_summary.json")
    assert small_build.cache_path.parent.name == "balabit-small"
    assert meta["dataset_id"] == "balabit-small" and meta["split"] == "train"
    assert meta["max_len"] == 128 and meta["pause"] == 0.5
    assert meta["min_points"] == 4 and meta["dt_features"] is False
    assert meta["source"].startswith("balabit:")
    assert meta["format_version"] == 1
    assert datetime.fromisoformat(meta["created"]).tzinfo is not None
    assert meta["n_files"] == small_build.n_files == len(small_sessions)
    assert meta["n_events"] == small_build.n_events
    assert small_build.n_events == sum(
        len(gzip.decompress(p.read_bytes()).splitlines()) - 1 for p in small_sessions
    )
    assert meta["n_negative_dt"] == small_build.n_negative_dt == 0
    assert not any("dt_" in name for name in meta["feature_names"])


# --- invariants of what was written ---------------------------------------------------------


def _plain(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)


def test_cache_invariants(small_cache: Path) -> None:
    cache = torch.load(small_cache, weights_only=True)
    n, length = cache["profile"].shape
    assert length == cache["meta"]["max_len"] == 128
    assert cache["duration"].dtype == cache["log_duration"].dtype == torch.float32
    assert cache["profile"].dtype == cache["features"].dtype == torch.float32
    assert cache["mask"].dtype == torch.bool and cache["length"].dtype == torch.int64
    assert cache["features"].shape == (n, len(cache["meta"]["feature_names"]))
    assert cache["features"].shape[1] >= 8
    assert _plain(cache["meta"])

    row_sums = cache["profile"].double().sum(dim=1)
    assert torch.all((row_sums - 1).abs() <= 1e-6)
    steps = torch.arange(length)[None, :]
    assert torch.equal(cache["mask"], steps < cache["length"][:, None])
    assert torch.equal(cache["mask"].sum(dim=1), cache["length"])
    assert torch.all(cache["profile"][~cache["mask"]] == 0)
    assert torch.all(cache["profile"] >= 0)
    assert torch.all((cache["length"] >= 3) & (cache["length"] <= length))
    assert torch.all(cache["duration"] > 0)
    torch.testing.assert_close(cache["log_duration"], torch.log(cache["duration"]))
    assert torch.isfinite(cache["features"]).all()


def test_summary_equals_cache_figures(small_build: BuildResult) -> None:
    cache = load(small_build.cache_path)
    summary = json.loads(small_build.summary_path.read_text())
    duration = cache["duration"].double()
    mean_profile = cache["profile"].double().mean(dim=0)
    length = cache["profile"].shape[1]
    assert summary["n_segments"] == duration.shape[0]
    assert summary["duration"]["mean"] == pytest.approx(float(duration.mean()), rel=1e-6)
    assert summary["duration"]["std"] == pytest.approx(float(duration.std(correction=0)), rel=1e-5)
    assert summary["duration"]["q50"] == pytest.approx(float(duration.quantile(0.5)), rel=1e-6)
    assert len(summary["profile_mean"]) == length
    for key, index in (("first", 0), ("mid", length // 2), ("last", length - 1)):
        value = summary[f"profile_{key}"]
        assert value == summary["profile_mean"][index]
        assert value == pytest.approx(float(mean_profile[index]), rel=1e-5, abs=1e-9)
    assert summary["length"]["mean"] == pytest.approx(float(cache["length"].double().mean()))
    assert summary["length"]["max"] == int(cache["length"].max())
    masked_dt = (cache["profile"].double() * duration[:, None])[cache["mask"]]
    assert summary["dt_median"] == pytest.approx(float(masked_dt.quantile(0.5)), abs=1e-6)
    assert summary["n_zero_dt"] == int((cache["profile"][cache["mask"]] == 0).sum())
    assert summary["vel_p95"] > 0


def test_deterministic(sessions_dir: Path, small_sessions: list[Path], tmp_path: Path) -> None:
    first = build(sessions_dir, tmp_path / "a", files=small_sessions[:2])
    second = build(sessions_dir, tmp_path / "b", files=list(reversed(small_sessions[:2])))
    for key in ("duration", "log_duration", "profile", "mask", "length", "features"):
        assert torch.equal(first.cache[key], second.cache[key]), key
    first.cache["meta"].pop("created")
    second.cache["meta"].pop("created")
    assert first.cache["meta"] == second.cache["meta"]
    assert first.summary == second.summary


# --- finding files ----------------------------------------------------------------------


def test_discovery_gzip_by_content_plain_without_extension_hidden_ignored(
    small_sessions: list[Path], tmp_path: Path
) -> None:
    source = small_sessions[0]
    raw = tmp_path / "raw"
    (raw / "a" / "b").mkdir(parents=True)
    (raw / "c").mkdir()
    shutil.copyfile(source, raw / "a" / "b" / "session.csv")  # gzip under a .csv name
    (raw / "c" / "session_plain").write_bytes(gzip.decompress(source.read_bytes()))
    for hidden in (raw / ".hidden" / "session", raw / "c" / ".session", raw / "a" / ".x" / "y"):
        hidden.parent.mkdir(parents=True, exist_ok=True)
        hidden.write_text("not a session at all\n")
    calls: list[tuple[int, int, str]] = []
    both = build(raw, tmp_path / "out", progress=lambda *a: calls.append(a))
    assert both.result.n_files == 2
    assert calls == [(1, 2, "a/b/session.csv"), (2, 2, "c/session_plain")]

    single = build(raw, tmp_path / "single", files=[source])
    n = single.cache["duration"].shape[0]
    assert both.cache["duration"].shape[0] == 2 * n
    for key in ("duration", "profile", "length", "features"):
        assert torch.equal(both.cache[key][:n], single.cache[key])
        assert torch.equal(both.cache[key][n:], single.cache[key])


def test_crlf_blank_lines_and_header_only_files(small_sessions: list[Path], tmp_path: Path) -> None:
    text = gzip.decompress(small_sessions[0].read_bytes())
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "crlf").write_bytes(text.replace(b"\n", b"\r\n") + b"\r\n\r\n")
    (raw / "empty_session").write_text(HEADER)
    reference = build(tmp_path / "x", tmp_path / "ref", files=[small_sessions[0]])
    got = build(raw, tmp_path / "out")
    assert got.result.n_files == 2
    assert got.result.n_events == reference.result.n_events
    assert torch.equal(got.cache["profile"], reference.cache["profile"])


# --- bad input: one ArtifactError naming the file and the place ---------------------------


GOOD_ROWS = [
    f"{i * 0.02:.3f},{i * 0.016:.3f},NoButton,Move,{100 + i},{200 + 2 * i}" for i in range(8)
]


@pytest.mark.parametrize(
    ("bad_row", "where"),
    [
        ("0.2,0.2,NoButton,Move,10", "line 5: expected 6 columns, found 5"),
        ("0.2,0.2,NoButton,Move,10,20,30", "line 5: expected 6 columns, found 7"),
        ("0.2,abc,NoButton,Move,10,20", "line 5: column 2 (client timestamp): 'abc'"),
        ("0.2,,NoButton,Move,10,20", "line 5: column 2 (client timestamp): ''"),
        ("0.2,0.2,NoButton,Move,10,nan", "line 5: column 6 (y): 'nan' is not a finite"),
        ("0.2,0.2,NoButton,Hover,10,20", "line 5: column 4 (state): unknown state 'Hover'"),
        ("0.2,0.2,NoButton,ReleasedLater,10,20", "unknown state 'ReleasedLater'"),
        ("0.2,0.2,NoButton,Move,10,20\r0.3", "line 5: a carriage return inside the line"),
    ],
)
def test_malformed_row_names_file_and_line(tmp_path: Path, bad_row: str, where: str) -> None:
    rows = [*GOOD_ROWS[:3], bad_row, *GOOD_ROWS[3:]]
    bad = write_session(tmp_path / "raw" / "user1" / "session_bad", rows, gz=True)
    write_session(tmp_path / "raw" / "user1" / "session_good", GOOD_ROWS)
    with pytest.raises(ArtifactError) as info:
        build_cache(tmp_path / "raw", tmp_path / "out", "ds", "train")
    assert info.value.file == str(bad)
    assert where in info.value.problem
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "line 1: empty"),
        (b"a,b,c\n1,2,3\n", "header has 3 columns"),
        (b"0.0,0.0,NoButton,Move,1,2\n", "no header row"),
        (b"\x1f\x8b\x08\x00garbage", "corrupt gzip"),
    ],
)
def test_unusable_file(tmp_path: Path, content: bytes, problem: str) -> None:
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "session").write_bytes(content)
    with pytest.raises(ArtifactError) as info:
        build_cache(tmp_path / "raw", tmp_path / "out", "ds", "train")
    assert info.value.file == str(tmp_path / "raw" / "session")
    assert problem in info.value.problem


def test_folder_without_sessions(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    (raw / "nested").mkdir(parents=True)
    (raw / ".only_hidden").write_text(HEADER)
    with pytest.raises(ArtifactError) as info:
        build_cache(raw, tmp_path / "out", "ds", "train")
    assert info.value.file == str(raw) and info.value.key is None
    assert "no session files" in info.value.problem
    with pytest.raises(ArtifactError, match="not a folder"):
        build_cache(tmp_path / "missing", tmp_path / "out", "ds", "train")


def test_sessions_without_segments(tmp_path: Path) -> None:
    rows = [f"{i},{i},Left,{'Pressed' if i % 2 else 'Released'},1,1" for i in range(20)]
    write_session(tmp_path / "raw" / "clicks", rows)
    with pytest.raises(ArtifactError) as info:
        build_cache(tmp_path / "raw", tmp_path / "out", "ds", "train")
    assert info.value.file == str(tmp_path / "raw") and info.value.key is None
    assert "no segments" in info.value.problem


def test_unwritable_output_and_bad_options(small_sessions: list[Path], tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ArtifactError, match="cannot be written"):
        build_cache(tmp_path, blocker, "ds", "train", files=small_sessions[:1])
    with pytest.raises(UsageError, match="--id"):
        build_cache(tmp_path, tmp_path, "../escape", "train", files=small_sessions[:1])
    for bad in ({"pause": 0}, {"pause": float("nan")}, {"max_len": 0}, {"min_points": 1.5}):
        with pytest.raises(UsageError):
            SegmentationParams(**bad)


# --- time going backwards, degenerate paths ---------------------------------------------


def test_negative_step_breaks_and_is_counted(tmp_path: Path) -> None:
    times = [0.0, 0.01, 0.02, 0.03, 0.04, 0.035, 0.045, 0.055, 0.065]
    rows = [f"{t},{t},NoButton,Move,{i},{i}" for i, t in enumerate(times)]
    write_session(tmp_path / "raw" / "s", rows)
    got = build(tmp_path / "raw", tmp_path / "out")
    assert got.result.n_negative_dt == got.cache["meta"]["n_negative_dt"] == 1
    assert got.cache["length"].tolist() == [4, 3]
    torch.testing.assert_close(got.cache["duration"], torch.tensor([0.04, 0.03]))


def test_degenerate_paths_have_defined_features(tmp_path: Path) -> None:
    still = [f"{i * 0.01},{i * 0.01},NoButton,Drag,50,60" for i in range(6)]
    back_and_forth = [
        f"{1 + i * 0.01},{1 + i * 0.01},NoButton,Move,{50 + 5 * (i % 2)},60" for i in range(6)
    ]
    write_session(
        tmp_path / "raw" / "s", [*still, "0.06,0.06,Left,Released,50,60", *back_and_forth]
    )
    got = build(tmp_path / "raw", tmp_path / "out")
    features = dict(zip(got.cache["meta"]["feature_names"], got.cache["features"].T, strict=True))
    assert torch.isfinite(got.cache["features"]).all()
    assert features["path_length"].tolist() == [0.0, 25.0]
    assert features["straightness"].tolist() == [1.0, pytest.approx(0.2)]
    assert features["dir_sin"].tolist() == [0.0, 0.0]
    assert features["dir_cos"].tolist() == [0.0, 1.0]
    assert features["mean_abs_turning"].tolist() == [0.0, pytest.approx(math.pi)]
    assert features["bbox_width"].tolist() == [0.0, 5.0]


# --- segmentation parameters -------------------------------------------------------------


def test_smaller_max_len_cuts_more_chunks_sharing_points(small_sessions: list[Path]) -> None:
    events = concatenate(list(read_sessions(small_sessions)))
    full = segment(events, pause=0.5, max_len=128, min_points=2)
    cut = segment(events, pause=0.5, max_len=16, min_points=2)
    assert cut.n_segments > full.n_segments
    assert int(cut.steps.max()) == 16
    shared = cut.start[1:] == cut.start[:-1] + cut.steps[:-1]
    assert shared.sum() >= int((full.steps > 16).sum())
    ref = reference_segments(small_sessions, max_len=16, min_points=2)
    assert cut.steps.tolist() == [len(s) - 1 for s in ref]


def test_parameters_change_result_and_are_recorded(
    sessions_dir: Path, small_sessions: list[Path], small_build: BuildResult, tmp_path: Path
) -> None:
    default = load(small_build.cache_path)
    params = SegmentationParams(pause=0.2, max_len=32, min_points=10, dt_features=True)
    got = build(sessions_dir, tmp_path, params=params, files=small_sessions)
    meta = got.cache["meta"]
    assert (meta["pause"], meta["max_len"], meta["min_points"], meta["dt_features"]) == (
        0.2,
        32,
        10,
        True,
    )
    assert got.cache["profile"].shape[1] == 32 and len(got.summary["profile_mean"]) == 32
    assert int(got.cache["length"].min()) >= 9
    dt = got.cache["profile"] * got.cache["duration"][:, None]
    assert float(dt.max()) <= 0.2 + 1e-6
    ref = reference_segments(small_sessions, pause=0.2, max_len=32, min_points=10)
    assert got.cache["length"].tolist() == [len(s) - 1 for s in ref]
    assert got.cache["length"].shape[0] != default["length"].shape[0]

    names = meta["feature_names"]
    assert names[-3:] == ["dt_mean", "dt_std", "dt_zero_share"]
    dt_mean = got.cache["features"][:, names.index("dt_mean")]
    torch.testing.assert_close(dt_mean, got.cache["duration"] / got.cache["length"])

    fewer = build(
        sessions_dir, tmp_path / "m", params=SegmentationParams(min_points=20), files=small_sessions
    )
    assert fewer.result.n_segments < small_build.n_segments
    assert int(fewer.cache["length"].min()) >= 19


# --- the whole shared subset -------------------------------------------------------------


@pytest.mark.slow
def test_whole_subset_reproduces_readme_figures(balabit_dir: Path, tmp_path: Path) -> None:
    got = build(balabit_dir, tmp_path)
    s = got.summary
    assert got.result.n_files == 47
    assert s["n_segments"] == pytest.approx(72_700, rel=0.01)
    assert s["duration"]["mean"] == pytest.approx(1.33, rel=0.01)
    assert s["length"]["mean"] == pytest.approx(21.6, rel=0.01)
    assert s["profile_first"] == pytest.approx(0.11, rel=0.1)
    assert s["profile_mid"] == pytest.approx(9e-4, rel=0.1)
    assert s["profile_last"] == pytest.approx(1.5e-4, rel=0.1)
    assert s["dt_median"] == pytest.approx(0.016, rel=0.05)
    assert got.result.n_negative_dt == 0
    steps = s["n_steps"]
    assert s["n_zero_dt"] / steps == pytest.approx(0.15, abs=0.02)
    mean_profile = got.cache["profile"].double().mean(dim=0)
    assert float(mean_profile[0]) == pytest.approx(s["profile_first"], rel=1e-5)
    assert float(got.cache["duration"].double().mean()) == pytest.approx(
        s["duration"]["mean"], rel=1e-6
    )
