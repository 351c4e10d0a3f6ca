"""Load a user's own code named as `module:attribute` (`--dataset`, `--model`, `--sampler`).

The module is imported the way `python -c "import module"` would from the working
directory, so a researcher can point at a file in their repo without installing it.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from tui_timing.errors import UsageError


def load_object(spec: str, option: str) -> Any:
    """The object `attribute` of `module` for a `module:attribute` spec.

    Raises UsageError naming the option and what went wrong (the import's own error too,
    since a user's module failing to import is their bug to see).
    """
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise UsageError(f"{option} expects module:name, got {spec!r}")
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # the user's module may raise anything while importing
        raise UsageError(
            f"{option} {spec}: cannot import {module_name!r} ({type(exc).__name__}: {exc})"
        ) from None
    try:
        obj = module
        for part in attribute.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        raise UsageError(
            f"{option} {spec}: {module_name!r} has no attribute {attribute!r}"
        ) from None
    return obj
