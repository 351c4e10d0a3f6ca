"""One chart of a stage: draws a core `Plot` (already binned) with plotext, in theme colours.

The data arrive binned from the worker threads, so drawing is cheap and happens in
`render`: a resize, a theme change or the log toggle simply redraws from the same numbers.
"""

from __future__ import annotations

import math

from rich.text import Text
from textual.app import RenderResult
from textual.reactive import reactive
from textual_plotext import PlotextPlot

from tui_timing.report.results import Plot, Series
from tui_timing.tui.themes import PlotPalette

#: braille dots: 2x4 points per cell, so a 50-column plot still shows a decay's shape.
LINE_MARKER = "braille"


class PlotView(PlotextPlot):
    """A plotext chart of one `Plot`; `l` flips its main axis between linear and log."""

    DEFAULT_CSS = """
    PlotView {
        height: 14;
        width: 1fr;
    }
    """

    data: reactive[Plot | None] = reactive(None, always_update=True)
    #: Whether the plot's main axis (x for histograms, y otherwise) is flipped from its default.
    flip_log: reactive[bool] = reactive(False)
    palette: reactive[PlotPalette] = reactive(PlotPalette)

    def __init__(self, data: Plot, palette: PlotPalette, flip_log: bool = False) -> None:
        super().__init__(classes="plot")
        # plotext's "clear" theme leaves canvas and axes uncoloured, so the widget's own
        # themed background and text colour show through in every theme, ANSI ones included.
        self.theme = "clear"
        self.set_reactive(PlotView.data, data)
        self.set_reactive(PlotView.palette, palette)
        self.set_reactive(PlotView.flip_log, flip_log)

    def render(self) -> RenderResult:
        """Redraw from the data, then let plotext lay it out at the widget's size."""
        if self.data is None:
            return Text("")
        try:
            self._draw(self.data)
            return super().render()
        except (ValueError, ZeroDivisionError, IndexError, TypeError) as exc:
            # A degenerate data set must cost one chart, never the app.
            return Text(f"{self.data.title}: cannot be drawn ({exc})")

    def log_axes(self) -> tuple[bool, bool]:
        """(log x, log y) after the user's toggle."""
        plot = self.data
        if plot is None:
            return (False, False)
        if plot.kind == "hist":
            return (plot.log_x != self.flip_log, plot.log_y)
        return (plot.log_x, plot.log_y != self.flip_log)

    def _draw(self, plot: Plot) -> None:
        plt = self.plt
        plt.clear_figure()
        log_x, log_y = self.log_axes()
        scale = " (log x)" if log_x else ""
        scale += " (log y)" if log_y else ""
        title = plot.title + scale
        if plot.kind == "bar" and plot.highlight:
            title += f"  * {plot.highlight}"
        plt.title(title)
        plt.xlabel(plot.xlabel)
        plt.ylabel(plot.ylabel)
        colors = self.palette.series
        if plot.kind == "bar":
            self._draw_bars(plot, log_y)
        else:
            filled = plot.kind == "hist" and len(plot.series) == 1
            for index, series in enumerate(plot.series):
                xs, ys = _points(series, log_x, log_y)
                if xs:
                    plt.plot(
                        xs,
                        ys,
                        marker=LINE_MARKER,
                        color=colors[index % len(colors)],
                        label=series.label if len(plot.series) > 1 else None,
                        fillx=filled,
                    )
            self._draw_references(plot, log_x, log_y)
        if log_x:
            plt.xscale("log")
        if log_y:
            plt.yscale("log")

    def _draw_bars(self, plot: Plot, log_y: bool) -> None:
        """One bar per series when each holds one value (the probe), else bars over x."""
        plt = self.plt
        color = self.palette.series[0]
        if all(len(s.y) == 1 for s in plot.series):
            labels = [s.label + ("*" if s.label == plot.highlight else "") for s in plot.series]
            values = [s.y[0] for s in plot.series]
            if log_y:
                kept = [(lab, v) for lab, v in zip(labels, values, strict=True) if _usable(v)]
                labels, values = [k[0] for k in kept], [k[1] for k in kept]
            if labels:
                plt.bar(labels, values, color=color)
            return
        for index, series in enumerate(plot.series):
            xs, ys = _points(series, False, log_y)
            if xs:
                colors = self.palette.series
                plt.bar(xs, ys, color=colors[index % len(colors)], label=series.label)

    def _draw_references(self, plot: Plot, log_x: bool, log_y: bool) -> None:
        """Target values as labelled flat lines across the data's x range."""
        xs = [x for s in plot.series for x in s.x if not log_x or _usable(x)]
        if not xs:
            return
        low, high = min(xs), max(xs)
        for label, value in plot.hlines:
            if math.isfinite(value) and (not log_y or value > 0):
                self.plt.plot(
                    [low, high], [value, value], color=self.palette.reference, label=label
                )


def _usable(value: float) -> bool:
    return math.isfinite(value) and value > 0


def _points(series: Series, log_x: bool, log_y: bool) -> tuple[list[float], list[float]]:
    """The series' points that exist on the chosen axes (log axes drop values <= 0)."""
    xs: list[float] = []
    ys: list[float] = []
    for x, y in zip(series.x, series.y, strict=False):
        if not (math.isfinite(x) and math.isfinite(y)):
            continue
        if (log_x and x <= 0) or (log_y and y <= 0):
            continue
        xs.append(x)
        ys.append(y)
    return xs, ys
