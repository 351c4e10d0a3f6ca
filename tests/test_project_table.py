"""`[tool.timing-tui]` as a project table (docs/artifacts.md#your-own-repo): artifacts, plug-ins,
key maps.

Each test writes a real pyproject.toml in a temporary folder and goes through the same
`build_invocation` the CLI and the TUI use, so what is asserted is what a user gets.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tui_timing.cli import build_invocation
from tui_timing.errors import UsageError
from tui_timing.project import parse_key_options

TABLE = """
[tool.timing-tui]
pythonpath = ["src"]
cache = "data/processed/bb/train.npz"
checkpoint = "runs/exp3/ckpt/last.ckpt"
log = "runs/exp3/version_0/metrics.csv"
eval = "eval/samples.npz"
dataset = "mousediff.data:TimingNPZ"
model = "mousediff.timing:make_timing_head"
sampler = "pkg.sampler:Sampler.from_checkpoint"
sampler_kwargs = { profile_mix = 1.0 }
profile_bins = "masked"
scratchpad = "docs/task_scratchpad.md"
seed = 3
ks_max = 0.2

[tool.timing-tui.keys.cache]
duration = "durations_s"
[tool.timing-tui.keys.batch]
length = "n_steps"
[tool.timing-tui.keys.log]
profile_first = "p0"
[tool.timing-tui.keys.eval]
real = "gt"
[tool.timing-tui.keys.model]
mu = "loc"
[tool.timing-tui.keys.config]
cond_dim = "d_cond"

