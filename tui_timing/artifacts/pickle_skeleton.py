"""The structure of a pickle (keys, nesting, tensor shapes) read without unpickling it.

Discovery classifies every checkpoint-like file under the working directory by what it
holds, and must do so cheaply and safely: a torch file's `data.pkl` is interpreted here
opcode by opcode (pickletools decodes them), as data. Nothing is imported and nothing is
called: a global is only a name, a call to it becomes a stub that records the name, and a
tensor is its shape and dtype (the storage bytes beside the pickle are never read). A
user's dataclass config comes back as an ObjectStub with its fields, a Lightning module's
hyper-parameters as a dict, and a pickle that asks for anything else still yields its
structure, since nothing it asks for is done.
"""

from __future__ import annotations

import pickletools
from dataclasses import dataclass, field
from typing import Any

#: Opcodes a pickle of this size has no business exceeding (a bound on hostile input).
MAX_OPS = 5_000_000
_TENSOR_REBUILDS = {
    "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_tensor_v3",
}
_PASS_THROUGH = {"torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state"}
_DICTS = {"collections.OrderedDict", "builtins.dict", "__builtin__.dict"}
_STORAGE_DTYPES = {
    "FloatStorage": "float32",
    "DoubleStorage": "float64",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
}


class SkeletonError(ValueError):
    """The pickle uses an opcode that has no meaning as data (extensions, out-of-band)."""


@dataclass(frozen=True)
class Global:
    """A global the pickle names (never imported)."""

    name: str


@dataclass(frozen=True)
class TensorStub:
    """A tensor: its shape and dtype, read from the pickle; its data is not touched."""

    shape: tuple[int, ...]
    dtype: str


@dataclass
class ObjectStub:
    """An object of a class the pickle names: the class's dotted name and its state."""

    cls: str
    state: Any = None
    args: tuple[Any, ...] = field(default_factory=tuple)


_MARK = object()


def read_skeleton(data: bytes) -> Any:
    """The object a pickle would build, with tensors as TensorStub and objects as
    ObjectStub; raises SkeletonError (or ValueError) for data that is not a pickle."""
    stack: list[Any] = []
    marks: list[list[Any]] = []
    memo: dict[int, Any] = {}
    for count, (op, arg, _) in enumerate(pickletools.genops(data)):
        if count > MAX_OPS:
            raise SkeletonError(f"more than {MAX_OPS} opcodes")
        name = op.name
        if name == "STOP":
            return stack.pop() if stack else None
        handler = _HANDLERS.get(name)
        if handler is not None:
            stack = handler(stack, marks, memo, arg)
        elif name in ("PROTO", "FRAME"):
            continue
        else:
            raise SkeletonError(f"opcode {name} cannot be read as data")
    raise SkeletonError("no STOP opcode: the pickle is cut off")


Stack = list[Any]


def _push_arg(stack: Stack, marks: list[Stack], memo: dict[int, Any], arg: Any) -> Stack:
    stack.append(arg)
    return stack


def _push(value_factory: Any) -> Any:
    def handler(stack: Stack, marks: list[Stack], memo: dict[int, Any], arg: Any) -> Stack:
        stack.append(value_factory())
        return stack

    return handler


def _bytes(stack: Stack, marks: list[Stack], memo: dict[int, Any], arg: Any) -> Stack:
    stack.append(f"<{len(arg)} bytes>")  # the size, not the payload
    return stack


def _mark(stack: Stack, marks: list[Stack], memo: dict[int, Any], arg: Any) -> Stack:
    marks.append(stack)
    return []


def _collect(kind: str) -> Any:
    def handler(stack: Stack, marks: list[Stack], memo: dict[int, Any], arg: Any) -> Stack:
        items = stack
        outer = marks.pop()
        if kind == "tuple":
            outer.append(tuple(items))
        elif kind == "list":
            outer.append(list(items))
        elif kind == "dict":
            outer.append(_pairs(items))
        elif kind == "appends":
            if isinstance(outer[-1], list):
                outer[-1].extend(items)
        elif kind == "setitems":
            if isinstance(outer[-1], dict):
                outer[-1].update(_pairs(items))
        elif kind == "inst":  # INST: the class came as the argument
            outer.append(ObjectStub(arg.replace(" ", "."), args=tuple(items)))
        elif kind == "obj":  # OBJ: the class is the first item after the mark
            cls = items[0] if items else None
            outer.append(ObjectStub(_name(cls), args=tuple(items[1:])))
        return outer

    return handler


