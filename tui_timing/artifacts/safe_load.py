"""Load a file that should hold a dict of tensors, without ever running code from it.

Three containers are accepted, recognised by their first bytes rather than their names:
torch's zip and legacy pickle formats (always `weights_only=True`, memory-mapped where the
format allows, so a large cache is not copied into memory), numpy `.npz` (with
`allow_pickle=False`) and `.safetensors` (parsed here: it is a JSON header and raw bytes).
"""

from __future__ import annotations

import json
import math
import pickle
import pickletools
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tui_timing.errors import ArtifactError

_ZIP_MAGIC = b"PK\x03\x04"
#: Torch files at least this large are memory-mapped, so that a 1M-row cache is not copied
#: into memory; smaller ones are read whole. A mapped file that another program truncates
#: or rewrites in place (a plain torch.save truncates first) kills the reader with SIGBUS
#: at its next access to the mapping, a crash no handler can catch: a long-lived TUI whose
#: stage is reading a cache the user is rebuilding must not be exposed to it needlessly.
MMAP_MIN_BYTES = 256 << 20
#: How much of a plain pickle the static scan reads to name what it would call.
_PICKLE_SCAN_BYTES = 1 << 20
# torch warns about the pickle protocol of a foreign pickle before it refuses the file; the
# refusal is what the user needs to see, not a warning line on stderr. (A filter set once:
# catch_warnings() around each load would race with the TUI's other threads.)
warnings.filterwarnings(
    "ignore", message=r"Detected pickle protocol", category=UserWarning, module=r"torch\."
)
_HARMLESS_BUILTINS = {"set", "frozenset", "bytearray", "bytes", "slice", "complex", "object"}
_HARMLESS_GLOBALS = {
    "collections.OrderedDict",
    "collections.Counter",
    "_codecs.encode",
    "copyreg._reconstructor",
    "copy_reg._reconstructor",
}
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


def load_container(path: str | Path, *, mmap: bool = True) -> Any:
    """Return the object stored in `path` (usually a dict), refusing anything unsafe.

    Raises ArtifactError naming the file and the problem for a missing, empty, unreadable,
    truncated or unsafe file. `mmap` maps files of at least MMAP_MIN_BYTES (see there).
    """
    path = Path(path)
    head = _read_head(path)
    mmap = mmap and _size(path) >= MMAP_MIN_BYTES
    if head.startswith(_ZIP_MAGIC):
        names, damage = _zip_names(path)
        if names and all(name.endswith(".npy") for name in names):
            return _load_npz(path)
        try:
            return _torch_load(path, mmap=mmap)
        except ArtifactError as exc:
            # torch reports a cut-off zip as a bare OS error; the zip reader knows why
            if damage is None or "unsafe" in exc.problem:
                raise
            raise ArtifactError(str(path), None, damage) from None
    if _looks_like_safetensors(head):
        return _load_safetensors(path)
    if head[:1] == b"\x80":
        return _torch_load(path, mmap=False)
    called = _pickle_calls(path)  # a protocol 0/1 pickle starts with no marker byte
    if called:
        raise ArtifactError(str(path), None, _unsafe_call(called))
    raise ArtifactError(
        str(path),
        None,
        f"not a torch .pt, .npz or .safetensors file (unrecognised first bytes {head[:8]!r})",
    )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _read_head(path: Path) -> bytes:
    if not path.exists():
        raise ArtifactError(str(path), None, "file not found")
    if path.is_dir():
        raise ArtifactError(str(path), None, "is a folder, not a file")
    if not path.is_file():  # reading a pipe or /dev/zero would never end
        raise ArtifactError(str(path), None, "not a regular file (a device, pipe or socket)")
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError as exc:
        raise ArtifactError(str(path), None, f"cannot be read ({exc.strerror})") from None
    if not head:
        raise ArtifactError(str(path), None, "file is empty")
    return head


