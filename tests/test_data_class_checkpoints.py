"""Checkpoints whose config is the user's own dataclass or object (docs/artifacts.md#your-own-repo):
read as data, without importing or running anything; any pickle that asks to call code still
refused.

The pickles are written by a child process that imports the user's module (as their
training script would); the test process loads them with that module importable on
sys.path (the worst case: a careless reader would import it) and proves that it was not
imported and that no planted side effect ran.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from tui_timing.artifacts.data_classes import ObjectFields
from tui_timing.artifacts.safe_load import load_container
from tui_timing.config import Settings
from tui_timing.errors import ArtifactError
from tui_timing.model.checkpoint import load_checkpoint

USER_MODULE = '''
import dataclasses, os, subprocess, pathlib

MARKER = pathlib.Path(os.environ["MARKER"])

# importing this module is itself a side effect the reader must never cause
MARKER.with_suffix(".imported").write_text("imported")


@dataclasses.dataclass
class Inner:
    rate: float = 0.5


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    cond_dim: int = 10
    hidden: int = 32
    max_len: int = 128
    names: tuple = ("a", "b")
    inner: Inner = dataclasses.field(default_factory=Inner)


class PlainConfig:
    def __init__(self):
        self.hidden = 16
        self.schedule = [1, 2, 3]


def touch(path):
    pathlib.Path(path).write_text("ran")


class CallsSubprocess:
    def __reduce__(self):
        return (subprocess.call, (["touch", str(MARKER)],))


class CallsOwnFunction:
    def __reduce__(self):
        return (touch, (str(MARKER),))


class CallsItsClass:
    """REDUCE on a class of the user's: the class would be called with arguments."""

    def __init__(self, path=None):
        if path is not None:
            touch(path)

    def __reduce__(self):
        return (CallsItsClass, (str(MARKER),))


class NewWithArgs:
    """NEWOBJ with arguments: the class's own __new__ would run."""

    def __new__(cls, path="x"):
        touch(path)
        return super().__new__(cls)

    def __getnewargs__(self):
        return (str(MARKER),)


class CallsSystem:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


class CallsEval:
    def __reduce__(self):
        return (eval, (f"open({str(MARKER)!r}, 'w')",))
'''

SAVE = """
import sys, torch
import usercfg
weights = {"head.weight": torch.zeros(3, 10)}
for kind in sys.argv[1:]:
    if kind == "lightning":
        payload = {"state_dict": weights, "hyper_parameters": {"config": usercfg.ModelConfig()}}
    elif kind == "dataclass":
        payload = {"model": weights, "config": usercfg.ModelConfig()}
    elif kind == "plain":
        payload = {"model": weights, "config": usercfg.PlainConfig()}
    else:
        payload = {"model": weights, "config": getattr(usercfg, kind)()}
    torch.save(payload, f"{kind}.pt")
"""


HOSTILE = ["CallsSubprocess", "CallsOwnFunction", "CallsItsClass", "NewWithArgs", "CallsSystem"]
KINDS = ["dataclass", "plain", "lightning", *HOSTILE, "CallsEval"]


@pytest.fixture(scope="module")
def user_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every checkpoint, written by one child process that imports the user's module."""
    folder = tmp_path_factory.mktemp("user")
    (folder / "usercfg.py").write_text(textwrap.dedent(USER_MODULE))
    (folder / "save.py").write_text(textwrap.dedent(SAVE))
    env = {"MARKER": str(folder / "ran.marker"), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "save.py", *KINDS], cwd=folder, env=env, check=True)
    (folder / "ran.imported").unlink()  # the child imported it; the reader must not
    return folder


def saved(user_dir: Path, kind: str) -> tuple[Path, Path]:
    """The checkpoint of `kind`, and the marker a pickle that ran code would create."""
    return user_dir / f"{kind}.pt", user_dir / "ran.marker"


@pytest.fixture()
def importable(user_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's module on sys.path, as it would be in their repo (not imported yet)."""
    monkeypatch.syspath_prepend(str(user_dir))
    monkeypatch.delitem(sys.modules, "usercfg", raising=False)
    return user_dir


def test_a_config_dataclass_comes_back_as_its_fields(importable: Path) -> None:
    path, marker = saved(importable, "dataclass")
    loaded = load_container(path)
    config = loaded["config"]
    assert isinstance(config, ObjectFields) and config.class_name == "usercfg.ModelConfig"
    assert dict(config) == {
        "cond_dim": 10,
        "hidden": 32,
        "max_len": 128,
        "names": ("a", "b"),
        "inner": {"rate": 0.5},
    }
    assert config["inner"].class_name == "usercfg.Inner"
    assert torch.equal(loaded["model"]["head.weight"], torch.zeros(3, 10))
    assert "usercfg" not in sys.modules
    assert not marker.with_suffix(".imported").exists()


def test_a_plain_object_and_a_lightning_config_too(importable: Path) -> None:
    plain = load_container(saved(importable, "plain")[0])["config"]
    assert plain.class_name == "usercfg.PlainConfig"
    assert dict(plain) == {"hidden": 16, "schedule": [1, 2, 3]}
    path, _ = saved(importable, "lightning")
    ckpt = load_checkpoint(path, Settings())
    assert ckpt.config_class == "usercfg.ModelConfig"
    assert ckpt.config["hidden"] == 32 and ckpt.config["max_len"] == 128
    assert any("without importing" in note for note in ckpt.notes)
    assert "usercfg" not in sys.modules


@pytest.mark.parametrize("kind", HOSTILE)
def test_a_pickle_that_calls_code_is_refused_and_nothing_runs(importable: Path, kind: str) -> None:
    path, marker = saved(importable, kind)
    with pytest.raises(ArtifactError) as caught:
        load_container(path)
    assert "refused as unsafe" in caught.value.problem, caught.value.problem
    assert "weights_only=False" not in caught.value.problem
    assert not marker.exists(), f"{kind}: the pickle ran code"
    assert not marker.with_suffix(".imported").exists()
    assert "usercfg" not in sys.modules


def test_the_refusal_names_what_it_would_call(importable: Path) -> None:
    path, _ = saved(importable, "CallsOwnFunction")
    with pytest.raises(ArtifactError, match=r"asks to call usercfg\.touch"):
        load_container(path)


def test_builtins_eval_stays_refused(importable: Path) -> None:
    path, marker = saved(importable, "CallsEval")
    with pytest.raises(ArtifactError, match="refused as unsafe"):
        load_container(path)
    assert not marker.exists()
