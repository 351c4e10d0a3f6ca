"""Property-based fuzzing of the loaders and the stages that read their output.

The property everywhere: a loader returns a value or raises ArtifactError/UsageError, and a
stage given what a loader returned completes (its checks may fail; it may not raise). The
inputs are random bytes, damaged real files, random dicts of tensors of random shapes,
dtypes and values, random JSON lines and random eval dumps. The stage functions are called
directly, not through `run_stage` (which would turn a crash into an `*.internal` check and
hide it from this test). Examples are few and small so that the file runs in seconds.
"""

from __future__ import annotations

import io
import json
import math
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tui_timing.artifacts.cache import ALIASES, load_cache
from tui_timing.artifacts.eval_dump import load_eval_dump
from tui_timing.artifacts.raw_summary import load_raw_summary
from tui_timing.artifacts.safe_load import load_container
from tui_timing.artifacts.stats_log import load_stats_log
from tui_timing.config import ArtifactPaths, Settings
from tui_timing.errors import ArtifactError, UsageError
from tui_timing.findings import StageResult
from tui_timing.model.checkpoint import load_checkpoint
from tui_timing.resources import sample_data_dir
from tui_timing.stages import cache as stage_cache
from tui_timing.stages import dataset as stage_dataset
from tui_timing.stages import integration as stage_integration
from tui_timing.stages import model as stage_model
from tui_timing.stages import training as stage_training
from tui_timing.stages.runner import load_artifacts

CLEAN = (ArtifactError, UsageError)
FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    """One folder for the whole module: each example overwrites its file (hypothesis runs
    many examples per test, so function-scoped tmp_path does not fit)."""
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        yield Path(folder)


def _loads_cleanly(load: Any, *args: Any) -> Any:
    """`load(*args)`, or None when it refused cleanly; any other exception fails the test."""
    try:
        return load(*args)
    except CLEAN:
        return None


def _assert_stage_result(result: StageResult, stage_id: int) -> None:
    assert isinstance(result, StageResult) and result.id == stage_id
    for check in result.checks:
        assert check.status in ("pass", "warn", "fail", "skip", "error"), check
        json.dumps(check.as_dict(), allow_nan=False)  # renders as strict JSON


# --- bytes --------------------------------------------------------------------------------


def _saved(obj: object, **kwargs: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer, **kwargs)
    return buffer.getvalue()


def _npz_bytes() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, duration=np.ones(3), profile=np.full((3, 2), 0.5))
    return buffer.getvalue()


def _safetensors_bytes() -> bytes:
    header = json.dumps(
        {"duration": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}}
    ).encode()
    return len(header).to_bytes(8, "little") + header + np.ones(3, np.float32).tobytes()


_SMALL = {"duration": torch.rand(4), "profile": torch.rand(4, 3), "meta": {"max_len": 3}}
VALID_FILES = {
    "zip": _saved(_SMALL),
    "legacy": _saved(_SMALL, _use_new_zipfile_serialization=False),
    "npz": _npz_bytes(),
    "safetensors": _safetensors_bytes(),
}
MAGIC = [b"", b"PK\x03\x04", b"\x80\x02", b"\x80\x05\x95", b"\x93NUMPY", b"\x10\x00" + b"\0" * 6]


@FUZZ
@given(prefix=st.sampled_from(MAGIC), rest=st.binary(max_size=512))
def test_random_bytes(scratch: Path, prefix: bytes, rest: bytes) -> None:
    path = scratch / "random.bin"
    path.write_bytes(prefix + rest)
    _loads_cleanly(load_container, path)


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """A valid file of one container kind, then cut, overwritten or spliced."""
    data = bytearray(VALID_FILES[draw(st.sampled_from(sorted(VALID_FILES)))])
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data) - 1))
        how = draw(st.sampled_from(["cut", "byte", "splice"]))
        if how == "cut":
            data = data[: at + 1]
        elif how == "byte":
            data[at] = draw(st.integers(0, 255))
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
    return bytes(data)


@FUZZ
@given(data=damaged())
def test_damaged_files(scratch: Path, data: bytes) -> None:
    path = scratch / "damaged.bin"
    path.write_bytes(data)
    _loads_cleanly(load_container, path)


# --- caches -------------------------------------------------------------------------------

DTYPES = ["float32", "float64", "float16", "int64", "int32", "uint8", "bool", "complex64"]


