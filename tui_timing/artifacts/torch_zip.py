"""Read a file in torch's zip format into numpy arrays, without importing torch.

`torch.save` writes a zip: `<archive>/data.pkl` (a pickle of the containers) and one raw,
uncompressed member per storage, `<archive>/data/<key>`. Importing torch costs well over a
second, and stage 1 only needs the numbers; this reader gives them to it at once.

Its unpickler runs a strict subset of what `torch.load(weights_only=True)` runs: the
opcodes of plain containers (dict, list, tuple, str, int, float, bool, None), the globals
`torch._utils._rebuild_tensor_v2`, `collections.OrderedDict` and the storage types of
dense numeric dtypes, and persistent ids that name a storage. It never imports anything a
file names and calls nothing but those two rebuilders.

Two outcomes besides a value:
- a global that torch's weights-only unpickler refuses too (`os.system`, `builtins.exec`,
  a numpy object) is refused here with the same message the torch path gives
  (`pickle_refusal.describe_unpickling_error` words both); a pickle naming a class of the
  user's is the torch path's, which reads such objects as data (`data_classes.py`);
- anything else this reader does not handle (damage, another protocol, an opcode or a
  global of torch's that is not a dense CPU tensor, a storage it cannot map) raises
  NeedsTorch: the caller loads the file with torch, whose outcome is then the answer.
"""

from __future__ import annotations

import io
import math
import pickle
import pickletools
import struct
import sys
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from tui_timing.artifacts.pickle_refusal import describe_unpickling_error
from tui_timing.errors import ArtifactError


class NeedsTorch(Exception):
    """The file is not one this reader handles; `torch.load(weights_only=True)` decides."""


#: The storage types of the dtypes numpy holds exactly (bfloat16 and the quantized and
#: newer unsigned types are left to torch).
STORAGE_DTYPES: dict[str, np.dtype[Any]] = {
    "FloatStorage": np.dtype(np.float32),
    "DoubleStorage": np.dtype(np.float64),
    "HalfStorage": np.dtype(np.float16),
    "LongStorage": np.dtype(np.int64),
    "IntStorage": np.dtype(np.int32),
    "ShortStorage": np.dtype(np.int16),
    "CharStorage": np.dtype(np.int8),
    "ByteStorage": np.dtype(np.uint8),
    "BoolStorage": np.dtype(np.bool_),
    "ComplexFloatStorage": np.dtype(np.complex64),
    "ComplexDoubleStorage": np.dtype(np.complex128),
}
_REBUILD_TENSOR_NAME = "torch._utils._rebuild_tensor_v2"
_ORDERED_DICT_NAME = "collections.OrderedDict"
#: Modules torch refuses even when a user allowlists them (its `_blocklisted_modules`).
_BLOCKED_MODULES = frozenset({"sys", "os", "posix", "nt"})
#: Globals outside `torch.*` that torch's weights-only unpickler allows: a file naming one
#: of them is torch's to judge (this reader allows only OrderedDict among them).
_TORCH_ALLOWS = frozenset(
    {
        "collections.OrderedDict",
        "collections.Counter",
        "_codecs.encode",
        "builtins.bytearray",
        "builtins.set",
        "builtins.complex",
    }
)
#: Python 2 names torch maps before judging a global (its copy of pickle's own tables).
_IMPORT_MAPPING = {
    "__builtin__": "builtins",
    "copy_reg": "copyreg",
    "Queue": "queue",
    "repr": "reprlib",
    "_abcoll": "collections.abc",
    "UserDict": "collections",
    "UserList": "collections",
    "UserString": "collections",
    "whichdb": "dbm",
    "StringIO": "io",
    "cStringIO": "io",
}
_NAME_MAPPING = {
    ("__builtin__", "xrange"): ("builtins", "range"),
    ("__builtin__", "reduce"): ("functools", "reduce"),
    ("__builtin__", "intern"): ("sys", "intern"),
    ("__builtin__", "unichr"): ("builtins", "chr"),
    ("__builtin__", "unicode"): ("builtins", "str"),
    ("__builtin__", "long"): ("builtins", "int"),
    ("itertools", "izip"): ("builtins", "zip"),
    ("itertools", "imap"): ("builtins", "map"),
    ("itertools", "ifilter"): ("builtins", "filter"),
    ("itertools", "ifilterfalse"): ("itertools", "filterfalse"),
    ("itertools", "izip_longest"): ("itertools", "zip_longest"),
    ("UserDict", "IterableUserDict"): ("collections", "UserDict"),
    ("UserList", "UserList"): ("collections", "UserList"),
    ("UserString", "UserString"): ("collections", "UserString"),
    ("__builtin__", "basestring"): ("builtins", "str"),
    ("exceptions", "StandardError"): ("builtins", "Exception"),
    ("UserDict", "UserDict"): ("collections", "UserDict"),
}
#: Top-level modules whose globals are never read as a user's data class, on either path
#: (`data_classes` uses this set): torch and numpy objects keep their own messages,
#: containers and codecs are the unpickler's business, and blocked modules stay blocked.
NOT_DATA_MODULES = frozenset(
    {
        "torch",
        "numpy",
        "builtins",
        "__builtin__",
        "copyreg",
        "copy_reg",
        "_codecs",
        "collections",
        "sys",
        "os",
        "posix",
        "nt",
    }
)
_LOCAL_HEADER = struct.Struct("<4s22xHH")
_END = struct.Struct("<4sHHHHIIH")
_LOCATOR = struct.Struct("<4sIQI")
_END64 = struct.Struct("<4sQHHIIQQQQ")
#: A central directory entry: magic, version needed, flags, method, sizes, name, extra and
#: comment lengths, disk, external attributes, offset of the local header (times, CRC and
#: internal attributes skipped).
_ENTRY = struct.Struct("<4s2xHHH8xIIHHHH2xII")
#: The MS-DOS attribute that makes miniz (torch's zip reader) take a member for a folder.
_DOS_FOLDER = 0x10
#: The general-purpose flags torch's writer sets: sizes in a data descriptor, UTF-8 names.
_TORCH_FLAGS = 0x0808


