"""Stage results to JSON and back, exactly: what the results cache stores.

A cached result must render the same as the one computed (the report JSON byte for byte,
the panes character for character), so this keeps what plain JSON loses: tuples, dict
keys that are not strings, NaN and infinities, numpy scalars and arrays with their dtype,
complex numbers. Only the result dataclasses are rebuilt; any other object makes the
result unencodable (it is then not cached) rather than cached as something else.

numpy is imported only to rebuild numpy values: a warm launch shows results without it.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from typing import Any

from tui_timing.findings import (
    Action,
    Assumption,
    Check,
    Decision,
    Plot,
    RuleOutcome,
    Series,
    StageResult,
)

#: The dataclasses a stage result is made of, by the name stored for them.
CLASSES: dict[str, type] = {
    cls.__name__: cls
    for cls in (StageResult, Check, Plot, Series, Decision, Action, RuleOutcome, Assumption)
}
_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class Unencodable(ValueError):
    """A result holding an object the codec does not rebuild exactly."""


def encode(value: Any) -> Any:
    """A JSON-ready form of `value` that `decode` turns back into an equal value."""
    np = sys.modules.get("numpy")  # no numpy value exists unless numpy was imported
    if np is not None and isinstance(value, np.generic):  # before float: np.float64 is one
        return {"~np": value.dtype.str, "v": encode(value.item())}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"~f": repr(value)}
    if isinstance(value, complex):
        return {"~c": [encode(value.real), encode(value.imag)]}
    if np is not None and isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise Unencodable("a numpy array of objects")
        return {"~nd": value.dtype.str, "shape": list(value.shape), "v": encode(value.tolist())}
    if isinstance(value, tuple):
        return {"~t": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("~") for k in value):
            return {k: encode(v) for k, v in value.items()}
        return {"~d": [[encode(k), encode(v)] for k, v in value.items()]}
    if dataclasses.is_dataclass(value) and type(value).__name__ in CLASSES:
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"~dc": type(value).__name__, "f": fields}
    raise Unencodable(f"a {type(value).__name__}")


def decode(value: Any) -> Any:
    """The inverse of `encode`; ValueError (or KeyError, TypeError) on anything else."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1 and "~f" in value:
        return _FLOATS[value["~f"]]
    if len(value) == 1 and "~c" in value:
        real, imag = (decode(v) for v in value["~c"])
        return complex(real, imag)
    if "~np" in value:
        import numpy as np

        return np.dtype(value["~np"]).type(decode(value["v"]))
    if "~nd" in value:
        import numpy as np

        array = np.array(decode(value["v"]), dtype=np.dtype(value["~nd"]))
        return array.reshape(value["shape"])
    if len(value) == 1 and "~t" in value:
        return tuple(decode(v) for v in value["~t"])
    if len(value) == 1 and "~d" in value:
        return {_hashable(decode(k)): decode(v) for k, v in value["~d"]}
    if "~dc" in value:
        cls = CLASSES[value["~dc"]]
        return cls(**{name: decode(v) for name, v in value["f"].items()})
    if any(k.startswith("~") for k in value):
        raise ValueError(f"unknown tag in {sorted(value)}")
    return {k: decode(v) for k, v in value.items()}


def _hashable(key: Any) -> Any:
    if isinstance(key, (list, dict)):
        raise ValueError("a dict key that cannot be one")
    return key


def encode_result(result: StageResult) -> Any:
    """A stage result, JSON-ready (Unencodable when it holds an object of another kind)."""
    return encode(result)


def decode_result(data: Any) -> StageResult:
    """A stage result from `encode_result`'s output; ValueError when it is not one."""
    result = decode(data)
    if not isinstance(result, StageResult):
        raise ValueError("not a stage result")
    return result
