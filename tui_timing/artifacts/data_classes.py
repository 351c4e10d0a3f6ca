"""Objects of the user's own classes in a checkpoint, read as data
(docs/artifacts.md#your-own-repo).

Research code saves `{"model": state_dict, "config": ModelConfig(...)}`: a weights-only
load refuses the config because its class is not a tensor. Pickled the standard way, such
an object is only "make an instance of class C without calling it (NEWOBJ with no
arguments), then set these fields (BUILD)". That needs no code of the class at all, so
each class the pickle names is stood in for by a placeholder class of ours, registered
with torch's weights-only unpickler under the class's dotted name; after the load every
placeholder instance becomes an `ObjectFields`: a dict of its fields plus the class name.

Nothing of the user is imported. A pickle that asks to *call* one of those names (REDUCE,
or NEWOBJ with arguments, as `os.system("...")` or `subprocess.call(...)` would be
pickled) reaches the placeholder, which refuses; torch's own rules still refuse
everything else (its blocked modules, functions it does not know).
"""

from __future__ import annotations

import pickle
import pickletools
import threading
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch.serialization

from tui_timing.artifacts.torch_zip import NOT_DATA_MODULES

#: The pickle of a checkpoint with many tensors is long; its first bytes name the config
#: class only if the config comes first, so the whole pickle is scanned, up to this size.
_SCAN_BYTES = 64 << 20
#: How deeply nested objects are turned back into data (a config nests a few levels).
_MAX_DEPTH = 64
#: torch's allow-list is process-wide: one load with placeholders at a time, so that two
#: threads do not remove each other's entries mid-load.
_LOCK = threading.Lock()


class ObjectFields(dict[str, Any]):
    """An object of the user's own class read as data: its fields, and in `class_name`
    the dotted name of its class (nothing of which was imported)."""

    def __init__(self, class_name: str, fields: dict[str, Any]) -> None:
        super().__init__(fields)
        self.class_name = class_name


@dataclass
class Placeholders:
    """The placeholder classes of one load, and the names the pickle asked to call."""

    made: dict[type, str] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)


def data_class_names(path: Path) -> list[str]:
    """Dotted names of the classes a torch file's pickle names that may be user data
    classes (everything torch and the builtins do not cover), read from its opcodes."""
    names: list[str] = []
    for data in _pickles(path):
        try:
            for opcode, arg, _ in pickletools.genops(data):
                if opcode.name in ("GLOBAL", "INST") and isinstance(arg, str):
                    module, _, name = arg.partition(" ")
                    dotted = f"{module}.{name}"
                    if module.split(".")[0] not in NOT_DATA_MODULES and dotted not in names:
                        names.append(dotted)
        except Exception:  # a damaged or cut-off pickle: what was read so far stands
            continue
    return names


def _pickles(path: Path) -> list[bytes]:
    """The pickle of a zip-format torch file, or the first bytes of a legacy one."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                members = [n for n in archive.namelist() if n.endswith("data.pkl")]
                return [archive.open(n).read(_SCAN_BYTES) for n in members[:1]]
        with path.open("rb") as handle:
            data = handle.read(_SCAN_BYTES)
    except (OSError, zipfile.BadZipFile, ValueError):
        return []
    return list(_successive_pickles(data))


def _successive_pickles(data: bytes) -> Iterator[bytes]:
    """A legacy torch file is several pickles in a row (magic, version, info, objects)."""
    start = 0
    while start < len(data):
        end = None
        try:
            for opcode, _, pos in pickletools.genops(data[start:]):
                if opcode.name == "STOP" and pos is not None:
                    end = start + pos + 1
                    break
        except Exception:  # the raw storage bytes after the pickles
            return
        if end is None:
            return
        yield data[start:end]
        start = end


@contextmanager
def placeholders(names: list[str]) -> Iterator[Placeholders]:
    """Register a placeholder class for each name with torch's weights-only unpickler for
    the duration of one load."""
    out = Placeholders()
    out.made = {_placeholder(name, out.refused): name for name in names}
    allowed: list[Callable[..., Any] | tuple[Callable[..., Any], str]] = [
        (cls, name) for cls, name in out.made.items()
    ]
    with _LOCK, torch.serialization.safe_globals(allowed):
        yield out


def _placeholder(name: str, refused: list[str]) -> type:
    def refuse() -> None:
        refused.append(name)
        raise pickle.UnpicklingError(f"the file asks to call {name}")

    def new(cls: type, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:  # NEWOBJ with arguments: the class's own __new__ would run
            refuse()
        return object.__new__(cls)

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        refuse()  # reached only by REDUCE: a call, never data

    return type(name.rpartition(".")[2] or name, (), {"__new__": new, "__init__": init})


def as_data(obj: Any, made: dict[type, str]) -> Any:
    """`obj` with every placeholder instance replaced by its ObjectFields (shared and
    cyclic references kept as such)."""
    memo: dict[int, Any] = {}

    def convert(value: Any, depth: int) -> Any:
        if id(value) in memo:
            return memo[id(value)]
        if depth > _MAX_DEPTH:
            return value
        if type(value) in made:
            out = ObjectFields(made[type(value)], {})
            memo[id(value)] = out
            out.update({str(k): convert(v, depth + 1) for k, v in vars(value).items()})
            return out
        if type(value) is dict:
            new: dict[Any, Any] = {}
            memo[id(value)] = new
            new.update({k: convert(v, depth + 1) for k, v in value.items()})
            return new
        if type(value) is list:
            items: list[Any] = []
            memo[id(value)] = items
            items.extend(convert(v, depth + 1) for v in value)
            return items
        if type(value) is tuple:
            return tuple(convert(v, depth + 1) for v in value)
        return value

    return convert(obj, 0)
