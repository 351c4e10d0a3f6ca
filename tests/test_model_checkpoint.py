"""Checkpoint loading: every docs/artifacts.md#checkpoint layout, inferred config, user models,
clear refusals."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from tui_timing.artifacts.checkpoint import static_reading
from tui_timing.config import Settings
from tui_timing.errors import ArtifactError, UsageError
from tui_timing.model.checkpoint import load_checkpoint, reference_config

REPO = Path(__file__).resolve().parents[1]
LINEAR = REPO / "sample_data/runs/linear/checkpoint.pt"
INCREMENTS = REPO / "sample_data/runs/increments/checkpoint.pt"


def saved() -> dict[str, Any]:
    return torch.load(INCREMENTS, weights_only=True)


def write(tmp_path: Path, obj: Any, name: str = "ckpt.pt") -> Path:
    path = tmp_path / name
    torch.save(obj, path)
    return path


def test_timing_tui_checkpoint_loads_with_its_stored_config() -> None:
    ckpt = load_checkpoint(LINEAR, Settings())
    assert (ckpt.layout, ckpt.source, ckpt.epoch) == ("timing-tui checkpoint", "reference", 30)
    assert ckpt.inferred == {}
    assert ckpt.cond_dim == 10
    assert (config := reference_config(ckpt)) is not None and config.logit_bound == 0.3
    assert not ckpt.model.training


@pytest.mark.parametrize(
    ("wrap", "layout"),
    [
        (lambda sd: sd, "bare state_dict"),
        (lambda sd: {"state_dict": {f"model.{k}": v for k, v in sd.items()}}, "Lightning"),
        (lambda sd: {"model_state_dict": sd, "epoch": 4}, "model_state_dict"),
    ],
)
def test_other_layouts_load_and_report_what_was_inferred(
    tmp_path: Path, wrap: Callable[[dict[str, torch.Tensor]], Any], layout: str
) -> None:
    path = write(tmp_path, wrap(saved()["model"]))
    ckpt = load_checkpoint(path, Settings())
    assert layout in ckpt.layout
    assert ckpt.source == "reference"
    assert ckpt.config["profile_head"] == "increments"
    assert ckpt.config["cond_dim"] == 10 and ckpt.config["max_len"] == 128
    assert "weight" in ckpt.inferred["profile_head"]
    assert ckpt.inferred["logit_bound"].startswith("not stored")
    reference = load_checkpoint(INCREMENTS, Settings()).model
    x, length = (
        torch.randn(4, 10, generator=torch.Generator().manual_seed(0)),
        torch.tensor([3, 5, 1, 9]),
    )
    with torch.no_grad():
        assert torch.equal(ckpt.model(x, length)["logits"], reference(x, length)["logits"])


def test_lightning_hyper_parameters_are_the_config(tmp_path: Path) -> None:
    original = saved()
    path = write(
        tmp_path,
        {
            "state_dict": {f"net.{k}": v for k, v in original["model"].items()},
            "hyper_parameters": {"config": original["config"]},
        },
    )
    ckpt = load_checkpoint(path, Settings())
    assert ckpt.inferred == {}
    assert ckpt.config["feature_names"] == original["config"]["feature_names"]


def unknown_state() -> dict[str, torch.Tensor]:
    return {
        "encoder.0.weight": torch.zeros(32, 12),
        "encoder.0.bias": torch.zeros(32),
        "head_dur.weight": torch.zeros(2, 32),
        "head_dur.bias": torch.zeros(2),
        "head_steps.weight": torch.zeros(64, 32),
        "head_steps.bias": torch.zeros(64),
    }


def test_unknown_state_dict_is_read_statically(tmp_path: Path) -> None:
    ckpt = load_checkpoint(write(tmp_path, unknown_state()), Settings())
    assert ckpt.source == "static" and ckpt.model is None
    assert ckpt.cond_dim == 12
    assert ckpt.config["max_len"] == 64
    assert ckpt.static is not None
    assert ckpt.static.duration_layer == "head_dur.weight"
    assert ckpt.static.logits_layer == "head_steps.weight"
    assert set(ckpt.inferred) == {"cond_dim", "max_len", "profile_head"}


def test_static_reading_uses_a_known_max_len() -> None:
    reading = static_reading(unknown_state(), max_len=32)
    assert reading.logits_layer == "encoder.0.weight"  # the only layer with 32 outputs


def test_a_users_factory_builds_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "user_head_factory.py").write_text(
        textwrap.dedent(
            """
            import torch
            from torch import nn

            class Head(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.encoder = nn.Sequential(nn.Linear(12, 32))
                    self.head_dur = nn.Linear(32, 2)
                    self.head_steps = nn.Linear(32, 64)

                def forward(self, features, length):
                    h = self.encoder(features)
                    mu, log_sigma = self.head_dur(h).unbind(-1)
                    return {"mu": mu, "log_sigma": log_sigma, "logits": self.head_steps(h)}

            def build(config):
                return Head()

            def wrong(config):
                return nn.Linear(3, 3)
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, unknown_state())
    ckpt = load_checkpoint(path, Settings(model_spec="user_head_factory:build"))
    assert ckpt.source == "factory" and ckpt.model is not None
    with pytest.raises(ArtifactError, match="do not fit the model"):
        load_checkpoint(path, Settings(model_spec="user_head_factory:wrong"))
    with pytest.raises(UsageError, match="no attribute"):
        load_checkpoint(path, Settings(model_spec="user_head_factory:missing"))


