"""Charts of two runs overlaid: what both share is drawn once, what differs once per run."""

from __future__ import annotations

from tui_timing.findings import Plot, Series
from tui_timing.report.compare_plots import overlay, overlay_plots

CACHE = Series("real", [0, 1, 2], [0.5, 0.3, 0.2])


def sampled(y: list[float]) -> Series:
    return Series("sampled", [0, 1, 2], y)


def test_the_cache_once_each_run_tagged() -> None:
    a = Plot("Mean profile", "line", [CACHE, sampled([0.4, 0.3, 0.3])], hlines=[("cache", 0.5)])
    b = Plot("Mean profile", "line", [CACHE, sampled([0.5, 0.3, 0.2])], hlines=[("cache", 0.5)])
    merged = overlay(a, b)
    assert [s.label for s in merged.series] == ["real", "A sampled", "B sampled"]
    assert merged.series[2].y == [0.5, 0.3, 0.2]
    assert merged.hlines == [("cache", 0.5)]
    assert (merged.title, merged.kind) == ("Mean profile", "line")


def test_reference_lines_that_differ_are_tagged() -> None:
    a = Plot("Loss", "line", [Series("val", [1], [2.0])], hlines=[("best", 1.0)])
    b = Plot("Loss", "line", [Series("val", [1], [0.6])], hlines=[("best", 0.5)])
    assert overlay(a, b).hlines == [("A best", 1.0), ("B best", 0.5)]


def test_charts_of_one_run_only_and_the_order() -> None:
    only_a = Plot("Probe", "bar", [Series("linear", [0], [1.7])], highlight="linear")
    shared = Plot("Durations", "hist", [CACHE])
    only_b = Plot("Δt per step", "hist", [Series("fake", [0], [1.0])])
    merged = overlay_plots([only_a, shared], [shared, only_b])
    assert [p.title for p in merged] == ["Probe", "Durations", "Δt per step"]
    assert [s.label for s in merged[0].series] == ["A linear"]
    assert merged[0].highlight == "A linear"
    assert merged[1].series == [CACHE]
    assert [s.label for s in merged[2].series] == ["B fake"]


def test_a_highlighted_bar_both_runs_share_keeps_its_name() -> None:
    bars = [Series("increments", [0], [0.23]), Series("linear", [1], [1.7])]
    a = Plot("Probe", "bar", bars, highlight="increments")
    b = Plot("Probe", "bar", bars[:1], highlight="increments")
    merged = overlay(a, b)
    assert [s.label for s in merged.series] == ["increments", "A linear"]
    assert merged.highlight == "increments"
