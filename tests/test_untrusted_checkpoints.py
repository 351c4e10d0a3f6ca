"""Files that carry code to run are refused without running it.

A `.pt` from elsewhere is a pickle: loading it fully would run whatever it asks for. Each
payload below would create a marker file when unpickled; a control test unpickles copies
in a subprocess to prove the payloads are live, and every other test shows timing-tui
refusing them (as a cache, a checkpoint and an eval dump, in zip, legacy and plain-pickle
form) with a reason, never torch's advice to load with `weights_only=False`, and with the
marker still absent. A static test keeps full unpickling out of the package for good.
"""

from __future__ import annotations

import ast
import builtins
import io
import json
import os
import pickle
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from tui_timing.artifacts.cache import load_cache
from tui_timing.artifacts.eval_dump import load_eval_dump
from tui_timing.cli import main
from tui_timing.config import Settings
from tui_timing.errors import ArtifactError
from tui_timing.model.checkpoint import load_checkpoint

PACKAGE = Path(__file__).resolve().parents[1] / "tui_timing"
#: Words of torch's hint to disable the safe loader; a refusal must never pass them on.
TORCH_ADVICE = ("weights_only=False", "weights_only` set to `False", "Re-running `torch.load`")


def plant(marker: str) -> None:
    """What the `planted` payload runs when unpickled: any Python code, reached by import."""
    Path(marker).write_text("ran")


class SystemPayload:
    """Unpickles as `os.system("touch MARKER")`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch '{self.marker}'",))


class ExecPayload:
    """Unpickles as `builtins.exec(...)` of source that writes the marker."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (builtins.exec, (f"open({str(self.marker)!r}, 'w').close()",))


class PlantedPayload:
    """Unpickles as a call of a function in an importable module (this test module)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (plant, (str(self.marker),))


PAYLOADS: dict[str, tuple[type, str]] = {
    # name: (payload class, what the refusal must name)
    "os.system": (SystemPayload, "system"),
    "builtins.exec": (ExecPayload, "exec"),
    "__reduce__": (PlantedPayload, "plant"),
}


def _zip(obj: object, path: Path) -> None:
    torch.save(obj, path)


def _legacy(obj: object, path: Path) -> None:
    torch.save(obj, path, _use_new_zipfile_serialization=False)


def _pickle(protocol: int) -> Callable[[object, Path], None]:
    def write(obj: object, path: Path) -> None:
        path.write_bytes(pickle.dumps(obj, protocol=protocol))

    return write


FORMATS: dict[str, Callable[[object, Path], None]] = {
    "zip": _zip,
    "legacy": _legacy,
    "pickle-p0": _pickle(0),
    "pickle-p2": _pickle(2),
    "pickle-p5": _pickle(5),
}


def _as_cache(payload: object) -> dict[str, Any]:
    return {"duration": payload, "profile": torch.full((2, 3), 1 / 3), "features": torch.ones(2, 4)}


def _as_checkpoint(payload: object) -> dict[str, Any]:
    return {"model": {"backbone.0.weight": payload}, "config": {"cond_dim": 4}, "epoch": 1}


def _as_eval(payload: object) -> dict[str, Any]:
    side = {"xy": torch.zeros(2, 4, 2), "mask": torch.ones(2, 3)}
    return {"fake": {"dt": payload, **side}, "real": {"dt": torch.full((2, 3), 0.01), **side}}


WRAPPERS: dict[str, Callable[[object], dict[str, Any]]] = {
    "cache": _as_cache,
    "checkpoint": _as_checkpoint,
    "eval": _as_eval,
}


@dataclass(frozen=True)
class Hostile:
    """One hostile file: what it is, where it is, and the file its payload would create."""

    kind: str
    payload: str
    fmt: str
    path: Path
    marker: Path


def _write_set(folder: Path) -> list[Hostile]:
    """Every (artifact kind, payload, format) combination, each with its own marker."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for kind, wrap in WRAPPERS.items():
        for payload, (cls, _) in PAYLOADS.items():
            for fmt, write in FORMATS.items():
                stem = f"{kind}-{payload.replace('.', '_')}-{fmt}"
                marker = folder / f"{stem}.ran"
                path = folder / f"{stem}_timing.pt"
                write(wrap(cls(marker)), path)
                files.append(Hostile(kind, payload, fmt, path, marker))
    return files


@pytest.fixture(scope="session")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> list[Hostile]:
    """The hostile files the tests feed to timing-tui (their markers must never appear)."""
    return _write_set(tmp_path_factory.mktemp("hostile"))


def _ids(files: list[Hostile]) -> list[str]:
    return [f"{h.kind}-{h.payload}-{h.fmt}" for h in files]


def _load(kind: str, path: Path) -> object:
    if kind == "cache":
        return load_cache(path)
    if kind == "checkpoint":
        return load_checkpoint(path, Settings())
    return load_eval_dump(path, Settings())


def _assert_refusal(problem: str, named: str) -> None:
    """Refused as unsafe, naming what the file asked to run (each wrapper puts the payload
    first, so that it is the first call a loader meets)."""
    assert "refused" in problem and "unsafe" in problem, problem
    assert named in problem, problem
    assert not any(advice in problem for advice in TORCH_ADVICE), problem


