"""Load a file that should hold a dict of tensors, without ever running code from it.

Three containers are accepted, recognised by their first bytes rather than their names:
torch's zip and legacy pickle formats (always `weights_only=True`), numpy `.npz` (with
`allow_pickle=False`) and `.safetensors` (parsed here: it is a JSON header and raw bytes).

Files are read into memory, never memory-mapped: a mapped file that another program
truncates in place (a plain `torch.save` over the cache a TUI is watching) kills the reader
with SIGBUS at its next access, a signal no handler can turn into a message. What reading
costs is checked against the memory budget (`budget.py`) before anything is allocated,
and a file that changes while it is read is refused rather than returned half old, half new.

With `arrays=True` the same files give numpy arrays where tensors would be, and torch is
not imported (it takes over a second, and stage 1 needs only the numbers): torch's zip
format is read by `torch_zip`, and a file only torch can read, or whose refusal only
torch's path words, raises NeedsTorch. The messages of a refusal are the same either way.
"""

from __future__ import annotations

import io
import json
import logging
import math
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tui_timing.artifacts.budget import require_memory, size_text
from tui_timing.artifacts.files import changed_while_read, fingerprint, open_artifact
from tui_timing.artifacts.pickle_refusal import (
    ZIP_MAGIC,
    describe_unpickling_error,
    pickle_bytes,
    scan_pickle,
    unsafe_call,
)
from tui_timing.artifacts.torch_zip import NeedsTorch, read_torch_zip
from tui_timing.errors import ArtifactError

if TYPE_CHECKING:
    import torch

LOG = logging.getLogger(__name__)
# torch warns about the pickle protocol of a foreign pickle before it refuses the file; the
# refusal is what the user needs to see, not a warning line on stderr. (A filter set once:
# catch_warnings() around each load would race with the TUI's other threads.)
warnings.filterwarnings(
    "ignore", message=r"Detected pickle protocol", category=UserWarning, module=r"torch\."
)
_SAFETENSORS_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}


#: The numpy dtypes `torch.from_numpy` takes (in native byte order): with `arrays=True` an
#: .npz member of any other dtype (datetime, long double, ...) is left to the torch path.
_TORCH_NUMPY_DTYPES = frozenset(
    np.dtype(t)
    for t in (
        np.bool_,
        np.uint8,
        np.int8,
        np.int16,
        np.int32,
        np.int64,
        np.float16,
        np.float32,
        np.float64,
        np.complex64,
        np.complex128,
    )
)


def load_container(path: str | Path, *, arrays: bool = False) -> Any:
    """Return the object stored in `path` (usually a dict), refusing anything unsafe.

    Raises ArtifactError naming the file and the problem for a missing, empty, unreadable,
    truncated, unsafe or too large file, and for one that changed while it was read.
    `arrays`: numpy arrays instead of tensors, without torch; NeedsTorch (with the reason)
    for a file that only `torch.load` reads or words the refusal of.
    """
    path = Path(path)
    with open_artifact(path) as handle:
        before = fingerprint(handle)
        try:
            loaded = _load_open(path, handle, before[0], arrays)
        except ArtifactError:
            if fingerprint(handle) != before:  # cut off or rewritten while being read
                raise changed_while_read(path) from None
            raise
        except MemoryError:
            raise ArtifactError(
                str(path), None, f"ran out of memory while loading it ({size_text(before[0])})"
            ) from None
        if fingerprint(handle) != before:
            raise changed_while_read(path)
    return loaded


def load_arrays(path: str | Path) -> tuple[Any, str | None]:
    """The container with numpy arrays where tensors are, and why torch was needed.

    Read without torch where `load_container(arrays=True)` can (the reason is then None);
    otherwise by `torch.load(weights_only=True)`, its tensors turned into arrays, so that
    either way the caller gets the same values, or the same refusal. Falling back is
    logged (INFO): the results are the same, only slower to come, and the log says why.
    """
    try:
        return load_container(path, arrays=True), None
    except NeedsTorch as why:
        LOG.info("%s: read by torch.load, not the numpy reader (%s)", path, why)
        return tensors_to_arrays(load_container(path)), str(why)


