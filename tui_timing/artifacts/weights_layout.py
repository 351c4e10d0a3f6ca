"""Where a checkpoint keeps its weights: one rule for the loader and for discovery.

The loader reads tensors and discovery reads a file's skeleton (its tensors are stubs), so
the rule takes what counts as a tensor as an argument; it imports neither torch nor the
skeleton reader. A file discovery calls a checkpoint is then one the loader loads, and one
it refuses is one discovery passes over.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

#: The container keys that hold the weights, in the order they are looked for, and what
#: each layout is called in reports.
STATE_KEYS: tuple[tuple[str, str], ...] = (
    ("model", "timing-tui checkpoint"),
    ("state_dict", "Lightning checkpoint"),
    ("model_state_dict", "model_state_dict checkpoint"),
    ("module", "'module' checkpoint"),
    ("net", "'net' checkpoint"),
    ("ema", "EMA weights checkpoint"),
    ("weights", "'weights' checkpoint"),
)
BARE = "bare state_dict"


def find_weights(
    container: Mapping[Any, Any], is_tensor: Callable[[Any], bool]
) -> tuple[str, str | None, Mapping[Any, Any]] | None:
    """(layout, the key holding the weights or None for a bare state dict, the weights),
    or None when the container holds no state dict.

    Under one of STATE_KEYS a state dict is any non-empty mapping of names to tensors; a
    bare one must also name at least one tensor as a module path (`layer.weight`), so that
    a dict of a few named tensors (a cache, an eval dump) is not taken for weights.
    """
    for key, layout in STATE_KEYS:
        value = container.get(key)
        if isinstance(value, Mapping) and _all_tensors(value, is_tensor):
            return layout, key, value
    if _all_tensors(container, is_tensor) and any(
        isinstance(name, str) and "." in name for name in container
    ):
        return BARE, None, container
    return None


def _all_tensors(mapping: Mapping[Any, Any], is_tensor: Callable[[Any], bool]) -> bool:
    return bool(mapping) and all(
        isinstance(name, str) and is_tensor(value) for name, value in mapping.items()
    )