def test_payloads_are_live(tmp_path: Path) -> None:
    """Control: a full unpickle (torch.load with weights_only=False, pickle.load) of the same
    files really runs each payload, so an absent marker below proves a refusal."""
    files = [h for h in _write_set(tmp_path) if h.kind == "cache"]
    script = (
        "import pickle, sys, torch\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "for path in sys.argv[1:]:\n"
        "    if path.endswith(('zip_timing.pt', 'legacy_timing.pt')):\n"
        "        torch.load(path, weights_only=False)\n"
        "    else:\n"
        "        pickle.loads(open(path, 'rb').read())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *(str(h.path) for h in files)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert [h.marker.exists() for h in files] == [True] * len(files)


def test_loaders_refuse_without_running(hostile: list[Hostile]) -> None:
    """The cache, checkpoint and eval-dump loaders refuse every hostile file with its reason."""
    for h in hostile:
        with pytest.raises(ArtifactError) as caught:
            _load(h.kind, h.path)
        assert caught.value.file == str(h.path)
        _assert_refusal(caught.value.problem, PAYLOADS[h.payload][1])
        assert not h.marker.exists(), f"{h.kind}/{h.payload}/{h.fmt} ran its payload"


OPTION = {"cache": "--cache", "checkpoint": "--checkpoint", "eval": "--eval"}


@pytest.mark.parametrize("kind", list(WRAPPERS))
def test_check_exits_2_naming_the_refusal(hostile: list[Hostile], kind: str) -> None:
    """Through `timing-tui check`: exit 2, one JSON object whose error says why, no traceback."""
    for h in (h for h in hostile if h.kind == kind):
        result = CliRunner().invoke(main, ["check", OPTION[kind], str(h.path), "--format", "json"])
        assert result.exit_code == 2, (h, result.output)
        report = json.loads(result.stdout)
        assert report["error"]["file"] == str(h.path)
        _assert_refusal(report["error"]["problem"], PAYLOADS[h.payload][1])
        assert "Traceback" not in result.stdout + result.stderr
        assert not h.marker.exists()


def test_check_subprocess_refuses_legacy_checkpoint(hostile: list[Hostile]) -> None:
    """The real console entry point, in its own process, on a plain-pickle checkpoint."""
    h = next(
        h for h in hostile if (h.kind, h.payload, h.fmt) == ("checkpoint", "os.system", "legacy")
    )
    command = ["check", "--checkpoint", str(h.path), "--format", "json"]
    done = subprocess.run(
        [sys.executable, "-m", "tui_timing", *command],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    _assert_refusal(json.loads(done.stdout)["error"]["problem"], "system")
    assert "Traceback" not in done.stdout + done.stderr
    assert not h.marker.exists()


def test_npz_with_pickled_objects_is_refused(tmp_path: Path) -> None:
    """An .npz member of dtype object is a pickle too: refused before numpy reads it."""
    marker = tmp_path / "npz.ran"
    buffer = io.BytesIO()
    np.save(buffer, np.array([SystemPayload(marker)], dtype=object), allow_pickle=True)
    path = tmp_path / "evil_timing.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("duration.npy", buffer.getvalue())
        archive.writestr("profile.npy", buffer.getvalue())
    for kind in WRAPPERS:
        with pytest.raises(ArtifactError) as caught:
            _load(kind, path)
        problem = caught.value.problem
        assert "unsafe" in problem and "pickled objects" in problem, problem
    assert not marker.exists()


# --- no full unpickling anywhere in the package ---------------------------------------

_PICKLE_MODULES = {"pickle", "_pickle", "cPickle", "dill", "cloudpickle", "joblib", "marshal"}


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _unsafe_calls(source: str) -> list[str]:
    """Every call that could unpickle arbitrary objects, as `line: what`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module in _PICKLE_MODULES:
            names = {alias.name for alias in node.names}
            if names & {"load", "loads", "Unpickler", "*"}:
                found.append(f"{node.lineno}: from {node.module} import {sorted(names)}")
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "torch"
            and any(alias.name == "load" for alias in node.names)
        ):
            found.append(f"{node.lineno}: from torch import load")
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        base, _, attr = name.rpartition(".")
        if base in _PICKLE_MODULES and attr in ("load", "loads", "Unpickler"):
            found.append(f"{node.lineno}: {name}")
        if name == "torch.load":
            flag = _keyword(node, "weights_only")
            if not (isinstance(flag, ast.Constant) and flag.value is True):
                found.append(f"{node.lineno}: torch.load without weights_only=True")
        if name in ("np.load", "numpy.load"):
            flag = _keyword(node, "allow_pickle")
            if flag is not None and not (isinstance(flag, ast.Constant) and flag.value is False):
                found.append(f"{node.lineno}: {name} with allow_pickle other than False")
    return found


def test_no_full_unpickling_in_the_package() -> None:
    """No module of tui_timing can unpickle objects: every torch.load says weights_only=True,
    no np.load allows pickles, pickle's loaders are never called, and no text passes on
    torch's advice to load with weights_only=False."""
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 20
    offenders = []
    for module in modules:
        source = module.read_text(encoding="utf-8")
        where = module.relative_to(PACKAGE.parent)
        offenders += [f"{where}:{hit}" for hit in _unsafe_calls(source)]
        for text in ("weights_only=False", "allow_pickle=True"):
            if text in source.replace(" ", ""):
                offenders.append(f"{where}: mentions {text}")
    assert offenders == []


def test_the_static_check_catches_what_it_looks_for() -> None:
    """The detector itself: each forbidden form is found, the safe forms are not."""
    unsafe = (
        "import pickle, torch, numpy as np\n"
        "pickle.load(f)\n"
        "pickle.loads(b)\n"
        "torch.load(p)\n"
        "torch.load(p, weights_only=flag)\n"
        "np.load(p, allow_pickle=True)\n"
        "from pickle import loads\n"
    )
    assert len(_unsafe_calls(unsafe)) == 6
    safe = "torch.load(p, weights_only=True, mmap=True)\nnp.load(p, allow_pickle=False)\n"
    assert _unsafe_calls(safe) == []