class _Callable:
    """What a GLOBAL of one of the two rebuilders pushes (never a string: a pickle could
    push the same text as data, and torch would refuse to call that)."""

    def __init__(self, name: str) -> None:
        self.name = name


_REBUILD_TENSOR = _Callable(_REBUILD_TENSOR_NAME)
_ORDERED_DICT = _Callable(_ORDERED_DICT_NAME)


@dataclass(frozen=True)
class _StorageType:
    """A storage class named by the pickle (`torch.FloatStorage`): only its dtype matters."""

    dtype: np.dtype[Any]


@dataclass(frozen=True)
class _Storage:
    """A persistent id resolved to a storage: a record of the zip, read on first use."""

    key: str
    dtype: np.dtype[Any]
    numel: int


def read_torch_zip(path: Path, handle: io.BufferedReader, size: int) -> Any:
    """The object `torch.load(path, weights_only=True)` would return, with numpy arrays in
    place of tensors, read from the open file (`size` bytes); ArtifactError for a file
    torch refuses as unsafe too; NeedsTorch for anything else this reader does not handle."""
    try:
        records = _Records(handle, path, size)
        pickled = records.read("data.pkl")
        _leave_data_classes_to_torch(pickled)
        value = _Unpickler(pickled, records, path, handle).load()
        # torch reads the id after the pickle (and fails on a damaged one)
        (records.optional(".data/serialization_id") or b"").decode("utf-8")
        return value
    except (NeedsTorch, ArtifactError):
        raise
    except Exception as exc:  # damage of any kind: the torch path words it
        raise NeedsTorch(f"damaged ({type(exc).__name__}: {exc})") from None


def _leave_data_classes_to_torch(pickled: bytes) -> None:
    """NeedsTorch when the pickle names a global the torch path may read as a user's data
    class: whether it then loads, or refuses and in which words, is that path's to say."""
    try:
        for opcode, arg, _ in pickletools.genops(pickled):
            if opcode.name in ("GLOBAL", "INST") and isinstance(arg, str):
                module = arg.partition(" ")[0]
                if module.split(".")[0] not in NOT_DATA_MODULES:
                    raise NeedsTorch(f"a class of the user's ({arg.replace(' ', '.')})")
    except NeedsTorch:
        raise
    except Exception:  # a damaged pickle: the unpickler meets the damage itself
        return