def tensors_to_arrays(obj: Any) -> Any:
    """`obj` with every tensor replaced by a numpy array sharing its memory: lists and
    dicts are changed in place (each once, however often the file refers to it), tuples
    rebuilt; below _ARRAY_DEPTH levels, deeper than any stage looks, nothing is changed.
    bfloat16, which numpy lacks, is widened to float32 (exactly)."""
    import torch

    done: dict[int, Any] = {}

    def convert(value: Any, depth: int) -> Any:
        if isinstance(value, torch.Tensor):
            return _array_of(value)
        if not isinstance(value, (dict, list, tuple)) or depth >= _ARRAY_DEPTH:
            return value
        if id(value) in done:
            return done[id(value)]
        done[id(value)] = value  # a container met again while converting it stays as is
        if isinstance(value, tuple):
            done[id(value)] = tuple(convert(item, depth + 1) for item in value)
            return done[id(value)]
        for key in list(value) if isinstance(value, dict) else range(len(value)):
            value[key] = convert(value[key], depth + 1)
        return value

    return convert(obj, 0)


#: How deep `tensors_to_arrays` converts (stage 1 reads the top level and `meta`'s values).
_ARRAY_DEPTH = 32


def _array_of(tensor: torch.Tensor) -> Any:
    """A tensor's numbers as a numpy array (the tensor itself when it has none to give:
    a meta or sparse tensor nested deeper than `_require_dense_tensors` looks)."""
    import torch

    try:
        plain = tensor.detach().resolve_conj().resolve_neg()
        if plain.dtype == torch.bfloat16:
            plain = plain.float()
        return plain.numpy()
    except (RuntimeError, TypeError):
        return tensor


def _load_open(path: Path, handle: io.BufferedReader, size: int, arrays: bool) -> Any:
    head = handle.read(16)
    if not head:
        raise ArtifactError(str(path), None, "file is empty")
    handle.seek(0)
    if head.startswith(ZIP_MAGIC):
        names, damage = _zip_names(handle)
        if names and all(name.endswith(".npy") for name in names):
            return _load_npz(path, handle, arrays)
        if names and not any(name.endswith("data.pkl") for name in names):
            raise ArtifactError(str(path), None, _foreign_zip(names))
        if arrays:
            if damage is not None:
                raise NeedsTorch(damage)
            require_memory(path, None, size, "loading it")  # as _torch_load does first
            return read_torch_zip(path, handle, size)
        try:
            return _torch_load(path, handle, size)
        except ArtifactError as exc:
            # torch reports a cut-off zip as a bare OS error; the zip reader knows why
            if damage is None or "unsafe" in exc.problem:
                raise
            raise ArtifactError(str(path), None, damage) from None
    if _looks_like_safetensors(head):
        return _load_safetensors(path, handle, size, arrays)
    if head[:1] == b"\x80":
        if arrays:
            raise NeedsTorch("a pickle or torch's legacy format")
        return _torch_load(path, handle, size)
    called = scan_pickle(pickle_bytes(handle)).called  # protocol 0/1 start with no marker
    if called:
        raise ArtifactError(str(path), None, unsafe_call(called))
    raise ArtifactError(
        str(path),
        None,
        f"not a torch .pt, .npz or .safetensors file (unrecognised first bytes {head[:8]!r})",
    )


def _foreign_zip(names: list[str]) -> str:
    """Why a zip that is neither an .npz nor a torch file is refused."""
    other = next(name for name in names if not name.endswith(".npy"))
    if any(name.endswith(".npy") for name in names):
        return (
            f"an .npz may hold only .npy arrays, and member {other[:80]!r} is not one "
            "(np.savez writes only arrays: save the other data elsewhere)"
        )
    return (
        f"a zip file that is neither an .npz (.npy members) nor a torch file (no data.pkl); "
        f"its first member is {other[:80]!r}"
    )