def _zip_names(path: Path) -> tuple[list[str], str | None]:
    """The members of a zip (an .npz is all `.npy`; a torch file has `*/data.pkl`), and
    what is wrong with its directory, if anything (it sits at the end: a file cut off
    while being written or copied has none)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist(), None
    except zipfile.BadZipFile as exc:
        return [], (
            f"truncated or damaged file ({exc}: the zip directory at its end is missing or "
            "broken; was it cut off while being written or copied?)"
        )
    except Exception as exc:  # unsupported versions, undecodable names: damage too
        return [], f"damaged zip file ({type(exc).__name__}: {exc})"


def _torch_load(path: Path, *, mmap: bool) -> Any:
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except RuntimeError as exc:
        # A legacy (non-zip) file cannot be memory-mapped; torch says so before it looks
        # inside, which would hide the real reason a bad file is refused.
        if mmap and "mmap can only be used" in str(exc):
            return _torch_load(path, mmap=False)
        raise ArtifactError(str(path), None, _describe_torch_error(exc, path)) from None
    except pickle.UnpicklingError as exc:
        raise ArtifactError(str(path), None, _describe_unpickling_error(exc, path)) from None
    except Exception as exc:  # torch raises many types for damaged files
        raise ArtifactError(str(path), None, _describe_torch_error(exc, path)) from None
    _require_dense_tensors(path, loaded)
    return loaded


#: How deep `_require_dense_tensors` looks into nested dicts and lists.
_MAX_DEPTH = 8


def _require_dense_tensors(path: Path, obj: Any) -> None:
    """Refuse tensors that load but hold no usable numbers: on the meta device (no data:
    a model built with device="meta" and saved as is), sparse, nested or quantized. Every
    stage reads dense CPU tensors; the others would fail inside a stage instead."""
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
    return None


_GLOBAL_PATTERNS = (
    re.compile(r"unsupported GLOBAL ([\w.]+)", re.IGNORECASE),
    re.compile(r"Unsupported global: GLOBAL ([\w.]+)"),
    re.compile(r"Unsupported operand (\d+)"),
)


def _describe_unpickling_error(exc: Exception, path: Path) -> str:
    """Say why a weights-only load refused the file, without torch's advice to disable it."""
    text = str(exc)
    for pattern in _GLOBAL_PATTERNS:
        match = pattern.search(text)
        if match:
            what = match.group(1)
            if what.isdigit():
                # torch stops at the first opcode it does not support (protocol 4's FRAME,
                # say) before it reaches the call a hostile pickle makes: name that call.
                return _describe_unsupported_opcode(int(what), path)
            if what.startswith("numpy"):
                return (
                    f"refused: the file stores numpy objects ({what}); timing-tui only loads "
                    "tensors and plain containers. Save tensors (torch.from_numpy) or an .npz"
                )
            return (
                f"refused as unsafe: the file asks to call {what} when loaded; timing-tui "
                "loads with weights_only=True and never runs code from a file"
            )
    first = next((line for line in text.splitlines() if line.strip()), text)
    if "weights_only" in first.lower() or "Weights only load failed" in first:
        return "refused as unsafe: the file holds objects that are not tensors or plain containers"
    return f"not loadable: {first}"


#: Pickle opcodes by their code character (what an unsupported opcode is called).
_OPCODES = {op.code: op for op in pickletools.opcodes}


def _describe_unsupported_opcode(code: int, path: Path) -> str:
    called = _pickle_calls(path)
    if called:
        return _unsafe_call(called)
    opcode = _OPCODES.get(chr(code)) if 0 <= code < 256 else None
    name = f" ({opcode.name})" if opcode is not None else ""
    return (
        f"refused: the file is a pickle using instruction {code}{name}, which a weights-only "
        "load does not accept; timing-tui only loads tensors and plain containers "
        "(save them with torch.save)"
    )


def _unsafe_call(called: str) -> str:
    return (
        f"refused as unsafe: the file is a pickle that asks to call {called} when loaded; "
        "timing-tui never unpickles objects, it loads tensors with weights_only=True"
    )


def _harmless_global(name: str) -> bool:
    """Globals any pickle of tensors and containers uses: naming them would mislead."""
    module, _, attr = name.rpartition(".")
    if module in ("torch", "torch.cuda"):
        return True  # storage and tensor types, dtypes, torch.Size
    if module in ("torch._utils", "torch._tensor"):
        return attr.startswith("_rebuild")
    if module in ("builtins", "__builtin__"):
        return attr in _HARMLESS_BUILTINS
    return name in _HARMLESS_GLOBALS


