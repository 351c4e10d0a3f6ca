"""One chart per figure for two runs (docs/cli.md#compare in the TUI): cache, A and B overlaid.

A stage draws the same charts for either run, and some of their series do not depend on
the run at all (the cache's histogram, the real profile, the probe's healthy fits when the
runs share them). Those are drawn once under their own name; a series that differs is
drawn twice, as "A <name>" and "B <name>", so every line on the chart says whose it is.
"""

from __future__ import annotations

import dataclasses

from tui_timing.findings import Plot, Series


def overlay_plots(plots_a: list[Plot], plots_b: list[Plot]) -> list[Plot]:
    """A's charts in A's order, each with B's chart of the same title overlaid, then the
    charts only B drew."""
    by_title_b = {plot.title: plot for plot in plots_b}
    titles_a = {plot.title for plot in plots_a}
    merged = [overlay(plot, by_title_b.get(plot.title)) for plot in plots_a]
    merged += [overlay(None, plot) for plot in plots_b if plot.title not in titles_a]
    return merged


def overlay(plot_a: Plot | None, plot_b: Plot | None) -> Plot:
    """One chart with both runs' series and reference lines (at least one plot is given)."""
    base = plot_a or plot_b
    if base is None:
        raise ValueError("overlay needs at least one plot")
    series_a = plot_a.series if plot_a else []
    series_b = plot_b.series if plot_b else []
    series = [s if s in series_b else _tagged("A", s) for s in series_a]
    series += [_tagged("B", s) for s in series_b if s not in series_a]
    hlines_a = plot_a.hlines if plot_a else []
    hlines_b = plot_b.hlines if plot_b else []
    hlines = [h if h in hlines_b else (f"A {h[0]}", h[1]) for h in hlines_a]
    hlines += [(f"B {h[0]}", h[1]) for h in hlines_b if h not in hlines_a]
    return dataclasses.replace(
        base,
        series=series,
        hlines=hlines,
        highlight=_highlight(plot_a, series_b) or _highlight(plot_b, series_a, side="B"),
    )


def _tagged(side: str, series: Series) -> Series:
    return Series(f"{side} {series.label}", series.x, series.y)


def _highlight(plot: Plot | None, other: list[Series], side: str = "A") -> str | None:
    """The plot's highlighted bar under its name on the overlaid chart (untagged when both
    runs drew that bar alike, so it is drawn once)."""
    if plot is None or plot.highlight is None:
        return None
    shared = any(s.label == plot.highlight and s in other for s in plot.series)
    return plot.highlight if shared else f"{side} {plot.highlight}"
