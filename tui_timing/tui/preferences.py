"""What the TUI remembers between launches: the theme last chosen.

Kept in `$XDG_CONFIG_HOME/timing-tui/preferences.json` (by default under `~/.config`),
beside the user's themes. It is written atomically, so a crash or two instances at once
leave the old file or the new one; a file that cannot be read or parsed is ignored (the
app starts with its default and the next choice rewrites it), never fatal.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tui_timing.artifacts.files import read_own_file

FILE_NAME = "preferences.json"
#: The preferences are a few bytes; a larger file (or a pipe, a device) is not read.
MAX_BYTES = 64 << 10


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """`$XDG_CONFIG_HOME/timing-tui` (by default `~/.config/timing-tui`)."""
    env = os.environ if env is None else env
    config = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "timing-tui"


def preferences_path() -> Path:
    return config_dir() / FILE_NAME


def load_preferences(path: Path | None = None) -> dict[str, Any]:
    """The saved preferences, or {} when there are none or they cannot be used."""
    try:
        data = json.loads(read_own_file(path or preferences_path(), MAX_BYTES).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def saved_theme(path: Path | None = None) -> str | None:
    """The theme chosen last time, if one was saved."""
    theme = load_preferences(path).get("theme")
    return theme if isinstance(theme, str) and theme else None


def save_theme(name: str, path: Path | None = None) -> Path:
    """Remember `name` as the theme, keeping any other saved preference; raises OSError."""
    from tui_timing.artifacts.atomic import atomic_write_json, private_folder

    target = path or preferences_path()
    preferences = load_preferences(target)
    preferences["theme"] = name
    if path is None:
        private_folder(target.parent)
    atomic_write_json(target, preferences, private=True)
    return target
