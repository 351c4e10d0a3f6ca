"""Themes as data: TOML files validated when loaded, each an interface theme plus plot colours.

Bundled themes live in `themes/`; a user adds or overrides one by dropping a file into
`~/.config/timing-tui/themes/`. A file that cannot be used is reported by name with the
problem and skipped, so a typo in one theme never stops the app from starting.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

from tui_timing.artifacts.files import read_own_file
from tui_timing.resources import themes_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib

#: What a plot colour is for plotext: one of its 16 names, or an RGB triple.
PlotColor = str | tuple[int, int, int]

#: plotext's named colours: the 16 ANSI colours, so they follow the terminal's palette.
PLOTEXT_NAMES = frozenset(
    f"{base}{bright}"
    for base in ("black", "white", "gray", "red", "green", "orange", "blue", "magenta", "cyan")
    for bright in ("", "+")
)
COLOR_KEYS = (
    "primary",
    "secondary",
    "accent",
    "warning",
    "error",
    "success",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
TOP_KEYS = frozenset({"name", "dark", "ansi", "colors", "variables", "plot"})
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
HEX_PATTERN = re.compile(r"^#[0-9a-fA-F]{6}$")

DEFAULT_THEME = "timing-dark"
ANSI_THEME = "timing-ansi"
#: Used when a Textual built-in theme is picked from the palette (it has no plot colours).
FALLBACK_SERIES: tuple[PlotColor, ...] = ("cyan", "orange", "green", "magenta", "red", "blue")
FALLBACK_REFERENCE: PlotColor = "gray"


@dataclass(frozen=True)
class PlotPalette:
    """The colours a plot draws its series and reference lines in."""

    series: tuple[PlotColor, ...] = FALLBACK_SERIES
    reference: PlotColor = FALLBACK_REFERENCE


class ThemeError(Exception):
    """A theme file that cannot be used: which file, and what is wrong with it."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"theme file {path}: {problem}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True)
class TimingTheme:
    """A validated theme: the Textual theme, the plot colours, and the file it came from."""

    theme: Theme
    series: tuple[PlotColor, ...]
    reference: PlotColor
    source: Path

    @property
    def name(self) -> str:
        return self.theme.name

    @property
    def palette(self) -> PlotPalette:
        return PlotPalette(self.series, self.reference)


#: A theme is a few kB; a larger file is refused unread.
MAX_THEME_BYTES = 256 << 10


