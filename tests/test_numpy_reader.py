"""The torch-free reader (issue 15) against the torch path, on every hostile file we have.

`load_container(arrays=True)` reads .npz, .safetensors and torch's zip format into numpy
without importing torch, and raises NeedsTorch for what it leaves to torch. The property,
on the malformed corpus, the hostile payloads, the fuzzers' damaged files and random
caches: the reader's outcome equals the torch path's (`load_container` then
`tensors_to_arrays`): the same values (dtype, shape, bytes, containers, key order) or the
same refusal (file, key, problem); or it hands the file to torch, whose outcome is then
the answer. It never returns a value for a file torch refuses, and it refuses the
payloads itself, before torch would be imported.
"""

from __future__ import annotations

import io
import math
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import test_fuzz_loaders as fuzz
import test_malformed_corpus as malformed
import test_untrusted_checkpoints as untrusted
import torch
from hypothesis import given
from hypothesis import strategies as st

from tui_timing.artifacts.safe_load import load_arrays, load_container, tensors_to_arrays
from tui_timing.artifacts.torch_zip import NeedsTorch
from tui_timing.errors import ArtifactError
from tui_timing.resources import sample_data_dir

SAMPLE = sample_data_dir()


def _canonical(value: Any, depth: int = 0) -> Any:
    """A comparable form: arrays by dtype, shape and bytes; containers by type and order."""
    if depth > 40:
        return ("deep",)
    if isinstance(value, np.ndarray):
        plain = np.ascontiguousarray(value)
        return ("array", plain.dtype.str, plain.shape, plain.tobytes())
    if isinstance(value, torch.Tensor):
        return ("tensor", str(value.dtype), tuple(value.shape))
    if isinstance(value, dict):
        items = [(_canonical(k, depth + 1), _canonical(v, depth + 1)) for k, v in value.items()]
        return (type(value).__name__, items)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_canonical(v, depth + 1) for v in value])
    if isinstance(value, float):
        return ("float", repr(value))
    return (type(value).__name__, value if not isinstance(value, str) else value[:200])


def _outcome(read: Any) -> tuple[Any, ...]:
    try:
        return ("value", _canonical(read()))
    except ArtifactError as exc:
        return ("refused", exc.file, exc.key, exc.problem)


def torch_outcome(path: Path) -> tuple[Any, ...]:
    return _outcome(lambda: tensors_to_arrays(load_container(path)))


def reader_outcome(path: Path) -> tuple[Any, ...] | None:
    """The reader's outcome, or None when it hands the file to torch."""
    try:
        return _outcome(lambda: load_container(path, arrays=True))
    except NeedsTorch:
        return None


def assert_same(path: Path) -> str:
    """The property; returns who answered: "reader" or "torch"."""
    expected = torch_outcome(path)
    found = reader_outcome(path)
    if found is None:
        return "torch"
    assert found == expected, (path, found[:1], expected[:1], found[-1:], expected[-1:])
    return "reader"


@pytest.fixture(scope="module")
def corpus_files(small_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The malformed corpus's caches, checkpoints and eval dumps (its .pt and .npz files),
    written by the corpus's own builders."""
    folder = tmp_path_factory.mktemp("reader-corpus")
    bases = malformed._bases(small_cache)
    files = {}
    for case in malformed.CORPUS:
        if case.kind == "log":
            continue
        npz = case.build.__qualname__.startswith("_npz") or case.build is malformed._object_npz
        path = folder / f"{case.id}{'.npz' if npz else '.pt'}"
        case.build(malformed._copy(bases[case.kind]), path)
        files[case.id] = path
    return files


def test_malformed_corpus(corpus_files: dict[str, Path]) -> None:
    answered = {case_id: assert_same(path) for case_id, path in corpus_files.items()}
    # every cache that loads (stage 1 then reports what is wrong) is read without torch,
    # but those holding what only torch can judge (meta, sparse, nested tensors)
    loadable = [c.id for c in malformed.CACHES if c.exit == 1 and c.id in corpus_files]
    assert len(loadable) > 15
    assert [c for c in loadable if answered[c] != "reader"] == []
    assert {answered[c] for c in ("cache-meta_device", "cache-sparse_profile")} == {"torch"}


def test_hostile_payloads_are_refused_by_the_reader(tmp_path: Path) -> None:
    """Zip files calling os.system or builtins.exec are refused by the reader itself, in
    the torch path's words, without running anything; a call of a function in the user's
    own module goes to torch's path, which reads the user's classes as data and refuses
    calls; plain pickles and the legacy format go to torch (which refuses them)."""
    files = untrusted._write_set(tmp_path)
    for h in files:
        who = assert_same(h.path)
        by_reader = h.fmt == "pickle-p0" or (h.fmt == "zip" and h.payload != "__reduce__")
        assert who == ("reader" if by_reader else "torch"), h
        assert not h.marker.exists()
    assert len(files) == 45


def test_numpy_objects_in_a_zip_are_refused_as_torch_refuses_them(tmp_path: Path) -> None:
    path = tmp_path / "numpy_timing.pt"
    torch.save({"duration": np.ones(3), "profile": torch.ones(3, 2)}, path)
    assert assert_same(path) == "reader"
    outcome = reader_outcome(path)
    assert outcome is not None and "numpy objects" in outcome[3], outcome


def test_sample_artifacts_are_read_without_torch() -> None:
    for path in [
        SAMPLE / "datasets" / "sample" / "train_timing.pt",
        SAMPLE / "runs" / "increments" / "checkpoint.pt",
        SAMPLE / "runs" / "linear" / "checkpoint.pt",
        SAMPLE / "eval" / "eval.pt",
    ]:
        assert assert_same(path) == "reader", path


def test_the_small_balabit_cache_is_read_without_torch(small_cache: Path) -> None:
    assert assert_same(small_cache) == "reader"


def test_views_parameters_and_odd_layouts(tmp_path: Path) -> None:
    """Shared storages, non-contiguous views, scalars, empty tensors, all dtypes numpy
    holds, nested containers, OrderedDicts, tensors needing grad; and what goes to torch:
    bfloat16, stride-0 (expanded) tensors, parameters, another pickle protocol."""
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    obj: dict[str, Any] = {
        "view": base[:, 1:4],
        "transposed": base.t(),
        "shared": base,
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 5),
        "grad": torch.ones(3, requires_grad=True),
        "nested": {"a": [torch.ones(2, dtype=torch.int16), (1, 2.5, None, True, "x")]},
        "ordered": __import__("collections").OrderedDict(b=torch.ones(1)),
        "big": 2**70,
        "negative": -(2**40),
    }
    for dtype in (torch.float64, torch.float16, torch.int64, torch.int32, torch.int8,
                  torch.uint8, torch.bool, torch.complex64, torch.complex128):  # fmt: skip
        obj[str(dtype)] = torch.ones(2, 3, dtype=dtype)
    path = tmp_path / "odd_timing.pt"
    torch.save(obj, path)
    assert assert_same(path) == "reader"
    read = load_container(path, arrays=True)
    assert read["view"].base is not None and np.shares_memory(read["view"], read["shared"])
    for name, value in {
        "bf16": torch.ones(3, dtype=torch.bfloat16),
        "expanded": torch.ones(1).expand(1000),
        "parameter": torch.nn.Parameter(torch.ones(2)),
    }.items():
        one = tmp_path / f"{name}_timing.pt"
        torch.save({"duration": value}, one)
        assert assert_same(one) == "torch", name
    proto = tmp_path / "proto4_timing.pt"
    torch.save({"duration": torch.ones(2)}, proto, pickle_protocol=4)
    assert assert_same(proto) == "torch"