@dataclass(frozen=True)
class _Member:
    """Where a zip member's header is, and how many bytes it holds."""

    header: int
    size: int


class _Records:
    """The members of one torch zip, found the way torch finds them: under the folder
    of the first member."""

    def __init__(self, handle: io.BufferedReader, path: Path, size: int):
        self.handle = handle
        self.path = path
        self.size = size
        self.arrays: dict[str, np.ndarray] = {}
        names = _directory(handle, self.size)
        first = next(iter(names))
        if "/" not in first or names[first].header != 0:
            raise NeedsTorch("not laid out as torch.save writes a zip")
        self.prefix = first.split("/", 1)[0] + "/"
        if not all(name.startswith(self.prefix) for name in names):
            raise NeedsTorch(f"a zip member outside {self.prefix}")
        self.members = names
        if sys.byteorder != "little":
            raise NeedsTorch("a big-endian machine")
        if self.prefix + "constants.pkl" in self.members:
            raise NeedsTorch("a TorchScript archive")
        # the records torch reads before the pickle, so that damage to them is found first
        version = self.optional(".data/version") or self.read("version")
        if not (version.strip().isdigit() and 1 <= int(version) <= 3):
            raise NeedsTorch("a format version this reader does not know")
        self.optional(".format_version")
        if self.optional("byteorder") not in (None, b"little"):
            raise NeedsTorch("storages in big-endian byte order, or a damaged byte order")
        alignment = self.optional(".storage_alignment")
        if alignment is not None and not alignment.strip().isdigit():
            raise NeedsTorch("a damaged storage alignment")

    def optional(self, name: str) -> bytes | None:
        return self.read(name) if self.prefix + name in self.members else None

    def _locate(self, name: str) -> tuple[int, int]:
        """(offset of the member's bytes in the file, their count)."""
        member = self.members.get(self.prefix + name)
        if member is None:
            raise NeedsTorch(f"no record {name!r}")
        self.handle.seek(member.header)
        header = self.handle.read(_LOCAL_HEADER.size)
        if len(header) != _LOCAL_HEADER.size:
            raise NeedsTorch(f"record {name!r} is cut off")
        magic, name_length, extra_length = _LOCAL_HEADER.unpack(header)
        start = member.header + _LOCAL_HEADER.size + name_length + extra_length
        if magic != b"PK\x03\x04" or start + member.size > self.size:
            raise NeedsTorch(f"record {name!r} is damaged or cut off")
        return start, member.size

    def read(self, name: str) -> bytes:
        start, count = self._locate(name)
        self.handle.seek(start)
        data = self.handle.read(count)
        if len(data) != count:
            raise NeedsTorch(f"record {name!r} is cut off")
        return data

    def storage(self, storage: _Storage) -> np.ndarray:
        """The storage's elements (one array per key, shared by the tensors viewing it)."""
        found = self.arrays.get(storage.key)
        if found is not None:
            if found.dtype != storage.dtype or found.size != storage.numel:
                raise NeedsTorch(f"storage {storage.key!r} is named with two types or sizes")
            return found
        start, count = self._locate(f"data/{storage.key}")
        if count != storage.numel * storage.dtype.itemsize:
            raise NeedsTorch(f"storage {storage.key!r} does not hold its {storage.numel} elements")
        raw = np.empty(count, dtype=np.uint8)
        self.handle.seek(start)
        if count and self.handle.readinto(raw.data) != count:
            raise NeedsTorch(f"storage {storage.key!r} is cut off")
        array = raw.view(storage.dtype)
        self.arrays[storage.key] = array
        return array


