"""The seven stages down the left edge, each with its live status."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui_timing.stages.catalog import STAGE_BY_ID, STAGES
from tui_timing.tui.status import COLORS, MARKS, StageState, ran_note, status_markup

NAME_WIDTH = 12


def stage_prompt(
    state: StageState, compared: tuple[str, str] | None = None, plain: bool = False
) -> Content:
    """`1 cache        ✔ pass`: number, name and status word (and a line saying the stage
    is not assessed when most of its checks skipped); in compare mode A's mark
    right before B's status (`3 model       ✘✔ pass`: the list is 24 columns wide, and
    `6 integration –· pending` just fits). `plain`: in the row's own colour, for the
    highlighted row (a status colour on the highlight's background is unreadable: green
    on blue is 1.08:1); the mark and the word still say which status it is."""
    name = STAGE_BY_ID[state.id].name.ljust(NAME_WIDTH)

    def word(status: str) -> str:
        return f"{MARKS[status]} {status}" if plain else status_markup(status)

    if compared is None:
        # Most checks skipped, so not assessed whatever passed: said on a second line
        # (`  1/6 ran: not assessed`), as `– not assessed` beside the longest name would
        # not fit the 24 columns.
        note = ran_note(state.result if state.phase == "done" else None, brief=True)
        tail = "" if not note else f"\n  {note}" if plain else f"\n  [$text-muted]{note}[/]"
        return Content.from_markup(f"{state.id} {name}{word(state.status)}{tail}")
    status_a, status_b = compared
    mark_a = MARKS[status_a] if plain else f"[{COLORS[status_a]}]{MARKS[status_a]}[/]"
    return Content.from_markup(f"{state.id} {name}{mark_a}{word(status_b)}")


class StageList(OptionList):
    """Moving the highlight (arrows, `n`/`p`, `1`-`7`) selects the stage shown; the page
    keys scroll the pane on show, as the help says, even while the list has the focus
    (it has it at launch)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("pageup", "scroll_pane('page_up')", show=False),
        Binding("pagedown", "scroll_pane('page_down')", show=False),
        Binding("home", "scroll_pane('scroll_home')", show=False),
        Binding("end", "scroll_pane('scroll_end')", show=False),
    ]

    class ScrollPane(Message):
        """A page key pressed in the list: the app scrolls the pane on show."""

        def __init__(self, action: str) -> None:
            super().__init__()
            self.action = action

    def action_scroll_pane(self, action: str) -> None:
        self.post_message(self.ScrollPane(action))

    def __init__(self) -> None:
        states = [StageState(s.id) for s in STAGES]
        #: What each line shows, to draw it again when the highlight moves on or off it
        #: (set first: the list highlights its first line as it is made).
        self._shown: dict[int, tuple[StageState, tuple[str, str] | None]] = {
            st.id: (st, None) for st in states
        }
        self._plain = 1
        super().__init__(
            *[Option(stage_prompt(st, plain=st.id == 1), id=f"stage-{st.id}") for st in states],
            id="stage-list",
        )

    def show_state(self, state: StageState, compared: tuple[str, str] | None = None) -> None:
        """Redraw one stage's line with its current status (A's and B's when comparing)."""
        self._shown[state.id] = (state, compared)
        self._draw(state.id)

    def _draw(self, stage_id: int) -> None:
        state, compared = self._shown[stage_id]
        plain = stage_id == self._plain
        self.replace_option_prompt(f"stage-{stage_id}", stage_prompt(state, compared, plain))

    def watch_highlighted(self, highlighted: int | None) -> None:
        super().watch_highlighted(highlighted)
        before, self._plain = self._plain, (highlighted or 0) + 1
        if self._plain != before and self._shown:
            self._draw(before)
            self._draw(self._plain)

    def select_stage(self, stage_id: int) -> None:
        """Highlight a stage by number."""
        self.highlighted = stage_id - 1