def _pickle_calls(path: Path) -> str | None:
    """The first global beyond those of plain tensors and containers that a pickle imports,
    read by parsing its opcodes (never running them); None when there is none, or when the
    bytes are not one whole pickle (a text file can look like the start of one)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(_PICKLE_SCAN_BYTES)
    except OSError:
        return None
    strings: list[str] = []
    found = None
    try:
        for opcode, arg, _ in pickletools.genops(data):
            name = None
            if opcode.name in ("GLOBAL", "INST") and isinstance(arg, str):
                name = arg.replace(" ", ".")
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                name = f"{strings[-2]}.{strings[-1]}"
            elif isinstance(arg, str):
                strings.append(arg)
            if found is None and name and not _harmless_global(name):
                found = name
    except Exception:  # not a pickle, a damaged one, or one longer than the bytes read
        return None
    return found


def _describe_torch_error(exc: Exception, path: Path) -> str:
    text = str(exc).strip()
    first = next((line for line in text.splitlines() if line.strip()), type(exc).__name__)
    if "weights_only" in text or "Weights only" in text:
        return _describe_unpickling_error(exc, path)
    lowered = first.lower()
    if any(word in lowered for word in ("eof", "truncat", "central directory", "failed finding")):
        return f"truncated or damaged file ({first})"
    return f"not loadable ({type(exc).__name__}: {first[:200]})"


def _load_npz(path: Path) -> dict[str, Any]:
    _check_npz_members(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            out: dict[str, Any] = {}
            for name in archive.files:
                array = archive[name]
                out[name] = _from_numpy(path, name, array)
            return out
    except ArtifactError:
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


def _check_npz_members(path: Path) -> None:
    """Refuse members that hold pickles or declare more data than they carry, before numpy
    allocates the declared shape (a 1 kB file can declare terabytes)."""
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    reader = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, _, dtype = reader(member)
                    header = member.tell()
                _check_npz_member(path, info, shape, dtype, header)
    except ArtifactError:
        raise
    except Exception as exc:  # a header numpy cannot parse, a damaged archive
        raise ArtifactError(
            str(path), None, f"truncated or damaged .npz ({type(exc).__name__}: {exc})"
        ) from None


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


def _from_numpy(path: Path, name: str, array: np.ndarray) -> Any:
    """Tensors for numeric arrays; strings (a JSON `meta`, say) stay Python values."""
    if array.dtype.kind in "US":
        value = array.tolist()
        if name == "meta" and isinstance(value, str):
            return _parse_json_meta(value)
        return value
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


def _load_safetensors(path: Path) -> dict[str, Any]:
    """Read the safetensors layout: u64 header size, JSON header, then the raw buffers."""
    try:
        raw = np.memmap(path, dtype=np.uint8, mode="r")
    except (OSError, ValueError) as exc:
        raise ArtifactError(str(path), None, f"cannot be read ({exc})") from None
    size = int.from_bytes(bytes(raw[:8]), "little")
    try:
        header = json.loads(bytes(raw[8 : 8 + size]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ArtifactError(str(path), None, "damaged .safetensors header") from None
    if not isinstance(header, dict):
        raise ArtifactError(str(path), None, "damaged .safetensors header (not an object)")
    body = raw[8 + size :]
    out: dict[str, Any] = {}
    for name, info in header.items():
        if name == "__metadata__":
            if isinstance(info, dict) and "meta" in info:
                out["meta"] = _parse_json_meta(str(info["meta"]))
            continue
        try:
            dtype = _SAFETENSORS_DTYPES[info["dtype"]]
            start, end = (int(v) for v in info["data_offsets"])
            shape = tuple(int(v) for v in info["shape"])
        except (KeyError, TypeError, ValueError):
            raise ArtifactError(
                str(path), name, "unsupported dtype or damaged entry in .safetensors header"
            ) from None
        if not 0 <= start <= end <= body.size:
            raise ArtifactError(str(path), name, "truncated .safetensors file")
        itemsize = np.dtype(dtype).itemsize
        if any(n < 0 for n in shape) or end - start != math.prod(shape) * itemsize:
            raise ArtifactError(str(path), name, "size does not match its shape in the header")
        array: np.ndarray = np.frombuffer(body[start:end], dtype=dtype)
        out[name] = torch.from_numpy(array.reshape(shape).copy())
    return out