@st.composite
def arrays(
    draw: st.DrawFn, shape: tuple[int, ...], dtype: str | None = None, reshape: bool = True
) -> torch.Tensor:
    """A tensor of `shape` (or, one time in five when `reshape`, another shape) of `dtype`
    (random when None), with special values (0, ±1, NaN, ±inf, huge, subnormal) common."""
    if reshape and draw(st.integers(0, 4)) == 0:
        shape = tuple(draw(st.lists(st.integers(0, 5), max_size=3)))
    dtype = dtype or draw(st.sampled_from(DTYPES))
    if dtype == "bool":
        elements: st.SearchStrategy[Any] = st.booleans()
    elif dtype.startswith(("int", "uint")):
        info = np.iinfo(dtype)
        elements = st.integers(int(info.min), int(info.max)) | st.integers(0, 6)
    else:
        finfo = np.finfo(np.float32 if dtype == "complex64" else dtype)
        special = [0.0, 1.0, -1.0, 0.5, math.nan, math.inf, -math.inf]
        special += [float(finfo.smallest_subnormal), float(finfo.max) / 2, -float(finfo.max) / 2]
        elements = st.sampled_from(special) | st.floats(0, 2, width=16)
    array = draw(hnp.arrays(dtype, shape, elements=elements))
    return torch.from_numpy(np.ascontiguousarray(array))


@st.composite
def metas(draw: st.DrawFn, steps: int, width: int) -> Any:
    values = st.one_of(
        st.none(),
        st.integers(-2, 200),
        st.just(steps),
        st.text(max_size=4),
        st.lists(st.text(max_size=3), max_size=width + 1),
        st.floats(allow_nan=True),
    )
    meta = draw(st.dictionaries(st.sampled_from(["max_len", "feature_names", "source"]), values))
    return draw(st.sampled_from([meta, meta, "balabit", [steps], None]))


@st.composite
def caches(draw: st.DrawFn) -> dict[str, Any]:
    """Half well-formed in shape (so that the scan and stage 2 run on odd values and
    dtypes), half chaotic: keys renamed to aliases, missing, of other shapes and dtypes."""
    n, steps, width = draw(st.integers(1, 6)), draw(st.integers(1, 5)), draw(st.integers(1, 3))
    chaotic = draw(st.booleans())
    floats = st.sampled_from(["float32", "float64", "float16"])
    dtypes = {
        "duration": floats,
        "log_duration": floats,
        "profile": floats,
        "mask": st.sampled_from(["bool", "float32", "int64", "uint8"]),
        "length": st.sampled_from(["int64", "int32"]),
        "features": floats,
    }
    shapes = {"profile": (n, steps), "mask": (n, steps), "features": (n, width)}
    cache: dict[str, Any] = {}
    for key, dtype in dtypes.items():
        if chaotic and draw(st.integers(0, 5)) == 0:
            continue  # missing
        name = draw(st.sampled_from([key, *ALIASES[key]])) if chaotic else key
        kind = draw(st.none() | st.sampled_from(DTYPES)) if chaotic else draw(dtype)
        cache[name] = draw(arrays(shapes.get(key, (n,)), kind, reshape=chaotic))
    if draw(st.booleans()):
        cache["meta"] = draw(metas(steps, width))
    return cache


def _stages_1_and_2(path: Path) -> None:
    ctx = load_artifacts(ArtifactPaths(cache=path), Settings(batch_size=4))
    outcome = ctx.loaded("cache")
    assert outcome is not None
    assert outcome.ok or isinstance(outcome.error, ArtifactError)
    if outcome.error is not None:
        assert "please report" not in outcome.error.problem, outcome.error
    _assert_stage_result(stage_cache.run(ctx), 1)
    _assert_stage_result(stage_dataset.run(ctx), 2)


@pytest.mark.filterwarnings("error::RuntimeWarning")
@FUZZ
@given(cache=caches())
def test_random_caches_through_stages_1_and_2(scratch: Path, cache: dict[str, Any]) -> None:
    path = scratch / "fuzz_timing.pt"
    torch.save(cache, path)
    _loads_cleanly(load_cache, path)
    _stages_1_and_2(path)


@pytest.mark.filterwarnings("error::RuntimeWarning")
@FUZZ
@given(cache=caches())
def test_random_npz_caches(scratch: Path, cache: dict[str, Any]) -> None:
    """The same dicts as an .npz (meta as JSON text, as the loader accepts it)."""
    arrays_ = {k: v.numpy() for k, v in cache.items() if isinstance(v, torch.Tensor)}
    if "meta" in cache:
        arrays_["meta"] = np.array(json.dumps(cache["meta"]))
    path = scratch / "fuzz_timing.npz"
    with path.open("wb") as handle:
        np.savez(handle, **arrays_)
    _stages_1_and_2(path)


