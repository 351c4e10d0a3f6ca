"""The plug-in contracts of docs/artifacts.md#your-own-repo, one form at a time, on real checkpoints
and caches.

Each user module is written to a temporary folder that is only reachable through
`Settings.pythonpath` (as `pythonpath = ["src"]` in the table gives it), the checkpoints
are saved with torch.save, and the cache is the bundled sample cache (real Balabit rows).
"""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from sample_paths import CACHE

from tui_timing.artifacts.cache import load_cache
from tui_timing.artifacts.checkpoint import CheckpointArtifact
from tui_timing.cli import main
from tui_timing.config import ArtifactPaths, Settings
from tui_timing.data.user_batches import BatchNames
from tui_timing.errors import ArtifactError
from tui_timing.model.checkpoint import load_checkpoint
from tui_timing.model.heads import read_outputs
from tui_timing.model.sample import duration_and_profile, predict_rows
from tui_timing.plugins import UserCodeError, printed_by_user_code
from tui_timing.stages.runner import load_artifacts, run_stage

HEADS = '''
from __future__ import annotations

import dataclasses
from typing import NamedTuple

import torch
from torch import nn

CALLS = []


class Head(nn.Module):
    """Two outputs for (mu, log sigma), per-step logits; forward by length or by mask."""

    def __init__(self, cond_dim, hidden, max_len):
        super().__init__()
        self.max_len = max_len
        self.body = nn.Linear(cond_dim, hidden)
        self.dur = nn.Linear(hidden, 2)
        self.steps = nn.Linear(hidden, max_len)

    def parts(self, features):
        h = torch.tanh(self.body(features))
        mu, log_sigma = self.dur(h).unbind(-1)
        return mu, log_sigma, self.steps(h)


class ByLength(Head):
    def forward(self, features, lengths):
        mu, log_sigma, logits = self.parts(features)
        pad = torch.arange(self.max_len)[None, :] >= lengths[:, None]
        return mu[:, None], log_sigma[:, None], logits.masked_fill(pad, float("-inf"))


class ByMask(Head):
    def forward(self, features, mask):
        CALLS.append(("mask", tuple(mask.shape), mask.dtype))
        mu, log_sigma, logits = self.parts(features)
        profile = torch.softmax(logits.masked_fill(~mask, float("-inf")), -1)
        return {
            "mu_log_duration": mu,
            "log_sigma_log_duration": log_sigma,
            "template": profile,
            "concentration": torch.full_like(mu, 12.0),
        }


class OwnNames(Head):
    def forward(self, features, n_steps):
        mu, log_sigma, logits = self.parts(features)
        pad = torch.arange(self.max_len)[None, :] >= n_steps[:, None]
        return {"loc": mu, "scale_log": log_sigma, "z": logits.masked_fill(pad, -1e9)}


class Out(NamedTuple):
    step_logits: torch.Tensor
    loc: torch.Tensor
    log_scale: torch.Tensor


class Named(Head):
    """A NamedTuple in an order of its own: read by its names, never by position."""

    def forward(self, features, lengths):
        mu, log_sigma, logits = self.parts(features)
        return Out(logits, mu, log_sigma)


def make_tuple_named(cond_dim, hidden, max_len):
    return Named(cond_dim, hidden, max_len)


def make(cond_dim, hidden, max_len):
    CALLS.append(("make", cond_dim, hidden, max_len))
    return ByLength(cond_dim, hidden, max_len)


def make_masked(cond_dim, hidden, max_len):
    return ByMask(cond_dim, hidden, max_len)


def make_named(cond_dim, hidden, max_len):
    return OwnNames(cond_dim, hidden, max_len)


def from_cfg(cfg):
    CALLS.append(("cfg", dict(cfg)))
    return ByLength(cfg["cond_dim"], cfg["hidden"], cfg["max_len"])


@dataclasses.dataclass
class NetConfig:
    feature_dim: int = 10
    width: int = 8
    sequence_length: int = 128


class Net(ByMask):
    def __init__(self, config: NetConfig):
        CALLS.append(("config", type(config).__name__, config.width))
        super().__init__(config.feature_dim, config.width, config.sequence_length)


def raises_type_error(cond_dim, hidden, max_len):
    raise TypeError("hidden must be even")


def exits(cond_dim, hidden, max_len):
    raise SystemExit("no GPU here")


def needs_more(cond_dim, hidden, max_len, n_layers):
    return ByLength(cond_dim, hidden, max_len)


class Broken(Head):
    """A forward that runs but gives nothing the checks can read."""

    def __init__(self, cond_dim, hidden, max_len, how):
        super().__init__(cond_dim, hidden, max_len)
        self.how = how

    def forward(self, features, lengths):
        mu, log_sigma, logits = self.parts(features)
        if self.how == "none":
            return None
        if self.how == "shape":
            return mu, log_sigma, logits[:, :5]
        if self.how == "meta":
            return mu.to("meta"), log_sigma.to("meta"), logits.to("meta")
        return mu.detach().numpy(), log_sigma.detach().numpy(), logits.detach().numpy()


def broken(how):
    return lambda cond_dim, hidden, max_len: Broken(cond_dim, hidden, max_len, how)


returns_none, wrong_shape, meta_tensors, numpy_arrays = map(broken, ["none", "shape", "meta", "np"])
'''