def _directory(handle: IO[bytes], size: int) -> dict[str, _Member]:
    """The members of a zip laid out as torch.save writes one (uncompressed, on one disk,
    no comments, the directory right before its end records), by name in directory order.

    Parsed here rather than by `zipfile`: torch's zip reader (miniz) refuses damage that
    `zipfile` reads past (a count or a length that runs past the directory), and such a
    file must reach torch, so that both paths refuse it alike.
    """
    if size < _END.size:
        raise NeedsTorch("too short for a zip")
    handle.seek(size - _END.size)
    magic, disk, directory_disk, here, total, length, offset, comment = _END.unpack(
        handle.read(_END.size)
    )
    if magic != b"PK\x05\x06" or disk or directory_disk or here != total or comment:
        raise NeedsTorch("the zip's end record is not as torch.save writes it")
    directory_end = size - _END.size
    if size >= _END.size + _LOCATOR.size:
        handle.seek(size - _END.size - _LOCATOR.size)
        locator = handle.read(_LOCATOR.size)
        if locator[:4] == b"PK\x06\x07":  # zip64: its record on disk 0 of 1
            _, record_disk, directory_end, disks = _LOCATOR.unpack(locator)
            handle.seek(directory_end)
            record = handle.read(_END64.size)
            if record_disk or disks != 1 or len(record) != _END64.size:
                raise NeedsTorch("the zip64 locator is not as torch.save writes it")
            magic, _, _, _, disk, directory_disk, here, total, length, offset = _END64.unpack(
                record
            )
            if magic != b"PK\x06\x06" or disk or directory_disk or here != total:
                raise NeedsTorch("the zip64 end record is not as torch.save writes it")
    if offset + length != directory_end or not 0 < total <= length // _ENTRY.size:
        raise NeedsTorch("the zip directory is not where its end record says")
    handle.seek(offset)
    data = handle.read(length)
    members: dict[str, _Member] = {}
    at = 0
    for _ in range(total):
        if at + _ENTRY.size > length:
            raise NeedsTorch("the zip directory is cut off")
        fields = _ENTRY.unpack_from(data, at)
        magic, needed, flags, method, csize, usize, name_length, extra, comment = fields[:9]
        start_disk, attributes, header = fields[9:]
        end = at + _ENTRY.size + name_length + extra + comment
        if (
            magic != b"PK\x01\x02"
            or end > length
            or needed > 45
            or flags & ~_TORCH_FLAGS
            or method
            or csize != usize
            or comment
            or start_disk
            or attributes & _DOS_FOLDER
            or 0xFFFFFFFF in (csize, header)  # zip64 sizes: files over 4 GB go to torch
            or header + _LOCAL_HEADER.size + usize > size
        ):
            raise NeedsTorch("a zip member is not as torch.save writes it")
        name = data[at + _ENTRY.size : at + _ENTRY.size + name_length].decode("utf-8")
        if name.endswith("/"):
            raise NeedsTorch("a folder in the zip")
        members[name] = _Member(header, usize)
        at = end
    if at != length:
        raise NeedsTorch("the zip directory holds more than its members")
    if len({name.lower() for name in members}) != total:  # miniz finds names in any case
        raise NeedsTorch("two zip members named alike")
    return members


