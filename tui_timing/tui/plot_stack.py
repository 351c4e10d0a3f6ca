"""The charts of a stage, stacked: updated in place as new data arrive, rebuilt when the
set of charts changes (a stage that now has a plot it lacked before).

plotext is imported with the first chart, not at start-up: no chart is in the first frame
(results arrive after it), and the import is a fifth of a bare Textual app's start.
"""

from __future__ import annotations

from textual.containers import Vertical

from tui_timing.findings import Plot
from tui_timing.tui.themes import PlotPalette


class PlotStack(Vertical):
    """Zero or more PlotViews, one per `Plot` of the stage result."""

    DEFAULT_CSS = """
    PlotStack { height: auto; }
    """

    def show(self, plots: list[Plot], palette: PlotPalette, flip_log: bool) -> None:
        """Draw these plots; existing views take new data when the titles line up."""
        if not plots and not self.children:
            return
        from tui_timing.tui.plot_view import PlotView

        views = list(self.query(PlotView))
        same = len(views) == len(plots) and all(
            v.data is not None and v.data.title == p.title
            for v, p in zip(views, plots, strict=True)
        )
        if same:
            for view, plot in zip(views, plots, strict=True):
                view.palette = palette
                view.flip_log = flip_log
                view.data = plot
            return
        self.remove_children()
        self.mount_all([PlotView(plot, palette, flip_log) for plot in plots])