CONFIG = {"cond_dim": 10, "hidden": 8, "max_len": 128, "lr": 0.003}


@pytest.fixture()
def src(tmp_path: Path) -> Iterator[Path]:
    """The module above, in a folder that only `pythonpath` makes importable."""
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "userheads.py").write_text(textwrap.dedent(HEADS))
    before = list(sys.path)
    sys.modules.pop("userheads", None)
    yield folder
    sys.path[:] = before
    sys.modules.pop("userheads", None)


def saving(src: Path) -> ModuleType:
    """The module imported as the user's training script would, to save weights with;
    forgotten again afterwards (`forget`), so that loading has to find it itself."""
    sys.path.insert(0, str(src))
    return importlib.import_module("userheads")


def forget(src: Path) -> None:
    sys.modules.pop("userheads", None)
    sys.path.remove(str(src))


def checkpoint(path: Path, model: torch.nn.Module, prefix: str = "", **container: object) -> Path:
    state = {prefix + k: v for k, v in model.state_dict().items()}
    torch.save({"model": state, "config": CONFIG, **container}, path)
    return path


def load(path: Path, spec: str, src: Path, **settings: Any) -> CheckpointArtifact:
    return load_checkpoint(path, Settings(model_spec=spec, pythonpath=(src,), **settings))


def calls() -> list[Any]:
    """What the user's module recorded (the copy timing-tui imported)."""
    return sys.modules["userheads"].CALLS  # type: ignore[no-any-return]


def rows(n: int = 64) -> torch.Tensor:
    return torch.arange(n)


def test_factory_gets_the_config_entries_it_names(src: Path, tmp_path: Path) -> None:
    userheads = saving(src)
    path = checkpoint(tmp_path / "c.pt", userheads.ByLength(10, 8, 128))
    forget(src)
    ckpt = load(path, "userheads:make", src)
    assert ("make", 10, 8, 128) in calls()  # lr is not its parameter
    assert "userheads:make(cond_dim=10, hidden=8, max_len=128)" in " ".join(ckpt.notes)
    cache = load_cache(CACHE)
    from tui_timing.artifacts.cache import as_timing_cache

    timing = as_timing_cache(cache)
    out = predict_rows(ckpt.model, timing, rows(), torch.device("cpu"))
    assert out.mu.shape == (64,) and out.log_sigma.shape == (64,)  # [B, 1] read as [B]
    beyond = torch.arange(128)[None, :] >= timing.length[:64, None]
    assert float((out.profile * beyond).sum()) == 0.0  # -inf logits on padding are fine
    assert torch.allclose(out.profile.sum(1), torch.ones(64))


def test_one_config_parameter_gets_the_whole_dict(src: Path, tmp_path: Path) -> None:
    userheads = saving(src)
    path = checkpoint(tmp_path / "c.pt", userheads.ByLength(10, 8, 128))
    forget(src)
    ckpt = load(path, "userheads:from_cfg", src)
    assert ("cfg", CONFIG) in calls()
    assert ckpt.source == "factory"


