"""ASCII for a terminal whose locale is not UTF-8: the locale rule, and a stand-in of the
same width for every character the app, Textual and plotext draw."""

from __future__ import annotations

import pytest
from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.color import Color

from tui_timing.tui.charset import AsciiFilter, to_ascii, utf8_locale


@pytest.mark.parametrize(
    ("env", "utf8"),
    [
        ({"LANG": "en_US.UTF-8"}, True),
        ({"LANG": "C.UTF-8"}, True),
        ({"LC_ALL": "de_DE.utf8", "LANG": "C"}, True),
        ({"LC_ALL": "C", "LANG": "en_US.UTF-8"}, False),  # LC_ALL wins
        ({"LANG": "en_US.ISO-8859-1"}, False),
        ({"LANG": "C"}, False),
        ({"LANG": "POSIX"}, False),
        # Python's own locale coercion (PEP 538) writes LC_CTYPE=C.UTF-8 when LANG=C:
        ({"LANG": "C", "LC_CTYPE": "C.UTF-8"}, False),
        ({"LANG": "en_US.UTF-8", "LC_CTYPE": "C.UTF-8"}, True),
        ({"LC_CTYPE": "en_GB.ISO-8859-15", "LANG": "en_GB.UTF-8"}, False),
    ],
)
def test_the_locale_decides_like_tmux(env: dict[str, str], utf8: bool) -> None:
    assert utf8_locale(env) is utf8


def test_every_drawn_character_becomes_ascii_of_the_same_width() -> None:
    drawn = "✔ pass ✘ fail ▲ warn · … Δt σ μ ≈ × ← ▶ • ┌─┐│└┘╭╮╰╯├┤ █▇▆▅▄▃▂▁ ░▒▓ ▕▏ é ² 中"
    braille = "".join(chr(c) for c in range(0x2800, 0x2900))
    for text in (drawn, braille):
        out = to_ascii(text)
        assert out.isascii()
        assert cell_len(out) == cell_len(text)
    assert to_ascii("✔ pass · Δt σ") == "+ pass . Dt s"
    assert to_ascii("┌─┐") == "+-+"
    assert to_ascii("⠀⠁⣿") == " .#"  # braille by how many dots are set


def test_the_filter_keeps_styles_and_control_segments() -> None:
    bold = Style(bold=True)
    control = Segment("\x1b[?25l", None, [(1,)])  # type: ignore[list-item]
    out = AsciiFilter().apply([Segment("✔ ok", bold), Segment("plain"), control], Color(0, 0, 0))
    assert out[0] == Segment("+ ok", bold)
    assert out[1].text == "plain"
    assert out[2] is control
