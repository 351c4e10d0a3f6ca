"""Every command of the app, declared once: its keys, its action, how the footer, the help
(`?`) and the command palette (ctrl+p) show it.

The app's bindings, the footer, the help's key list and the palette's fixed entries are all
made from `COMMANDS`, so a key letter is typed in one place and the three cannot disagree
(`tests/test_tui_commands.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual.binding import Binding

from tui_timing.stages.catalog import ALL_STAGES, STAGES, Stage

FIRST, LAST = ALL_STAGES[0], ALL_STAGES[-1]
#: How the footer and help show the stage keys ("1-7"); one command per stage.
STAGE_KEYS = f"{FIRST}-{LAST}"
#: Textual's names of keys that read better as the character they type.
_KEY_NAMES = {"question_mark": "?", "slash": "/"}


@dataclass(frozen=True)
class Command:
    """One command: the keys that run it and where it is listed.

    `action` is a Textual action string of the app (`rerun`, `stage(3)`); `keys` Textual's
    key names, comma-separated; `label` the footer's word; `help` its line in `?` (and the
    binding's tooltip). `footer_keys` is how the footer writes the keys when it is not the
    keys themselves (`r/R` for a pair whose second key is not shown); `help_keys` the same
    for the help. `palette` is the command's title in the palette (None: not there), with
    `palette_note` after its keys. `over_dialogs`: it still acts while a dialog is open
    (every other key acts on the dialog, not on the screen behind it).
    """

    action: str
    keys: str
    label: str
    help: str
    footer: bool = False
    footer_keys: str | None = None
    help_keys: str | None = None
    in_help: bool = True
    palette: str | None = None
    palette_note: str = ""
    over_dialogs: bool = False

    @property
    def shown_keys(self) -> str:
        """The keys as the help and the palette write them (`n right`, `?`)."""
        if self.help_keys is not None:
            return self.help_keys
        return " ".join(_KEY_NAMES.get(key, key) for key in self.keys.split(","))

    @property
    def palette_help(self) -> str:
        """The palette's line under the title: the keys, then the note."""
        return f"{self.shown_keys}: {self.palette_note}" if self.palette_note else self.shown_keys


def _stage_commands() -> list[Command]:
    """One command per stage; the first stands for all of them in the footer and help."""
    return [
        Command(
            f"stage({info.id})",
            str(info.id),
            "stage" if info.id == FIRST else f"stage {info.id}",
            f"show stage {FIRST} to {LAST}" if info.id == FIRST else f"show stage {info.id}",
            footer=info.id == FIRST,
            footer_keys=STAGE_KEYS if info.id == FIRST else None,
            help_keys=STAGE_KEYS if info.id == FIRST else None,
            in_help=info.id == FIRST,
            palette=f"Stage {info.id}: {info.title}",
            palette_note=f"show the {info.name} stage",
        )
        for info in STAGES
    ]


# The footer shows the commands marked `footer`, worded to fit 80 columns whole; `?` lists
# every command with its help (a running action shows `x cancel` in its own bar).
COMMANDS: tuple[Command, ...] = (
    Command(
        "help",
        "question_mark",
        "help",
        "this help",
        footer=True,
        footer_keys="?",
        palette="Help: keys",
    ),
    Command(
        "quit",
        "q",
        "quit",
        "quit (a running stage or action is stopped)",
        footer=True,
        over_dialogs=True,
    ),
    *_stage_commands(),
    Command("next_stage", "n,right", "next", "next stage", footer_keys="n p"),
    Command("previous_stage", "p,left", "prev", "previous stage"),
    Command(
        "rerun",
        "r",
        "rerun",
        f"re-run the stage on show (and {Stage.DECISION})",
        footer=True,
        footer_keys="r/R",
        palette="Re-run this stage",
    ),
    Command(
        "rerun_all",
        "R",
        "all",
        "find and reload all artifacts, re-run all",
        palette="Re-run all stages",
        palette_note="reload the artifacts",
    ),
    Command(
        "export",
        "e",
        "export",
        "append the whole diagnosis to the scratchpad (from any stage)",
        footer=True,
        footer_keys="e/E",
        palette="Export findings to the scratchpad",
    ),
    Command(
        "export_stage",
        "E",
        "stage",
        "append the stage on show alone",
        palette="Export this stage's findings",
    ),
    Command(
        "copy_command",
        "y",
        "copy",
        "copy the highlighted action's command (the first when none is)",
        footer=True,
        footer_keys="y/Y",
        palette="Copy the action's command",
    ),
    Command(
        "copy_item",
        "Y",
        "item",
        "copy the check or figure there",
        palette="Copy the check or figure under the cursor",
    ),
    Command(
        "search",
        "slash",
        "find",
        "search the stage on show (Enter, down: next; up: previous)",
        footer=True,
        footer_keys="/",
        palette="Search this stage",
    ),
    Command(
        "select_artifacts",
        "s",
        "switch",
        "switch run, cache or eval dump",
        footer=True,
        palette="Switch run, cache or eval dump",
    ),
    # The footer's last key: at 80 columns it has room for one of runs and theme; the
    # runs view is the one a live training is followed in (the theme is in `?`).
    Command(
        "next_theme", "t", "theme", "next theme (kept for the next launch)", palette="Next theme"
    ),
    Command(
        "runs",
        "w",
        "runs",
        "every run of the repo, diagnosed and kept current (Enter opens one)",
        footer=True,
    ),
    Command(
        "compare",
        "c",
        "compare",
        "compare with a second run: both in every pane (c again: leave)",
        palette="Compare with another run",
        palette_note="again to leave",
    ),
    Command("run_action", "a", "run", "run the highlighted action (asks)"),
    Command(
        "cancel_action",
        "x",
        "cancel",
        "cancel the running action",
        palette="Cancel the running action",
    ),
    Command("toggle_log", "l", "log", "linear/log scale on the charts", palette="Toggle log scale"),
    Command(
        "command_palette",
        "ctrl+p",
        "palette",
        "command palette: every stage and action, switch, themes, keys panel",
        footer_keys="ctrl+p",
        over_dialogs=True,
    ),
    Command("close_panel", "escape", "close", "close a dialog, panel or search"),
)

#: Actions that stay available while a dialog is open (the others would act behind it).
OVER_DIALOGS = frozenset(command.action for command in COMMANDS if command.over_dialogs)


def bindings(commands: Sequence[Command] = COMMANDS) -> list[Binding]:
    """The app's key bindings, in the table's order (the footer's order)."""
    return [
        Binding(c.keys, c.action, c.label, show=c.footer, key_display=c.footer_keys, tooltip=c.help)
        for c in commands
    ]


def help_keys(commands: Sequence[Command] = COMMANDS) -> list[tuple[str, str]]:
    """(keys, what they do) for the help, one line per command listed there."""
    return [(c.shown_keys, c.help) for c in commands if c.in_help]


def palette_commands(commands: Sequence[Command] = COMMANDS) -> list[Command]:
    """The commands the palette offers, in the table's order."""
    return [c for c in commands if c.palette is not None]