def test_a_config_dataclass_drives_a_model_class_taking_it(src: Path, tmp_path: Path) -> None:
    """The config is pickled as the user's dataclass, read back as fields without importing
    it, and rebuilt as that dataclass only because the class's parameter is annotated so."""
    userheads = saving(src)
    config = userheads.NetConfig(width=6)
    torch.save({"model": userheads.Net(config).state_dict(), "config": config}, tmp_path / "n.pt")
    forget(src)
    ckpt = load(tmp_path / "n.pt", "userheads:Net", src)
    made = calls()
    assert ("config", "NetConfig", 6) in made  # the stored field, not the default
    assert ckpt.config_class == "userheads.NetConfig"
    timing_cache = load_artifacts(ArtifactPaths(cache=CACHE), Settings()).timing_cache()
    assert timing_cache is not None
    out = predict_rows(ckpt.model, timing_cache, rows(), torch.device("cpu"))
    assert ("mask", (64, 128), torch.bool) in made  # forward(features, mask): L = the cache's
    assert set(out.extras) == {"concentration"}
    assert torch.allclose(out.profile.sum(1), torch.ones(64))


def test_output_names_through_keys_model(src: Path, tmp_path: Path) -> None:
    userheads = saving(src)
    path = checkpoint(tmp_path / "c.pt", userheads.OwnNames(10, 8, 128))
    forget(src)
    plain = load(path, "userheads:make_named", src)
    with pytest.raises(ValueError, match=r"keys\.model"):
        read_outputs(plain.model(torch.zeros(2, 10), torch.tensor([3, 5])))
    names = {"model": {"mu": "loc", "log_sigma": "scale_log", "logits": "z"}}
    ckpt = load(path, "userheads:make_named", src, keys=names)
    out = read_outputs(ckpt.model(torch.zeros(2, 10), torch.tensor([3, 5])))
    assert out.mu.shape == (2,) and out.profile.shape == (2, 128)
    wrong = {"model": {"mu": "location"}}
    bad = load(path, "userheads:make_named", src, keys=wrong)
    with pytest.raises(ValueError, match=r"'location'.*returns loc, scale_log, z"):
        bad.model(torch.zeros(2, 10), torch.tensor([3, 5]))


def test_a_named_tuple_is_read_by_its_names(src: Path, tmp_path: Path) -> None:
    userheads = saving(src)
    path = checkpoint(tmp_path / "c.pt", userheads.Named(10, 8, 128))
    forget(src)
    ckpt = load(path, "userheads:make_tuple_named", src)
    features = torch.randn(3, 10, generator=torch.Generator().manual_seed(0))
    out = read_outputs(ckpt.model(features, torch.tensor([3, 5, 9])))
    mu, log_sigma, logits = ckpt.model.inner.parts(features)
    assert torch.equal(out.mu, mu) and torch.equal(out.log_sigma, log_sigma)
    assert torch.allclose(out.profile, torch.softmax(logits, -1))


@pytest.mark.parametrize("prefix", ["model.", "module._orig_mod.", "net."])
def test_wrapper_prefixes_are_stripped_when_that_matches(
    src: Path, tmp_path: Path, prefix: str
) -> None:
    userheads = saving(src)
    path = checkpoint(tmp_path / "c.pt", userheads.ByLength(10, 8, 128), prefix=prefix)
    forget(src)
    ckpt = load(path, "userheads:make", src)
    assert any(prefix in note for note in ckpt.notes)
    assert {a.what: a.value for a in ckpt.assumptions}["parameter names"] == (
        f"without the prefix {prefix!r}"
    )
    assert set(ckpt.state_dict) == {k for k in ckpt.model.inner.state_dict()}


