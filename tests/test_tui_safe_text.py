"""Text from files in the TUI: every renderer that puts it on screen takes any string (a `[`
opens no tag, a `$` names no variable) and sends no control character to the terminal."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from textual.content import Content
from textual.fuzzy import Matcher
from textual.widgets._toast import Toast

from tui_timing.config import ArtifactPaths, Invocation, Settings
from tui_timing.findings import Action, Check, Decision, RuleOutcome
from tui_timing.report.text import printable
from tui_timing.tui.app import TimingApp
from tui_timing.tui.commands import highlight
from tui_timing.tui.panes.checks_view import check_figures, check_text, passed_line
from tui_timing.tui.panes.decision_pane import action_prompt, verdict_markup
from tui_timing.tui.panes.decision_path import rule_markup
from tui_timing.tui.safe_text import escape_markup, markup, styled
from tui_timing.tui.screens.help_screen import help_markup

HOSTILE = [
    "profile[",
    "[/]",
    "[b]bold[/b]",
    "a\\",
    "a\\[b]",
    "$accent [$error]x",
    "\x1b]0;owned\x1b\\",
    "\x1b]52;c;ZXZpbA==\x07",
    "\u202ereversed",
    "[link=http://x]y[/link]",
]
TEXT = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(alphabet=st.sampled_from(list("[]\\/$=@#ab \n\x1b\x07\x9b\u202e")), max_size=20),
    st.text(max_size=20),
)


def plain_of(content: Content) -> str:
    assert isinstance(content, Content)
    return content.plain


def safe(text: str) -> bool:
    return not any(c in text for c in "\x1b\x07\x9b\u202e")


@settings(max_examples=300, deadline=None)
@given(a=TEXT, b=TEXT)
def test_renderers_take_any_text_and_show_it_escaped(a: str, b: str) -> None:
    check = Check(id=a, status="fail", measured={a: b}, expected=b, message=b)
    for content in (check_text(check), check_figures(check), passed_line(check)):
        assert safe(plain_of(content))
    assert printable(b) in check_text(check).plain
    action = Action(title=a, why=b, evidence=[a], command=b)
    assert safe(plain_of(action_prompt(1, action)))
    assert printable(a) in action_prompt(1, action).plain
    decision = Decision(verdict=a, rule=4, actions=[action], path=[])
    assert printable(a) in verdict_markup(decision).plain
    for matched in (True, False):
        outcome = RuleOutcome(rule=4, name=a, matched=matched, reason=b)
        assert printable(b) in rule_markup(outcome, 4).plain
    assert safe(plain_of(help_markup([(a, b)])))
    assert markup("[b]$x[/b] [$accent]$y[/]", x=a, y=b).plain == f"{printable(a)} {printable(b)}"
    assert styled(a, "bold").plain == printable(a)
    assert Content.from_markup(escape_markup(a)).plain == printable(a)
    assert highlight(Matcher("ab"), printable(a)).plain == printable(a)


@pytest.mark.asyncio
async def test_a_notification_quoting_a_file_is_plain_text(tmp_path: Path) -> None:
    """A toast's message is not markup: a `[` in a path does not crash the app."""
    missing = tmp_path / "x[" / "train_timing.pt"
    invocation = Invocation(
        paths=ArtifactPaths(cache=missing),
        settings=Settings(samples=64),
        scratchpad=None,
        theme=None,
    )
    app = TimingApp(invocation, cwd=tmp_path)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        app.notify("wrote [/] to \x1b]0;owned\x1b\\ x[", title="Exported [b")
        deadline = time.monotonic() + 30  # the toast is mounted in a later frame
        while not app.screen.query(Toast):
            assert time.monotonic() < deadline, "the notification never showed"
            await pilot.pause(0.05)
        await pilot.pause()
        strips = app.screen._compositor.render_strips()
        sent = "".join(seg.text for strip in strips for seg in strip)
        assert "\x1b" not in sent
        assert "wrote[/]to" in "".join(sent.split()) and "Exported[b" in "".join(sent.split())
        assert app.is_running
