"""Where the bundled sample data and themes are, in a checkout and in an installed wheel."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_CHECKOUT_ROOT = Path(__file__).resolve().parents[1]


def _bundled(package: str, checkout_folder: str) -> Path:
    """The folder mapped into the wheel as `package`, or the checkout's top-level folder."""
    try:
        found = Path(str(resources.files(package)))
        if found.is_dir():
            return found
    except (ModuleNotFoundError, TypeError):
        pass
    return _CHECKOUT_ROOT / checkout_folder


def sample_data_dir() -> Path:
    """The bundled `sample_data/` (SPEC 7)."""
    return _bundled("tui_timing.sample_data", "sample_data")


def themes_dir() -> Path:
    """The bundled `themes/` folder of TOML themes."""
    return _bundled("tui_timing.themes", "themes")
