"""The `timing-tui` command: a thin click group over the diagnostic core (SPEC 5).

`timing-tui` opens the TUI; `check` runs the same stages headless; `build-cache`, `train`
and `sample` make and probe artifacts. Options are parsed here and handed on; no
diagnosis happens in this module. Heavy imports (torch, textual) are deferred to the
command that needs them, so `--help` is instant.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from tui_timing.config import (
    Settings,
    find_pyproject,
    parse_assignments,
    read_tool_table,
    tolerances_from,
)
from tui_timing.errors import ArtifactError, UsageError

DEVICE_CHOICES = click.Choice(["auto", "cpu", "cuda"])


def _existing_path(_: click.Context, __: click.Parameter, value: str | None) -> Path | None:
    return Path(value) if value else None


def artifact_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The shared artifact and run options of SPEC 5 (the TUI and `check`)."""
    options = [
        click.option(
            "--cache", callback=_existing_path, help="Timing cache (.pt/.npz/.safetensors)."
        ),
        click.option(
            "--raw-summary",
            callback=_existing_path,
            help="Raw summary JSON (default: beside the cache).",
        ),
        click.option("--checkpoint", callback=_existing_path, help="Timing-head checkpoint (.pt)."),
        click.option(
            "--log",
            callback=_existing_path,
            help="Training stats log (stats.jsonl, CSV, metrics.csv).",
        ),
        click.option(
            "--eval", "eval_dump", callback=_existing_path, help="Diffusion eval dump (.pt/.npz)."
        ),
        click.option(
            "--dataset", help="Your dataset class, module:Class (called with the cache path)."
        ),
        click.option("--model", help="Your model factory, module:factory."),
        click.option("--sampler", help="Your sampler, module:function."),
        click.option(
            "--key", "keys", multiple=True, help="Map a cache key: NAME=THEIR_KEY (repeatable)."
        ),
        click.option(
            "--tol", "tols", multiple=True, help="Override a tolerance: NAME=VALUE (repeatable)."
        ),
        click.option(
            "--scratchpad",
            type=click.Path(path_type=Path),
            help="Markdown file the findings are appended to.",
        ),
        click.option("--theme", help="TUI theme name (see themes/)."),
        click.option("--device", type=DEVICE_CHOICES, help="Where models run (default auto)."),
        click.option(
            "--samples", type=click.IntRange(min=1), help="Rows sampled in stage 5 (default 2048)."
        ),
        click.option("--seed", type=int, help="Seed of every random choice (default 0)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@dataclass
class Invocation:
    """The parsed shared options: artifact paths, settings, and the TUI/export extras."""

    paths: Any
    settings: Settings
    scratchpad: Path | None
    theme: str | None

    @property
    def any_artifact(self) -> bool:
        return bool(self.paths.given())


def build_invocation(options: dict[str, Any]) -> Invocation:
    """Turn the shared options (plus `[tool.timing-tui]`) into paths and Settings."""
    from tui_timing.stages.context import ArtifactPaths

    pyproject = find_pyproject()
    table = read_tool_table(pyproject)
    tolerances = tolerances_from(
        table, parse_assignments(options.get("tols") or (), "--tol"), source=str(pyproject)
    )

    def pick(name: str, default: Any) -> Any:
        value = options.get(name)
        return value if value is not None else table.get(name, default)

    settings = Settings(
        tolerances=tolerances,
        device=pick("device", "auto"),
        samples=int(pick("samples", 2048)),
        seed=int(pick("seed", 0)),
        dataset_spec=options.get("dataset"),
        model_spec=options.get("model"),
        sampler_spec=options.get("sampler"),
        key_map=parse_assignments(options.get("keys") or (), "--key"),
    )
    paths = ArtifactPaths(
        cache=options.get("cache"),
        raw_summary=options.get("raw_summary"),
        checkpoint=options.get("checkpoint"),
        log=options.get("log"),
        eval=options.get("eval_dump"),
    )
    scratchpad = options.get("scratchpad") or table.get("scratchpad")
    return Invocation(
        paths=paths,
        settings=settings,
        scratchpad=Path(scratchpad) if scratchpad else None,
        theme=pick("theme", None),
    )


def fail(message: str) -> None:
    """Print a clear error and exit 2 (SPEC 5: usage errors and unusable artifacts)."""
    click.echo(f"timing-tui: error: {message}", err=True)
    sys.exit(2)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@artifact_options
@click.version_option(package_name="timing-tui")
@click.pass_context
def main(ctx: click.Context, **options: Any) -> None:
    """Diagnose the timing head of a mouse-trajectory diffusion model.

    With no command, opens the inspector on the artifacts given, or on those found under
    the current directory, or on the bundled sample data.
    """
    ctx.obj = options
    if ctx.invoked_subcommand is not None:
        return
    try:
        invocation = build_invocation(options)
    except UsageError as exc:
        fail(str(exc))
    from tui_timing.tui.app import run_app

    run_app(invocation)


def _merged(ctx: click.Context, options: dict[str, Any]) -> dict[str, Any]:
    """Subcommand options, falling back to those given before the subcommand name."""
    parent = ctx.obj or {}
    return {k: (v if v not in (None, ()) else parent.get(k)) for k, v in options.items()}


@main.command()
@artifact_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="Report format on stdout.",
)
@click.option("--stage", type=click.IntRange(1, 7), help="Run and report one stage (7 runs all).")
@click.pass_context
def check(ctx: click.Context, fmt: str, stage: int | None, **options: Any) -> None:
    """Run the stages headless and print the report. Exit 0 all passed, 1 a check failed
    or errored, 2 a usage error or an artifact that cannot be used at all."""
    from tui_timing.artifacts.discovery import discover_or_sample
    from tui_timing.report.json_report import render_json
    from tui_timing.report.markdown import findings_markdown, full_markdown
    from tui_timing.report.scratchpad import append_entry
    from tui_timing.report.text import render_text
    from tui_timing.stages.runner import run_check

    try:
        invocation = build_invocation(_merged(ctx, options))
        paths = invocation.paths
        if not invocation.any_artifact:
            found = discover_or_sample()
            paths = found.paths()
            where = "the bundled sample data" if found.is_sample else str(found.root)
            click.echo(f"timing-tui: no artifacts given; using those found in {where}", err=True)
        report = run_check(paths, invocation.settings, only=stage)
    except UsageError as exc:
        fail(str(exc))
    renderers = {"text": render_text, "json": render_json, "markdown": full_markdown}
    click.echo(renderers[fmt](report).rstrip("\n"))
    if invocation.scratchpad is not None and options.get("scratchpad") is not None:
        try:
            written = append_entry(invocation.scratchpad, findings_markdown(report))
        except ArtifactError as exc:
            fail(f"scratchpad {exc}")
        click.echo(f"timing-tui: findings appended to {written}", err=True)
    sys.exit(report.exit_code)


@main.command("build-cache")
@click.argument("raw_dir", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Datasets root.")
@click.option("--id", "dataset_id", required=True, help="Dataset id (folder under --out).")
@click.option("--split", required=True, help="Split name (train, val, ...).")
@click.option(
    "--pause",
    type=click.FloatRange(min=0, min_open=True),
    default=0.5,
    show_default=True,
    help="A step longer than this (s) ends a segment.",
)
@click.option(
    "--max-len",
    type=click.IntRange(min=1),
    default=128,
    show_default=True,
    help="Steps per chunk (L).",
)
@click.option(
    "--min-points",
    type=click.IntRange(min=2),
    default=4,
    show_default=True,
    help="Drop chunks with fewer points.",
)
@click.option(
    "--dt-features", is_flag=True, help="Add Δt statistics to the features (they leak the target)."
)
def build_cache_command(
    raw_dir: Path,
    out: Path,
    dataset_id: str,
    split: str,
    pause: float,
    max_len: int,
    min_points: int,
    dt_features: bool,
) -> None:
    """Build `OUT/ID/SPLIT_timing.pt` and its raw summary from Balabit-format sessions."""
    from tui_timing.data.build_cache import SegmentationParams, build_cache

    if not raw_dir.is_dir():
        fail(f"{raw_dir}: not a folder of session files")
    with click.progressbar(length=1, label="reading sessions", file=sys.stderr) as bar:

        def progress(done: int, total: int, name: str) -> None:
            bar.length = total
            bar.update(done - bar.pos, name)

        try:
            params = SegmentationParams(
                pause=pause, max_len=max_len, min_points=min_points, dt_features=dt_features
            )
            result = build_cache(raw_dir, out, dataset_id, split, params, progress=progress)
        except (ArtifactError, UsageError) as exc:
            fail(str(exc))
    click.echo(
        f"{result.n_segments} segments from {result.n_events} events in {result.n_files} files\n"
        f"cache:   {result.cache_path}\nsummary: {result.summary_path}"
    )
