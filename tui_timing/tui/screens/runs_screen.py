"""The runs view (`w`): every run of the repo, each newest checkpoint's diagnosis, live.

The same rows as `timing-tui runs` (report/runs.py), kept current by a worker thread that
polls the repo's files (report/follow.py): a checkpoint that lands shows up without a key
pressed. The cursor rests on the newest run until the user moves it. Enter opens a run in
the stage panes, Space marks runs (their sampled durations and mean profiles overlay in
the chart below the table), `c` compares the two marked runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Static
from textual.worker import get_current_worker

from tui_timing.config import ArtifactPaths, Settings
from tui_timing.report.follow import POLL_S, RunFollower
from tui_timing.report.runs import RunDiagnoser, RunRow, Target, overlay_plots, ranked
from tui_timing.report.runs_render import HEADER, row_cells
from tui_timing.tui.panes.plot_stack import PlotStack
from tui_timing.tui.screens.dialog import Dialog
from tui_timing.tui.themes import PlotPalette


@dataclass(frozen=True)
class RunsChoice:
    """What the runs view was closed with: a run to open, or two to compare (A, B)."""

    kind: Literal["open", "compare"]
    runs: tuple[Target, ...]


class RunsScreen(Dialog["RunsChoice | None"]):
    """Dismissed with the user's choice, or None (Escape, `w`); once, whatever keys were
    typed ahead (a Dialog), over the whole screen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,w", "close", "back", tooltip="back to the stage panes"),
        Binding(
            "enter",
            "open",
            "open",
            tooltip="open the run under the cursor in the panes",
            priority=True,
        ),
        Binding("space", "mark", "mark", tooltip="mark the run (its charts overlay below)"),
        Binding("c", "compare", "compare", tooltip="compare the two marked runs"),
        *[
            Binding(key, f"move('{key}')", show=False, priority=True)
            for key in ("up", "down", "pageup", "pagedown", "home", "end")
        ],
    ]

    DEFAULT_CSS = """
    RunsScreen { align: left top; background: $background; }
    RunsScreen #runs-table { height: auto; max-height: 60%; }
    RunsScreen #runs-status { color: $text-muted; margin-bottom: 1; }
    """

    def __init__(
        self,
        roots: list[Path],
        shared: ArtifactPaths,
        settings: Settings,
        use_cache: bool,
        palette: PlotPalette,
        ascii_only: bool = False,
    ) -> None:
        super().__init__(id="runs-screen")
        self._follower = RunFollower(
            roots, settings, RunDiagnoser(shared, settings, use_cache), every_checkpoint=False
        )
        self._palette = palette
        self._ascii_only = ascii_only
        self.rows: list[RunRow] = []
        self.marked: list[str] = []
        #: The cursor follows the newest run until the user moves it.
        self._moved = False

    def compose(self) -> ComposeResult:
        yield Static(
            "[b]Runs[/b] [$text-muted](Enter: open · Space: mark · c: compare two marked · "
            "Escape: back)[/]"
        )
        yield Static("finding runs…", id="runs-status")
        with VerticalScroll():
            table: DataTable[str] = DataTable(id="runs-table", cursor_type="row")
            table.add_columns(" ", *HEADER)
            yield table
            yield PlotStack(id="runs-overlay")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.run_worker(self._follow, thread=True, exclusive=True, group="runs")
        self.query_one(DataTable).focus()

    def _follow(self) -> None:
        """The worker: all rows now, then again whenever the repo's files changed."""
        worker = get_current_worker()
        rows = self._follower.rows(lambda _row: self._progress(worker.is_cancelled))
        self.app.call_from_thread(self.show_rows, ranked(rows))
        while not worker.is_cancelled:
            time.sleep(POLL_S)
            if self._follower.changed() and not worker.is_cancelled:
                self.app.call_from_thread(self._status, "a run changed: diagnosing…")
                self.app.call_from_thread(self.show_rows, ranked(self._follower.rows()))

    def _progress(self, cancelled: bool) -> None:
        if not cancelled:
            self.app.call_from_thread(self._status, "diagnosing runs…")

    def _status(self, text: str) -> None:
        if self.is_attached:
            self.query_one("#runs-status", Static).update(text)

    def show_rows(self, rows: list[RunRow]) -> None:
        """Replace the table's rows, the cursor on the same run (or the newest, until the
        user moved it)."""
        if not self.is_attached:
            return
        table: DataTable[str] = self.query_one(DataTable)
        current = self._run_at(table.cursor_row)
        self.rows = rows
        table.clear()
        for row in rows:
            mark = "*" if row.target.run in self.marked else " "
            table.add_row(mark, *row_cells(row, self._ascii_only), key=row.target.run)
        target = current if self._moved else self._newest()
        names = [row.target.run for row in rows]
        if target in names:
            table.move_cursor(row=names.index(target), animate=False)
        when = time.strftime("%H:%M:%S")
        self._status(f"{len(rows)} runs · updated {when} · watching for new checkpoints")
        self._show_overlay()

    def _newest(self) -> str | None:
        """The run whose newest checkpoint was written last."""
        dated = [(row.age_s() or 0.0, row.target.run) for row in self.rows if row.target.checkpoint]
        return min(dated)[1] if dated else None

    def _run_at(self, index: int) -> str | None:
        return self.rows[index].target.run if 0 <= index < len(self.rows) else None

    def action_move(self, key: str) -> None:
        """Move the cursor as the table does; from now on it stays where the user put it."""
        self._moved = True
        table = self.query_one(DataTable)
        moves = {
            "up": table.action_cursor_up,
            "down": table.action_cursor_down,
            "pageup": table.action_page_up,
            "pagedown": table.action_page_down,
            "home": table.action_scroll_top,
            "end": table.action_scroll_bottom,
        }
        moves[key]()

    def action_mark(self) -> None:
        """Mark or unmark the run under the cursor."""
        run = self._run_at(self.query_one(DataTable).cursor_row)
        if run is None:
            return
        self._moved = True
        if run in self.marked:
            self.marked.remove(run)
        else:
            self.marked.append(run)
        self.show_rows(self.rows)

    def _show_overlay(self) -> None:
        marked = [row for row in self.rows if row.target.run in self.marked]
        self.query_one(PlotStack).show(overlay_plots(marked), self._palette, False)

    def action_open(self) -> None:
        """Open the run under the cursor in the stage panes."""
        index = self.query_one(DataTable).cursor_row
        if 0 <= index < len(self.rows):
            self.dismiss(RunsChoice("open", (self.rows[index].target,)))

    def action_compare(self) -> None:
        """Compare the two marked runs (the first marked is A)."""
        if len(self.marked) != 2:
            count = len(self.marked)
            self.notify(f"Mark two runs with Space to compare them ({count} marked).", timeout=4)
            return
        by_name = {row.target.run: row.target for row in self.rows}
        self.dismiss(RunsChoice("compare", tuple(by_name[name] for name in self.marked)))

    def action_close(self) -> None:
        self.dismiss(None)

    def on_unmount(self) -> None:
        self.workers.cancel_group(self, "runs")