@pytest.mark.parametrize(
    ("obj", "key", "problem"),
    [
        (torch.zeros(3), None, "wrong container"),
        ({"epoch": 3, "notes": "x"}, None, "no weights found"),
        ({"model": {}}, "model", "no weights"),
        ({"model": {"w": [1, 2]}}, "model.w", "expected a tensor"),
        ({"model": {"backbone.0.weight": torch.zeros(2, 2)}, "config": [1]}, "config", "dict"),
    ],
)
def test_unusable_checkpoints_name_file_key_and_problem(
    tmp_path: Path, obj: Any, key: str | None, problem: str
) -> None:
    path = write(tmp_path, obj)
    with pytest.raises(ArtifactError) as caught:
        load_checkpoint(path, Settings())
    assert caught.value.file == str(path)
    assert caught.value.key == key
    assert problem in caught.value.problem


def test_weights_that_contradict_the_config_are_refused(tmp_path: Path) -> None:
    original = saved()
    original["config"]["cond_dim"] = 7
    with pytest.raises(ArtifactError, match="weights do not fit") as caught:
        load_checkpoint(write(tmp_path, original), Settings())
    assert caught.value.key == "config.cond_dim"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("logit_bound", "tight"),
        ("logsigma_min", "low"),
        ("length_input", "yes"),
        ("mask_padding", 1),
        ("feature_names", "abc"),
    ],
)
def test_a_config_value_of_the_wrong_type_is_named(tmp_path: Path, key: str, value: Any) -> None:
    original = saved()
    original["config"][key] = value
    with pytest.raises(ArtifactError) as caught:
        load_checkpoint(write(tmp_path, original), Settings())
    assert caught.value.key in ("config", f"config.{key}")
    assert key in str(caught.value)


def test_a_weight_of_the_wrong_rank_is_named(tmp_path: Path) -> None:
    original = saved()
    original["model"]["backbone.0.weight"] = torch.zeros(64)
    with pytest.raises(ArtifactError, match="do not fit") as caught:
        load_checkpoint(write(tmp_path, original), Settings())
    assert caught.value.key == "model.backbone.0.weight"


def test_weights_with_a_wrong_shape_are_refused(tmp_path: Path) -> None:
    original = saved()
    original["model"]["duration.weight"] = torch.zeros(3, 64)
    with pytest.raises(ArtifactError, match="shape") as caught:
        load_checkpoint(write(tmp_path, original), Settings())
    assert caught.value.key == "model.duration.weight"


@pytest.mark.parametrize(
    ("dtype", "problem"),
    [
        (torch.complex64, "imaginary part"),
        (torch.int64, "floating-point"),
        (torch.bool, "floating-point"),
    ],
)
def test_a_weight_that_is_not_real_floats_is_named(
    tmp_path: Path, dtype: torch.dtype, problem: str
) -> None:
    """load_state_dict would cast it silently (a complex weight loses its imaginary part)."""
    original = saved()
    original["model"]["profile.increments.weight"] = torch.ones(128, 64, dtype=dtype)
    with pytest.raises(ArtifactError, match=problem) as caught:
        load_checkpoint(write(tmp_path, original), Settings())
    assert caught.value.key == "model.profile.increments.weight"


def test_half_and_double_weights_still_load(tmp_path: Path) -> None:
    original = saved()
    original["model"] = {k: v.double() for k, v in original["model"].items()}
    original["model"]["duration.weight"] = original["model"]["duration.weight"].half()
    assert load_checkpoint(write(tmp_path, original), Settings()).model is not None


def test_a_complex_weight_read_statically_is_named(tmp_path: Path) -> None:
    state = unknown_state()
    state["head_steps.weight"] = torch.zeros(64, 32, dtype=torch.complex64)
    with pytest.raises(ArtifactError, match="complex") as caught:
        load_checkpoint(write(tmp_path, {"model_state_dict": state}), Settings())
    assert caught.value.key == "model_state_dict.head_steps.weight"


def test_a_checkpoint_that_runs_code_is_refused(tmp_path: Path) -> None:
    class Sneaky:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"model": saved()["model"], "hook": Sneaky()}, path)
    with pytest.raises(ArtifactError, match="unsafe"):
        load_checkpoint(path, Settings())
