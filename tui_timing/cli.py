"""The `timing-tui` command: a thin click group over the diagnostic core (docs/cli.md).

`timing-tui` opens the TUI; `check` runs the same stages headless; `build-cache`, `train`
and `sample` make and probe artifacts. Options are parsed here and handed on; no
diagnosis happens in this module. Heavy imports (torch, textual) are deferred to the
command that needs them, so `--help` is instant.
"""

from __future__ import annotations

import errno
import os
import shlex
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from tui_timing.artifact_kinds import KINDS
from tui_timing.config import (
    ArtifactPaths,
    Invocation,
    Settings,
    find_pyproject,
    parse_assignments,
    read_tool_table,
    tolerances_from,
    untrusted,
)
from tui_timing.errors import ArtifactError, UsageError, out_of_memory
from tui_timing.model.options import (
    PROFILE_HEADS,
    PROFILE_LOSSES,
    HeadConfig,
    TrainOptions,
    default_of,
)
from tui_timing.plugins import exit_now, user_code_guard
from tui_timing.project import merge_keys, parse_key_options, read_project
from tui_timing.report.text import printable_name
from tui_timing.stages.catalog import ALL_STAGES, Stage

if TYPE_CHECKING:
    from tui_timing.artifacts.discovery import Discovered
    from tui_timing.findings import Assumption
    from tui_timing.stages.context import ArtifactPaths

DEVICE_CHOICES = click.Choice(["auto", "cpu", "cuda"])
#: Seeds torch and numpy both accept (torch takes at most 64 bits, numpy no negatives).
SEED_MAX = 2**63 - 1
#: Stage 5 keeps a few numbers per sampled row: a million rows take tens of MB and a few
#: seconds; a billion would take gigabytes and minutes for no better comparison.
SAMPLES_MAX = 1_000_000
SEEDS = click.IntRange(0, SEED_MAX)
SAMPLE_COUNTS = click.IntRange(1, SAMPLES_MAX)

#: What `--help` says about a user's own repo (docs/artifacts.md#your-own-repo; README "Use it on
#: your repo").
PROJECT_HELP = """\b
Your repo: [tool.timing-tui] in the nearest pyproject.toml (the command line wins):
  pythonpath = ["src"]                  prepended to sys.path for your plug-ins
  cache = "data/train.npz"              also checkpoint, log, eval, raw_summary:
                                        paths relative to the pyproject, used as given
  dataset = "pkg.data:MyDataset"        plug-ins, module:attribute[.attribute]
  model = "pkg.timing:make_head"
  sampler = "pkg.timing:sample"         or "pkg.sampler:Sampler.from_checkpoint"
  sampler_kwargs = { profile_mix = 1.0 }
  profile_bins = "masked"               what first/mid/last mean in your log
  eval_xy = "points"                    your eval dump's xy, where shapes leave it open
  [tool.timing-tui.keys.cache]          contract name = your name; also keys.batch
  duration = "durations_s"              (or a list: tuple positions), keys.log,
                                        keys.eval, keys.model, keys.config (your
                                        config's fields: cond_dim = "d_cond"); on the
                                        command line --key cache.duration=durations_s

\b
Plug-in contracts:
  dataset  Class(cache_path); items are dicts (your names through keys.batch and
           the aliases) or tuples (keys.batch = [...] names the positions);
           batches are made by torch's default collate.
  model    factory(**entries of the checkpoint's config, the config.json beside
           its weights, or Lightning hyper_parameters that it names; cond_dim,
           max_len inferred); a sole config/cfg/hparams/hyper_parameters parameter
           gets the whole config, or its annotated dataclass; Class.from_pretrained
           gets the checkpoint's folder. forward(features, length or mask) returns
           a dict, NamedTuple or dataclass (mu, log_sigma, logits or profile;
           loc, log_scale, step_logits, mu_log_duration, log_sigma_log_duration,
           template; keys.model) or a tuple (mu, log_sigma, logits).
  sampler  f(model, features, length, *, generator, temperature) returning a dict
           or (duration, dt) / (duration, profile); or an object made by
           factory(checkpoint_path=, cache_path=, device=, **sampler_kwargs), or
           by Class.from_pretrained(folder), whose .sample(n) returns rows of its
           own choosing with their mask.
An exception raised in your code is reported as yours, with the call (exit 2).
"""


def _existing_path(_: click.Context, param: click.Parameter, value: str | None) -> Path | None:
    """The path given for an artifact; a usage error (exit 2) naming it when nothing is
    there, before any stage runs, saying how to make one where there is a way. An empty
    one (`--cache "$CACHE"` with the variable unset) is a usage error too, not "no artifact
    given" (which would let discovery pick other files)."""
    if value == "":
        raise click.BadParameter(
            "an empty path (an unset shell variable?); name a file, or leave the option out"
        )
    if value is None:
        return None
    path = Path(value)
    if not os.path.lexists(path):  # a link to nothing, or a loop: the loader names which
        how = next((k.make_one for k in KINDS if k.param == param.name and k.make_one), "")
        raise click.BadParameter(
            f"{value}: no such file; give the path of an existing file{', ' + how if how else ''}"
        )
    return path