@pytest.fixture(scope="module")
def few_rows(small_cache: Path, scratch: Path) -> Path:
    """The first 200 rows of the real test cache: a real cache, cheap to scan per example."""
    cache = torch.load(small_cache, weights_only=True)
    rows = {k: v[:200].clone() if isinstance(v, torch.Tensor) else v for k, v in cache.items()}
    path = scratch / "few_timing.pt"
    torch.save(rows, path)
    return path


SUMMARY_KEYS = ["n_segments", "duration", "profile_first", "profile_mid", "profile_last"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=8,
)


@pytest.mark.filterwarnings("error::RuntimeWarning")
@FUZZ
@given(
    summary=st.dictionaries(
        st.sampled_from([*SUMMARY_KEYS, "profile_mean"]),
        json_values | st.fixed_dictionaries({"mean": json_values, "std": json_values}),
    )
)
def test_random_raw_summaries(scratch: Path, few_rows: Path, summary: dict[str, Any]) -> None:
    """Any JSON beside a real cache: the summary loads or is refused; stage 1 completes."""
    path = scratch / "summary.json"
    path.write_text(json.dumps(summary))
    _loads_cleanly(load_raw_summary, path)
    ctx = load_artifacts(ArtifactPaths(cache=few_rows, raw_summary=path), Settings())
    _assert_stage_result(stage_cache.run(ctx), 1)


# --- checkpoints --------------------------------------------------------------------------

REFERENCE = torch.load(
    sample_data_dir() / "runs" / "increments" / "checkpoint.pt", weights_only=True
)
CONFIG_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-1, 200),
    st.floats(allow_nan=True),
    st.text(max_size=6),
    st.sampled_from(["linear", "templates", "increments", "monotonic", "kl", "mse"]),
    st.lists(st.text(max_size=3), max_size=3),
)


@st.composite
def checkpoints(draw: st.DrawFn) -> Any:
    """The bundled run's checkpoint with weights resized or reshaped, retyped, replaced by
    non-tensors or dropped, its config edited, or its layout changed."""
    state = dict(REFERENCE["model"])
    for name in draw(st.lists(st.sampled_from(sorted(state)), max_size=3, unique=True)):
        action = draw(st.sampled_from(["drop", "reshape", "value"]))
        if action == "drop":
            del state[name]
        elif action == "reshape":
            state[name] = draw(arrays(tuple(state[name].shape)))
        else:
            state[name] = draw(st.sampled_from([None, "w", 1.5, [1, 2], {"a": torch.ones(1)}]))
    config = dict(REFERENCE["config"])
    config.update(draw(st.dictionaries(st.sampled_from(sorted(config)), CONFIG_VALUES, max_size=3)))
    layout = draw(st.sampled_from(["model", "state_dict", "model_state_dict", "bare"]))
    if layout == "bare":
        return state
    return {layout: state, "config": draw(st.sampled_from([config, config, "x", None])), "epoch": 1}


@FUZZ
@given(checkpoint=checkpoints())
def test_random_checkpoints_through_stage_3(scratch: Path, checkpoint: Any) -> None:
    """Without a cache (the capacity probe would cost seconds per example): model.load."""
    path = scratch / "checkpoint.pt"
    torch.save(checkpoint, path)
    _loads_cleanly(load_checkpoint, path, Settings())
    ctx = load_artifacts(ArtifactPaths(checkpoint=path), Settings())
    _assert_stage_result(stage_model.run(ctx), 3)


# --- stats logs ---------------------------------------------------------------------------

FIELDS = ["epoch", "split", "loss", "duration_nll", "dur_mu", "dur_sigma", "profile_first"]
FIELD_VALUES = st.one_of(
    st.integers(-2, 40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["train", "val", "test", "", "1.5"]),
    st.none(),
    st.lists(st.integers(), max_size=2),
)


@st.composite
def log_lines(draw: st.DrawFn) -> str:
    """JSONL lines: plausible records with random values, or any text at all."""
    records = draw(
        st.lists(st.dictionaries(st.sampled_from(FIELDS), FIELD_VALUES, min_size=1), max_size=8)
    )
    lines = [json.dumps(r) for r in records]
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), draw(st.text(max_size=20)))
    text = "\n".join(lines)
    if draw(st.booleans()):
        text = text[: draw(st.integers(0, len(text)))]  # a run still writing
    return text


