"""The seven stages down the left edge, each with its live status."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui_timing.stages.catalog import STAGE_BY_ID, STAGES
from tui_timing.tui.status import COLORS, MARKS, StageState, ran_note, status_markup

NAME_WIDTH = 12


def stage_prompt(state: StageState, compared: tuple[str, str] | None = None) -> Content:
    """`1 cache        ✔ pass`: number, name and status word; in compare mode A's mark
    right before B's status (`3 model       ✘✔ pass`: the list is 24 columns wide, and
    `6 integration –· pending` just fits)."""
    name = STAGE_BY_ID[state.id].name.ljust(NAME_WIDTH)
    if compared is None:
        # `4 training    ✔ pass 1/6`: most checks skipped, so not assessed whatever passed
        shown = state.result if state.phase == "done" else None
        note = ran_note(shown, brief=True)
        tail = f" [$text-muted]{note}[/]" if note else ""
        return Content.from_markup(f"{state.id} {name}{status_markup(state.status)}{tail}")
    status_a, status_b = compared
    mark_a = f"[{COLORS[status_a]}]{MARKS[status_a]}[/]"
    return Content.from_markup(f"{state.id} {name}{mark_a}{status_markup(status_b)}")


class StageList(OptionList):
    """Moving the highlight (arrows, `n`/`p`, `1`-`7`) selects the stage shown."""

    def __init__(self) -> None:
        super().__init__(
            *[Option(stage_prompt(StageState(s.id)), id=f"stage-{s.id}") for s in STAGES],
            id="stage-list",
        )

    def show_state(self, state: StageState, compared: tuple[str, str] | None = None) -> None:
        """Redraw one stage's line with its current status (A's and B's when comparing)."""
        self.replace_option_prompt(f"stage-{state.id}", stage_prompt(state, compared))

    def select_stage(self, stage_id: int) -> None:
        """Highlight a stage by number."""
        self.highlighted = stage_id - 1