def artifact_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The shared artifact and run options of docs/cli.md (the TUI and `check`)."""
    options = [
        *(
            click.option(
                kind.option,
                kind.param,
                metavar=kind.metavar,
                help=kind.help,
                callback=_existing_path,
            )
            for kind in KINDS
        ),
        click.option(
            "--dataset", help="Your dataset class, module:Class (called with the cache path)."
        ),
        click.option("--model", help="Your model factory or class, module:factory."),
        click.option(
            "--sampler", help="Your sampler, module:function (or a factory of sampler objects)."
        ),
        click.option(
            "--key",
            "keys",
            multiple=True,
            help="Map a contract name to yours: [cache|batch|log|eval|model.]NAME=YOURS "
            "(bare NAME: the cache; repeatable).",
        ),
        click.option(
            "--tol", "tols", multiple=True, help="Override a tolerance: NAME=VALUE (repeatable)."
        ),
        click.option(
            "--scratchpad",
            type=click.Path(path_type=Path),
            help="Markdown file the findings are appended to.",
        ),
        click.option("--device", type=DEVICE_CHOICES, help="Where models run (default auto)."),
        click.option(
            "--samples",
            type=SAMPLE_COUNTS,
            help=f"Rows sampled in stage 5, at most {SAMPLES_MAX:,} (default {Settings.samples}).",
        ),
        click.option(
            "--seed", type=SEEDS, help="Seed of every random choice, 0 to 2**63-1 (default 0)."
        ),
        click.option(
            "--no-cache",
            is_flag=True,
            default=None,
            help="Compute every stage: neither read nor write the results cache.",
        ),
        click.option(
            "--temperature",
            type=click.FloatRange(min=0, min_open=True),
            help="Sampling temperature of the profile in stage 5 "
            f"(default {Settings.temperature:g}).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def build_invocation(options: dict[str, Any]) -> Invocation:
    """Turn the shared options (plus `[tool.timing-tui]`) into paths and Settings.

    The command line wins over the table, one artifact, plug-in or key name at a time;
    artifacts the table names count as given (no discovery).
    """
    pyproject = find_pyproject()
    why = untrusted(pyproject) if pyproject is not None else None
    if pyproject is not None and why is not None:
        click.echo(
            f"timing-tui: ignoring {printable_name(pyproject)}: it {why}, so its "
            "[tool.timing-tui] could run another user's code; make it yours and writable "
            "by you alone (chown, chmod go-w on it and its folder) to use it",
            err=True,
        )
        pyproject = None
    table = read_tool_table(pyproject)
    tolerances = tolerances_from(
        table, parse_assignments(options.get("tols") or (), "--tol"), source=str(pyproject)
    )
    project = read_project(table, pyproject)

    def pick(name: str, default: Any) -> Any:
        value = options.get(name)
        if value is not None:
            return value  # click has checked it
        if name not in table:
            return default
        return _table_setting(pyproject, name, table[name])

    def plugin(name: str) -> str | None:
        value = options.get(name)
        return value if value else project.plugins.get(name)

    settings = Settings(
        tolerances=tolerances,
        device=pick("device", Settings.device),
        samples=pick("samples", Settings.samples),
        seed=pick("seed", Settings.seed),
        temperature=float(pick("temperature", Settings.temperature)),
        dataset_spec=plugin("dataset"),
        model_spec=plugin("model"),
        sampler_spec=plugin("sampler"),
        keys=merge_keys(project.keys, parse_key_options(options.get("keys") or ())),
        batch_positions=project.batch_positions,
        log_patterns=project.log_patterns,
        profile_bins=project.profile_bins,
        eval_xy=project.eval_xy,
        sampler_kwargs=project.sampler_kwargs,
        pythonpath=project.pythonpath,
    )
    if settings.device == "cuda":
        _require_cuda()
    for kind in KINDS:  # as the options' own check: before any stage runs
        named = project.artifacts.get(kind.name)
        if options.get(kind.param) is None and named is not None and not os.path.lexists(named):
            how = f"; {kind.make_one}" if kind.make_one else ""
            raise UsageError(
                f"{pyproject}: [tool.timing-tui] {kind.name} = {str(named)!r}: no such file; "
                f"name an existing file there{how}, or remove the line"
            )
    paths = ArtifactPaths(
        **{kind.name: options.get(kind.param) or project.artifacts.get(kind.name) for kind in KINDS}
    )
    scratchpad = options.get("scratchpad")
    if scratchpad is None and "scratchpad" in table:
        scratchpad = _table_path(pyproject, pick("scratchpad", None))
    return Invocation(
        paths=paths,
        settings=settings,
        scratchpad=Path(scratchpad) if scratchpad else None,
        theme=pick("theme", None),
        no_cache=bool(options.get("no_cache")),
        run_folders=project.runs,
        project=pyproject if table else None,
        scratchpad_given=options.get("scratchpad") is not None,
    )


def _require_cuda() -> None:
    """A UsageError when CUDA was asked for and torch cannot use it: the model-side checks
    would otherwise find nothing to run and skip, and a stage that computed nothing would
    read as passed."""
    import torch

    if not torch.cuda.is_available():
        raise UsageError(
            "device cuda was asked for (--device or [tool.timing-tui] device), but torch "
            "sees no usable CUDA device; use --device cpu, or auto to take the GPU when "
            "there is one"
        )


def _table_path(pyproject: Path | None, value: str) -> Path:
    """A path written in the table, relative to the pyproject.toml that holds it."""
    return (pyproject.parent if pyproject is not None else Path.cwd()) / value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


#: What each run setting of `[tool.timing-tui]` must be: a test and its description.
_TABLE_SETTINGS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "device": (lambda v: v in DEVICE_CHOICES.choices, "one of auto, cpu, cuda"),
    "samples": (lambda v: _is_int(v) and 1 <= v <= SAMPLES_MAX, f"an integer 1..{SAMPLES_MAX}"),
    "seed": (lambda v: _is_int(v) and 0 <= v <= SEED_MAX, "an integer 0..2**63-1"),
    "temperature": (lambda v: _is_number(v) and v > 0, "a number > 0"),
    "theme": (lambda v: isinstance(v, str), "a theme name (a string)"),
    "scratchpad": (lambda v: isinstance(v, str) and bool(v), "a file path (a string)"),
}


def _table_setting(pyproject: Path | None, name: str, value: Any) -> Any:
    """A run setting read from `[tool.timing-tui]`, or a UsageError naming the key (a value
    of the wrong type would otherwise fail later, as a traceback)."""
    valid, what = _TABLE_SETTINGS[name]
    if not valid(value):
        raise UsageError(f"{pyproject}: [tool.timing-tui] {name} must be {what}, not {value!r}")
    return value


def _stamps(paths: Any) -> Any:
    """The artifacts' stamps before `check` reads them, for the results cache (None for a
    special file: there is nothing to key its results on)."""
    from tui_timing.report.results_cache import stamps

    try:
        return stamps(paths)
    except OSError:
        return None


def append_to_scratchpad(
    path: Path,
    entry: Callable[[datetime], str],
    bullet: Callable[[datetime], str],
    what: str,
) -> None:
    """Append `what` (findings, a comparison) to the scratchpad as an entry or, in a
    scratchpad of dated bullets, as one bullet (docs/cli.md#scratchpad); exit 2 when it cannot be
    written."""
    from tui_timing.report.scratchpad import append_entry

    when = datetime.now().astimezone()
    try:
        written = append_entry(path, entry(when), bullet=bullet(when))
    except ArtifactError as exc:
        fail(f"scratchpad {exc}; the report above stands, but was not appended to it")
    click.echo(f"timing-tui: {what} appended to {printable_name(written)}", err=True)


def writable_scratchpad(path: Path) -> None:
    """A UsageError, before any stage runs, when the scratchpad named cannot be appended to
    (a folder, a missing folder): the report would otherwise end "Exit code 0." and the
    command exit 2."""
    from tui_timing.report.scratchpad import scratchpad_problem

    problem = scratchpad_problem(path)
    if problem is not None:
        raise UsageError(f"--scratchpad {path}: {problem}")


def fail(message: str) -> None:
    """Print a clear error and exit 2 (docs/cli.md: usage errors and unusable artifacts). File
    names in it may come from a hostile folder: control characters are shown escaped."""
    from tui_timing.report.text import printable

    click.echo(f"timing-tui: error: {printable(message)}", err=True)
    sys.exit(2)


def log_to(path: str) -> None:
    """Append timing-tui's log to `path` ($TIMING_TUI_LOG): what the reports leave out,
    such as each file stage 1 had to read with torch rather than the numpy reader."""
    import logging

    target = Path(path)
    if target.exists() and not target.is_file():
        fail(f"$TIMING_TUI_LOG {path}: not a regular file; set it to a file path, or unset it")
    try:
        handler = logging.FileHandler(target, encoding="utf-8")
    except OSError as exc:
        fail(
            f"$TIMING_TUI_LOG {path}: cannot be opened for appending ({exc.strerror}); "
            "set it to a writable file path, or unset it"
        )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("tui_timing")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


#: The exit status of a run the user interrupted (128 + SIGINT, as shells report it).
INTERRUPTED = 130
#: Write errors that mean the output itself cannot be delivered (a full disk, /dev/full).
_OUTPUT_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO)


class TimingGroup(click.Group):
    """The command group, with two endings of its own: Ctrl-C exits 130 (click's own
    "Aborted!" exits 1, the code of a failed check), and output that cannot be written
    (stdout on a full disk) is a message and exit 2, not a traceback at shutdown."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("\ntiming-tui: interrupted; nothing was left half-written", err=True)
            sys.exit(INTERRUPTED)
        except OSError as exc:
            if exc.errno not in _OUTPUT_ERRNOS:
                raise
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - what is left unflushed goes here
            click.echo(f"timing-tui: error: cannot write the output ({exc.strerror})", err=True)
            sys.exit(2)


@click.group(
    cls=TimingGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=PROJECT_HELP,
)
@artifact_options
@click.option("--theme", help="TUI theme name (see themes/; `t` in the TUI cycles them).")
@click.version_option(package_name="timing-tui")
@click.pass_context
def main(ctx: click.Context, **options: Any) -> None:
    """Diagnose the timing head of a mouse-trajectory diffusion model.

    With no command, opens the inspector on the artifacts given, or on those found under
    the current directory, or on the bundled sample data.
    """
    if ctx.invoked_subcommand is not None:
        refuse_options_before(ctx, ctx.invoked_subcommand)
    if os.environ.get("TIMING_TUI_LOG"):
        log_to(os.environ["TIMING_TUI_LOG"])
    if ctx.invoked_subcommand is not None:
        return
    try:
        invocation = build_invocation(options)
    except UsageError as exc:
        fail(str(exc))
    if not _on_a_terminal():
        fail(
            "the inspector needs a terminal, and stdin or stdout is not one (CI, a pipe, "
            "a closed input); run `timing-tui check` for the same diagnosis as a report"
        )
    from tui_timing.tui import startup
    from tui_timing.tui.launch_lookup import look_up
    from tui_timing.tui.stage_one_ahead import StageOneAhead

    startup.hold()  # until the first frame: the start allocates for good, collecting wastes
    try:
        lookup = look_up(invocation)  # a warm launch's results, for its first frame
        ahead = StageOneAhead.start(invocation, lookup)  # before Textual's import: no thread yet
        from tui_timing.tui.app import run_app

        code = run_app(invocation, ahead, lookup)
    finally:
        startup.release()
    if code:
        ctx.exit(code)


def _on_a_terminal() -> bool:
    """Whether stdin and stdout are both a terminal (open ones): the TUI reads keys from
    one and draws on the other, and without them it would wait for keys forever."""
    try:
        return sys.stdin is not None and sys.stdin.isatty() and sys.stdout.isatty()
    except (ValueError, OSError):  # closed
        return False


def refuse_options_before(ctx: click.Context, command: str) -> None:
    """Exit 2 when options were given before the command's name (`timing-tui --scratchpad X
    check`): those are the inspector's, and honouring some of them in a command that
    takes them while another command has no such option would make an option mean
    different things by where it stands. The message shows where to write them."""
    given = [
        param
        for param in ctx.command.params
        if isinstance(param, click.Option)
        and param.name is not None
        and ctx.get_parameter_source(param.name) == ParameterSource.COMMANDLINE
    ]
    if not given:
        return
    takes = {p.name for p in main.commands[command].params if isinstance(p, click.Option)}
    words = [word for param in given for word in _as_typed(param, ctx.params[param.name])]
    names = ", ".join(param.opts[0] for param in given)
    unknown = [param.opts[0] for param in given if param.name not in takes]
    if unknown:
        fail(
            f"{names} given before the command {command!r}, which takes no "
            f"{', '.join(unknown)} (timing-tui {command} --help lists its options); options "
            "before a command name are the inspector's (timing-tui with no command)"
        )
    fail(
        f"{names} given before the command {command!r}; write the options after the "
        f"command name: timing-tui {command} {shlex.join(words)} ..."
    )


def _as_typed(option: click.Option, value: Any) -> list[str]:
    """The words that give `option` this value on the command line."""
    if option.is_flag:
        return [option.opts[0]]
    values = value if option.multiple else (value,)
    return [word for one in values for word in (option.opts[0], str(one))]


@main.command(epilog=PROJECT_HELP)
@artifact_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="Report format on stdout.",
)
@click.option(
    "--stage",
    type=click.IntRange(ALL_STAGES[0], ALL_STAGES[-1]),
    help=f"Run and report one stage ({Stage.DECISION} runs all).",
)
def check(fmt: str, stage: int | None, **options: Any) -> None:
    """Run the stages headless and print the report. Exit 0 all passed, 1 a check failed
    or errored, 2 a usage error or an artifact that cannot be used at all."""
    from tui_timing.artifacts.discovery import discover_or_sample
    from tui_timing.artifacts.raw_summary import summary_beside
    from tui_timing.report.discovery import discovery_text
    from tui_timing.report.json_report import render_json
    from tui_timing.report.markdown import findings_bullet, findings_markdown, full_markdown
    from tui_timing.report.text import error_line, printable, render_text
    from tui_timing.stages.runner import check_report, checked_context, resolve_paths

    with user_code_guard():  # plug-ins print to stderr: stdout is the report alone
        try:
            invocation = build_invocation(options)
            if options.get("scratchpad") is not None:
                writable_scratchpad(options["scratchpad"])
            paths = invocation.paths
            discovered = ""
            assumed: list[Assumption] = []
            if not invocation.any_artifact:
                found = discover_or_sample(settings=invocation.settings)
                discovered = printable(discovery_text(found))
                if found.is_sample and found.missed:
                    click.echo(discovered, err=True)
                    raise UsageError(
                        f"no artifacts given and none usable found in {Path.cwd()}, though "
                        f"{len(found.missed)} files or folders there were passed over "
                        "(above); name yours with --cache, --checkpoint, --log, --eval or in "
                        "[tool.timing-tui] (the bundled sample data stands in only where "
                        "there is nothing of yours)"
                    )
                paths = found.paths()
                assumed = found.assumptions()
                where = "the bundled sample data" if found.is_sample else str(found.root)
                click.echo(
                    f"timing-tui: no artifacts given; using those found in {printable_name(where)}",
                    err=True,
                )
            if paths.cache is not None and paths.raw_summary is None:
                paired = summary_beside(paths.cache)
                if paired.path is not None and paired.note:
                    click.echo(f"timing-tui: {printable_name(paired.note)}", err=True)
            paths = resolve_paths(paths)
            loaded_stamps = None if invocation.no_cache else _stamps(paths)
            context = checked_context(paths, invocation.settings, only=stage, assumptions=assumed)
            report = check_report(context, stage)
            if invocation.project is not None:
                report.project = str(invocation.project)
        except UsageError as exc:
            fail(str(exc))
    if loaded_stamps is not None:
        from tui_timing.report.results_cache import ResultsCache

        ResultsCache().store_context(context, loaded_stamps, report)
    if discovered:  # in the text report; beside the others, so JSON stays one object
        click.echo(discovered, err=fmt != "text")
    renderers = {"text": render_text, "json": render_json, "markdown": full_markdown}
    click.echo(renderers[fmt](report).rstrip("\n"))
    if report.error is not None:  # in the report too; here where a shell shows errors
        click.echo(f"timing-tui: error: {printable(error_line(report.error))}", err=True)
    if invocation.scratchpad is not None and options.get("scratchpad") is not None:
        append_to_scratchpad(
            invocation.scratchpad,
            lambda when: findings_markdown(report, when),
            lambda when: findings_bullet(report, when),
            "findings",
        )
    exit_now(report.exit_code)