@pytest.mark.parametrize(
    ("factory", "raised"),
    [
        ("raises_type_error", "raised TypeError: hidden must be even"),
        ("exits", "raised SystemExit: exit status 'no GPU here'"),
    ],
)
def test_the_users_exception_is_reported_as_theirs(
    src: Path, tmp_path: Path, factory: str, raised: str
) -> None:
    userheads = saving(src)
    path = checkpoint(tmp_path / "c.pt", userheads.ByLength(10, 8, 128))
    forget(src)
    with pytest.raises(UserCodeError) as caught:
        load(path, f"userheads:{factory}", src)
    message = str(caught.value)
    assert message.startswith(f"userheads:{factory}(cond_dim=10, hidden=8, max_len=128) {raised}")
    assert "userheads.py:" in message and "your code" in message
    assert "report" not in message
    assert caught.value.file.endswith("userheads.py")


def test_cli_exits_2_with_the_call(
    src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    userheads = saving(src)
    path = checkpoint(tmp_path / "c.pt", userheads.ByLength(10, 8, 128))
    forget(src)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.timing-tui]\npythonpath = ["src"]\nmodel = "userheads:raises_type_error"\n'
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main, ["check", "--checkpoint", str(path), "--stage", "3", "--format", "json"]
    )
    assert result.exit_code == 2, result.output
    assert "userheads:raises_type_error(cond_dim=10, hidden=8, max_len=128) raised TypeError" in (
        result.stdout
    )
    assert "please report" not in result.output


def test_a_factory_needing_what_the_config_lacks_says_so(src: Path, tmp_path: Path) -> None:
    userheads = saving(src)
    path = checkpoint(tmp_path / "c.pt", userheads.ByLength(10, 8, 128))
    forget(src)
    with pytest.raises(ArtifactError, match=r"needs n_layers.*its keys: cond_dim, hidden"):
        load(path, "userheads:needs_more", src)


def test_sampler_tuples_are_told_apart_by_row_sums() -> None:
    duration = torch.tensor([0.5, 2.0, 3.0])
    profile = torch.tensor([[0.5, 0.5, 0.0], [0.25, 0.75, 0.0], [1.0, 0.0, 0.0]])
    d, p = duration_and_profile((duration, profile), 3, 3)
    assert torch.equal(p, profile) and torch.equal(d, duration)
    d, p = duration_and_profile((duration, duration[:, None] * profile), 3, 3)
    assert torch.allclose(p, profile) and torch.equal(d, duration)
    d, p = duration_and_profile({"delta_t": duration[:, None] * profile}, 3, 3)
    assert torch.allclose(d, duration) and torch.allclose(p, profile)


def test_dataset_items_as_tuples_or_dicts_under_their_names() -> None:
    features, profile = torch.zeros(2, 4), torch.full((2, 3), 1 / 3)
    valid, n_steps = torch.ones(2, 3, dtype=torch.bool), torch.tensor([3, 3])
    items = [(features[i], profile[i], valid[i], n_steps[i]) for i in range(2)]
    batch = BatchNames({}, ["cond", "dt_profile", "valid", "n_steps"])(items)
    assert set(batch) == {"features", "profile", "mask", "length"}
    assert torch.equal(batch["mask"], valid)
    with pytest.raises(ValueError, match=r"batch = \["):
        BatchNames({}, [])(items)
    with pytest.raises(ValueError, match="names 2 positions"):
        BatchNames({}, ["features", "profile"])(items)
    dicts = [{"x": features[i], "dur": torch.tensor(1.0)} for i in range(2)]
    collate = BatchNames({"features": "x"}, [])
    batch = collate(dicts)
    assert set(batch) == {"features", "duration", "log_duration"}  # the log: derived, said
    assert torch.equal(batch["log_duration"], torch.zeros(2)) and "log_duration" in collate.derived
    with pytest.raises(ValueError, match=r"maps features to 'feats'.*keys are x, dur"):
        BatchNames({"features": "feats"}, [])(dicts)


DATASET = """
import torch
from torch.utils.data import Dataset


class NoLog(Dataset):
    def __init__(self, cache_path):
        self.rows = torch.load(cache_path, weights_only=True)

    def __len__(self):
        return len(self.rows["duration"])

    def __getitem__(self, i):
        return {k: self.rows[k][i] for k in ("duration", "profile", "mask", "features")}
"""