def _zip_names(handle: io.BufferedReader) -> tuple[list[str], str | None]:
    """The members of a zip (an .npz is all `.npy`; a torch file has `*/data.pkl`), and
    what is wrong with its directory, if anything (it sits at the end: a file cut off
    while being written or copied has none)."""
    try:
        with zipfile.ZipFile(handle) as archive:
            return archive.namelist(), None
    except zipfile.BadZipFile as exc:
        return [], (
            f"truncated or damaged file ({exc}: the zip directory at its end is missing or "
            "broken; was it cut off while being written or copied?)"
        )
    except Exception as exc:  # unsupported versions, undecodable names: damage too
        return [], f"damaged zip file ({type(exc).__name__}: {exc})"


def _torch_load(path: Path, handle: io.BufferedReader, size: int) -> Any:
    """torch.load of the open file (a handle: torch then never picks a reader by the file's
    name, so a torch file named `.safetensors` still loads as what it is)."""
    require_memory(path, None, size, "loading it")
    handle.seek(0)
    try:
        loaded = _weights_only_load(path, handle)
    except ArtifactError:
        raise
    except pickle.UnpicklingError as exc:
        problem = describe_unpickling_error(exc, handle)
        raise ArtifactError(str(path), None, _named_safetensors(path, problem)) from None
    except MemoryError:
        raise
    except Exception as exc:  # torch raises many types for damaged files
        problem = _describe_torch_error(exc, handle)
        raise ArtifactError(str(path), None, _named_safetensors(path, problem)) from None
    _require_dense_tensors(path, loaded)
    return loaded