@main.command()
@click.argument("run_a", metavar="A", type=click.Path(path_type=Path))
@click.argument("run_b", metavar="B", type=click.Path(path_type=Path))
@artifact_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="Report format on stdout.",
)
def compare(run_a: Path, run_b: Path, fmt: str, **options: Any) -> None:
    """Compare run B with run A on one cache: did B fix what A failed, did it break anything?

    A and B are run folders or checkpoints inside them; each run's stats log and eval dump
    are the ones in its folder; a --log or --eval (or table entry) in one run's folder is
    that run's alone, one in neither is both runs'. Exit 0 no regression, 1 B
    fails a check that A passed, 2 a usage error or an artifact that cannot be used at all.
    """
    from tui_timing.report.compare import compare_reports
    from tui_timing.report.compare_render import (
        compare_markdown,
        comparison_bullet,
        comparison_entry,
        render_compare_json,
        render_compare_text,
    )
    from tui_timing.stages.pair import run_pair

    with user_code_guard():  # plug-ins print to stderr: stdout is the report alone
        try:
            for kind in RUNS_OWN:
                if options.get(kind.param) is not None:
                    raise UsageError(
                        f"compare takes each run's {kind.name} from A and B; drop {kind.option} "
                        f"(name the run's folder or {kind.name} as A or B)"
                    )
            invocation = build_invocation(options)
            if options.get("scratchpad") is not None:
                writable_scratchpad(options["scratchpad"])
            (paths_a, paths_b), assumed = compare_paths(
                invocation.paths, run_a, run_b, invocation.settings
            )
            pair = run_pair(paths_a, paths_b, invocation.settings, assumptions=assumed)
            if invocation.project is not None:  # both runs' reports name it, as check's does
                pair.a.project = pair.b.project = str(invocation.project)
        except UsageError as exc:
            fail(str(exc))
    comparison = compare_reports(pair.a, pair.b, pair.shared, names=(str(run_a), str(run_b)))
    renderers = {
        "text": render_compare_text,
        "json": render_compare_json,
        "markdown": compare_markdown,
    }
    click.echo(renderers[fmt](comparison).rstrip("\n"))
    if invocation.scratchpad is not None and options.get("scratchpad") is not None:
        append_to_scratchpad(
            invocation.scratchpad,
            lambda when: comparison_entry(comparison, when),
            lambda when: comparison_bullet(comparison, when),
            "comparison",
        )
    exit_now(comparison.exit_code)


