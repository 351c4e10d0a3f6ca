"""The artifact catalog (tui_timing/artifact_kinds.py) is whole, and each kind's recogniser
(what discovery calls a file) accepts exactly the files its loader loads.

The corpus is real: the bundled sample cache, checkpoints, stats log and eval dump, the
checkpoints' weights saved under every container key that people use, and near misses of
each (an empty state dict, a cache without its features or rows, a dict of a few named
tensors). A file discovery finds but the runner then refuses (or the reverse) fails here.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from sample_paths import CACHE, INCREMENTS, LINEAR, SAMPLE

from tui_timing.artifact_kinds import KIND, KIND_NAMES, KINDS, RECOGNITION_ORDER
from tui_timing.artifacts.classify import classify
from tui_timing.artifacts.weights_layout import STATE_KEYS
from tui_timing.cli import check, compare, main
from tui_timing.config import ArtifactPaths, Settings
from tui_timing.project import read_project
from tui_timing.stages.catalog import DIAGNOSTIC, STAGE_BY_ID


def test_every_kind_is_declared_once_and_whole() -> None:
    assert [f.name for f in dataclasses.fields(ArtifactPaths)] == list(KIND_NAMES)
    assert len(set(KIND_NAMES)) == len(KINDS)
    for kind in KINDS:
        assert callable(kind.load()), kind
        assert (kind.recognise() is None) == (kind.name not in RECOGNITION_ORDER), kind
        assert kind.give == f"{kind.option} {kind.metavar}"
    for command in (main, check):
        options = {p.name: p for p in command.params if isinstance(p, click.Option)}
        for kind in KINDS:
            assert options[kind.param].opts == [kind.option], (command.name, kind)
    assert {p.name for p in compare.params} >= {kind.param for kind in KINDS}
    table = read_project({name: f"x/{name}" for name in KIND_NAMES}, Path("/r/pyproject.toml"))
    assert table.artifacts == {name: Path(f"/r/x/{name}") for name in KIND_NAMES}


def test_the_verdict_names_each_kinds_option_for_a_stage_not_assessed() -> None:
    from tui_timing.stages.context import StageContext
    from tui_timing.stages.decision.rules import _what_to_give

    ctx = StageContext(paths=ArtifactPaths(), settings=Settings())
    for stage in DIAGNOSTIC:
        first = KIND[STAGE_BY_ID[stage].reads[0]]
        assert _what_to_give(ctx, stage, "not given").startswith(first.give), stage


# --- the corpus: real files and near misses ---------------------------------------------------


def _weights() -> dict[str, torch.Tensor]:
    saved: dict[str, Any] = torch.load(LINEAR, weights_only=True)
    return dict(saved["model"])


def _cache() -> dict[str, torch.Tensor]:
    saved: dict[str, torch.Tensor] = torch.load(CACHE, weights_only=True)
    return saved


def _torch(obj: Any) -> Callable[[Path], None]:
    return lambda path: torch.save(obj, path)


def _json(obj: Any) -> Callable[[Path], None]:
    return lambda path: path.write_text(json.dumps(obj))


def _npz(**arrays: Any) -> Callable[[Path], None]:
    return lambda path: np.savez(path, **arrays)


def _corpus() -> dict[str, Callable[[Path], None]]:
    """File name -> how to write it (copied real files, and real contents rearranged)."""
    weights = _weights()
    cache = _cache()
    numpy_cache = {k: v.numpy() for k, v in cache.items() if isinstance(v, torch.Tensor)}
    no_features = {k: v for k, v in numpy_cache.items() if k != "features"}
    corpus: dict[str, Callable[[Path], None]] = {
        "linear.pt": lambda path: path.write_bytes(LINEAR.read_bytes()),
        "increments.pt": lambda path: path.write_bytes(INCREMENTS.read_bytes()),
        "bare.pt": _torch(weights),
        "bare.safetensors": lambda path: save_file(weights, str(path)),
        "cache.pt": lambda path: path.write_bytes(CACHE.read_bytes()),
        "cache_aliases.npz": _npz(
            durations_s=numpy_cache["duration"],
            dt_profile=numpy_cache["profile"],
            cond=numpy_cache["features"],
        ),
        "eval.pt": lambda path: path.write_bytes((SAMPLE / "eval/eval.pt").read_bytes()),
        "stats.jsonl": lambda path: path.write_bytes(
            (SAMPLE / "runs/linear/stats.jsonl").read_bytes()
        ),
        # near misses
        "empty_model.pt": _torch({"model": {}, "epoch": 3}),
        "model_with_a_number.pt": _torch({"model": {**weights, "step": 7}}),
        "named_tensors.pt": _torch({"x": torch.zeros(3), "y": torch.ones(3, 2)}),
        "settings_only.pt": _torch({"epoch": 3, "notes": "x"}),
        "cache_without_features.npz": _npz(**no_features),
        "cache_without_rows.npz": _npz(
            **{k: v[:0] for k, v in numpy_cache.items() if k in ("duration", "profile", "features")}
        ),
        "unknown_columns.csv": lambda path: path.write_text("name,value\nlr,3e-3\n"),
        "hf/trainer_state.json": _json(
            {
                "log_history": [
                    {"epoch": 0.5, "step": 5, "loss": 0.7},
                    {"epoch": 1.0, "step": 10, "loss": 0.5},
                    {"epoch": 1.0, "step": 10, "eval_loss": 0.6},
                ]
            }
        ),
        "no_stats/trainer_state.json": _json(
            {"log_history": [{"epoch": 1.0, "step": 10, "learning_rate": 0.001}]}
        ),
    }
    for key, _ in STATE_KEYS:
        corpus[f"under_{key}.pt"] = _torch({key: weights, "epoch": 2})
    return corpus


def _loads(kind: str, path: Path, settings: Settings) -> bool:
    from tui_timing.stages.runner import load_artifact

    return load_artifact(kind, path, settings).ok


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("corpus")
    paths = {}
    for name, make in _corpus().items():
        (root / name).parent.mkdir(exist_ok=True)
        make(root / name)
        paths[name] = root / name
    return paths


def test_each_recogniser_accepts_exactly_what_its_loader_loads(corpus: dict[str, Path]) -> None:
    settings = Settings()
    seen: dict[str | None, list[str]] = {}
    for name, path in corpus.items():
        verdict = classify(path, settings)
        assert verdict is not None, name
        loaded = {kind for kind in RECOGNITION_ORDER if _loads(kind, path, settings)}
        assert loaded == ({verdict.kind} if verdict.kind else set()), (name, verdict, loaded)
        seen.setdefault(verdict.kind, []).append(name)
    # the corpus holds files of every kind discovery looks for, and near misses
    assert set(seen) == {*RECOGNITION_ORDER, None}, seen
    for key, _ in STATE_KEYS:
        assert f"under_{key}.pt" in seen["checkpoint"], key
    assert "hf/trainer_state.json" in seen["log"] and "no_stats/trainer_state.json" in seen[None]


def test_a_checkpoint_saved_under_net_is_found_and_loaded(corpus: dict[str, Path]) -> None:
    """Discovery called `{"net": ...}` a checkpoint and the loader refused it ("no weights
    found"): both now read the weights under the same keys."""
    from tui_timing.model.checkpoint import load_checkpoint

    verdict = classify(corpus["under_net.pt"], Settings())
    assert verdict is not None and verdict.kind == "checkpoint"
    assert verdict.detail.startswith(f"checkpoint ({len(_weights())} weights under 'net'")
    loaded = load_checkpoint(corpus["under_net.pt"], Settings())
    assert loaded.state_key == "net" and loaded.source == "reference"
    assert set(loaded.state_dict) == set(_weights())


def test_near_misses_say_why_they_were_passed_over(corpus: dict[str, Path]) -> None:
    def why(name: str) -> str:
        verdict = classify(corpus[name], Settings())
        assert verdict is not None and verdict.kind is None, (name, verdict)
        return verdict.detail

    assert why("empty_model.pt") == "'model' holds a dict that is not only named tensors"
    assert why("cache_without_rows.npz") == "a timing cache with no rows (N = 0)"
    assert why("cache_without_features.npz").startswith("no timing keys (found duration")
    assert why("named_tensors.pt") == "no timing keys (found x, y)"


def test_a_cache_under_the_tables_names_is_found_by_them(corpus: dict[str, Path]) -> None:
    path = corpus["cache_without_features.npz"]
    mapped = Settings(keys={"cache": {"features": "log_duration"}})
    verdict = classify(path, mapped)
    assert verdict is not None and verdict.kind == "cache"
    assert _loads("cache", path, mapped)
