"""The TUI driven through Textual's pilot: keys, stage switching, export, live re-runs,
error panes and a small terminal, asserted on the text actually rendered on screen."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from rich.cells import cell_len
from textual.widgets import Log, Static
from textual.widgets._toast import Toast

from tui_timing.config import ArtifactPaths, Invocation, Settings
from tui_timing.findings import Action, Decision, Plot, Series, StageResult
from tui_timing.tui.app import TimingApp
from tui_timing.tui.messages import StageFinished, StageProgress, StageStarted
from tui_timing.tui.notification import TOAST_TEXT_WIDTH, TOAST_WIDTH, ToastSweeper, toasts_on
from tui_timing.tui.panes.plot_view import PlotView
from tui_timing.tui.screens.confirm_screen import ConfirmAction
from tui_timing.tui.screens.help_screen import HelpScreen

pytestmark = pytest.mark.asyncio

ROWS, STEPS, FEATURES = 96, 16, 8


def write_cache(folder: Path) -> Path:
    """A small valid cache (docs/artifacts.md#timing-cache): decaying profiles over a prefix of each
    row."""
    generator = torch.Generator().manual_seed(0)
    length = torch.randint(2, STEPS + 1, (ROWS,), generator=generator)
    steps = torch.arange(STEPS)
    mask = steps[None, :] < length[:, None]
    weights = torch.exp(-0.4 * steps.float())[None, :] * mask
    profile = (weights / weights.sum(dim=1, keepdim=True)).float()
    duration = (0.2 + torch.rand(ROWS, generator=generator) * 2).float()
    cache = {
        "duration": duration,
        "log_duration": duration.log(),
        "profile": profile,
        "mask": mask,
        "length": length.long(),
        "features": torch.randn(ROWS, FEATURES, generator=generator),
        "meta": {
            "dataset_id": "synthetic",
            "split": "train",
            "max_len": STEPS,
            "feature_names": [f"f{i}" for i in range(FEATURES)],
            "format_version": 1,
        },
    }
    path = folder / "datasets" / "synthetic" / "train_timing.pt"
    path.parent.mkdir(parents=True)
    torch.save(cache, path)
    return path


def stats_lines(epochs: range) -> str:
    """stats.jsonl lines (docs/artifacts.md#stats-log) of a run whose loss falls."""
    lines = []
    for epoch in epochs:
        for split in ("train", "val"):
            loss = 2.0 / (epoch + 1) + (0.1 if split == "val" else 0.0)
            record = {
                "epoch": epoch,
                "split": split,
                "loss": loss,
                "duration_nll": loss / 2,
                "profile_loss": loss / 2,
                "dur_mu": 0.1 * epoch,
                "dur_sigma": 0.6,
                "profile_first": 0.3,
                "profile_mid": 0.01,
                "profile_last": 0.001,
                "time": 1.0 + epoch,
            }
            lines.append(json.dumps(record))
    return "\n".join(lines) + "\n"


def invocation(
    *,
    cache: Path | None = None,
    log: Path | None = None,
    scratchpad: Path | None = None,
    theme: str | None = None,
) -> Invocation:
    return Invocation(
        paths=ArtifactPaths(cache=cache, log=log),
        settings=Settings(samples=64),
        scratchpad=scratchpad,
        theme=theme,
    )


def screen_text(app: TimingApp) -> str:
    """What the terminal would show right now, as plain text."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def toasts_text(app: TimingApp) -> str:
    """The rendered text of the notifications on screen, with all whitespace removed (a
    toast wraps long paths anywhere)."""
    strips = app.screen._compositor.render_strips()
    parts = []
    for toast in app.screen.query(Toast):
        region = toast.region
        for strip in strips[region.y : region.bottom]:
            parts.append(strip.crop(region.x, region.right).text)
    return "".join("".join(parts).replace("▌", " ").split())


async def settle(pilot, app: TimingApp, timeout: float = 60.0) -> None:
    """Wait until every queued stage has run and its result is on screen."""
    deadline = time.monotonic() + timeout
    while not app.is_idle:
        assert time.monotonic() < deadline, "the stages did not finish in time"
        await pilot.pause(0.05)
    await pilot.pause()


async def wait_for(pilot, condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.05)


async def shown(pilot, app: TimingApp, *phrases: str, timeout: float = 120.0) -> str:
    """The screen's text once it shows every phrase. A screen just pushed is drawn on a
    later refresh than the one that mounted it: on a busy machine, reading it at once read
    an empty dialog. The timeout only bounds a test that would otherwise hang."""
    await wait_for(pilot, lambda: all(p in screen_text(app) for p in phrases), timeout)
    return screen_text(app)


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return write_cache(tmp_path)


async def test_runs_all_stages_and_shows_the_first(cache: Path, tmp_path: Path) -> None:
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot, app)
        text = screen_text(app)
        for info_name in ("cache", "dataset", "model", "training", "sampler", "decision"):
            assert info_name in text
        assert "Stage 1 · Cache integrity" in text
        # The checks that are not `pass` come first; the passing ones after the charts.
        assert "Checks:" in text and "cache.vs_raw" in text
        await pilot.press("tab", "end")
        assert "Passing checks" in screen_text(app) and "cache.load" in screen_text(app)
        await pilot.press("home", "shift+tab")
        assert "timing-tui · given artifacts · cache synthetic/train" in text
        assert all(state.phase == "done" for state in app.states.values())
        assert app.states[1].result is not None and app.states[1].result.status == "pass"
        # Stage 4 has no log: it says why it skipped, in its pane.
        await pilot.press("4")
        assert "skip" in screen_text(app)


async def test_keys_move_between_stages(cache: Path, tmp_path: Path) -> None:
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot, app)
        await pilot.press("3")
        assert app.current_stage == 3
        assert "Stage 3 · Model architecture" in screen_text(app)
        await pilot.press("n")
        assert "Stage 4 · Training loop" in screen_text(app)
        await pilot.press("right", "right")
        assert app.current_stage == 6
        await pilot.press("p", "left")
        assert app.current_stage == 4
        await pilot.press("7", "n")  # wraps around
        assert app.current_stage == 1
        await pilot.press("down", "down")  # the stage list has the focus
        assert "Stage 3 · Model architecture" in screen_text(app)


async def test_rerun_keys_run_stages_again(cache: Path, tmp_path: Path) -> None:
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot, app)
        await pilot.press("2", "r")
        await settle(pilot, app)
        assert app.states[2].runs == 2 and app.states[1].runs == 1
        assert app.states[7].runs == 2  # the decision reads every stage
        assert "(re-run) · run 2" in screen_text(app)
        await pilot.press("R")
        await settle(pilot, app)
        assert {state.runs for state in app.states.values()} >= {2, 3}
        assert app.states[1].runs == 2


async def test_export_appends_to_an_existing_scratchpad(cache: Path, tmp_path: Path) -> None:
    """The toast names the scratchpad as it is called: a toast is plain text, so a `[` in
    the name is shown as is (it was shown escaped, `notes \\[v2].md`)."""
    scratchpad = tmp_path / "notes [v2].md"
    original = "# My notes\n\nkeep this line\n"
    scratchpad.write_text(original)
    app = TimingApp(invocation(cache=cache, scratchpad=scratchpad), cwd=tmp_path)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot, app)
        await pilot.press("e")
        await wait_for(pilot, lambda: "Appendedto" in toasts_text(app))
        text = scratchpad.read_text()
        assert text.startswith(original)
        assert "## timing-tui findings" in text and "| 1 cache | pass |" in text
        # short enough for the toast's 24 columns: the path from the working folder
        assert "Appendedtonotes[v2].md:7of7stages,verdict:rule" in toasts_text(app)


async def test_export_to_a_folder_is_a_clear_error(cache: Path, tmp_path: Path) -> None:
    app = TimingApp(invocation(cache=cache, scratchpad=tmp_path), cwd=tmp_path)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot, app)
        await pilot.press("e")
        await wait_for(pilot, lambda: "Exportfailed" in toasts_text(app))
        assert "isafolder" in toasts_text(app)


async def test_default_scratchpad_is_in_the_working_folder(cache: Path, tmp_path: Path) -> None:
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot, app)
        await pilot.press("e")
        await wait_for(pilot, lambda: (tmp_path / "scratchpad.md").is_file())
        assert "Verdict" in (tmp_path / "scratchpad.md").read_text()


async def test_an_edited_stats_log_reruns_stage_4(cache: Path, tmp_path: Path) -> None:
    log = tmp_path / "runs" / "exp" / "stats.jsonl"
    log.parent.mkdir(parents=True)
    log.write_text(stats_lines(range(3)))
    app = TimingApp(invocation(cache=cache, log=log), cwd=tmp_path)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot, app)
        await pilot.press("4")
        runs = {sid: state.runs for sid, state in app.states.items()}
        with log.open("a") as handle:  # a training run appends an epoch, line by line
            handle.write(stats_lines(range(3, 4)))
        await wait_for(pilot, lambda: app.states[4].reason == "stats.jsonl changed", timeout=60)
        await wait_for(pilot, lambda: app.states[4].runs > runs[4], timeout=60)
        await settle(pilot, app)
        assert "stats.jsonl changed" in screen_text(app)
        assert app.states[7].runs > runs[7]
        assert app.states[1].runs == runs[1]  # the cache did not change: stage 1 stays


async def test_a_bad_artifact_shows_its_error_and_the_rest_runs(tmp_path: Path) -> None:
    bad = tmp_path / "broken_timing.pt"
    bad.write_bytes(b"this is not a torch file")
    log = tmp_path / "stats.jsonl"
    log.write_text(stats_lines(range(2)))
    app = TimingApp(invocation(cache=bad, log=log), cwd=tmp_path)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot, app)
        # the pane's error line as drawn text, not the screen (a wrapped path has the pane's
        # border between its halves there)
        errors = app.query_one("#pane-1").query_one(".pane-errors", Static)
        text = str(errors.render())
        assert errors.display and "cannot use the cache" in text and str(bad) in text
        assert app.states[1].status == "fail" or app.states[1].status == "error"
        assert all(state.phase == "done" for state in app.states.values())
        assert app.states[4].result is not None and app.states[4].result.checks
        await pilot.press("4")
        assert "Stage 4 · Training loop" in screen_text(app)


async def test_usable_at_80x24(cache: Path, tmp_path: Path) -> None:
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot, app)
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        lines = screen_text(app).splitlines()
        assert len(lines) == 24 and all(len(line) <= 80 for line in lines)
        text = "\n".join(lines)
        for n, name in enumerate(("cache", "dataset", "model", "training"), start=1):
            assert f"{n} {name}" in text
        assert "Stage 1 · Cache integrity" in text
        footer = lines[-1].rstrip()
        # Every key shown whole (none cut at the edge); the rest are in `?`.
        assert footer.endswith("w runs")
        for key in (
            "? help",
            "q quit",
            "1-7 stage",
            "r/R rerun",
            "e/E export",
            "y/Y copy",
            "/ find",
            "s switch",
            "w runs",
        ):
            assert key in footer
        assert not lines[0].rstrip().endswith("…")  # the header is not cut either
        await pilot.press("tab")  # the pane scrolls from the keyboard to its plots
        for _ in range(12):
            if "Segment length" in screen_text(app):
                break
            await pilot.press("pagedown")
        assert "Segment length" in screen_text(app)
        await pilot.press("end")  # and on to the passing checks, one line each
        assert "cache.load" in screen_text(app)


async def test_log_key_flips_the_stage_charts(cache: Path, tmp_path: Path) -> None:
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(120, 60), notifications=True) as pilot:
        await settle(pilot, app)
        views = list(app.query_one("#pane-1").query(PlotView))
        assert views and views[0].data is not None
        before = [view.log_axes() for view in views]
        await pilot.press("tab", "end")
        assert "Segment length (steps)" in screen_text(app)
        assert "Segment length (steps) (log x)" not in screen_text(app)
        await pilot.press("l")
        await pilot.pause()
        assert [view.log_axes() for view in views] != before
        assert "Segment length (steps) (log x)" in screen_text(app)


async def test_help_lists_every_key(cache: Path, tmp_path: Path) -> None:
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(100, 40), notifications=True) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = await shown(pilot, app, "timing-tui keys")
        for key in ("1-7", "re-run", "scratchpad", "log scale", "theme", "ctrl+p", "quit"):
            assert key in text
        assert "pgup pgdn scroll this list" in text  # first: a short terminal cuts the rest
        # the whole help (it scrolls): every key, the mouse and each way to copy
        whole = str(app.screen.query_one(Static).render())
        for key in (" E ", " y ", " Y ", " / ", " x ", " c ", " a ", "escape", "enter"):
            assert key in whole, key
        assert "Mouse and copying" in whole and "drag" in whole and "OSC 52" in whole
        await pilot.press("n")  # stage keys do not act behind the dialog
        assert app.current_stage == 1
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_palette_lists_stages(cache: Path, tmp_path: Path) -> None:
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(100, 40), notifications=True) as pilot:
        await settle(pilot, app)
        titles = [entry.title for entry in app.palette_entries()]
        assert [t for t in titles if t.startswith("Stage ")] == [
            f"Stage {n}: {title}"
            for n, title in enumerate(
                (
                    "Cache integrity",
                    "Dataset / dataloader",
                    "Model architecture",
                    "Training loop",
                    "Sampler",
                    "Diffusion integration",
                    "Decision",
                ),
                start=1,
            )
        ]
        await pilot.press("ctrl+p")
        await pilot.press(*"sampler")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_stage == 5)


async def test_the_sampler_histogram_fills_while_it_runs(cache: Path, tmp_path: Path) -> None:
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(120, 50), notifications=True) as pilot:
        await settle(pilot, app)
        await pilot.press("5")
        app.post_message(StageStarted(5, "re-run"))
        for rows in (512, 1024):
            histogram = Series("sampled", [0.1, 0.2, 0.4, 0.8], [1.0, rows / 100, 4.0, 1.0])
            plot = Plot("Durations: real vs sampled", "hist", [histogram], log_x=True)
            partial = StageResult(id=5, name="sampler", plots=[plot])
            app.post_message(StageProgress(5, rows / 2048, f"sampled {rows}/2048 rows", partial))
            await pilot.pause()
            text = screen_text(app)
            assert f"sampled {rows}/2048 rows" in text and "running" in text
            assert "Durations: real vs sampled (log x)" in text
            assert app.query_one("#pane-5").query(PlotView).first().data is plot
        assert "██████░░░░░░ 50%" in screen_text(app)


def decision_with(command: str) -> StageResult:
    """A stage-7 result suggesting one runnable action (the decision stage's shape)."""
    action = Action("Say hello", "to show the output streaming", ["cache.load"], command, rule=1)
    decision = Decision("test verdict", 1, actions=[action], path=[])
    return StageResult(id=7, name="decision", status_override="fail", decision=decision)


async def test_action_runs_after_confirmation_and_streams(cache: Path, tmp_path: Path) -> None:
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot, app)
        command = "python -c \"print('hello from the action')\""
        app.post_message(StageFinished(7, decision_with(command), "test"))
        await pilot.pause()
        assert any(a.title == "Say hello" for a in app.decision_pane().actions)
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmAction)
        await pilot.press("escape")  # cancelled: nothing runs
        assert not isinstance(app.screen, ConfirmAction)
        await pilot.press("a", "enter")
        # The log's lines, not the screen: the re-run that follows a successful action
        # brings stage 7's real verdict, whose actions may push the log below the fold.
        log = app.decision_pane().query_one("#action-log", Log)
        await wait_for(pilot, lambda: "exit status 0" in log.lines, timeout=60)
        assert app.current_stage == 7
        assert "hello from the action" in log.lines


async def test_theme_key_cycles_and_plots_follow(cache: Path, tmp_path: Path) -> None:
    app = TimingApp(invocation(cache=cache, theme="timing-dark"), cwd=tmp_path)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot, app)
        assert app.theme == "timing-dark"
        first = app.plot_palette()
        await pilot.press("t")
        assert app.theme != "timing-dark"
        assert app.plot_palette() != first
        views = list(app.query(PlotView))
        assert views and all(view.palette == app.plot_palette() for view in views)