#: The kinds compare takes from each run alone (A's and B's own checkpoint).
RUNS_OWN = tuple(kind for kind in KINDS if kind.scope == "run")
for _param in compare.params:
    if isinstance(_param, click.Option) and _param.name in {k.param for k in RUNS_OWN}:
        _param.hidden = True


def compare_paths(
    shared: ArtifactPaths, run_a: Path, run_b: Path, settings: Settings
) -> tuple[tuple[ArtifactPaths, ArtifactPaths], tuple[list[Assumption], list[Assumption]]]:
    """Each run's artifact paths and what was assumed in choosing them: its checkpoint, its
    log and eval dump (stages/pair.py pair_file: a named one in one run's folder is that
    run's, one in neither is both runs', a run without one of its own may share one found
    in neither), and the one cache (given, from the project table, else the one found
    around the runs or under the current folder)."""
    from tui_timing.artifacts.discovery import discover
    from tui_timing.artifacts.run_folder import found_near, resolve_run
    from tui_timing.stages.context import ArtifactPaths
    from tui_timing.stages.pair import pair_file

    runs = (resolve_run(run_a, "A", settings), resolve_run(run_b, "B", settings))
    near = found_near(list(runs), settings) or discover(None, settings)
    cache = shared.cache or _found_cache(
        near, "around the runs or under the current folder", "both runs are compared on it"
    )
    folders = (runs[0].folder, runs[1].folder)
    checkpoints = pair_file(
        "checkpoint", (runs[0].checkpoint, runs[1].checkpoint), folders, shared.checkpoint
    )
    if shared.checkpoint is not None and checkpoints.a == checkpoints.b:
        checkpoints = pair_file("checkpoint", (runs[0].checkpoint, runs[1].checkpoint), folders)
    logs = pair_file("log", (runs[0].log, runs[1].log), folders, shared.log)
    # A loose eval dump found around the runs is shared only when that discovery also gave
    # the cache: with --cache given, what is used is what was given (as for `check`), not
    # whatever lies two folders above the runs.
    loose = near.loose_evals if shared.cache is None else []
    evals = pair_file("eval", (runs[0].eval, runs[1].eval), folders, shared.eval, loose)
    for paired in (logs, evals):
        if paired.note is not None:
            click.echo(f"timing-tui: {paired.note}", err=True)
    sides = []
    for index, run in enumerate(runs):
        pick = (lambda p: p.a) if index == 0 else (lambda p: p.b)
        said = (lambda p: p.said_a) if index == 0 else (lambda p: p.said_b)
        paths = ArtifactPaths(
            cache=cache,
            raw_summary=shared.raw_summary,
            checkpoint=pick(checkpoints) or run.checkpoint,
            log=pick(logs),
            eval=pick(evals),
        )
        notes = [*run.assumptions, *said(checkpoints), *said(logs), *said(evals)]
        sides.append((paths, notes))
    return (sides[0][0], sides[1][0]), (sides[0][1], sides[1][1])