def test_a_user_dataset_needs_no_log_duration(src: Path) -> None:
    """A correct dataset whose items have no log_duration (the training step takes the log
    itself) passes stage 2: the log is derived and said, and its check has nothing of
    theirs to compare (skip), never a pass that compared the derived log with itself."""
    (src / "nolog.py").write_text(DATASET)
    settings = Settings(dataset_spec="nolog:NoLog", pythonpath=(src,))
    result = run_stage(load_artifacts(ArtifactPaths(cache=CACHE), settings), 2)
    assert result.check("dataset.batch_keys").status == "pass"
    assert result.check("dataset.log_duration").status == "skip"
    assert {c.status for c in result.checks} <= {"pass", "skip"}, result.checks
    assert [(a.what, a.value) for a in result.assumptions] == [("batch log_duration", "derived")]


def own_names_cache(tmp_path: Path, valid: np.ndarray | None = None) -> Path:
    raw = torch.load(CACHE, weights_only=True)
    mask = raw["mask"].numpy() if valid is None else valid
    path = tmp_path / "train.npz"
    np.savez(
        path,
        durations_s=raw["duration"].numpy(),
        dt_profile=raw["profile"].numpy(),
        valid=mask,
        lengths=raw["length"].numpy(),
        cond=raw["features"].numpy(),
    )
    return path


def test_the_caches_own_mask_is_used_not_derived(tmp_path: Path) -> None:
    """A `valid` mask that disagrees with `lengths` must show (were it derived from the
    lengths, the mask checks would pass by construction)."""
    raw = torch.load(CACHE, weights_only=True)
    valid = raw["mask"].numpy().copy()
    valid[:5, 0] = False  # five rows whose mask is not a prefix
    path = own_names_cache(tmp_path, valid)
    loaded = load_cache(path)
    assert "mask read from key 'valid'" in loaded.notes and "mask" not in loaded.derived
    result = run_stage(load_artifacts(ArtifactPaths(cache=path), Settings()), 1)
    assert result.check("cache.mask_prefix").status == "fail"
    assert result.check("cache.mask_length").status == "fail"


def test_a_mapped_cache_key_that_is_not_there_names_the_keys(tmp_path: Path) -> None:
    path = own_names_cache(tmp_path)
    with pytest.raises(ArtifactError) as caught:
        load_cache(path, {"duration": "dur_seconds"})
    problem = caught.value.problem
    assert "duration = 'dur_seconds'" in problem and "durations_s, dt_profile, valid" in problem