def painted_styles(app: TimingApp) -> list[list[str]]:
    """The style of each segment on screen, line by line (the text left out: a pane shows
    the time of day)."""
    return [[str(s.style) for s in strip] for strip in app.screen._compositor.render_strips()]


@pytest.mark.parametrize("theme", ["timing-light", "timing-dark", "timing-ansi"])
async def test_the_launch_theme_paints_as_a_switch_to_it_does(
    theme: str, cache: Path, tmp_path: Path
) -> None:
    """The launch's theme is put in place without Textual's theme watcher (which would
    parse all CSS again before the first frame): the screen, the app's classes and its
    line filters must come out as when the app switches to that theme."""
    other = "timing-light" if theme == "timing-dark" else "timing-dark"
    seen = []
    for start, switch_to in ((theme, None), (other, theme)):
        app = TimingApp(invocation(cache=cache, theme=start), cwd=tmp_path)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot, app)
            if switch_to is not None:
                app.theme = switch_to
                await pilot.pause()
                await settle(pilot, app)
            filters = [(type(f).__name__, vars(f)) for f in app.get_line_filters()]
            seen.append((app.theme, sorted(app.classes), filters, painted_styles(app)))
    assert seen[0] == seen[1]


async def test_unknown_theme_is_named_and_the_app_starts(cache: Path, tmp_path: Path) -> None:
    app = TimingApp(invocation(cache=cache, theme="no-such-theme"), cwd=tmp_path)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await pilot.pause()
        assert "no-such-theme" in toasts_text(app)
        assert app.theme in app.timing_themes


