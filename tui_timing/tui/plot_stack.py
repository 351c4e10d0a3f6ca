"""The charts of a stage, stacked: updated in place as new data arrive, rebuilt when the
set of charts changes (a stage that now has a plot it lacked before)."""

from __future__ import annotations

from textual.containers import Vertical

from tui_timing.report.results import Plot
from tui_timing.tui.plot_view import PlotPalette, PlotView


class PlotStack(Vertical):
    """Zero or more PlotViews, one per `Plot` of the stage result."""

    DEFAULT_CSS = """
    PlotStack { height: auto; }
    """

    def show(self, plots: list[Plot], palette: PlotPalette, flip_log: bool) -> None:
        """Draw these plots; existing views take new data when the titles line up."""
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

    def set_flip_log(self, flip_log: bool) -> None:
        """Toggle linear/log on every chart of the stage."""
        for view in self.query(PlotView):
            view.flip_log = flip_log

    def set_palette(self, palette: PlotPalette) -> None:
        """Redraw every chart in a new theme's colours."""
        for view in self.query(PlotView):
            view.palette = palette
