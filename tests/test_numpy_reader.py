"""The torch-free reader against the torch path, on every hostile file we have.

`load_container(arrays=True)` reads .npz, .safetensors and torch's zip format into numpy
without importing torch, and raises NeedsTorch for what it leaves to torch. The property,
on the malformed corpus, the hostile payloads, the fuzzers' damaged files and random
caches: the reader's outcome equals the torch path's (`load_container` then
`tensors_to_arrays`): the same values (dtype, shape, bytes, containers, key order) or the
same refusal (file, key, problem); or it hands the file to torch, whose outcome is then
the answer. It never returns a value for a file torch refuses, and it refuses the
payloads itself, before torch would be imported.

And what the user sees: stage 1's report (JSON, figures, plots) is identical whether a
run read the cache (the reader, torch where it cannot) or torch's path alone read it, on
every cache the tests have: the sample, the small Balabit cache, the malformed corpus,
tests/test_hardening.py's caches, the hostile payloads, .npz and .safetensors forms and
the research repos' forms (tests/research_repos.py); a fall back to torch is logged.
"""

from __future__ import annotations

import io
import json
import logging
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
from cache_faults import npz_with_a_text_member
from hypothesis import given
from hypothesis import strategies as st
from test_results_cache import same

from tui_timing.artifacts import safe_load
from tui_timing.artifacts.cache import raw_cache
from tui_timing.artifacts.safe_load import load_arrays, load_container, tensors_to_arrays
from tui_timing.artifacts.torch_zip import NeedsTorch
from tui_timing.config import ArtifactPaths, Settings
from tui_timing.errors import ArtifactError
from tui_timing.report.json_report import render_json
from tui_timing.resources import sample_data_dir
from tui_timing.stages.context import Loaded, StageContext
from tui_timing.stages.runner import check_report, load_artifact, resolve_paths, run_stage

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


def test_hostile_payloads_are_refused_by_the_reader(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Zip files calling os.system or builtins.exec are refused by the reader itself, in
    the torch path's words, without running anything; a call of a function in the user's
    own module goes to torch's path, which reads the user's classes as data and refuses
    calls; plain pickles and the legacy format go to torch (which refuses them). Given as
    the cache, each makes the same stage 1 report either way."""
    files = untrusted._write_set(tmp_path)
    for h in files:
        who = assert_same(h.path)
        by_reader = h.fmt == "pickle-p0" or (h.fmt == "zip" and h.payload != "__reduce__")
        assert who == ("reader" if by_reader else "torch"), h
        assert assert_same_stage1(h.path, caplog) == who, h
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


# --- stage 1's report, whichever reader loaded the cache ------------------------------------


def stage1_report(
    path: Path, torch_path: bool, key_map: dict[str, str] | None = None
) -> tuple[str, Any]:
    """Stage 1's JSON report and result on the cache (with the raw summary beside it, if
    any): the cache loaded as a run loads it (the numpy reader, torch where it cannot), or
    by the torch path alone (`torch.load(weights_only=True)`, tensors to arrays)."""
    settings = Settings(keys={"cache": dict(key_map or {})})
    ctx = StageContext(paths=resolve_paths(ArtifactPaths(cache=path)), settings=settings)
    for kind, file in ctx.paths.given().items():
        if kind != "cache" or not torch_path:
            ctx.artifacts[kind] = load_artifact(kind, file, settings)
    if torch_path:
        try:
            value = raw_cache(path, tensors_to_arrays(load_container(path)), key_map or {}, "")
            ctx.artifacts["cache"] = Loaded(path=path, value=value)
        except ArtifactError as exc:
            ctx.artifacts["cache"] = Loaded(path=path, error=exc)
    run_stage(ctx, 1)
    return render_json(check_report(ctx, 1)), ctx.results[1]


def assert_same_stage1(
    path: Path, caplog: pytest.LogCaptureFixture, key_map: dict[str, str] | None = None
) -> str:
    """Stage 1's report, figures and plots are identical either way, and a fall back to
    torch is logged with the file and the reason. Returns who read it: reader or torch."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=safe_load.LOG.name):
        report, result = stage1_report(path, torch_path=False, key_map=key_map)
    logged = [r.getMessage() for r in caplog.records if r.name == safe_load.LOG.name]
    by_torch, by_torch_result = stage1_report(path, torch_path=True, key_map=key_map)
    assert report == by_torch, path
    assert same(result, by_torch_result), path
    fell_back = reader_outcome(path) is None
    assert len(logged) == fell_back, (path, logged)
    assert all(str(path) in line and "read by torch.load" in line for line in logged), logged
    return "torch" if fell_back else "reader"