@main.command("init")
@click.option(
    "--write",
    is_flag=True,
    help="Append the table to pyproject.toml (never over an existing [tool.timing-tui]).",
)
def init_command(write: bool) -> None:
    """Print the [tool.timing-tui] table that discovery infers for this repository, each
    line commented with how it was inferred; --write appends it to pyproject.toml."""
    from tui_timing.artifacts.atomic import atomic_write_bytes
    from tui_timing.report.init_table import infer_table

    pyproject = find_pyproject()
    root = pyproject.parent if pyproject is not None else Path.cwd().resolve()
    try:
        existing = read_tool_table(pyproject)
    except UsageError as exc:
        fail(str(exc))
    if write and pyproject is not None and existing:
        fail(
            f"{pyproject} already has a [tool.timing-tui] table; init never overwrites it: "
            "edit it, or run timing-tui init (without --write) to see what it would write"
        )
    text = infer_table(root).text(root)
    if not write:
        click.echo(text.rstrip("\n"))
        return
    target = pyproject or root / "pyproject.toml"
    try:
        before = target.read_bytes() if target.exists() else b""
        gap = b"" if not before else (b"\n" if before.endswith(b"\n") else b"\n\n")
        atomic_write_bytes(target, before + gap + text.encode("utf-8"))
    except (OSError, ArtifactError) as exc:
        fail(f"{target}: cannot be written ({exc}); nothing was changed")
    click.echo(f"timing-tui: [tool.timing-tui] appended to {target}", err=True)


