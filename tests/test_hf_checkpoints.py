"""HuggingFace-style checkpoint folders: weights + config.json as one checkpoint.

Each test saves a real model the way HF-style research code does (safetensors'
`save_file`, `torch.save` of a state_dict as `pytorch_model.bin`, shards with their
index, a `config.json` with the user's own field names) and loads it through the same
`load_checkpoint` the stages use; the cache is the bundled sample cache (real Balabit rows).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from sample_paths import CACHE
from user_module import importable

from tui_timing.artifacts.checkpoint_folder import checkpoint_folder
from tui_timing.config import ArtifactPaths, Settings
from tui_timing.errors import ArtifactError, UsageError
from tui_timing.model.checkpoint import load_checkpoint
from tui_timing.stages.runner import load_artifacts, run_stage

#: The user's module: a config dataclass under names of its own, a model whose first
#: layer in name order ("a_gate") is not the one that takes the features.
MODULE = """
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class Cfg:
    d_cond: int = 4
    width: int = 8
    steps: int = 128
    floor: float = 0.05


class Net(nn.Module):
    def __init__(self, cfg: Cfg):
        super().__init__()
        self.cfg = cfg
        self.trunk = nn.Linear(cfg.d_cond, cfg.width)
        self.a_gate = nn.Linear(cfg.width, cfg.width)
        self.dur = nn.Linear(cfg.width, 2)
        self.steps = nn.Linear(cfg.width, cfg.steps)

    def forward(self, x, lengths):
        h = torch.tanh(self.a_gate(torch.tanh(self.trunk(x))))
        mu, raw = self.dur(h).unbind(-1)
        log_sigma = torch.log(torch.tensor(self.cfg.floor)) + nn.functional.softplus(raw)
        pad = torch.arange(self.cfg.steps)[None, :] >= lengths[:, None]
        return mu, log_sigma, self.steps(h).masked_fill(pad, float("-inf"))

    @classmethod
    def from_pretrained(cls, folder):
        import json
        from pathlib import Path

        from safetensors.torch import load_file

        cfg = Cfg(**json.loads((Path(folder) / "config.json").read_text()))
        net = cls(cfg)
        net.load_state_dict(load_file(str(Path(folder) / "model.safetensors")))
        return net


def build(cfg: Cfg):
    return Net(cfg)


def make(cond_dim, width=16, steps=128):
    return Net(Cfg(d_cond=cond_dim, width=width, steps=steps))
