"""ASCII for a terminal whose locale is not UTF-8.

Such a terminal shows ✔, Δ, σ, box drawing and braille as mojibake (or tmux as `_`), so
when the locale does not say UTF-8 the app sends ASCII only: every frame passes through
`AsciiFilter`, which replaces each character by ASCII of the same width (a box corner by
`+`, a braille cell by `.`, `:` or `#` by how many of its dots are set, Δ by `D`), so the
layout is unchanged and nothing the app, Textual or plotext draws escapes it.

The rule is tmux's: the first of LC_ALL, LC_CTYPE and LANG that is set decides, and it
must name UTF-8. Python itself sets LC_CTYPE=C.UTF-8 at start-up when the locale is C
(PEP 538, "locale coercion"), so that value defers to LANG when LANG is set (`LANG=C`
is then what the user has); with no locale variable at all it counts, as UTF-8.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from functools import lru_cache

from rich.cells import cell_len
from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

#: What CPython writes into LC_CTYPE when it coerces the C locale (PEP 538).
COERCED = frozenset({"C.UTF-8", "C.utf8", "UTF-8"})

#: Characters the app and its libraries draw, with their ASCII stand-ins.
SPECIFIC: dict[str, str] = {
    **dict.fromkeys("✔✓", "+"),
    **dict.fromkeys("✘✗", "x"),
    **dict.fromkeys("▲△", "^"),
    **dict.fromkeys("▼▽", "v"),
    **dict.fromkeys("▶►▸", ">"),
    **dict.fromkeys("◀◄◂", "<"),
    **dict.fromkeys("●•◆■◉○◦∙", "*"),
    "·": ".",
    "…": "~",
    **dict.fromkeys("–—―−", "-"),
    **dict.fromkeys("←⟵", "<"),
    **dict.fromkeys("→⟶", ">"),
    "↑": "^",
    "↓": "v",
    "≈": "~",
    "×": "x",
    "±": "+",
    "≤": "<",
    "≥": ">",
    "≠": "#",
    "°": "o",
    **dict.fromkeys("‘’′", "'"),
    **dict.fromkeys("“”″", '"'),
    "Δ": "D",
    "δ": "d",
    "σ": "s",
    "Σ": "S",
    "μ": "u",
    "µ": "u",
    "π": "p",
    "λ": "l",
    "θ": "t",
    "τ": "t",
    "α": "a",
    "β": "b",
    "γ": "g",
    "ε": "e",
    "ρ": "r",
    "κ": "k",
    "▏": "|",
    "▕": "|",
    "░": ".",
    "▒": ":",
    "▔": "-",
    "▁": "_",
    "▂": "_",
    "╱": "/",
    "╲": "\\",
    "╳": "X",
}
HORIZONTAL = frozenset("─━┄┅┈┉╌╍═╼╾╴╶╸╺")
VERTICAL = frozenset("│┃┆┇┊┋╎╏║╽╿╵╷╹╻")


def utf8_locale(env: Mapping[str, str]) -> bool:
    """Whether the terminal's locale (as the environment states it) is UTF-8."""
    for name in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = env.get(name, "")
        if not value or (name == "LC_CTYPE" and value in COERCED and env.get("LANG")):
            continue
        return "utf-8" in value.lower() or "utf8" in value.lower()
    return False


@lru_cache(maxsize=4096)
def ascii_char(char: str) -> str:
    """One character as ASCII of the same cell width ("" for a zero-width one)."""
    if char.isascii():
        return char
    width = cell_len(char)
    if width == 0:
        return ""
    if char in SPECIFIC:
        return SPECIFIC[char]
    code = ord(char)
    if 0x2800 <= code <= 0x28FF:  # braille: 2x4 dots per cell
        dots = bin(code - 0x2800).count("1")
        return " " if dots == 0 else "." if dots <= 2 else ":" if dots <= 5 else "#"
    if 0x2500 <= code <= 0x257F:  # box drawing
        return "-" if char in HORIZONTAL else "|" if char in VERTICAL else "+"
    if 0x2580 <= code <= 0x259F or 0x1FB00 <= code <= 0x1FB3B:  # blocks, sextants
        return "#"
    decomposed = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
    if len(decomposed) == width:  # é -> e, ² -> 2
        return decomposed
    return "?" * width


def to_ascii(text: str) -> str:
    """`text` with every character replaced by ASCII of the same width."""
    if text.isascii():
        return text
    return "".join(ascii_char(char) for char in text)


class AsciiFilter(LineFilter):
    """Replaces every character of a rendered line by ASCII of the same cell width."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        return [
            segment
            if segment.control or segment.text.isascii()
            else Segment(to_ascii(segment.text), segment.style)
            for segment in segments
        ]