def _weights_only_load(path: Path, handle: io.BufferedReader) -> Any:
    """torch.load(weights_only=True); when that refuses classes that may be the user's
    own data classes (a config dataclass), once more with those read as data."""
    import torch

    from tui_timing.artifacts.data_classes import as_data, data_class_names, placeholders

    try:
        return torch.load(handle, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        names = data_class_names(path)
        if not names:
            raise
    with placeholders(names) as made:
        handle.seek(0)
        try:
            loaded = torch.load(handle, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            if made.refused:
                raise ArtifactError(str(path), None, unsafe_call(made.refused[0])) from None
            raise
    return as_data(loaded, made.made)


def _named_safetensors(path: Path, problem: str) -> str:
    """A file named .safetensors that is a pickle: say so before why it cannot be read."""
    if path.suffix.lower() != ".safetensors":
        return problem
    return f"not a safetensors file (it starts like a torch or pickle file; as one, {problem})"


#: How deep `_require_dense_tensors` looks into nested dicts and lists.
_MAX_DEPTH = 8


def _require_dense_tensors(path: Path, obj: Any) -> None:
    """Refuse tensors that load but hold no usable numbers: on the meta device (no data:
    a model built with device="meta" and saved as is), sparse, nested or quantized. Every
    stage reads dense CPU tensors; the others would fail inside a stage instead."""
    import torch

    stack: list[tuple[str | None, Any, int]] = [(None, obj, 0)]
    while stack:
        key, value, depth = stack.pop()
        if isinstance(value, torch.Tensor):
            problem = _tensor_problem(value)
            if problem:
                raise ArtifactError(str(path), key, problem)
        elif depth < _MAX_DEPTH and isinstance(value, (dict, list, tuple)):
            items = list(value.items() if isinstance(value, dict) else enumerate(value))
            for name, item in reversed(items):  # popped in file order: the first bad key
                stack.append((f"{key}.{name}" if key else str(name), item, depth + 1))


def _tensor_problem(tensor: torch.Tensor) -> str | None:
    import torch

    if tensor.device.type != "cpu":
        return (
            f"a tensor on the {tensor.device.type} device holds no data "
            "(saved from a model built on the meta device?)"
        )
    if tensor.layout != torch.strided:
        return f"a {tensor.layout} tensor: save dense tensors (.to_dense())"
    if tensor.is_nested:
        return "a nested tensor: save padded tensors and a mask"
    if tensor.is_quantized:
        return f"a quantized tensor ({tensor.dtype}): save it dequantized (.dequantize())"
    declared = tensor.numel() * tensor.element_size()
    stored = tensor.untyped_storage().nbytes()
    if declared > stored:
        return (
            f"a tensor of shape {list(tensor.shape)} (strides {list(tensor.stride())}) "
            f"declares {size_text(declared)} but stores {size_text(stored)}: an expanded "
            "view whose rows share memory (stride 0); save a real copy (.contiguous())"
        )
    return None


def _describe_torch_error(exc: Exception, handle: io.BufferedReader) -> str:
    text = str(exc).strip()
    first = next((line for line in text.splitlines() if line.strip()), type(exc).__name__)
    if "weights_only" in text or "Weights only" in text:
        return describe_unpickling_error(exc, handle)
    lowered = first.lower()
    if "can't allocate memory" in lowered or "cannot allocate memory" in lowered:
        return f"ran out of memory while loading it ({first[:200]})"
    if any(word in lowered for word in ("eof", "truncat", "central directory", "failed finding")):
        return f"truncated or damaged file ({first})"
    return f"not loadable ({type(exc).__name__}: {first[:200]})"


def _load_npz(path: Path, handle: io.BufferedReader, arrays: bool) -> dict[str, Any]:
    sizes, converted = _check_npz_members(path, handle)
    # every array, plus a copy of the largest big-endian or Fortran-order one while it is
    # converted
    require_memory(path, None, sum(sizes) + max(converted, default=0), "loading the .npz")
    handle.seek(0)
    try:
        with np.load(handle, allow_pickle=False) as archive:
            out: dict[str, Any] = {}
            for name in archive.files:
                array = archive[name]
                out[name] = _from_numpy(path, name, array, arrays)
            return out
    except (ArtifactError, NeedsTorch):
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise ArtifactError(
                str(path), None, "refused as unsafe: the .npz holds pickled objects"
            ) from None
        raise ArtifactError(str(path), None, f"not a readable .npz ({exc})") from None
    except Exception as exc:  # zipfile and zlib raise many types for damaged archives
        raise ArtifactError(
            str(path), None, f"truncated or damaged .npz ({type(exc).__name__}: {exc})"
        ) from None


def _check_npz_members(path: Path, handle: io.BufferedReader) -> tuple[list[int], list[int]]:
    """Refuse members that hold pickles or declare more data than they carry, before numpy
    allocates the declared shape (a 1 kB file can declare terabytes); return each member's
    size once inflated (from the zip directory, which zipfile holds the inflation to), and
    those of the members that are converted on loading."""
    sizes, converted = [], []
    try:
        with zipfile.ZipFile(handle) as archive:
            for info in archive.infolist():
                sizes.append(info.file_size)
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    reader = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, fortran, dtype = reader(member)
                    header = member.tell()
                _check_npz_member(path, info, shape, dtype, header)
                if fortran or not dtype.isnative:
                    converted.append(info.file_size)
    except ArtifactError:
        raise
    except Exception as exc:  # a header numpy cannot parse, a damaged archive
        raise ArtifactError(
            str(path), None, f"truncated or damaged .npz ({type(exc).__name__}: {exc})"
        ) from None
    return sizes, converted


def _check_npz_member(
    path: Path, info: zipfile.ZipInfo, shape: tuple[int, ...], dtype: np.dtype, header: int
) -> None:
    key = info.filename.removesuffix(".npy")
    if dtype.hasobject:
        raise ArtifactError(
            str(path), key, "refused as unsafe: the .npz member holds pickled objects"
        )
    declared = math.prod(shape) * dtype.itemsize
    if declared > info.file_size - header:
        raise ArtifactError(
            str(path),
            key,
            f"truncated or damaged .npz: shape {list(shape)} needs {declared} bytes, "
            f"the member holds {max(info.file_size - header, 0)}",
        )


def _from_numpy(path: Path, name: str, array: np.ndarray, arrays: bool) -> Any:
    """Tensors (or with `arrays`, C-ordered arrays) for numeric arrays; strings (a JSON
    `meta`, say) stay Python values."""
    if array.dtype.kind in "US":
        value = array.tolist()
        if name == "meta" and isinstance(value, str):
            return _parse_json_meta(value)
        return value
    if not array.dtype.isnative:  # a big-endian array: numpy reads it, torch does not
        array = array.astype(array.dtype.newbyteorder("="))
    if arrays:
        if array.dtype not in _TORCH_NUMPY_DTYPES:
            raise NeedsTorch(f"member {name!r} of dtype {array.dtype}")
        return np.ascontiguousarray(array)
    import torch

    try:
        return torch.from_numpy(np.ascontiguousarray(array))
    except TypeError:
        raise ArtifactError(
            str(path), name, f"unsupported dtype {array.dtype} (expected numbers or booleans)"
        ) from None


def _parse_json_meta(text: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return text


def _looks_like_safetensors(head: bytes) -> bool:
    if len(head) < 9:
        return False
    size = int.from_bytes(head[:8], "little")
    return 0 < size < 100_000_000 and head[8:9] == b"{"


def _load_safetensors(
    path: Path, handle: io.BufferedReader, size: int, arrays: bool
) -> dict[str, Any]:
    """Read the safetensors layout: u64 header size, JSON header, then the raw buffers.

    Every entry is checked against the file before anything is read, and what they need
    in all against the memory budget (entries may overlap: each becomes its own tensor).
    """
    handle.seek(0)
    header_size = int.from_bytes(handle.read(8), "little")
    try:
        header = json.loads(handle.read(header_size).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ArtifactError(str(path), None, "damaged .safetensors header") from None
    if not isinstance(header, dict):
        raise ArtifactError(str(path), None, "damaged .safetensors header (not an object)")
    body_start, body_size = 8 + header_size, size - 8 - header_size
    out: dict[str, Any] = {}
    entries = []
    for name, info in header.items():
        if name == "__metadata__":
            if isinstance(info, dict) and "meta" in info:
                out["meta"] = _parse_json_meta(str(info["meta"]))
            continue
        entries.append((name, *_safetensors_entry(path, name, info, body_size)))
    need = sum(end - start for _, _, start, end, _ in entries)
    require_memory(path, None, need, "loading the .safetensors file")
    for name, dtype, start, end, shape in entries:
        array = np.empty(end - start, dtype=np.uint8)
        handle.seek(body_start + start)
        if handle.readinto(array.data) != end - start:
            raise ArtifactError(str(path), name, "truncated .safetensors file")
        numbers = array.view(dtype).reshape(shape)
        out[name] = numbers if arrays else _tensor_of(numbers)
    return out


def _tensor_of(array: np.ndarray) -> torch.Tensor:
    import torch

    return torch.from_numpy(array)


def _safetensors_entry(
    path: Path, name: str, info: Any, body_size: int
) -> tuple[Any, int, int, tuple[int, ...]]:
    """(dtype, start, end, shape) of one header entry, checked against the file."""
    try:
        dtype = _SAFETENSORS_DTYPES[info["dtype"]]
        start, end = (int(v) for v in info["data_offsets"])
        shape = tuple(int(v) for v in info["shape"])
    except (KeyError, TypeError, ValueError):
        raise ArtifactError(
            str(path), name, "unsupported dtype or damaged entry in .safetensors header"
        ) from None
    if not 0 <= start <= end <= body_size:
        raise ArtifactError(str(path), name, "truncated .safetensors file")
    itemsize = np.dtype(dtype).itemsize
    if any(n < 0 for n in shape) or end - start != math.prod(shape) * itemsize:
        raise ArtifactError(str(path), name, "size does not match its shape in the header")
    return dtype, start, end, shape