def test_stage1_is_the_same_on_the_sample_and_the_small_balabit_cache(
    small_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for path in (SAMPLE / "datasets" / "sample" / "train_timing.pt", small_cache):
        assert path.with_name("train_summary.json").is_file()  # cache.vs_raw runs too
        assert assert_same_stage1(path, caplog) == "reader", path


def test_stage1_is_the_same_on_the_malformed_corpus(
    corpus_files: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    answered = {
        case_id: assert_same_stage1(path, caplog)
        for case_id, path in corpus_files.items()
        if case_id.startswith("cache-")
    }
    assert len(answered) == len(malformed.CACHES)
    # torch's path judges the tensors numpy cannot hold, and the damage it words itself
    assert {c for c, who in answered.items() if who == "torch"} == {
        "cache-meta_device", "cache-sparse_profile", "cache-nested_features",
        "cache-cut_half", "cache-cut_head", "cache-zip_garbage",
    }  # fmt: skip


def _hardening_caches(base: dict[str, Any], folder: Path) -> dict[str, tuple[Path, str]]:
    """The caches of tests/test_hardening.py, built the same way: name -> (file, who reads
    it: "reader" for the numpy reader, "torch" for torch's path)."""
    files: dict[str, tuple[Path, str]] = {}

    def save(name: str, obj: Any, who: str, suffix: str = "_timing.pt", **kwargs: Any) -> None:
        path = folder / f"{name}{suffix}"
        torch.save(obj, path, **kwargs)
        files[name] = (path, who)

    n = 10**9
    expanded = {"duration": torch.ones(1).expand(n), "features": torch.ones(1, 8).expand(n, 8),
                "profile": torch.full((1, 128), 1 / 128).expand(n, 128)}  # fmt: skip
    save("expanded", expanded, "torch")
    for dtype in (torch.uint16, torch.uint32, torch.uint64):
        save(f"lengths_{dtype}", {**base, "length": base["length"].to(dtype)}, "torch")
    for protocol in (4, 5):
        for zipped in (True, False):
            save(f"proto{protocol}_zip{zipped}", base, "torch", pickle_protocol=protocol,
                 _use_new_zipfile_serialization=zipped)  # fmt: skip
    save("legacy_storage_bytes", {"duration": torch.zeros(0x0A80, dtype=torch.uint8)}, "torch",
         pickle_protocol=4, _use_new_zipfile_serialization=False)  # fmt: skip
    save("legacy", base, "torch", _use_new_zipfile_serialization=False)
    save("bfloat16", {**base, "profile": base["profile"].bfloat16()}, "torch")
    save("bigint", {**base, "meta": {**base["meta"], "max_len": 10**4999}}, "torch")
    save("torch_named_safetensors", base, "reader", suffix=".safetensors")
    pickle_named = folder / "pickle.safetensors"
    pickle_named.write_bytes(b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01K\x01s.")
    files["pickle_named_safetensors"] = (pickle_named, "torch")
    files["npz_not_an_array"] = (npz_with_a_text_member(folder / "extra_timing.npz"), "reader")
    big_endian = folder / "be_timing.npz"
    np.savez(big_endian, duration=base["duration"].numpy().astype(">f4"),
             profile=np.asfortranarray(base["profile"].numpy().astype(">f4")),
             mask=np.asfortranarray(base["mask"].numpy()),
             length=base["length"].numpy().astype(">i8"),
             features=np.asfortranarray(base["features"].numpy()))  # fmt: skip
    files["big_endian_fortran_npz"] = (big_endian, "reader")
    return files


def test_stage1_is_the_same_on_the_hardening_caches(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    base = torch.load(SAMPLE / "datasets" / "sample" / "train_timing.pt", weights_only=True)
    for name, (path, who) in _hardening_caches(base, tmp_path).items():
        assert assert_same_stage1(path, caplog) == who, name


def _forms(small_cache: Path, folder: Path) -> dict[str, tuple[Path, dict[str, str]]]:
    """The small Balabit cache in the other containers and under users' own names: name ->
    (file, the key map a user gives for it)."""
    from safetensors.torch import save_file

    cache = torch.load(small_cache, weights_only=True)
    arrays = {k: v.numpy() for k, v in cache.items() if isinstance(v, torch.Tensor)}
    meta = json.dumps(cache["meta"])
    forms: dict[str, tuple[Path, dict[str, str]]] = {}
    npz = folder / "train_timing.npz"
    np.savez(npz, **arrays, meta=np.array(meta))
    forms["npz"] = (npz, {})
    tensors = {k: v.contiguous() for k, v in cache.items() if isinstance(v, torch.Tensor)}
    st_file = folder / "train_timing.safetensors"
    save_file(tensors, str(st_file), metadata={"meta": meta})
    forms["safetensors"] = (st_file, {})
    # tests/research_repos.py: the Lightning repo's .npz under its own names (aliases) ...
    lightning = folder / "lightning_train.npz"
    np.savez(lightning, durations_s=arrays["duration"], dt_profile=arrays["profile"],
             valid=arrays["mask"].astype(np.uint8), lengths=arrays["length"],
             cond=arrays["features"])  # fmt: skip
    forms["lightning_repo_npz"] = (lightning, {})
    # ... the dataclass repo's .pt (float masks, its own stats and config) ...
    dataclass_pt = folder / "dataclass_train_timing.pt"
    torch.save({"durations": cache["duration"].float(), "profiles": cache["profile"].float(),
                "masks": cache["mask"].float(), "features": cache["features"].float(),
                "stats": {"count": len(cache["duration"]), "profile_mean": [0.5, 0.5]},
                "config": {"dataset_id": "balabit", "sequence_length": 128},
                "split": "train"}, dataclass_pt)  # fmt: skip
    forms["dataclass_repo_pt"] = (dataclass_pt, {})
    # ... and names only a key map finds ([tool.timing-tui.keys.cache])
    named = folder / "own_names.npz"
    np.savez(named, T=arrays["duration"], P=arrays["profile"], M=arrays["mask"],
             C=arrays["features"], N=arrays["length"])  # fmt: skip
    forms["own_names_npz"] = (named, {"duration": "T", "profile": "P", "mask": "M",
                                      "features": "C", "length": "N"})  # fmt: skip
    return forms


def test_stage1_is_the_same_on_npz_safetensors_and_research_repo_forms(
    small_cache: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for name, (path, key_map) in _forms(small_cache, tmp_path).items():
        assert assert_same_stage1(path, caplog, key_map) == "reader", name
