"""What a tensor file holds (keys, nesting, shapes), read from its headers alone.

Discovery looks into every `.pt`, `.pth`, `.ckpt`, `.npz` and `.safetensors` under the
working directory, so it must not load them: a torch zip file's `data.pkl` is read as a
skeleton (pickle_skeleton: no code runs, no tensor data is read), an `.npz` member by its
`.npy` header, a `.safetensors` file by its JSON header. A legacy (non-zip) torch file is
read the same way from its first bytes, up to a bound.
"""

from __future__ import annotations

import io
import json
import pickletools
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from tui_timing.artifacts.pickle_skeleton import SkeletonError, TensorStub, read_skeleton

#: The most of a pickle read to see a file's structure (data.pkl of a large checkpoint
#: is a few MB; the tensors themselves are elsewhere in the archive).
MAX_PICKLE_BYTES = 64 << 20
MAX_HEADER_BYTES = 16 << 20


class PeekError(ValueError):
    """The file is not a tensor container this reader understands."""


def peek(path: Path) -> Any:
    """The skeleton of a tensor file: dicts whose tensors are TensorStub."""
    with path.open("rb") as handle:
        head = handle.read(16)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _peek_zip(path)
    if len(head) >= 9 and head[8:9] == b"{":
        return _peek_safetensors(path)
    if head[:1] == b"\x80":
        return _peek_legacy_torch(path)
    raise PeekError(f"not a torch, .npz or .safetensors file (first bytes {head[:8]!r})")


def _peek_zip(path: Path) -> Any:
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        if infos and all(info.filename.endswith(".npy") for info in infos):
            return {
                info.filename.removesuffix(".npy"): _npy_header(archive, info) for info in infos
            }
        pickles = [info for info in infos if info.filename.endswith("data.pkl")]
        if not pickles:
            raise PeekError("a zip archive that is neither a torch file nor an .npz")
        if pickles[0].file_size > MAX_PICKLE_BYTES:
            raise PeekError(f"its pickle is over {MAX_PICKLE_BYTES >> 20} MB")
        return _skeleton(archive.read(pickles[0]))


def _npy_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Any:
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        reader = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, _, dtype = reader(member)
    if dtype.kind in "US":
        return f"<text {list(shape)}>"
    return TensorStub(tuple(int(d) for d in shape), dtype.name)


def _peek_safetensors(path: Path) -> Any:
    with path.open("rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(8))
        if size > MAX_HEADER_BYTES:
            raise PeekError("not a .safetensors file (its header length is implausible)")
        header = json.loads(handle.read(size))
    if not isinstance(header, dict):
        raise PeekError("not a .safetensors file (its header is not a JSON object)")
    return {
        name: TensorStub(tuple(int(d) for d in entry.get("shape", ())), str(entry.get("dtype")))
        for name, entry in header.items()
        if name != "__metadata__" and isinstance(entry, dict)
    }


def _peek_legacy_torch(path: Path) -> Any:
    """Torch's pre-zip format: three small pickles (magic, protocol, system info), then
    the object's pickle, then the storages."""
    with path.open("rb") as handle:
        data = io.BytesIO(handle.read(MAX_PICKLE_BYTES))
    try:
        for _ in range(3):
            for op, _, _ in pickletools.genops(data):
                if op.name == "STOP":
                    break
        start = data.tell()
        return _skeleton(data.getvalue()[start:])
    except (ValueError, IndexError) as exc:
        # a plain pickle (not torch's legacy format): read it as one object
        if isinstance(exc, SkeletonError):
            raise PeekError(str(exc)) from None
        return _skeleton(data.getvalue())


def _skeleton(data: bytes) -> Any:
    try:
        return read_skeleton(data)
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise PeekError(f"its pickle cannot be read ({exc})") from None