class _Unpickler:
    """Protocol-2 pickles of tensors and plain containers, and nothing else."""

    def __init__(
        self, data: bytes, records: _Records, path: Path, handle: io.BufferedReader
    ) -> None:
        self.data = data
        self.handle = handle
        self.pos = 0
        self.records = records
        self.path = path
        self.stack: list[Any] = []
        self.metastack: list[list[Any]] = []
        self.memo: dict[int, Any] = {}

    def take(self, count: int) -> bytes:
        chunk = self.data[self.pos : self.pos + count]
        if len(chunk) != count:
            raise NeedsTorch("the pickle is cut off")
        self.pos += count
        return chunk

    def line(self) -> str:
        end = self.data.find(b"\n", self.pos)
        if end < 0:
            raise NeedsTorch("the pickle is cut off")
        text = self.data[self.pos : end]
        self.pos = end + 1
        try:
            return text.decode("utf-8")
        except UnicodeDecodeError:
            raise NeedsTorch("a global's name is not UTF-8") from None

    def pop_mark(self) -> list[Any]:
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def load(self) -> Any:
        try:
            if self.take(2) != b"\x80\x02":
                raise NeedsTorch("not a protocol-2 pickle")
            while True:
                code = self.take(1)
                if code == b".":
                    return _without_placeholders(self.stack.pop())
                self.step(code)
        except (NeedsTorch, ArtifactError):
            raise
        except Exception as exc:  # a malformed pickle: stack or memo misuse, bad values
            raise NeedsTorch(f"a malformed pickle ({type(exc).__name__})") from None

    def step(self, code: bytes) -> None:
        """Run one opcode (a branch each, in the order of pickle's own table)."""
        stack = self.stack
        if code == b"}":
            stack.append({})
        elif code == b"]":
            stack.append([])
        elif code == b")":
            stack.append(())
        elif code == b"(":
            self.metastack.append(stack)
            self.stack = []
        elif code == b"s":
            value, key = stack.pop(), stack.pop()
            self.target(dict)[key] = value
        elif code == b"u":
            items = self.pop_mark()
            target = self.target(dict)
            for index in range(0, len(items), 2):
                target[items[index]] = items[index + 1]
        elif code == b"a":
            item = stack.pop()
            self.target(list).append(item)
        elif code == b"e":
            items = self.pop_mark()
            self.target(list).extend(items)
        elif code == b"t":
            items = self.pop_mark()
            self.stack.append(tuple(items))
        elif code == b"\x85":
            stack[-1:] = [(stack[-1],)]
        elif code == b"\x86":
            stack[-2:] = [(stack[-2], stack[-1])]
        elif code == b"\x87":
            stack[-3:] = [(stack[-3], stack[-2], stack[-1])]
        elif code == b"N":
            stack.append(None)
        elif code == b"\x88":
            stack.append(True)
        elif code == b"\x89":
            stack.append(False)
        elif code == b"J":
            stack.append(struct.unpack("<i", self.take(4))[0])
        elif code == b"K":
            stack.append(self.take(1)[0])
        elif code == b"M":
            stack.append(struct.unpack("<H", self.take(2))[0])
        elif code == b"\x8a":
            stack.append(int.from_bytes(self.take(self.take(1)[0]), "little", signed=True))
        elif code == b"G":
            stack.append(struct.unpack(">d", self.take(8))[0])
        elif code == b"X":
            size = struct.unpack("<I", self.take(4))[0]
            stack.append(str(self.take(size), "utf-8", "surrogatepass"))
        elif code in (b"q", b"r"):
            index = self.take(1)[0] if code == b"q" else struct.unpack("<I", self.take(4))[0]
            self.memo[index] = stack[-1]
        elif code in (b"h", b"j"):
            index = self.take(1)[0] if code == b"h" else struct.unpack("<I", self.take(4))[0]
            stack.append(self.memo[index])
        elif code == b"c":
            stack.append(self.global_(self.line(), self.line()))
        elif code == b"Q":
            stack.append(self.persistent(stack.pop()))
        elif code == b"R":
            args = stack.pop()
            stack[-1] = self.reduce(stack[-1], args)
        else:
            raise NeedsTorch(f"pickle instruction {code!r}")

    def target(self, kind: type) -> Any:
        """The container an item is added to (a dict subclass for dicts: OrderedDict)."""
        found = self.stack[-1]
        if not isinstance(found, kind) or type(found) not in (kind, OrderedDict):
            raise NeedsTorch(f"an item added to a {type(found).__name__}")
        return found

    def global_(self, module: str, name: str) -> Any:
        """What a GLOBAL pushes: one of the two rebuilders, a storage type, or a refusal."""
        if (module, name) in _NAME_MAPPING:
            module, name = _NAME_MAPPING[(module, name)]
        else:
            module = _IMPORT_MAPPING.get(module, module)
        full = f"{module}.{name}"
        if full == _REBUILD_TENSOR_NAME:
            return _REBUILD_TENSOR
        if full == _ORDERED_DICT_NAME:
            return _ORDERED_DICT
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(STORAGE_DTYPES[name])
        if module in _BLOCKED_MODULES:
            self.refuse(
                f"Trying to load unsupported GLOBAL {full} whose module {module} is blocked."
            )
        if module == "torch" or module.startswith("torch.") or full in _TORCH_ALLOWS:
            raise NeedsTorch(f"the global {full} (not a dense tensor)")
        shown = full.removeprefix("builtins.")  # as torch names them
        self.refuse(
            f"Unsupported global: GLOBAL {shown} was not an allowed global by default. "
            f"Please use `torch.serialization.add_safe_globals([{shown}])` or the "
            f"`torch.serialization.safe_globals([{shown}])` context manager to allowlist "
            "this global if you trust this class/function."
        )

    def refuse(self, torch_message: str) -> None:
        """Refuse in the words of the torch path, which sees the same message from torch."""

        # torch.load puts its own first line before the unpickler's message
        text = f"Weights only load failed.\n\tWeightsUnpickler error: {torch_message}"
        problem = describe_unpickling_error(pickle.UnpicklingError(text), self.handle)
        raise ArtifactError(str(self.path), None, problem)

    def persistent(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise NeedsTorch("a persistent id that is not a storage")
        _, kind, key, location, numel = pid
        if not isinstance(kind, _StorageType) or not isinstance(key, str):
            raise NeedsTorch("a storage of a type this reader does not hold")
        if not isinstance(location, str) or not location.startswith(("cpu", "cuda")):
            raise NeedsTorch(f"a storage on {location!r}")
        if type(numel) is not int or numel < 0:
            raise NeedsTorch("a storage of no valid size")
        storage = _Storage(key, kind.dtype, numel)
        self.records.storage(storage)  # read now, in the order torch reads it
        return storage

    def reduce(self, func: Any, args: Any) -> Any:
        if func is _ORDERED_DICT and args == ():
            return OrderedDict()
        if func is _REBUILD_TENSOR and isinstance(args, tuple) and len(args) == 6:
            return self.tensor(*args)
        raise NeedsTorch("a call this reader does not make")

    def tensor(
        self, storage: Any, offset: Any, size: Any, stride: Any, _grad: Any, hooks: Any
    ) -> np.ndarray:
        """`_rebuild_tensor_v2`: a view of the storage, checked to lie inside it."""
        if not isinstance(storage, _Storage) or not (isinstance(hooks, OrderedDict) and not hooks):
            raise NeedsTorch("a tensor with hooks or without a storage")
        shape, steps = _ints(size), _ints(stride)
        if type(offset) is not int or offset < 0 or len(shape) != len(steps):
            raise NeedsTorch("a tensor of invalid size, stride or offset")
        array = self.records.storage(storage)
        count = math.prod(shape)
        if count == 0:
            return np.zeros(shape, dtype=storage.dtype)
        if any(n > 1 and step == 0 for n, step in zip(shape, steps, strict=True)):
            raise NeedsTorch("a tensor that repeats its storage (stride 0)")
        last = offset + sum((n - 1) * step for n, step in zip(shape, steps, strict=True))
        if last >= storage.numel or count > storage.numel:
            raise NeedsTorch("a tensor reaching outside its storage")
        itemsize = storage.dtype.itemsize
        return np.lib.stride_tricks.as_strided(
            array[offset:], shape=shape, strides=[step * itemsize for step in steps]
        )


def _without_placeholders(value: Any) -> Any:
    """The unpickled value, unless a storage, a storage type or a rebuilder ended up in it
    as data rather than being used to build a tensor: torch would return those objects."""
    stack, seen = [value], set()
    while stack:
        item = stack.pop()
        if isinstance(item, (_Storage, _StorageType, _Callable)):
            raise NeedsTorch("a storage or a global used as data")
        if isinstance(item, (dict, list, tuple)) and id(item) not in seen:
            seen.add(id(item))
            stack.extend(item.values() if isinstance(item, dict) else item)
            if isinstance(item, dict):
                stack.extend(item)
    return value


def _ints(value: Any) -> tuple[int, ...]:
    if not isinstance(value, tuple) or any(type(v) is not int or v < 0 for v in value):
        raise NeedsTorch("a tensor size or stride that is not non-negative integers")
    return value
