"""Where the bundled sample data and themes are, in an installed wheel and in a checkout.

The wheel maps the top-level `sample_data/` and `themes/` into the package (see
pyproject.toml), so an installed copy has them beside its modules; an editable install or
a plain checkout has them at the repository's top level.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _bundled(folder: str) -> Path:
    """`folder` inside the installed package, else at the checkout's top level."""
    installed = _PACKAGE / folder
    return installed if installed.is_dir() else _PACKAGE.parent / folder


def sample_data_dir() -> Path:
    """The bundled `sample_data/` (docs/artifacts.md#sample-data)."""
    return _bundled("sample_data")


def themes_dir() -> Path:
    """The bundled `themes/` folder of TOML themes."""
    return _bundled("themes")