def test_batch_keys_do_not_touch_the_cache(tmp_path: Path) -> None:
    """`--key batch.length=n_steps` is for the dataset's batches: the cache still loads."""
    path = own_names_cache(tmp_path)
    result = CliRunner().invoke(
        main,
        ["check", "--cache", str(path), "--stage", "1", "--key", "batch.length=n_steps"],
    )
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("factory", "reason"),
    [
        ("returns_none", "must return a dict with mu, log_sigma and logits"),
        ("wrong_shape", "profile has shape [2048, 5], expected [2048, 128]"),
        ("meta_tensors", "meta tensor"),
        ("numpy_arrays", "must return torch tensors, but mu a ndarray"),
    ],
)
def test_a_forward_that_gives_nothing_usable_is_an_error_not_a_pass(
    factory: str, reason: str, src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each made every forward-dependent check skip, and stage 3 passed with exit 0 (numpy
    outputs: "please report this"): the check that runs the forward is `error`, exit 1."""
    userheads = saving(src)
    path = checkpoint(tmp_path / "c.pt", userheads.ByLength(10, 8, 128))
    forget(src)
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.timing-tui]\npythonpath = ["src"]\nmodel = "userheads:{factory}"\n'
    )
    monkeypatch.chdir(tmp_path)
    args = ["check", "--cache", str(CACHE), "--checkpoint", str(path), "--stage", "3"]
    result = CliRunner().invoke(main, [*args, "--format", "json", "--no-cache"])
    assert result.exit_code == 1, result.output
    (stage,) = json.loads(result.stdout)["stages"]
    checks = {c["id"]: c for c in stage["checks"]}
    assert stage["status"] == "error"
    assert checks["model.duration_head"]["status"] == "error"
    assert reason in checks["model.duration_head"]["message"], checks["model.duration_head"]
    assert "please report" not in result.output


def _renamed_cache(tmp_path: Path, duration: str, profile: str, features: str) -> Path:
    """The sample cache saved as a repo's own npz, its arrays under these names."""
    raw = torch.load(CACHE, weights_only=True)
    path = tmp_path / "odd.npz"
    names = {"duration": duration, "profile": profile, "features": features}
    np.savez(path, **{theirs: raw[ours].numpy() for ours, theirs in names.items()})
    return path


def test_a_missing_required_key_says_the_line_that_names_it(tmp_path: Path) -> None:
    path = _renamed_cache(tmp_path, "secs", "dt_profile", "cond")
    with pytest.raises(ArtifactError) as caught:
        load_cache(path)
    problem = caught.value.problem
    assert "required key missing (found keys: secs, dt_profile, cond)" in problem
    assert "--key cache.duration=THAT_KEY" in problem
    assert '[tool.timing-tui.keys.cache] duration = "that key"' in problem
    assert load_cache(path, {"duration": "secs"}).values["duration"].ndim == 1


def test_a_key_read_by_an_alias_is_an_assumption_and_a_mapped_one_is_not(
    tmp_path: Path,
) -> None:
    loaded = load_cache(
        _renamed_cache(tmp_path, "secs", "dt_profile", "feats"), {"duration": "secs"}
    )
    read = {a.what: a for a in loaded.assumptions}
    assert set(read) == {"key profile", "key features"}  # duration: the user's own map
    assert read["key features"].value == "'feats'"
    assert '[tool.timing-tui.keys.cache] features = "that key"' in read["key features"].source


def test_every_missing_required_key_is_said_at_once(tmp_path: Path) -> None:
    """One table edit, not one run per key (the duration, then the profile)."""
    path = _renamed_cache(tmp_path, "secs", "frac", "cond")
    with pytest.raises(ArtifactError) as caught:
        load_cache(path)
    assert caught.value.key == "duration, profile"
    problem = caught.value.problem
    assert "required keys missing (found keys: secs, frac, cond)" in problem
    assert '[tool.timing-tui.keys.cache] duration = "that key" and profile = "that key"' in problem
    mapped = load_cache(path, {"duration": "secs", "profile": "frac"})
    assert mapped.values["profile"].ndim == 2


def test_what_the_users_code_prints_on_a_thread_is_kept_for_it_alone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The TUI's stage thread keeps what a plug-in prints (to show it in the stage's pane);
    another thread's prints go where they went, nested keeping hands back each its own,
    and sys.stdout is the stream it was after the last one ends."""
    before = sys.stdout
    with printed_by_user_code() as outer:
        print("mine")
        other = threading.Thread(target=print, args=("theirs",))
        other.start()
        other.join()
        with printed_by_user_code() as inner:
            print("inner")
        print("mine again")
    assert inner.text == "inner\n" and outer.text == "mine\nmine again\n"
    assert sys.stdout is before
    assert capsys.readouterr().out == "theirs\n"


@pytest.mark.asyncio
async def test_another_threads_print_goes_on_while_a_thread_keeps_its_own() -> None:
    """In the TUI the stage thread starts keeping while sys.stdout is Textual's print
    capture, whose `write` returns None: a print from any other thread (the UI thread's,
    or the test's after the app) raised TypeError in the routing's `int(...)`."""
    from textual.app import App

    entered, release = threading.Event(), threading.Event()

    def keeping() -> None:
        with printed_by_user_code():
            entered.set()
            release.wait(60)

    app: App[None] = App()
    async with app.run_test():
        keeper = threading.Thread(target=keeping)
        keeper.start()
        try:
            assert entered.wait(60)
            print("from the UI thread")  # to Textual's capture, through the routing
        finally:
            release.set()
            keeper.join()