@FUZZ
@given(text=log_lines())
def test_random_logs_through_stage_4(scratch: Path, text: str) -> None:
    path = scratch / "stats.jsonl"
    path.write_text(text, encoding="utf-8")
    _loads_cleanly(load_stats_log, path, Settings())
    ctx = load_artifacts(ArtifactPaths(log=path), Settings())
    _assert_stage_result(stage_training.run(ctx), 4)


@FUZZ
@given(rows=st.lists(st.lists(FIELD_VALUES.map(str), min_size=1, max_size=6), max_size=6))
def test_random_csv_logs(scratch: Path, rows: list[list[str]]) -> None:
    path = scratch / "metrics.csv"
    header = "epoch,split,train/loss_epoch,val/loss,dur_sigma,step"
    path.write_text(header + "\n" + "\n".join(",".join(row) for row in rows), encoding="utf-8")
    _loads_cleanly(load_stats_log, path, Settings())
    ctx = load_artifacts(ArtifactPaths(log=path), Settings())
    _assert_stage_result(stage_training.run(ctx), 4)


# --- eval dumps ---------------------------------------------------------------------------


@st.composite
def sides(draw: st.DrawFn, n: int, steps: int) -> dict[str, Any]:
    side: dict[str, Any] = {
        "xy": draw(arrays((n, steps + draw(st.integers(0, 1)), 2), "float32")),
        "dt": draw(arrays((n, steps), draw(st.sampled_from(["float32", "float64", None])))),
    }
    mask_kind = draw(st.sampled_from(["mask", "length", "none"]))
    if mask_kind == "mask":
        side["mask"] = draw(arrays((n, steps), draw(st.sampled_from(["bool", "float32"]))))
    elif mask_kind == "length":
        side["length"] = draw(arrays((n,), "int64"))
    return side


@st.composite
def eval_dumps(draw: st.DrawFn) -> dict[str, Any]:
    dump: dict[str, Any] = {}
    for name in ("real", "fake"):
        if draw(st.integers(0, 9)):
            dump[name] = draw(sides(draw(st.integers(0, 30)), draw(st.integers(1, 6))))
    if draw(st.booleans()):
        dump["fake_duration"] = draw(arrays((draw(st.integers(0, 30)),), "float32"))
    if draw(st.booleans()):
        dump["meta"] = draw(st.sampled_from([{"seed": 1}, "text", '{"a": 1}', [1]]))
    return dump


@FUZZ
@given(dump=eval_dumps())
def test_random_eval_dumps_through_stage_6(scratch: Path, dump: dict[str, Any]) -> None:
    path = scratch / "eval.pt"
    torch.save(dump, path)
    _loads_cleanly(load_eval_dump, path, Settings())
    ctx = load_artifacts(ArtifactPaths(eval=path), Settings())
    _assert_stage_result(stage_integration.run(ctx), 6)


def test_a_deeply_nested_eval_meta_is_ignored(scratch: Path) -> None:
    """The loader property on one input hypothesis does not draw: a meta string of 100 000
    opening brackets. Like any other meta that is not a dict, it is ignored with a note."""
    side = {"xy": torch.zeros(2, 4, 2), "dt": torch.full((2, 3), 0.01), "mask": torch.ones(2, 3)}
    path = scratch / "deep_meta.pt"
    torch.save({"real": side, "fake": side, "meta": "[" * 100_000}, path)
    dump = load_eval_dump(path, Settings())
    assert dump.meta == {} and dump.notes


def test_deeply_nested_json_in_npz_and_safetensors(scratch: Path) -> None:
    """JSON that only a recursion limit stops: an .npz meta is kept as text (stage 1 then
    says meta is not a dict), a .safetensors header is refused as damaged."""
    npz = scratch / "deep_timing.npz"
    with npz.open("wb") as handle:
        np.savez(handle, duration=np.ones(2), meta=np.array("[" * 100_000))
    assert isinstance(load_container(npz)["meta"], str)
    header = b'{"a": ' + b"[" * 100_000
    st_file = scratch / "deep.safetensors"
    st_file.write_bytes(len(header).to_bytes(8, "little") + header)
    with pytest.raises(ArtifactError, match=r"damaged \.safetensors header"):
        load_container(st_file)