@main.command("runs")
@click.argument("folders", metavar="[PATH]...", nargs=-1, type=click.Path(path_type=Path))
@artifact_options
@click.option(
    "--checkpoints",
    "every_checkpoint",
    is_flag=True,
    help="One row per checkpoint (default: each run's newest).",
)
@click.option("--follow", is_flag=True, help="Keep watching; print each new diagnosis as it lands.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "jsonl", "markdown"]),
    default="text",
    show_default=True,
    help="Output format on stdout (--follow: text or jsonl).",
)
def runs_command(
    folders: tuple[Path, ...],
    every_checkpoint: bool,
    follow: bool,
    fmt: str,
    **options: Any,
) -> None:
    """Every run under the PATHs (default: the table's `runs`, else the current folder),
    each run's newest checkpoint (every one with --checkpoints) diagnosed on one cache, and
    fixed / regressed against the run's previous checkpoint. Exit 1 when a run's newest
    checkpoint regressed, 2 as for `check`, else 0; --follow ends with 0 on ctrl+c."""
    from tui_timing.report import runs_render
    from tui_timing.report.runs import (
        RunDiagnoser,
        diagnose_runs,
        find_runs,
        ranked,
        runs_exit_code,
    )
    from tui_timing.report.text import error_line, printable

    try:
        for name in ("checkpoint", "log"):
            if options.get(name) is not None:
                raise UsageError(f"runs takes each run's {name} from its own folder; drop --{name}")
        if follow and fmt not in ("text", "jsonl"):
            raise UsageError(
                f"--follow prints rows as they land: use --format text or jsonl, not {fmt}"
            )
        invocation = build_invocation(options)
        roots = _run_roots(folders, invocation.run_folders)
        shared = _runs_cache(invocation.paths, invocation.settings)
        diagnoser = RunDiagnoser(shared, invocation.settings, use_cache=not invocation.no_cache)
        ascii_only = "utf" not in (sys.stdout.encoding or "").lower()
        if follow:
            _follow_runs(roots, invocation.settings, diagnoser, every_checkpoint, fmt, ascii_only)
        found, discovered = find_runs(roots, invocation.settings)
        for each in discovered:  # limits reached: the table would be silently short
            for note in each.notes:
                click.echo(printable(f"timing-tui: under {each.root}: {note}"), err=True)
        rows = ranked(diagnose_runs(found, diagnoser, every_checkpoint))
    except UsageError as exc:
        fail(str(exc))
    if fmt == "jsonl":
        for row in rows:
            click.echo(runs_render.json_line(row))
    else:
        renderers = {
            "text": lambda r: runs_render.render_runs_text(r, ascii_only),
            "json": runs_render.render_runs_json,
            "markdown": runs_render.render_runs_markdown,
        }
        click.echo(renderers[fmt](rows).rstrip("\n"))
    for row in rows:  # in the rows too; here where a shell shows errors (exit 2)
        if row.report.error is not None:
            at = f" ({row.target.checkpoint.name})" if row.target.checkpoint else ""
            line = f"timing-tui: error: run {row.target.run}{at}: {error_line(row.report.error)}"
            click.echo(printable(line), err=True)
    sys.exit(runs_exit_code(rows))


def _run_roots(folders: tuple[Path, ...], table_runs: tuple[Path, ...]) -> list[Path]:
    """The folders to look in: the PATHs, else the table's `runs`, else the current one."""
    for folder in folders:
        if not folder.is_dir():
            raise UsageError(f"{folder} is not a folder; name folders that hold runs")
    return list(folders) or list(table_runs) or [Path.cwd()]


