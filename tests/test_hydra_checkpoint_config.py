"""A checkpoint holding the whole Hydra config (`torch.save({"net": ..., "cfg": cfg})`).

Hydra repos save the composed config as it is, its groups nested: the model's settings
under `cfg.model`, the data's under `cfg.data`. Each test saves a real model of the user's
own class that way and loads it through the `load_checkpoint` the stages use: the model
is built from the model group (and said so), a factory taking the whole `cfg` gets it
nested, a dotted key names a field inside a group, and a factory that fails for want of a
config the file does not hold is an error naming the file, not a bug in the user's code. The
cache is the bundled sample cache (real Balabit rows, 10 features).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from sample_paths import CACHE
from user_module import importable

from tui_timing.config import ArtifactPaths, Settings
from tui_timing.errors import ArtifactError, UsageError
from tui_timing.model.checkpoint import load_checkpoint
from tui_timing.stages.runner import load_artifacts, run_stage

MODULE = """
import torch
from torch import nn


class TimingNet(nn.Module):
    def __init__(self, in_dim, hidden_dim=16, max_steps=128, n_layers=2):
        super().__init__()
        self.max_steps = max_steps
        layers, width = [], in_dim
        for _ in range(n_layers):
            layers += [nn.Linear(width, hidden_dim), nn.SiLU()]
            width = hidden_dim
        self.trunk = nn.Sequential(*layers)
        self.dur = nn.Linear(hidden_dim, 2)
        self.step_head = nn.Linear(hidden_dim, max_steps)

    def forward(self, x, lengths):
        h = self.trunk(x)
        mu, log_sigma = self.dur(h).unbind(-1)
        pad = torch.arange(self.max_steps)[None, :] >= lengths[:, None]
        logits = self.step_head(h).masked_fill(pad, float("-inf"))
        return {"mu": mu, "log_sigma": log_sigma, "logits": logits}


class AppendsLength(nn.Module):  # the length as one more input beside the features

    def __init__(self, width, max_steps=128):
        super().__init__()
        self.max_steps = max_steps
        self.trunk = nn.Linear(width + 1, 16)
        self.dur = nn.Linear(16, 2)
        self.step_head = nn.Linear(16, max_steps)

    def forward(self, x, lengths):
        h = torch.tanh(self.trunk(torch.cat([x, lengths[:, None].float() / 128], dim=1)))
        mu, log_sigma = self.dur(h).unbind(-1)
        pad = torch.arange(self.max_steps)[None, :] >= lengths[:, None]
        logits = self.step_head(h).masked_fill(pad, float("-inf"))
        return {"mu": mu, "log_sigma": log_sigma, "logits": logits}


def build_from_cfg(cfg):
    return TimingNet(**{k: v for k, v in cfg["model"].items() if k != "_target_"})
"""

#: The composed config as Hydra hands it to the training script (OmegaConf.to_container).
CFG: dict[str, Any] = {
    "model": {
        "_target_": "hydranet.TimingNet",
        "in_dim": 10,
        "hidden_dim": 24,
        "max_steps": 128,
        "n_layers": 2,
    },
    "data": {"cache": "data/train_timing.pt", "n_features": 10, "batch_size": 256},
    "trainer": {"lr": 0.003, "epochs": 5},
    "seed": 0,
}


@pytest.fixture()
def src(tmp_path: Path) -> Iterator[Path]:
    with importable(tmp_path, "hydranet", MODULE) as folder:
        yield folder


def saved(src: Path, where: Path, **entries: Any) -> Path:
    """A checkpoint as the repo's training loop writes it: its own model, then the entries."""
    import hydranet

    torch.manual_seed(0)
    model = {k: v for k, v in CFG["model"].items() if k != "_target_"}
    net = hydranet.TimingNet(**model)
    where.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"net": net.state_dict(), **entries}, where)
    return where