async def test_a_bad_user_theme_is_named(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    themes = tmp_path / "config" / "timing-tui" / "themes"
    themes.mkdir(parents=True)
    (themes / "broken.toml").write_text('name = "broken"\n[colors]\nprimary = "not-a-colour"\n')
    (themes / "mine.toml").write_text('name = "mine"\n[colors]\nprimary = "#ff0000"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    app = TimingApp(invocation(cache=cache, theme="mine"), cwd=tmp_path)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await pilot.pause()
        assert "broken.toml" in toasts_text(app) and "not-a-colour" in toasts_text(app)
        assert app.theme == "mine"


async def test_no_artifacts_opens_the_sample_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = TimingApp(invocation(), cwd=tmp_path)
    async with app.run_test(size=(160, 40), notifications=True) as pilot:
        await settle(pilot, app, timeout=120)
        assert "SAMPLE DATA" in screen_text(app)
        assert app.found is not None and app.found.is_sample
        if app.found.runs:
            assert "run linear" in screen_text(app)


async def test_several_runs_can_be_switched(cache: Path, tmp_path: Path, monkeypatch) -> None:
    for name, epochs in (("alpha", 2), ("beta", 3)):
        run = tmp_path / "runs" / name
        run.mkdir(parents=True)
        (run / "stats.jsonl").write_text(stats_lines(range(epochs)))
    (tmp_path / "notes.csv").write_text("name,value\nlr,3e-3\n")
    monkeypatch.chdir(tmp_path)
    app = TimingApp(invocation(), cwd=tmp_path)
    async with app.run_test(size=(160, 40), notifications=True) as pilot:
        await settle(pilot, app)
        assert "found here · run alpha (1 of 2, s switches) · cache synthetic/train" in screen_text(
            app
        )
        assert app.paths.log.parent.name == "alpha"
        await pilot.press("s")
        await pilot.pause()
        # what discovery assumed of the run in use, and what it passed over, and why
        assert "read as run: files of the run = stats.jsonl (run runs/alpha" in screen_text(app)
        assert "notes.csv: a CSV with no known column" in screen_text(app)
        await pilot.press("down")
        await pilot.pause()
        assert "read as run: files of the run = stats.jsonl (run runs/beta" in screen_text(app)
        await pilot.press("enter")  # from the run in use (alpha) to beta
        await settle(pilot, app)
        assert app.paths.log.parent.name == "beta"
        assert "run beta" in screen_text(app)
        assert app.states[4].reason == "switched artifacts"


async def test_quit_key_ends_the_app(cache: Path, tmp_path: Path) -> None:
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert app.return_code == 0
        assert not app.pipeline.busy or app.pipeline._closed


async def test_a_mostly_skipped_stage_is_not_shown_as_a_plain_pass(
    cache: Path, tmp_path: Path
) -> None:
    """One check passed and five skipped, or all six skipped: the list and the pane say
    how few ran and that the stage is not assessed (the decision says the same), never a
    bare `✔ pass` or `– skip`, and the list's words fit its 24 columns at 80x24."""
    from tui_timing.findings import Check

    skipped = [Check.skipped(f"model.c{n}", "the weights were read statically") for n in range(5)]
    checks = [Check("model.load", "pass", None, None, "Loaded."), *skipped]
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot, app)
        app.post_message(StageFinished(3, StageResult(3, "model", checks), "test"))
        none_ran = [*skipped, Check.skipped("model.c5", "no checkpoint")]
        app.post_message(StageFinished(6, StageResult(6, "integration", none_ran), "test"))
        await pilot.press("3")
        await wait_for(pilot, lambda: "1/6 ran: not assessed" in screen_text(app))
        rows = [line[:24] for line in screen_text(app).splitlines()]
        model = next(i for i, row in enumerate(rows) if row.startswith("3 model"))
        assert rows[model].rstrip().endswith("✔ pass"), rows[model]
        assert rows[model + 1].strip() == "1/6 ran: not assessed", rows[model + 1]
        integration = next(i for i, row in enumerate(rows) if row.startswith("6 integration"))
        assert rows[integration].rstrip().endswith("– skip"), rows[integration]
        assert rows[integration + 1].strip() == "not assessed", rows[integration + 1]
        stage1 = next(i for i, row in enumerate(rows) if row.startswith("1 cache"))
        # every check of stage 1 ran: nothing more to say
        assert rows[stage1 + 1].startswith("2 dataset"), rows[stage1 + 1]
        assert "✔ pass · 1 of 6 checks ran: not assessed" in " ".join(
            line[26:].strip() for line in screen_text(app).splitlines()
        )


LOUD_DATASET = """
import sys
from tui_timing.data.dataset import TimingDataset

class Loud(TimingDataset):
    def __init__(self, cache_path):
        print("hello from the dataset")
        for n in range(20):
            print(f"epoch line {n} [red]not markup[/red] \\x1b]0;title\\x07")
        super().__init__(cache_path)
"""


async def test_a_plugins_prints_go_to_its_stage_pane_not_the_terminal(
    cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A user's dataset plug-in that prints: `check` sends it to stderr, the TUI let it
    reach Textual (over the screen, or dropped). Now it is kept for the stage whose run
    printed it and shown in that stage's pane (its end, as plain escaped text), and
    nothing of it reaches stdout."""
    (tmp_path / "loud.py").write_text(LOUD_DATASET)
    run = Invocation(
        paths=ArtifactPaths(cache=cache),
        settings=Settings(samples=64, dataset_spec="loud:Loud", pythonpath=(tmp_path,)),
        scratchpad=None,
        theme=None,
    )
    app = TimingApp(run, cwd=tmp_path)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, app)
        assert app.states[2].printed and app.states[2].status == "pass"
        await pilot.press("2")
        text = await shown(pilot, app, "your code printed while running")
        assert "(its last 12 lines):" in text and "epoch line 19 [red]not markup[/red]" in text
        assert "epoch line 7 " not in text  # the end only
        assert "\x1b" not in text and "\\x1b]0;title" in text  # escaped, never sent raw
        assert not app.states[1].printed  # stage 1 ran no code of the user's
    assert "hello from the dataset" not in capsys.readouterr().out


async def test_the_screen_is_repainted_once_a_toast_has_gone(cache: Path, tmp_path: Path) -> None:
    """Textual, now and then, left a toast that had gone drawn over the stage list (a tmux
    test read that stale frame for four minutes; notification.py): once a toast has gone,
    the app repaints every cell of the screen, which is what cleared it. A repaint is a
    `refresh()` of the screen with no region; the test counts those, and lets each run."""
    app = TimingApp(invocation(cache=cache), cwd=tmp_path)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot, app)
        app.clear_notifications()
        screen = app.screen
        await wait_for(pilot, lambda: toasts_on(screen) == 0)
        toasts_at_repaint: list[int] = []
        repaint = screen.refresh

        def refresh(*regions: Any, **options: Any) -> Any:
            if not regions and not options:
                toasts_at_repaint.append(toasts_on(screen))
            return repaint(*regions, **options)

        screen.refresh = refresh  # type: ignore[method-assign]
        app.notify("going soon", timeout=0.5)
        await wait_for(pilot, lambda: toasts_on(screen) == 1)
        assert not toasts_at_repaint
        await wait_for(pilot, lambda: toasts_on(screen) == 0 and 0 in toasts_at_repaint)


def toast_rows(app: TimingApp) -> list[list[str]]:
    """Each toast on screen as its text lines (its left border and padding taken off), with the
    toast's rendered width checked against the width messages are wrapped for."""
    strips = app.screen._compositor.render_strips()
    toasts = []
    for toast in app.screen.query(Toast):
        region = toast.region
        assert region.width == TOAST_WIDTH
        rows = [s.crop(region.x, region.right).text for s in strips[region.y : region.bottom]]
        assert all(cell_len(row[2:].rstrip()) <= TOAST_TEXT_WIDTH for row in rows)
        toasts.append([row[2:].rstrip() for row in rows if row[2:].strip()])
    return toasts


def broken_only_between_words(message: str, rows: list[str]) -> bool:
    """Whether `rows` are `message` with line breaks only at its spaces, or inside a word
    longer than a line right after a `/` (or, in a part longer than a line, a `_`, `-` or
    `.`)."""
    at = 0
    for row in rows:
        if message[at : at + len(row)] != row:
            return False
        at += len(row)
        if at < len(message):
            if message[at] == " ":
                at += 1
                continue
            end = message.find(" ", at)
            word = message[message.rfind(" ", 0, at) + 1 : end if end >= 0 else None]
            if cell_len(word) <= TOAST_TEXT_WIDTH or not row.endswith(("/", "_", "-", ".")):
                return False
    return at == len(message)


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_toasts_wrap_at_words_and_paths_after_a_slash(
    cache: Path, tmp_path: Path, size: tuple[int, int]
) -> None:
    """Toasts broke a word longer than their line anywhere (`.../projec` `t/...`): the
    app's own notifications, a sentence and an export naming a long path, break only
    between words, and a path after a `/` (a folder name longer than the line after its
    `_`)."""
    folder = tmp_path / "experiments_on_timing_heads" / "increments_with_padding_mask"
    folder.mkdir(parents=True)
    pad = folder / "task_scratchpad_for_the_duration_head.md"
    app = TimingApp(invocation(cache=cache, scratchpad=pad), cwd=tmp_path)
    said: list[str] = []  # each message as the app words it, before it is shown
    shown_by_app = app.notify

    def notify(message: str, **options: Any) -> None:
        said.append(message)
        shown_by_app(message, **options)

    app.notify = notify  # type: ignore[method-assign]
    async with app.run_test(size=size, notifications=True) as pilot:
        await settle(pilot, app)
        for key, title in (("c", None), ("e", "Exported")):
            app.clear_notifications()
            await pilot.press(key)  # c: only a cache, nothing to compare; e: export
            await wait_for(pilot, lambda: len(toast_rows(app)) == 1)
            (rows,) = toast_rows(app)
            if title is not None:
                assert rows.pop(0) == title
            assert broken_only_between_words(said[-1], rows), (said[-1], rows)
        assert said[-1].startswith(f"Appended to {pad.relative_to(tmp_path)}: 7 of 7 stages")
        assert any(row.endswith("/") for row in rows)  # the path, broken after a slash


async def test_the_toast_sweeper_lets_a_closing_app_be() -> None:
    """Its timer can fire once the closing app's screens are gone (seen in a test run beside
    busy loops: ScreenStackError from `_sweep`, the app's exit a traceback)."""
    from textual.app import App

    app: App[None] = App()  # no screen on its stack yet, as a closing app has none left
    assert not app.screen_stack
    ToastSweeper(app)._sweep()  # nothing to repaint: returns, raises nothing
