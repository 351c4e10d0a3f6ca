"""Why a weights-only load refused a file, in words: the pickle's opcodes read without
running any of them, to name the call a hostile file makes, the protocol or the integer that
torch's reader stops at. The loaders (`safe_load.py`, `torch_zip.py`) word their refusals
here, so the same file is refused in the same words whichever reader met it."""

from __future__ import annotations

import io
import math
import pickletools
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

ZIP_MAGIC = b"PK\x03\x04"
#: How much of a plain pickle the static scan reads to name what it would call.
_PICKLE_SCAN_BYTES = 1 << 20
_HARMLESS_BUILTINS = {"set", "frozenset", "bytearray", "bytes", "slice", "complex", "object"}
_HARMLESS_GLOBALS = {
    "collections.OrderedDict",
    "collections.Counter",
    "_codecs.encode",
    "copyreg._reconstructor",
    "copy_reg._reconstructor",
}


_GLOBAL_PATTERNS = (
    re.compile(r"unsupported GLOBAL ([\w.]+)", re.IGNORECASE),
    re.compile(r"Unsupported global: GLOBAL ([\w.]+)"),
    re.compile(r"Unsupported operand (\d+)"),
)


def describe_unpickling_error(exc: Exception, handle: io.BufferedReader) -> str:
    """Say why a weights-only load refused the file, without torch's advice to disable it."""
    text = str(exc)
    for pattern in _GLOBAL_PATTERNS:
        match = pattern.search(text)
        if match:
            what = match.group(1)
            if what.isdigit():
                # torch stops at the first opcode it does not support (protocol 4's FRAME,
                # say) before it reaches the call a hostile pickle makes: name that call.
                return _describe_unsupported_opcode(int(what), handle)
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


def _describe_unsupported_opcode(code: int, handle: io.BufferedReader) -> str:
    scan = scan_pickle(pickle_bytes(handle))
    if scan.called:
        return unsafe_call(scan.called)
    if scan.big_int is not None:
        digits, key = scan.big_int
        where = f" (at {key!r})" if key else ""
        return (
            f"refused: the file holds an integer of about {digits} digits{where}, longer "
            "than a weights-only load reads (255 bytes, about 600 digits); store such a "
            "number as a string"
        )
    if scan.protocol >= 4:
        return (
            f"refused: the file was saved with pickle protocol {scan.protocol} "
            f"(torch.save(..., pickle_protocol={scan.protocol})), which a weights-only load "
            "cannot read; save it again with torch.save's default protocol (leave out "
            "pickle_protocol)"
        )
    opcode = _OPCODES.get(chr(code)) if 0 <= code < 256 else None
    name = f" ({opcode.name})" if opcode is not None else ""
    return (
        f"refused: the file is a pickle using instruction {code}{name}, which a weights-only "
        "load does not accept; timing-tui only loads tensors and plain containers "
        "(save them with torch.save)"
    )


def unsafe_call(called: str) -> str:
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


def pickle_bytes(handle: io.BufferedReader) -> bytes:
    """The start of the file's pickle: the file itself, or a torch zip's `data.pkl`."""
    handle.seek(0)
    if handle.read(4) == ZIP_MAGIC:
        try:
            with zipfile.ZipFile(handle) as archive:
                name = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
                if name is None:
                    return b""
                with archive.open(name) as member:
                    return member.read(_PICKLE_SCAN_BYTES)
        except Exception:  # a damaged archive: nothing to scan
            return b""
    handle.seek(0)
    return handle.read(_PICKLE_SCAN_BYTES)


@dataclass
class _PickleScan:
    """What a pickle's opcodes say, read without running any of them."""

    #: The first global beyond those of plain tensors and containers, or None.
    called: str | None = None
    #: The highest pickle protocol declared.
    protocol: int = 0
    #: (about how many digits, the last key before it) of an integer longer than LONG1 holds.
    big_int: tuple[int, str | None] | None = None
    #: What the last opcodes pushed (a string, or None for anything else).
    pushed: list[str | None] = field(default_factory=list)
    #: The strings stored in the pickle's memo (protocol 4 refers back to module names).
    memo: dict[int, str | None] = field(default_factory=dict)


#: torch's legacy format is five pickles (magic number, protocol version, system info, the
#: object, the storage keys) followed by raw storage bytes, which must not be read as opcodes:
#: random tensor data can spell PROTO 10 or a GLOBAL.
_LEGACY_PICKLES = 5

#: Opcodes that push nothing (or only store what is on top of the stack).
_NO_PUSH = {"PROTO", "FRAME", "MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT", "STOP"}


def scan_pickle(data: bytes) -> _PickleScan:
    """Parse the pickles at the start of `data` (a legacy torch file is several in a row).

    A text file can look like the start of a protocol 0 pickle, so what was found before a
    parse error counts only for a binary pickle (its first byte is PROTO)."""
    scan = _PickleScan()
    stream = io.BytesIO(data)
    try:
        for _ in range(_LEGACY_PICKLES):
            if stream.tell() >= len(data):
                break
            scan.memo.clear()  # each pickle has its own memo
            for opcode, arg, _ in pickletools.genops(stream):
                _scan_one(scan, opcode.name, arg)
    except Exception:  # a damaged pickle, raw storage bytes, or one longer than was read
        if not data.startswith(b"\x80"):
            return _PickleScan()
    return scan


def _scan_one(scan: _PickleScan, opcode: str, arg: Any) -> None:
    pushed = scan.pushed
    name = None
    if opcode in ("GLOBAL", "INST") and isinstance(arg, str):
        name = arg.replace(" ", ".")
    elif opcode == "STACK_GLOBAL" and len(pushed) >= 2 and None not in pushed[-2:]:
        name = f"{pushed[-2]}.{pushed[-1]}"
    elif opcode == "PROTO" and isinstance(arg, int):
        scan.protocol = max(scan.protocol, arg)
    elif opcode == "LONG4" and isinstance(arg, int) and scan.big_int is None:
        digits = int(arg.bit_length() * math.log10(2)) + 1
        key = next((value for value in reversed(pushed) if value is not None), None)
        scan.big_int = (digits, key)
    if opcode == "MEMOIZE":
        scan.memo[len(scan.memo)] = pushed[-1] if pushed else None
    elif opcode in ("PUT", "BINPUT", "LONG_BINPUT") and isinstance(arg, int):
        scan.memo[arg] = pushed[-1] if pushed else None
    elif opcode in ("GET", "BINGET", "LONG_BINGET") and isinstance(arg, int):
        pushed.append(scan.memo.get(arg))
    elif opcode not in _NO_PUSH:
        pushed.append(arg if isinstance(arg, str) else None)
    del pushed[:-4]
    if scan.called is None and name and not _harmless_global(name):
        scan.called = name