def _pairs(items: list[Any]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key, value in zip(items[::2], items[1::2], strict=False):
        if _hashable(key):
            out[key] = value
    return out


def _hashable(key: Any) -> bool:
    try:
        hash(key)
    except TypeError:
        return False
    return True


def _tuple_n(n: int) -> Any:
    def handler(stack: Stack, marks: list[Stack], memo: dict[int, Any], arg: Any) -> Stack:
        items = stack[len(stack) - n :] if n else []
        del stack[len(stack) - n :]
        stack.append(tuple(items))
        return stack

    return handler


def _append(stack: Stack, marks: list[Stack], memo: dict[int, Any], arg: Any) -> Stack:
    value = stack.pop()
    if isinstance(stack[-1], list):
        stack[-1].append(value)
    return stack


def _setitem(stack: Stack, marks: list[Stack], memo: dict[int, Any], arg: Any) -> Stack:
    value = stack.pop()
    key = stack.pop()
    if isinstance(stack[-1], dict) and _hashable(key):
        stack[-1][key] = value
    return stack


def _pop(stack: Stack, marks: list[Stack], memo: dict[int, Any], arg: Any) -> Stack:
    stack.pop()
    return stack


def _pop_mark(stack: Stack, marks: list[Stack], memo: dict[int, Any], arg: Any) -> Stack:
    return marks.pop()


def _dup(stack: Stack, marks: list[Stack], memo: dict[int, Any], arg: Any) -> Stack:
    stack.append(stack[-1])
    return stack


def _put(stack: Stack, marks: list[Stack], memo: dict[int, Any], arg: Any) -> Stack:
    memo[int(arg)] = stack[-1]
    return stack


def _memoize(stack: Stack, marks: list[Stack], memo: dict[int, Any], arg: Any) -> Stack:
    memo[len(memo)] = stack[-1]
    return stack


def _get(stack: Stack, marks: list[Stack], memo: dict[int, Any], arg: Any) -> Stack:
    stack.append(memo[int(arg)])
    return stack


def _global(stack: Stack, marks: list[Stack], memo: dict[int, Any], arg: Any) -> Stack:
    stack.append(Global(str(arg).replace(" ", ".")))
    return stack


def _stack_global(stack: Stack, marks: list[Stack], memo: dict[int, Any], arg: Any) -> Stack:
    qualname = stack.pop()
    module = stack.pop()
    stack.append(Global(f"{module}.{qualname}"))
    return stack


def _reduce(stack: Stack, marks: list[Stack], memo: dict[int, Any], arg: Any) -> Stack:
    args = stack.pop()
    func = stack.pop()
    stack.append(_call(_name(func), args if isinstance(args, tuple) else ()))
    return stack


def _newobj(stack: Stack, marks: list[Stack], memo: dict[int, Any], arg: Any) -> Stack:
    args = stack.pop()
    cls = stack.pop()
    stack.append(ObjectStub(_name(cls), args=args if isinstance(args, tuple) else ()))
    return stack


def _newobj_ex(stack: Stack, marks: list[Stack], memo: dict[int, Any], arg: Any) -> Stack:
    stack.pop()  # kwargs
    return _newobj(stack, marks, memo, arg)


def _build(stack: Stack, marks: list[Stack], memo: dict[int, Any], arg: Any) -> Stack:
    state = stack.pop()
    target = stack[-1]
    if isinstance(target, ObjectStub):
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
            state = {**(state[0] if isinstance(state[0], dict) else {}), **state[1]}
        target.state = state
    return stack


def _persistent(stack: Stack, marks: list[Stack], memo: dict[int, Any], arg: Any) -> Stack:
    pid = stack.pop() if arg is None else arg
    dtype = "unknown"
    if isinstance(pid, tuple) and len(pid) >= 2 and isinstance(pid[1], Global):
        dtype = _STORAGE_DTYPES.get(pid[1].name.rsplit(".", 1)[-1], pid[1].name)
    stack.append(("storage", dtype))
    return stack


def _name(value: Any) -> str:
    return value.name if isinstance(value, Global) else type(value).__name__


def _call(func: str, args: tuple[Any, ...]) -> Any:
    """What calling `func(*args)` stands for, without calling it."""
    if func in _TENSOR_REBUILDS and len(args) >= 3:
        storage, size = args[0], args[2]
        dtype = storage[1] if isinstance(storage, tuple) and len(storage) == 2 else "unknown"
        shape = tuple(int(d) for d in size) if isinstance(size, tuple) else ()
        return TensorStub(shape, dtype)
    if func in _PASS_THROUGH and args:
        return args[0]
    if func in _DICTS:
        first = args[0] if args else None
        if isinstance(first, list):
            return _pairs([x for pair in first if isinstance(pair, tuple) for x in pair[:2]])
        return {}
    return ObjectStub(func, args=args)


_HANDLERS: dict[str, Any] = {
    "NONE": _push(lambda: None),
    "NEWTRUE": _push(lambda: True),
    "NEWFALSE": _push(lambda: False),
    "EMPTY_DICT": _push(dict),
    "EMPTY_LIST": _push(list),
    "EMPTY_SET": _push(list),
    "EMPTY_TUPLE": _push(tuple),
    "MARK": _mark,
    "TUPLE": _collect("tuple"),
    "LIST": _collect("list"),
    "DICT": _collect("dict"),
    "FROZENSET": _collect("tuple"),
    "APPENDS": _collect("appends"),
    "ADDITEMS": _collect("appends"),
    "SETITEMS": _collect("setitems"),
    "INST": _collect("inst"),
    "OBJ": _collect("obj"),
    "TUPLE1": _tuple_n(1),
    "TUPLE2": _tuple_n(2),
    "TUPLE3": _tuple_n(3),
    "APPEND": _append,
    "SETITEM": _setitem,
    "POP": _pop,
    "POP_MARK": _pop_mark,
    "DUP": _dup,
    "PUT": _put,
    "BINPUT": _put,
    "LONG_BINPUT": _put,
    "MEMOIZE": _memoize,
    "GET": _get,
    "BINGET": _get,
    "LONG_BINGET": _get,
    "GLOBAL": _global,
    "STACK_GLOBAL": _stack_global,
    "REDUCE": _reduce,
    "NEWOBJ": _newobj,
    "NEWOBJ_EX": _newobj_ex,
    "BUILD": _build,
    "PERSID": _persistent,
    "BINPERSID": lambda stack, marks, memo, arg: _persistent(stack, marks, memo, None),
    **{
        name: _push_arg
        for name in (
            "INT",
            "BININT",
            "BININT1",
            "BININT2",
            "LONG",
            "LONG1",
            "LONG4",
            "FLOAT",
            "BINFLOAT",
            "STRING",
            "BINSTRING",
            "SHORT_BINSTRING",
            "UNICODE",
            "BINUNICODE",
            "SHORT_BINUNICODE",
            "BINUNICODE8",
        )
    },
    **{name: _bytes for name in ("BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8")},
}