[[tool.timing-tui.log_patterns]]
pattern = 'epoch (?P<epoch>\\d+) (?P<split>\\w+): mu=(?P<dur_mu>\\S+)'
[[tool.timing-tui.log_patterns]]
pattern = 'val sigma=(?P<dur_sigma>\\S+)'
split = "val"
"""


#: The files TABLE names (a table naming a file that is not there is a usage error).
TABLE_FILES = (
    "data/processed/bb/train.npz",
    "runs/exp3/ckpt/last.ckpt",
    "runs/exp3/version_0/metrics.csv",
    "eval/samples.npz",
)


def invocation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: str, **options: object):
    (tmp_path / "pyproject.toml").write_text(table)
    for name in TABLE_FILES:  # their content is read later, by the stages
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
    sub = tmp_path / "deep" / "inside"
    sub.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(sub)  # the nearest pyproject above the working directory
    return build_invocation(options)


def test_the_spec_table_is_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inv = invocation(tmp_path, monkeypatch, TABLE)
    root = tmp_path
    assert inv.paths.cache == root / "data/processed/bb/train.npz"
    assert inv.paths.checkpoint == root / "runs/exp3/ckpt/last.ckpt"
    assert inv.paths.log == root / "runs/exp3/version_0/metrics.csv"
    assert inv.paths.eval == root / "eval/samples.npz"
    assert inv.paths.raw_summary is None
    assert inv.any_artifact  # counts as given: no discovery
    assert inv.scratchpad == root / "docs/task_scratchpad.md"
    s = inv.settings
    assert s.pythonpath == (root / "src",)
    assert s.dataset_spec == "mousediff.data:TimingNPZ"
    assert s.model_spec == "mousediff.timing:make_timing_head"
    assert s.sampler_spec == "pkg.sampler:Sampler.from_checkpoint"
    assert s.sampler_kwargs == {"profile_mix": 1.0}
    assert s.profile_bins == "masked"
    assert s.seed == 3 and s.tolerances.ks_max == 0.2
    assert s.keys == {
        "cache": {"duration": "durations_s"},
        "batch": {"length": "n_steps"},
        "log": {"profile_first": "p0"},
        "eval": {"real": "gt"},
        "model": {"mu": "loc"},
        "config": {"cond_dim": "d_cond"},
    }
    assert [p.get("split") for p in s.log_patterns] == [None, "val"]
    assert "(?P<epoch>" in s.log_patterns[0]["pattern"]


def test_command_line_wins_one_name_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inv = invocation(
        tmp_path,
        monkeypatch,
        TABLE,
        checkpoint=Path("other.pt"),
        model="mine:build",
        keys=("duration=dur_col", "log.split=phase", "batch.mask=valid"),
    )
    assert inv.paths.checkpoint == Path("other.pt")
    assert inv.paths.cache == tmp_path / "data/processed/bb/train.npz"  # the table's
    assert inv.settings.model_spec == "mine:build"
    assert inv.settings.dataset_spec == "mousediff.data:TimingNPZ"
    keys = inv.settings.keys
    assert keys["cache"] == {"duration": "dur_col"}  # a bare --key is the cache's
    assert keys["log"] == {"profile_first": "p0", "split": "phase"}
    assert keys["batch"] == {"length": "n_steps", "mask": "valid"}


def test_batch_keys_as_tuple_positions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    table = '[tool.timing-tui.keys]\nbatch = ["features", "profile", "mask", "duration"]\n'
    inv = invocation(tmp_path, monkeypatch, table)
    assert inv.settings.batch_positions == ("features", "profile", "mask", "duration")
    assert inv.settings.keys["batch"] == {}
    assert not inv.any_artifact


def test_no_table_means_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inv = invocation(tmp_path, monkeypatch, "[project]\nname = 'x'\n")
    s = inv.settings
    assert s.keys == {ns: {} for ns in ("cache", "batch", "log", "eval", "model", "config")}
    assert s.profile_bins == "padded" and s.log_patterns == () and s.pythonpath == ()
    assert s.sampler_kwargs == {} and s.batch_positions == ()


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("modle = 'a:b'", ["has no key 'modle'", "model", "sampler_kwargs", "ks_max"]),
        ("model = 'no_colon'", ['model must be "module:attribute"']),
        ("model = 3", ["model must be"]),
        ("cache = 1", ["cache must be a file path"]),
        ("pythonpath = 3", ["pythonpath must be a folder or a list"]),
        ("profile_bins = 'mean'", ['profile_bins must be "padded" or "masked"']),
        ("sampler_kwargs = 2", ["sampler_kwargs must be a table"]),
        ("log_patterns = 'x'", ["log_patterns must be a list"]),
        ("log_patterns = ['(unclosed']", ["log_patterns[0] pattern is not a regular"]),
        ("log_patterns = ['no groups']", ["has no named group"]),
        ("log_patterns = [{pattern = '(?P<epoch>1)', phase = 'x'}]", ["unknown key 'phase'"]),
        ("keys = { cahce = { duration = 'd' } }", ["keys.cahce: unknown name space", "cache"]),
        ("keys = { cache = { duration = 3 } }", ["duration must be your key's name"]),
        ("keys = { cache = 'd' }", ["keys.cache must be a table"]),
        ("keys = { batch = [1, 2] }", ["names the tuple positions"]),
        # a contract name that does not exist, in every group alike: the names there are
        (
            "keys = { log = { sigma = 's' } }",
            [
                "keys.log: 'sigma' is not a name of the log contract",
                "dur_sigma, log_sigma",
                'did you mean log_sigma = "s"?',
            ],
        ),
        (
            "keys = { model = { log_scale = 'log_scale' } }",
            ["'log_scale' is not a name of the model contract", "mu, log_sigma, logits"],
        ),
        ("keys = { cache = { durations = 'd' } }", ["the cache names are duration, profile"]),
        ("keys = { batch = { lenght = 'n' } }", ["'lenght' is not a name of the batch"]),
        ("keys = { eval = { points = 'p' } }", ["eval names are real, fake, xy"]),
        ("keys = { config = { d_cond = 'cond_dim' } }", ["config names are cond_dim, hidden"]),
    ],
)
def test_bad_table_entries_are_usage_errors_that_say_what_to_write(
    line: str, says: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(UsageError) as caught:
        invocation(tmp_path, monkeypatch, f"[tool.timing-tui]\n{line}\n")
    message = str(caught.value)
    assert str(tmp_path / "pyproject.toml") in message
    for part in says:
        assert part in message, message
    assert "unknown tolerance" not in message


def test_key_option_syntax() -> None:
    assert parse_key_options(["profile=p", "eval.real=gt"])["cache"] == {"profile": "p"}
    for bad, says in [
        ("nonsense", "NAME=THEIR_NAME"),
        ("logs.split=x", "unknown name space"),
        ("log.sigma=dur_sigma", "--key log.sigma=dur_sigma: 'sigma' is not a name of the log"),
        ("durations=d", "'durations' is not a name of the cache contract"),
    ]:
        with pytest.raises(UsageError, match=says):
            parse_key_options([bad])


def test_each_readers_names_are_the_contracts() -> None:
    """The key maps are checked against CONTRACT_FIELDS: every name a reader with its own
    list looks up is there (else a valid map would be refused)."""
    from dataclasses import fields

    from tui_timing.artifacts.eval_dump import ALIASES, SIDES
    from tui_timing.artifacts.stats_rows import FIGURES
    from tui_timing.model.heads import HeadConfig
    from tui_timing.model.user_model import OUTPUT_ALIASES
    from tui_timing.project import CONTRACT_FIELDS

    assert tuple(OUTPUT_ALIASES) == CONTRACT_FIELDS["model"]
    assert set(FIGURES) <= set(CONTRACT_FIELDS["log"])
    assert {*SIDES, *ALIASES} <= set(CONTRACT_FIELDS["eval"])
    assert {f.name for f in fields(HeadConfig)} <= set(CONTRACT_FIELDS["config"])


def test_the_tables_runs_globs_name_the_folders_runs_looks_in(tmp_path: Path) -> None:
    """`runs = ["outputs/*"]`: each glob relative to the pyproject, folders only, in name
    order; a list of anything but globs is refused naming the key."""
    from tui_timing.project import read_project

    for name in ("outputs/b", "outputs/a", "multirun/0"):
        (tmp_path / name).mkdir(parents=True)
    (tmp_path / "outputs/notes.txt").write_text("not a run\n")
    pyproject = tmp_path / "pyproject.toml"
    project = read_project({"runs": ["outputs/*", "multirun/*"]}, pyproject)
    assert project.runs == (tmp_path / "outputs/a", tmp_path / "outputs/b", tmp_path / "multirun/0")
    with pytest.raises(UsageError, match="runs must be a folder glob"):
        read_project({"runs": [3]}, pyproject)


def test_a_table_naming_a_file_that_is_not_there_is_a_usage_error_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As `--log nope.log` is: before any stage runs (it was found after all seven had)."""
    table = TABLE.replace("runs/exp3/version_0/metrics.csv", "runs/exp3/main.log")
    with pytest.raises(UsageError, match=r"\[tool.timing-tui\] log = .*main.log': no such file"):
        invocation(tmp_path, monkeypatch, table)
    assert invocation(tmp_path, monkeypatch, table, log=str(tmp_path / "eval/samples.npz"))
