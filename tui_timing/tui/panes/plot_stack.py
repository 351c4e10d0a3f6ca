"""The charts of a stage, stacked: updated in place as new data arrive (those on show kept
when they begin the new set: a partial result growing into its result), rebuilt when the
set of charts changes (a stage that now has a plot it lacked before).

plotext is imported with the first chart, not at start-up: the import and the drawing are
a fifth of a bare Textual app's start, so a result shown in the first frame (a warm
launch's, from the results cache; stage 1's, from its child) has its first chart drawn
by a message of its own, which comes after the first frame's paint, already queued then,
and not after the screen has settled (`call_after_refresh`: a second frame later, tens of
ms on two cores). When the charts are imported already, a chart is drawn with its result.
A stage's other charts come a frame after its first.
"""

from __future__ import annotations

import sys

from textual.containers import Vertical
from textual.widget import Widget

from tui_timing.findings import Plot
from tui_timing.tui.themes import PlotPalette


class PlotStack(Vertical):
    """Zero or more PlotViews, one per `Plot` of the stage result."""

    DEFAULT_CSS = """
    PlotStack { height: auto; }
    """

    #: What to draw once the first chart may be (see the module's docstring).
    _pending: tuple[list[Plot], PlotPalette, bool] | None = None
    #: Counts the sets of charts mounted: charts left to mount a frame later are dropped
    #: when a newer set was mounted meanwhile.
    _mounting = 0

    def show(self, plots: list[Plot], palette: PlotPalette, flip_log: bool) -> None:
        """Draw these plots; existing views take new data when the titles line up."""
        first_chart = plots and "tui_timing.tui.panes.plot_view" not in sys.modules
        if self._pending is not None or first_chart:
            if self._pending is None:
                self.call_later(self._show_pending)
            self._pending = (plots, palette, flip_log)
            return
        self._draw(plots, palette, flip_log)

    def _show_pending(self) -> None:
        import tui_timing.tui.panes.plot_view  # noqa: F401  (imported here, so drawn now)

        pending, self._pending = self._pending, None
        if pending is not None:
            self._draw(*pending)

    def _draw(self, plots: list[Plot], palette: PlotPalette, flip_log: bool) -> None:
        if not plots and not self.children:
            return
        from tui_timing.tui.panes.plot_view import PlotView

        views = list(self.query(PlotView))
        # The charts on show are kept when they are the first of these (by title): a
        # running stage's partial result (stage 1's histogram ahead of its scan) grows
        # into its result without drawing again what is already drawn.
        kept = len(views) <= len(plots) and all(
            v.data is not None and v.data.title == p.title
            for v, p in zip(views, plots, strict=False)
        )
        self._mounting += 1
        if kept and views:
            for view, plot in zip(views, plots, strict=False):  # the views, fewer
                view.palette = palette
                view.flip_log = flip_log
                if view.data != plot:
                    view.data = plot
            added = [PlotView(plot, palette, flip_log) for plot in plots[len(views) :]]
            if added:
                self.call_after_refresh(self._mount_rest, added, self._mounting)
            return
        self.remove_children()
        views = [PlotView(plot, palette, flip_log) for plot in plots]
        if views:
            # The first chart alone, the others a frame later: each chart is tens of ms of
            # plotext, and the first is the one a launch waits for (stage 1's histogram).
            self.mount(views[0])
            self.call_after_refresh(self._mount_rest, views[1:], self._mounting)

    def _mount_rest(self, views: list[Widget], mounting: int) -> None:
        if mounting == self._mounting and views:  # else a newer set of charts replaced them
            self.mount_all(views)