def _runs_cache(given: ArtifactPaths, settings: Settings) -> ArtifactPaths:
    """The cache (and eval dump) every run is diagnosed on: given or in the table, else
    found by discovery under the current folder (said on stderr); an eval dump found there
    that lies inside no run is every run's that has none of its own."""
    from tui_timing.artifacts.discovery import discover
    from tui_timing.report.text import printable

    if given.cache is not None and given.eval is not None:
        return given
    found = discover(None, settings)
    cache = given.cache or _found_cache(
        found, "under the current folder", "every run is diagnosed on it"
    )
    evaluation = given.eval
    if evaluation is None:
        shared = found.loose_evals
        if shared:
            evaluation = shared[0]
            said = f"timing-tui: runs without an eval dump of their own use {evaluation}"
            click.echo(printable(said), err=True)
    return ArtifactPaths(cache=cache, raw_summary=given.raw_summary, eval=evaluation)


def _found_cache(found: Discovered, where: str, role: str) -> Path:
    """The first cache discovery found (said on stderr, with the others), or a usage error
    saying to give one."""

    if not found.caches:
        raise UsageError(
            f"no timing cache found {where}; give --cache PATH ({role}) or name it in "
            "[tool.timing-tui]"
        )
    cache, more = found.caches[0], found.caches[1:4]
    others = f" (also found: {', '.join(map(printable_name, more))})" if more else ""
    click.echo(f"timing-tui: using the cache {printable_name(cache)} ({role}){others}", err=True)
    return cache


def _follow_runs(
    roots: list[Path],
    settings: Settings,
    diagnoser: Any,
    every_checkpoint: bool,
    fmt: str,
    ascii_only: bool,
) -> None:
    """Print each row as it lands until ctrl+c, which ends with exit 0 between two lines."""
    from tui_timing.report import runs_render
    from tui_timing.report.follow import RunFollower, follow_runs

    def emit(row: Any) -> None:
        line = (
            runs_render.json_line(row) if fmt == "jsonl" else runs_render.text_row(row, ascii_only)
        )
        click.echo(line)
        sys.stdout.flush()

    if fmt == "text":
        click.echo("  ".join(runs_render.HEADER))
    follow_runs(RunFollower(roots, settings, diagnoser, every_checkpoint), emit)
    sys.exit(0)


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

        def progress(done: int, total: int, _name: str) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        try:
            params = SegmentationParams(
                pause=pause, max_len=max_len, min_points=min_points, dt_features=dt_features
            )
            result = build_cache(raw_dir, out, dataset_id, split, params, progress=progress)
        except (ArtifactError, UsageError) as exc:
            fail(str(exc))
    click.echo(
        f"{result.n_segments} segments from {result.n_events} events in {result.n_files} files\n"
        f"cache:   {printable_name(result.cache_path)}\n"
        f"summary: {printable_name(result.summary_path)}"
    )