def user_themes_dir() -> Path:
    """`$XDG_CONFIG_HOME/timing-tui/themes` (by default under `~/.config`)."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "timing-tui" / "themes"


def theme_dirs() -> list[Path]:
    """Where themes are read from, in order: a later file overrides an earlier one."""
    return [themes_dir(), user_themes_dir()]


def load_themes(dirs: Iterable[Path]) -> tuple[dict[str, TimingTheme], list[ThemeError]]:
    """Every usable theme in `dirs` (by name, in load order) and the files that were not."""
    themes: dict[str, TimingTheme] = {}
    problems: list[ThemeError] = []
    for folder in dirs:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                loaded = load_theme_file(path)
            except ThemeError as exc:
                problems.append(exc)
                continue
            themes.pop(loaded.name, None)  # an override moves to its new place in the cycle
            themes[loaded.name] = loaded
    return themes, problems


def load_theme_file(path: Path) -> TimingTheme:
    """Read and validate one theme file; raise ThemeError naming the file and the problem."""
    try:
        data = tomllib.loads(read_own_file(path, MAX_THEME_BYTES).decode("utf-8"))
    except OSError as exc:
        raise ThemeError(path, f"cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ThemeError(path, "is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ThemeError(path, f"is not valid TOML ({exc})") from None
    except RecursionError:
        raise ThemeError(path, "is nested too deeply to be a theme") from None
    return parse_theme(path, data)


def parse_theme(path: Path, data: Mapping[str, Any]) -> TimingTheme:
    """Validate a theme's parsed TOML; every problem names the key it is about."""
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise ThemeError(path, f"unknown key(s) {', '.join(unknown)}")
    name = data.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ThemeError(path, '`name` must be a lowercase name such as "my-theme"')
    dark = _flag(path, data, "dark", default=True)
    ansi = _flag(path, data, "ansi", default=False)
    colors = _table(path, data, "colors")
    bad_keys = sorted(set(colors) - set(COLOR_KEYS))
    if bad_keys:
        raise ThemeError(path, f"[colors] unknown key(s) {', '.join(bad_keys)}")
    if "primary" not in colors:
        raise ThemeError(path, "[colors] needs at least `primary`")
    for key, value in colors.items():
        _interface_color(path, f"[colors] {key}", value)
    variables = _table(path, data, "variables", required=False)
    for key, value in variables.items():
        _interface_color(path, f"[variables] {key}", value)
    plot = _table(path, data, "plot", required=False)
    bad_plot = sorted(set(plot) - {"series", "reference"})
    if bad_plot:
        raise ThemeError(path, f"[plot] unknown key(s) {', '.join(bad_plot)}")
    series_raw = plot.get("series", list(FALLBACK_SERIES))
    if not isinstance(series_raw, list) or not series_raw:
        raise ThemeError(path, "[plot] series must be a non-empty list of colours")
    series = tuple(_plot_color(path, "[plot] series", value) for value in series_raw)
    reference = _plot_color(path, "[plot] reference", plot.get("reference", FALLBACK_REFERENCE))
    if ansi:
        # Textual's ANSI colour system leaves these two to the theme, and its screens use them.
        pair = ("ansi_black", "ansi_white") if dark else ("ansi_white", "ansi_black")
        variables = {"ansi-background": pair[0], "ansi-foreground": pair[1], **variables}
    theme = Theme(name=name, dark=dark, ansi=ansi, variables=dict(variables), **colors)
    return TimingTheme(theme=theme, series=series, reference=reference, source=path)


def _flag(path: Path, data: Mapping[str, Any], key: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ThemeError(path, f"`{key}` must be true or false, not {value!r}")
    return value


def _table(path: Path, data: Mapping[str, Any], key: str, required: bool = True) -> dict[str, Any]:
    value = data.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise ThemeError(path, f"[{key}] must be a table")
    return value


def _interface_color(path: Path, where: str, value: Any) -> str:
    """A colour Textual understands ("#1c2027", "ansi_red", "rgb(…)", a CSS name)."""
    if not isinstance(value, str):
        raise ThemeError(path, f"{where}: {value!r} is not a colour")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeError(path, f"{where}: {value!r} is not a colour") from None
    return value


def _plot_color(path: Path, where: str, value: Any) -> PlotColor:
    """A plotext colour: one of its 16 names, or "#rrggbb" (turned into an RGB triple)."""
    if isinstance(value, str) and value in PLOTEXT_NAMES:
        return value
    if isinstance(value, str) and HEX_PATTERN.match(value):
        return (int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16))
    names = ", ".join(sorted(PLOTEXT_NAMES))
    raise ThemeError(path, f'{where}: {value!r} is not "#rrggbb" or one of {names}')


def default_theme_name(env: Mapping[str, str]) -> str:
    """The ANSI theme where the terminal is known to lack 256 colours, else the dark one.

    Without COLORTERM many terminals still do 256 colours (TERM says so); a bare `xterm`,
    `linux` or `vt100`, or NO_COLOR, gets the theme built from the terminal's own palette.
    """
    if env.get("NO_COLOR"):
        return ANSI_THEME
    if env.get("COLORTERM", "").lower() in ("truecolor", "24bit"):
        return DEFAULT_THEME
    term = env.get("TERM", "")
    return DEFAULT_THEME if "256" in term or "direct" in term else ANSI_THEME