def test_load_arrays_says_why_torch_was_needed(tmp_path: Path, small_cache: Path) -> None:
    assert load_arrays(small_cache)[1] is None
    legacy = tmp_path / "legacy_timing.pt"
    torch.save({"duration": torch.ones(2)}, legacy, _use_new_zipfile_serialization=False)
    value, why = load_arrays(legacy)
    assert isinstance(value["duration"], np.ndarray) and why and "legacy" in why


def test_the_reader_does_not_import_torch(small_cache: Path) -> None:
    script = (
        "import sys\n"
        "from tui_timing.artifacts.safe_load import load_container\n"
        "for path in sys.argv[1:]:\n"
        "    load_container(path, arrays=True)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    files = [small_cache, SAMPLE / "runs" / "increments" / "checkpoint.pt"]
    done = subprocess.run(
        [sys.executable, "-c", script, *map(str, files)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


# --- the fuzzers' inputs ------------------------------------------------------------------


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="reader-") as folder:
        yield Path(folder)


def test_valid_files_of_each_container(scratch: Path) -> None:
    for name, data in fuzz.VALID_FILES.items():
        path = scratch / f"valid-{name}"
        path.write_bytes(data)
        assert assert_same(path) == ("torch" if name == "legacy" else "reader"), name


@fuzz.FUZZ
@given(data=fuzz.damaged())
def test_damaged_files(scratch: Path, data: bytes) -> None:
    path = scratch / "damaged.bin"
    path.write_bytes(data)
    assert_same(path)


@fuzz.FUZZ
@given(prefix=st.sampled_from(fuzz.MAGIC), rest=st.binary(max_size=512))
def test_random_bytes(scratch: Path, prefix: bytes, rest: bytes) -> None:
    path = scratch / "random.bin"
    path.write_bytes(prefix + rest)
    assert_same(path)


@fuzz.FUZZ
@given(cache=fuzz.caches())
def test_random_caches(scratch: Path, cache: dict[str, Any]) -> None:
    path = scratch / "fuzz_timing.pt"
    torch.save(cache, path)
    assert assert_same(path) == "reader"


@fuzz.FUZZ
@given(data=st.data())
def test_damaged_pickles_inside_a_valid_zip(scratch: Path, data: st.DataObject) -> None:
    """The zip intact, its data.pkl's bytes changed: the unpickler's own refusals."""
    buffer = io.BytesIO()
    torch.save(fuzz._SMALL, buffer)
    raw = bytearray(buffer.getvalue())
    start = raw.index(b"\x80\x02")
    end = raw.index(b"PK\x03\x04", start)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(start, end - 1))
        raw[at] = data.draw(st.integers(0, 255))
    path = scratch / "pickle.pt"
    path.write_bytes(bytes(raw))
    assert_same(path)


def test_numbers_round_trip_exactly(tmp_path: Path) -> None:
    """Special floats and the edges of each dtype survive bit for bit."""
    values = [0.0, -0.0, math.nan, math.inf, -math.inf, 1e-45, 3.4e38, 1 / 3]
    obj = {"f32": torch.tensor(values), "f64": torch.tensor(values, dtype=torch.float64),
           "i64": torch.tensor([-(2**63), 2**63 - 1]), "meta": {"x": values}}  # fmt: skip
    path = tmp_path / "numbers_timing.pt"
    torch.save(obj, path)
    assert assert_same(path) == "reader"
