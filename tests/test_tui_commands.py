"""The command table is the one list of the app's commands: the bindings, the footer, the
help (`?`) and the palette (ctrl+p) of a running app show exactly its commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui_app import invocation, settle, wait_for, write_cache
from textual.app import App
from textual.binding import Binding
from textual.command import CommandList, CommandPalette
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from tui_timing.tui.app import TimingApp
from tui_timing.tui.command_table import COMMANDS, OVER_DIALOGS, palette_commands
from tui_timing.tui.screens.help_screen import HelpScreen


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return write_cache(tmp_path)


def test_each_key_and_action_is_declared_once() -> None:
    keys = [key for command in COMMANDS for key in command.keys.split(",")]
    actions = [command.action for command in COMMANDS]
    assert len(keys) == len(set(keys)) and len(actions) == len(set(actions))
    assert {"quit", "command_palette"} == OVER_DIALOGS


@pytest.mark.asyncio
async def test_bindings_footer_help_and_palette_list_the_table(cache: Path, tmp_path: Path) -> None:
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(200, 40), notifications=True) as pilot:
        await settle(pilot, app)
        textuals = {
            (k, b.action) for b in App.BINDINGS if isinstance(b, Binding) for k in b.key.split(",")
        }
        live = {
            (b.key, b.action) for keyed in app._bindings.key_to_bindings.values() for b in keyed
        }
        assert live - textuals == {(k, c.action) for c in COMMANDS for k in c.keys.split(",")}

        footer = [(key.key_display, key.description) for key in app.screen.query(FooterKey)]
        assert footer == [(c.footer_keys or c.keys, c.label) for c in COMMANDS if c.footer]

        entries = [entry.title for entry in app.palette_entries()]
        decided = [f"Action: {action.title}" for action in app.decision_pane().actions]
        titles = [c.palette for c in palette_commands()]
        stages = [t for t in titles if t is not None and t.startswith("Stage ")]
        assert entries == [*stages, *decided, *(t for t in titles if t not in stages)]

        await pilot.press("ctrl+p")  # the palette on screen offers each of them
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        listed = app.screen.query_one(CommandList)

        def offered() -> set[str]:
            prompts = (listed.get_option_at_index(i).prompt for i in range(listed.option_count))
            return {str(prompt).split("\n")[0] for prompt in prompts}

        await wait_for(pilot, lambda: set(entries) <= offered())
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, CommandPalette))

        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = str(app.screen.query_one(Static).render())
        lines = [line.strip() for line in text.splitlines()]
        for command in COMMANDS:
            line = f"{command.shown_keys}  {command.help}"
            assert (line in lines) == command.in_help, line