"""

#: The user's config as training wrote it: the cache's 10 features, not the default 4.
CONFIG = {"d_cond": 10, "width": 16, "steps": 128, "floor": 0.5}


@pytest.fixture()
def src(tmp_path: Path) -> Iterator[Path]:
    with importable(tmp_path, "hfnet", MODULE) as folder:
        yield folder


def net(config: dict[str, object]) -> torch.nn.Module:
    import hfnet

    torch.manual_seed(0)
    return hfnet.Net(hfnet.Cfg(**config))


def saved(
    folder: Path, config: dict[str, object] | None = CONFIG, *, bin_file: bool = False
) -> Path:
    """A checkpoint folder as HF-style code writes it."""
    folder.mkdir(parents=True)
    state = net(config or {"d_cond": 10, "width": 16}).state_dict()
    if bin_file:
        torch.save(state, folder / "pytorch_model.bin")
    else:
        save_file(state, str(folder / "model.safetensors"))
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config))
    return folder


def settings(src: Path, **more: object) -> Settings:
    keys = {"config": {"max_len": "steps"}}
    return Settings(model_spec="hfnet:build", pythonpath=(src,), keys=keys, **more)  # type: ignore[arg-type]


def test_a_folder_is_one_checkpoint_built_from_its_config_json(src: Path, tmp_path: Path) -> None:
    folder = saved(tmp_path / "outputs/run/checkpoints/step_200")
    assert checkpoint_folder(folder) is not None and checkpoint_folder(tmp_path) is None
    for given in (folder, folder / "model.safetensors"):  # the folder or its weights file
        ckpt = load_checkpoint(given, settings(src))
        inner = ckpt.model.inner  # type: ignore[union-attr]
        assert inner.cfg.floor == 0.5 and inner.cfg.width == 16  # config.json, not defaults
        assert ckpt.cond_dim == 10  # the d_cond alias; the first tensor by name takes 16
        read = {a.what: (a.value, a.source) for a in ckpt.assumptions}
        assert read["model config"][0] == "config.json beside the weights"
        assert "'d_cond'" in read["conditioning width"][1]
        assert "cond_dim" in read["conditioning width"][1]  # the line that corrects it
        assert read["config max_len"][0] == "128"


def test_a_bin_file_and_shards_read_alike(src: Path, tmp_path: Path) -> None:
    bin_folder = saved(tmp_path / "bin", bin_file=True)
    ckpt = load_checkpoint(bin_folder, settings(src))
    assert ckpt.model is not None and ckpt.cond_dim == 10
    sharded = tmp_path / "sharded"
    sharded.mkdir()
    state = net(CONFIG).state_dict()
    names = sorted(state)
    halves = {
        "model-00001-of-00002.safetensors": names[:3],
        "model-00002-of-00002.safetensors": names[3:],
    }
    for file, part in halves.items():
        save_file({k: state[k] for k in part}, str(sharded / file))
    weight_map = {k: file for file, part in halves.items() for k in part}
    (sharded / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    (sharded / "config.json").write_text(json.dumps(CONFIG))
    ckpt = load_checkpoint(sharded, settings(src))
    assert ckpt.layout.startswith("bare state_dict")
    for key, value in state.items():
        assert torch.equal(ckpt.model.inner.state_dict()[key], value)  # type: ignore[union-attr]


def test_without_a_config_the_width_comes_from_the_built_model(src: Path, tmp_path: Path) -> None:
    """No config anywhere: the model is built from its class's defaults (model.load warns)
    and its width is found by running it (4, the default), not from the file's first
    tensor by name (a_gate, 8 wide)."""
    folder = tmp_path / "bare"
    folder.mkdir()
    import hfnet

    save_file(hfnet.Net(hfnet.Cfg()).state_dict(), str(folder / "model.safetensors"))
    ckpt = load_checkpoint(folder, Settings(model_spec="hfnet:build", pythonpath=(src,)))
    assert ckpt.cond_dim == 4
    assert "trunk" in ckpt.inferred["cond_dim"] and "running it" in ckpt.inferred["cond_dim"]
    read = {a.what: a.value for a in ckpt.assumptions}
    assert read["model config"] == "your factory's defaults" and read["config cond_dim"] == "4"
    result = run_stage(
        load_artifacts(
            ArtifactPaths(cache=CACHE, checkpoint=folder),
            Settings(model_spec="hfnet:build", pythonpath=(src,)),
        ),
        3,
    )
    load = result.check("model.load")
    assert load.status == "warn" and "defaults" in load.message
    assert result.check("model.conditioning").status == "fail"  # 10 features, model takes 4


def test_a_static_safetensors_reading_does_not_guess_the_width(tmp_path: Path, src: Path) -> None:
    """Without a model to build, a safetensors file's first tensor (by name) is no layer
    in particular: the width is not inferred, and the checks that need it say the line."""
    folder = saved(tmp_path / "static", config={"width": 16, "steps": 128})
    paths = ArtifactPaths(cache=CACHE, checkpoint=folder)
    ctx = load_artifacts(paths, Settings())
    ckpt = ctx.value("checkpoint")
    assert ckpt.source == "static" and ckpt.cond_dim is None
    conditioning = run_stage(ctx, 3).check("model.conditioning")
    assert conditioning.status == "skip"
    assert '[tool.timing-tui.keys.config] cond_dim = "<your field>"' in conditioning.message
    feature_dim = run_stage(ctx, 2).check("dataset.feature_dim")
    assert feature_dim.status == "skip" and "keys.config" in feature_dim.message


def test_from_pretrained_gets_the_folder(src: Path, tmp_path: Path) -> None:
    folder = saved(tmp_path / "checkpoint-300")
    ckpt = load_checkpoint(
        folder / "model.safetensors",
        Settings(model_spec="hfnet:Net.from_pretrained", pythonpath=(src,)),
    )
    assert ckpt.notes[0].startswith("model built by hfnet:Net.from_pretrained('/")
    assert ckpt.model.inner.cfg.floor == 0.5 and ckpt.cond_dim == 10  # type: ignore[union-attr]


def test_a_mapped_config_field_that_is_not_there_is_a_usage_error(
    src: Path, tmp_path: Path
) -> None:
    folder = saved(tmp_path / "step_1")
    wrong = Settings(
        model_spec="hfnet:build", pythonpath=(src,), keys={"config": {"cond_dim": "n_features"}}
    )
    with pytest.raises(UsageError) as caught:
        load_checkpoint(folder, wrong)
    message = str(caught.value)
    assert "'n_features'" in message and "d_cond, width, steps, floor" in message
    assert 'cond_dim = "<one of them>"' in message


def test_a_factory_taking_the_width_gets_the_one_its_model_fits(src: Path, tmp_path: Path) -> None:
    """No config names the width and the factory needs it: each input width of the file's
    layers is tried, and the one whose model fits the weights taken (10; the file's first
    tensor by name, a_gate, takes 16)."""
    folder = tmp_path / "step_5"
    folder.mkdir()
    save_file(net(CONFIG).state_dict(), str(folder / "model.safetensors"))  # 10 features
    (folder / "config.json").write_text(json.dumps({"width": 16, "steps": 128}))
    ckpt = load_checkpoint(folder, Settings(model_spec="hfnet:make", pythonpath=(src,)))
    assert ckpt.cond_dim == 10 and ckpt.model is not None
    assert "fit the file's (tried 16, 10)" in ckpt.inferred["cond_dim"]


def test_a_hostile_bin_in_a_folder_is_refused_without_running(tmp_path: Path) -> None:
    """The folder's `pytorch_model.bin` goes through the strict reader like any .pt: a
    pickle that asks to call anything is refused, and nothing runs."""
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self) -> tuple[object, ...]:
            return (os.system, (f"touch '{marker}'",))

    folder = tmp_path / "checkpoint-7"
    folder.mkdir()
    torch.save({"encoder.weight": Payload()}, folder / "pytorch_model.bin")
    (folder / "config.json").write_text(json.dumps(CONFIG))
    with pytest.raises(ArtifactError) as caught:
        load_checkpoint(folder, Settings())
    assert "system" in caught.value.problem and not marker.exists()


def test_a_broken_index_is_said_when_loading_and_not_a_checkpoint_to_discovery(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "sharded"
    folder.mkdir()
    index = {"weight_map": {"encoder.weight": "model-00001-of-00002.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    assert checkpoint_folder(folder) is None
    with pytest.raises(ArtifactError) as caught:
        load_checkpoint(folder, Settings())
    assert "names the shard 'model-00001-of-00002.safetensors'" in caught.value.problem