def test_the_users_class_is_built_from_the_model_group_and_it_is_said(
    src: Path, tmp_path: Path
) -> None:
    path = saved(src, tmp_path / "outputs/ckpt/final.pt", cfg=CFG, global_step=91, ep=5)
    settings = Settings(model_spec="hydranet:TimingNet", pythonpath=(src,))
    ckpt = load_checkpoint(path, settings)
    inner = ckpt.model.inner  # type: ignore[union-attr]
    assert inner.trunk[0].out_features == 24  # cfg.model.hidden_dim, not the default 16
    assert ckpt.cond_dim == 10 and ckpt.epoch == 5
    said = {a.what: a for a in ckpt.assumptions}
    assert "cfg.model" in said["model settings"].value
    assert "Hydra" in said["model settings"].source
    assert "'in_dim'" in said["conditioning width"].source
    assert ckpt.config["data"] == CFG["data"]  # the other groups are kept as they are

    ctx = load_artifacts(ArtifactPaths(cache=CACHE, checkpoint=path), settings)
    checks = {c.id: c.status for c in run_stage(ctx, 3).checks}
    assert checks["model.load"] == "pass" and checks["model.conditioning"] == "pass"


def test_a_factory_taking_the_whole_cfg_gets_it_with_its_groups(src: Path, tmp_path: Path) -> None:
    path = saved(src, tmp_path / "final.pt", cfg=CFG)
    ckpt = load_checkpoint(path, Settings(model_spec="hydranet:build_from_cfg", pythonpath=(src,)))
    assert ckpt.model.inner.trunk[0].out_features == 24  # type: ignore[union-attr]
    assert any("build_from_cfg({'model':" in note for note in ckpt.notes)


def test_a_factory_failing_for_a_config_the_file_lacks_is_an_error_naming_the_file(
    src: Path, tmp_path: Path
) -> None:
    path = saved(src, tmp_path / "final.pt", global_step=91)
    settings = Settings(model_spec="hydranet:build_from_cfg", pythonpath=(src,))
    with pytest.raises(ArtifactError) as raised:
        load_checkpoint(path, settings)
    error = raised.value
    assert error.file == str(path) and error.key == "config"
    assert "stores no config" in error.problem and "takes the whole config (cfg)" in error.problem
    assert "raised KeyError: 'model'" in error.problem  # what their code said, called so
    assert "an error in your code" not in error.problem
    assert "'cfg'" in error.problem  # where to save it


def test_a_dotted_key_names_a_field_inside_a_group(src: Path, tmp_path: Path) -> None:
    path = saved(src, tmp_path / "final.pt", cfg=CFG)
    keys = {"config": {"cond_dim": "data.n_features"}}
    ckpt = load_checkpoint(
        path,
        Settings(model_spec="hydranet:TimingNet", pythonpath=(src,), keys=keys),  # type: ignore[arg-type]
    )
    (said,) = [a for a in ckpt.assumptions if a.what == "config cond_dim"]
    assert said.value == "10" and "'data.n_features'" in said.source
    keys = {"config": {"cond_dim": "data.width"}}
    with pytest.raises(UsageError, match="named with dots"):
        load_checkpoint(path, Settings(keys=keys))  # type: ignore[arg-type]
    keys = {"config": {"cond_dim": "data.cache"}}  # there, but a path: not a width
    with pytest.raises(UsageError, match=r"'data/train_timing\.pt', not a whole number"):
        load_checkpoint(path, Settings(keys=keys))  # type: ignore[arg-type]


def test_a_width_no_config_names_is_found_for_a_model_that_appends_the_length(
    src: Path, tmp_path: Path
) -> None:
    """Its first layer takes 11 and its forward runs on 10 features: the width is 10,
    found by running it (it was unknown: 11 and 16 were tried, and `model.conditioning`
    skipped though stage 3 ran the model on the cache's 10 features)."""
    import hydranet

    net = hydranet.AppendsLength(10)
    path = tmp_path / "final.pt"
    torch.save({"net": net.state_dict(), "cfg": {"model": {"width": 10}}}, path)
    settings = Settings(model_spec="hydranet:AppendsLength", pythonpath=(src,))
    ckpt = load_checkpoint(path, settings)
    assert ckpt.cond_dim == 10
    assert "takes 11 (the features and one input more)" in ckpt.inferred["cond_dim"]
    ctx = load_artifacts(ArtifactPaths(cache=CACHE, checkpoint=path), settings)
    assert run_stage(ctx, 3).check("model.conditioning").status == "pass"
