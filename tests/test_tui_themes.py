"""Themes are data: the bundled ones load, a bad file is named with its problem, and the
default suits the terminal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tui_timing.resources import themes_dir
from tui_timing.tui.preferences import MAX_BYTES as PREFERENCES_MAX_BYTES
from tui_timing.tui.preferences import save_theme, saved_theme
from tui_timing.tui.themes import (
    ANSI_THEME,
    DEFAULT_THEME,
    ThemeError,
    default_theme_name,
    load_theme_file,
    load_themes,
    user_themes_dir,
)

GOOD = 'name = "mine"\n[colors]\nprimary = "#ff0000"\n'


def test_bundled_themes_load_dark_light_and_ansi() -> None:
    themes, problems = load_themes([themes_dir()])
    assert problems == []
    assert {DEFAULT_THEME, "timing-light", ANSI_THEME} <= set(themes)
    assert themes[DEFAULT_THEME].theme.dark and not themes["timing-light"].theme.dark
    ansi = themes[ANSI_THEME]
    assert ansi.theme.ansi and all(isinstance(c, str) for c in ansi.series)
    assert isinstance(themes[DEFAULT_THEME].series[0], tuple)  # hex became RGB


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("name = ", "is not valid TOML"),
        ('name = "Bad Name"\n[colors]\nprimary = "#fff"\n', "`name`"),
        ('name = "x"\n', "[colors] must be a table"),
        ('name = "x"\n[colors]\nsecondary = "#ffffff"\n', "needs at least `primary`"),
        ('name = "x"\n[colors]\nprimary = "blurple"\n', "[colors] primary: 'blurple'"),
        ('name = "x"\n[colors]\nprimry = "#ffffff"\n', "unknown key(s) primry"),
        ('name = "x"\ndark = "yes"\n[colors]\nprimary = "#fff"\n', "`dark` must be true"),
        ('name = "x"\ncolour = 1\n[colors]\nprimary = "#fff"\n', "unknown key(s) colour"),
        ('name = "x"\n[colors]\nprimary = "#fff"\n[plot]\nseries = []\n', "non-empty list"),
        ('name = "x"\n[colors]\nprimary = "#fff"\n[plot]\nseries = ["pink"]\n', "'pink'"),
        ('name = "x"\n[colors]\nprimary = "#fff"\n[plot]\nreference = "#12"\n', "reference"),
    ],
)
def test_a_bad_theme_file_names_the_file_and_the_problem(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ThemeError) as caught:
        load_theme_file(path)
    assert str(path) in str(caught.value)
    assert problem in str(caught.value)


def test_bad_files_are_skipped_and_user_themes_override(tmp_path: Path) -> None:
    bundled, user = tmp_path / "bundled", tmp_path / "user"
    bundled.mkdir()
    user.mkdir()
    (bundled / "mine.toml").write_text(GOOD)
    (user / "mine.toml").write_text(GOOD.replace("#ff0000", "#00ff00"))
    (user / "broken.toml").write_bytes(b"\xff\xfe not text")
    themes, problems = load_themes([bundled, user, tmp_path / "missing"])
    assert themes["mine"].theme.primary == "#00ff00"
    assert [p.path.name for p in problems] == ["broken.toml"]
    assert "UTF-8" in problems[0].problem


def test_user_themes_live_under_xdg_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert user_themes_dir() == tmp_path / "timing-tui" / "themes"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"COLORTERM": "truecolor", "TERM": "xterm"}, DEFAULT_THEME),
        ({"TERM": "xterm-256color"}, DEFAULT_THEME),
        ({"TERM": "tmux-256color"}, DEFAULT_THEME),
        ({"TERM": "xterm"}, ANSI_THEME),
        ({"TERM": "linux"}, ANSI_THEME),
        ({}, ANSI_THEME),
        ({"TERM": "xterm-256color", "NO_COLOR": "1"}, ANSI_THEME),
    ],
)
def test_default_theme_follows_the_terminal(env: dict[str, str], expected: str) -> None:
    assert default_theme_name(env) == expected


@pytest.mark.parametrize("odd", ["fifo", "nested", "huge"])
def test_a_theme_that_is_a_pipe_nested_or_huge_is_refused_unread(odd: str, tmp_path: Path) -> None:
    """A FIFO hung the TUI at launch, deep nesting was a RecursionError, a 3 GB file a
    MemoryError: each is now a ThemeError naming the file, and the others still load."""
    (tmp_path / "mine.toml").write_text(GOOD)
    path = tmp_path / "odd.toml"
    if odd == "fifo":
        os.mkfifo(path)
    elif odd == "nested":
        path.write_text(GOOD + "x = " + "[" * 5000 + "]" * 5000 + "\n")
    else:
        with path.open("wb") as handle:
            handle.truncate(3 << 30)  # sparse: no disk used
    themes, problems = load_themes([tmp_path])
    assert "mine" in themes
    (problem,) = problems
    assert problem.path == path
    expected = {"fifo": "not a regular file", "nested": "nested too deeply", "huge": "larger than"}
    assert expected[odd] in problem.problem, problem.problem


@pytest.mark.parametrize("odd", ["fifo", "nested", "huge"])
def test_odd_preferences_are_ignored(odd: str, tmp_path: Path) -> None:
    """`huge`: a valid file padded one byte past the cap, which a read without the cap
    would take (at the cap it is read)."""
    path = tmp_path / "preferences.json"
    if odd == "fifo":
        os.mkfifo(path)
    elif odd == "nested":
        path.write_text("[" * 100_000 + "]" * 100_000)
    else:
        save_theme("timing-light", path)
        with path.open("a") as handle:
            handle.write(" " * (PREFERENCES_MAX_BYTES - path.stat().st_size))
        assert saved_theme(path) == "timing-light"
        with path.open("a") as handle:
            handle.write(" ")
    assert saved_theme(path) is None


def test_preferences_are_saved_privately_whatever_the_umask(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    before = os.umask(0)
    try:
        written = save_theme("mine")
    finally:
        os.umask(before)
    assert written.parent.stat().st_mode & 0o777 == 0o700
    assert written.stat().st_mode & 0o777 == 0o600
    assert saved_theme() == "mine"