@main.command("train")
@click.option("--cache", required=True, type=click.Path(path_type=Path), help="Timing cache.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run folder.")
@click.option(
    "--profile-head",
    type=click.Choice(PROFILE_HEADS),
    default=default_of(HeadConfig, "profile_head"),
    show_default=True,
    help="How per-step logits are produced.",
)
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=default_of(TrainOptions, "epochs"),
    show_default=True,
)
@click.option(
    "--hidden",
    type=click.IntRange(min=1),
    default=default_of(HeadConfig, "hidden"),
    show_default=True,
)
@click.option(
    "--n-templates",
    type=click.IntRange(min=1),
    default=default_of(HeadConfig, "n_templates"),
    show_default=True,
)
@click.option("--logit-bound", type=float, help="Squash logits to b·tanh(z/b) (default: none).")
@click.option("--logsigma-min", type=float, help="Clamp log σ from below (default: none).")
@click.option("--logsigma-max", type=float, help="Clamp log σ from above (default: none).")
@click.option("--no-length-input", is_flag=True, help="Do not tell the backbone the length.")
@click.option("--no-mask-padding", is_flag=True, help="Softmax over all L steps, padding too.")
@click.option(
    "--profile-loss",
    type=click.Choice(PROFILE_LOSSES),
    default=default_of(HeadConfig, "profile_loss"),
    show_default=True,
)
@click.option("--diffusion-cond-dim", type=int, help="The diffusion model's conditioning width.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=default_of(TrainOptions, "batch_size"),
    show_default=True,
)
@click.option(
    "--lr",
    type=click.FloatRange(min=0, min_open=True),
    default=default_of(TrainOptions, "lr"),
    show_default=True,
)
@click.option(
    "--val-fraction",
    type=click.FloatRange(0, 1, max_open=True),
    default=default_of(TrainOptions, "val_fraction"),
    show_default=True,
    help="Share of rows held out for validation (below 1: training needs rows).",
)
@click.option("--overwrite", is_flag=True, help="Replace the run already in --out.")
@click.option(
    "--save-every", type=click.IntRange(min=0), default=0, help="Also save epochs/ every N."
)
@click.option("--seed", type=SEEDS, help="Seed of the split, the weights and the batches.")
@click.option("--device", type=DEVICE_CHOICES, help="Where to train (default auto).")
@click.option("--key", "keys", multiple=True, help="Map a cache key: NAME=THEIR_KEY.")
def train_command(cache: Path, out: Path, **options: Any) -> None:
    """Train the reference timing head on a cache; write OUT/checkpoint.pt and stats.jsonl."""
    from tui_timing.data.dataset import TimingDataset
    from tui_timing.model.train import existing_run, train

    if out.exists() and not out.is_dir():
        fail(f"--out {out}: not a folder; name the run's folder")
    there = existing_run(out)
    if there and not options["overwrite"]:
        fail(
            f"--out {out}: already holds a run ({', '.join(there)}); give --overwrite to "
            "replace it, or name another folder"
        )
    head = {
        "profile_head": options["profile_head"],
        "hidden": options["hidden"],
        "n_templates": options["n_templates"],
        "logit_bound": options["logit_bound"],
        "logsigma_min": options["logsigma_min"],
        "logsigma_max": options["logsigma_max"],
        "length_input": not options["no_length_input"],
        "mask_padding": not options["no_mask_padding"],
        "profile_loss": options["profile_loss"],
        "diffusion_cond_dim": options["diffusion_cond_dim"],
    }
    run = TrainOptions(
        epochs=options["epochs"],
        batch_size=options["batch_size"],
        lr=options["lr"],
        val_fraction=options["val_fraction"],
        seed=options["seed"] if options["seed"] is not None else default_of(TrainOptions, "seed"),
        device=options["device"] or default_of(TrainOptions, "device"),
        save_every=options["save_every"],
    )
    try:
        dataset = TimingDataset(cache, parse_key_options(options["keys"])["cache"])
        with click.progressbar(length=run.epochs, label="training", file=sys.stderr) as bar:

            def on_epoch(epoch: int, epochs: int, stats: dict[str, dict[str, float]]) -> None:
                split = "val" if "val" in stats else "train"
                bar.label = f"epoch {epoch}/{epochs} {split} loss {stats[split]['loss']:.4g}"
                bar.update(1)

            result = train(dataset, out, head, run, on_epoch=on_epoch)
    except (ArtifactError, UsageError, ValueError) as exc:
        fail(str(exc))
    except (MemoryError, RuntimeError) as exc:
        if not out_of_memory(exc):
            raise
        fail(f"{cache}: not enough memory to train this head ({str(exc).splitlines()[0][:300]})")
    final = result.final.get("val") or result.final["train"]
    click.echo(
        f"trained {result.epochs} epochs: loss {final['loss']:.4g}, first/mid/last "
        f"{final['profile_first']:.4g}/{final['profile_mid']:.4g}/{final['profile_last']:.4g}\n"
        f"checkpoint: {printable_name(result.checkpoint)}\n"
        f"stats:      {printable_name(result.stats)}"
    )


@main.command("sample")
@click.option("--checkpoint", required=True, type=click.Path(path_type=Path), help="Checkpoint.")
@click.option("--cache", required=True, type=click.Path(path_type=Path), help="Timing cache.")
@click.option(
    "--samples",
    type=SAMPLE_COUNTS,
    help=f"Rows to sample, at most {SAMPLES_MAX:,} (default {Settings.samples}).",
)
@click.option(
    "--temperature",
    type=click.FloatRange(min=0, min_open=True),
    default=Settings.temperature,
    show_default=True,
    help="Profile logits are divided by this.",
)
@click.option("--model", help="Your model factory, module:factory.")
@click.option("--sampler", help="Your sampler, module:function.")
@click.option("--seed", type=SEEDS, help="Seed of the rows and the draws (default 0).")
@click.option("--device", type=DEVICE_CHOICES, help="Where to sample (default auto).")
@click.option("--key", "keys", multiple=True, help="Map a cache key: NAME=THEIR_KEY.")
def sample_command(checkpoint: Path, cache: Path, temperature: float, **options: Any) -> None:
    """Sample durations and profiles for random cache rows; print them beside the real ones."""
    from tui_timing.data.dataset import TimingDataset
    from tui_timing.model.checkpoint import load_checkpoint
    from tui_timing.model.sample import SampleStats, comparison_table, load_sampler, sample_chunks
    from tui_timing.model.train import resolve_device

    samples = options["samples"] or Settings.samples
    seed = options["seed"] if options["seed"] is not None else Settings.seed
    try:
        timing = TimingDataset(cache, parse_key_options(options["keys"])["cache"]).cache
        loaded = load_checkpoint(checkpoint, Settings(model_spec=options["model"]))
        sampler = load_sampler(options["sampler"]) if options["sampler"] else None
        if sampler is None and loaded.model is None:
            raise UsageError(
                f"{checkpoint}: the weights could only be read statically; give --model "
                "module:factory or --sampler module:function"
            )
        device = resolve_device(options["device"] or Settings.device)
        stats = SampleStats(max_len=timing.max_len)
        with click.progressbar(length=samples, label="sampling", file=sys.stderr) as bar:
            for chunk in sample_chunks(
                loaded.model,
                timing,
                samples=samples,
                seed=seed,
                temperature=temperature,
                device=device,
                sampler=sampler,
            ):
                stats.add(chunk, timing)
                bar.update(len(chunk.duration))
    except (ArtifactError, UsageError, ValueError, RuntimeError) as exc:
        fail(str(exc))
    click.echo(
        f"{stats.rows} rows of {printable_name(cache)} sampled on the {device.type} "
        f"(seed {seed}, temperature {temperature:g})\n"
    )
    click.echo(comparison_table(stats.summary()))
