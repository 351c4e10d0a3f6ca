"""One chart of a stage: draws a core `Plot` (already binned) with plotext, in theme colours.

The data arrive binned from the worker threads, so drawing is cheap and happens in
`render`: a resize, a theme change or the log toggle simply redraws from the same numbers.

Every series has its own marker (its legend shows it), so real and fake differ without
colour too; the title and the legend are drawn above the chart, outside the data (plotext
puts its legend in a corner of the data area, over the points it is about), and wrap
rather than being cut; an axis of steps, epochs or named bins gets whole-number or named
ticks.
"""

from __future__ import annotations

import math
import textwrap

from rich.console import Group
from rich.text import Text
from textual.app import RenderResult
from textual.reactive import reactive
from textual_plotext import PlotextPlot

from tui_timing.findings import Plot, Series
from tui_timing.numerics.fmt import fmt
from tui_timing.tui.safe_text import clean
from tui_timing.tui.themes import PlotColor, PlotPalette

#: Line markers, one per series: braille first (2x4 points per cell, so a 50-column plot
#: still shows a decay's shape), then shapes that differ from it and from one another.
LINE_MARKERS = ("braille", "•", "×", "+")
#: The same without Unicode (a terminal whose locale is not UTF-8).
ASCII_LINE_MARKERS = ("*", "o", "x", "+")
#: One shape per series of a point chart.
POINT_MARKERS = ("●", "■", "▲", "◆")
ASCII_POINT_MARKERS = ("o", "#", "^", "*")
#: Reference (target) lines.
REFERENCE_MARKER, ASCII_REFERENCE_MARKER = "─", "-"
#: How the legend shows plotext's braille marker.
BRAILLE_SWATCH = "⣿"
#: x labels of quantities counted in whole numbers (ticks at integers, never 2.5 steps).
COUNT_LABELS = frozenset({"step", "steps", "epoch", "epochs", "length"})
#: At most this many title lines; the rest is cut with an ellipsis.
TITLE_LINES = 2


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
        #: (marker, colour, label) of each series drawn, for the legend above the chart.
        self._legend: list[tuple[str, PlotColor, str]] = []

    def render(self) -> RenderResult:
        """The title, wrapped, over the chart redrawn from the data at the widget's size."""
        if self.data is None:
            return Text("")
        width, height = self.size
        title = self.title_lines(width)
        try:
            self._draw(self.data, width)
            legend = self._legend_text()
            rows = len(legend.wrap(self.app.console, max(1, width))) if legend.plain else 0
            plot_height = max(3, height - len(title) - rows)
            self.plt.plotsize(width, plot_height)
            self.plt._set_size(width, plot_height)  # as PlotextPlot.render does (its note)
            self.plt.theme(self._get_plotext_theme_name(self.app.theme))
            chart = Text.from_ansi(self.plt.build())
        except (ValueError, ZeroDivisionError, IndexError, TypeError) as exc:
            # A degenerate data set must cost one chart, never the app.
            return Text(clean(f"{self.data.title}: cannot be drawn ({exc})"))
        heading = Text("\n".join(title), style="bold", justify="center")
        return Group(heading, legend, chart) if legend.plain else Group(heading, chart)

    def _legend_text(self) -> Text:
        """`⣿⣿ real  ●● sampled  ── target`, each swatch in its series' colour."""
        legend = Text(justify="center")
        for marker, color, label in self._legend:
            swatch = BRAILLE_SWATCH if marker == "braille" else marker
            if legend.plain:
                legend.append("  ")
            legend.append(swatch * 2, style=_swatch_style(color))
            legend.append(f" {label}")
        return legend

    def title_lines(self, width: int) -> list[str]:
        """The title and its scale, wrapped to the width (at most TITLE_LINES lines)."""
        if self.data is None:
            return []
        log_x, log_y = self.log_axes()
        scale = (" (log x)" if log_x else "") + (" (log y)" if log_y else "")
        title = clean(self.data.title) + scale
        wrapped = textwrap.wrap(title, max(10, width)) or [""]
        if len(wrapped) > TITLE_LINES:
            wrapped = wrapped[:TITLE_LINES]
            wrapped[-1] = _fit(wrapped[-1] + " …", max(10, width))
        return wrapped

    @property
    def _ascii(self) -> bool:
        return bool(getattr(self.app, "ascii_only", False))

    def log_axes(self) -> tuple[bool, bool]:
        """(log x, log y) after the user's toggle."""
        plot = self.data
        if plot is None:
            return (False, False)
        if plot.kind == "hist":
            return (plot.log_x != self.flip_log, plot.log_y)
        return (plot.log_x, plot.log_y != self.flip_log)

    def _draw(self, plot: Plot, width: int) -> None:
        plt = self.plt
        plt.clear_figure()
        self._legend = []
        log_x, log_y = self.log_axes()
        plt.xlabel(clean(plot.xlabel))
        plt.ylabel(clean(plot.ylabel))
        named = plot.kind == "bar" and all(len(s.y) == 1 for s in plot.series)
        if named:
            self._draw_named_bars(plot, width, log_y)
        elif plot.kind == "bar":
            self._draw_points(plot, log_y)
        else:
            self._draw_lines(plot, log_x, log_y)
        if log_x:
            plt.xscale("log")
        elif plot.xticks:
            plt.xticks([x for x, _ in plot.xticks], [clean(label) for _, label in plot.xticks])
        elif _counted(plot) and not named:
            ticks = _integer_ticks([x for s in plot.series for x in s.x], width)
            if ticks:
                plt.xticks([float(t) for t in ticks], [str(t) for t in ticks])
        if log_y:
            plt.yscale("log")
        elif plot.kind == "hist":
            # Counts and densities from 0 (plotext starts the axis at the lowest bar: 5.0)
            ys = [y for series in plot.series for y in series.y if math.isfinite(y)]
            if ys and min(ys) >= 0 and max(ys) > 0:
                plt.ylim(0, max(ys))

    def _draw_lines(self, plot: Plot, log_x: bool, log_y: bool) -> None:
        """Lines; a histogram of one series is filled, overlaid ones stay lines to compare."""
        colors = self.palette.series
        markers = ASCII_LINE_MARKERS if self._ascii else LINE_MARKERS
        filled = plot.kind == "hist" and len(plot.series) == 1
        for index, series in enumerate(plot.series):
            xs, ys = _points(series, log_x, log_y)
            if xs:
                marker, color = markers[index % len(markers)], colors[index % len(colors)]
                self.plt.plot(xs, ys, marker=marker, color=color, fillx=filled)
                if len(plot.series) > 1:
                    self._legend.append((marker, color, clean(series.label)))
        # Target values as labelled flat lines across the data's x range.
        xs = [x for s in plot.series for x in s.x if not log_x or _usable(x)]
        if not xs:
            return
        low, high = min(xs), max(xs)
        for label, value in plot.hlines:
            if math.isfinite(value) and (not log_y or value > 0):
                marker = ASCII_REFERENCE_MARKER if self._ascii else REFERENCE_MARKER
                color = self.palette.reference
                self.plt.plot([low, high], [value, value], marker=marker, color=color)
                self._legend.append((marker, color, clean(label)))

    def _draw_named_bars(self, plot: Plot, width: int, log_y: bool) -> None:
        """One bar per series (the capacity probe), the highlighted one starred; reference
        values as flat lines, named under the chart (plotext has no legend for them)."""
        kept = [s for s in plot.series if not log_y or _usable(s.y[0])]
        if not kept:
            return
        room = max(3, (width - 8) // len(kept) - 1)
        labels = [
            _fit(clean(("*" if s.label == plot.highlight else "") + s.label), room) for s in kept
        ]
        self.plt.bar(labels, [s.y[0] for s in kept], color=self.palette.series[0])
        notes = [f"* {clean(plot.highlight)}"] if plot.highlight else []
        for label, value in plot.hlines:
            if math.isfinite(value) and (not log_y or value > 0):
                self.plt.hline(value, self.palette.reference)
                notes.append(f"── {clean(label)} {fmt(value)}")
        if notes:
            # plotext centres the x label and drops it unless it clears the y label.
            room = width - 2 * len(plot.ylabel) - 2
            self.plt.xlabel(_fit("  ".join([clean(plot.xlabel), *notes]).strip(), room))

    def _draw_points(self, plot: Plot, log_y: bool) -> None:
        """Bars of several series at shared x positions, as markers: they stay readable on
        a log axis (bars cannot start at 0 there) and do not hide one another."""
        colors = self.palette.series
        markers = ASCII_POINT_MARKERS if self._ascii else POINT_MARKERS
        for index, series in enumerate(plot.series):
            xs, ys = _points(series, False, log_y)
            if xs:
                marker, color = markers[index % len(markers)], colors[index % len(colors)]
                self.plt.scatter(xs, ys, marker=marker, color=color)
                self._legend.append((marker, color, clean(series.label)))


#: plotext's colour names as Rich styles (a `+` is the bright variant).
RICH_NAMES = {"gray": "grey50", "orange": "dark_orange"}
BRIGHT_NAMES = {"gray": "grey70", "orange": "orange1"}


def _swatch_style(color: PlotColor) -> str:
    """The Rich style of a legend swatch drawn in a plot colour."""
    if isinstance(color, tuple):
        red, green, blue = color
        return f"rgb({red},{green},{blue})"
    name = color.rstrip("+")
    if color.endswith("+"):
        return BRIGHT_NAMES.get(name, f"bright_{name}")
    return RICH_NAMES.get(name, name)


def _fit(text: str, width: int) -> str:
    """The text, cut with an ellipsis to at most `width` characters."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def _counted(plot: Plot) -> bool:
    """Whether the x axis counts whole things (steps, epochs): every x is whole, or the
    label says so (a histogram's bin centres of lengths)."""
    xs = [x for s in plot.series for x in s.x if math.isfinite(x)]
    if not xs:
        return False
    return plot.xlabel.strip().lower() in COUNT_LABELS or all(x == int(x) for x in xs)


def _integer_ticks(xs: list[float], width: int) -> list[int]:
    """Whole-number ticks over the data, a round step apart, about one per 10 columns."""
    finite = [x for x in xs if math.isfinite(x)]
    if not finite:
        return []
    low, high = math.ceil(min(finite)), math.floor(max(finite))
    if high < low:
        return []
    room = max(2, width // 10)
    step = 1
    for candidate in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        step = candidate
        if (high - low) // candidate + 1 <= room:
            break
    first = -(-low // step) * step
    return list(range(first, high + 1, step)) or [low]


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
