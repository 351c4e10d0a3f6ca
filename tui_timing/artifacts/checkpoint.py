"""Timing-head checkpoints (docs/artifacts.md#checkpoint): any common layout, read safely.

Accepted layouts, recognised by their keys (weights_layout.py, shared with discovery):
timing-tui's own {"model", "config", "epoch"}; a bare state_dict; Lightning's {"state_dict",
"hyper_parameters"}; {"model_state_dict"} and the other common keys; and HuggingFace-style
folders (artifacts/checkpoint_folder.py: `model.safetensors` or `pytorch_model.bin`, or
their shards, with `config.json`). A `config.json` beside the weights is always read, under
the file's own config. The weights are kept under their stored names (the model layer strips
a module prefix such as `model.` when that makes them match a model). The file is read with
`weights_only=True` (never a full unpickle); a config that is the user's own dataclass or
object comes back as its fields (artifacts/data_classes.py), without importing their module.
Making the weights a module is the model layer's job (model/checkpoint.py); here they are
only read, and their shapes read statically for a model nobody can build (a duration head as
one layer with 2 outputs, or two with 1 output each named like mu / log_std).

A file that is not a checkpoint at all or holds no weights raises ArtifactError naming the
file, the key and the problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tui_timing.artifacts.checkpoint_folder import (
    CheckpointFiles,
    checkpoint_files,
    read_json_object,
)
from tui_timing.artifacts.data_classes import ObjectFields
from tui_timing.artifacts.safe_load import load_container
from tui_timing.artifacts.weights_layout import STATE_KEYS, find_weights
from tui_timing.errors import ArtifactError
from tui_timing.findings import Assumption

CONFIG_KEYS = ("config", "cfg", "hyper_parameters", "hparams")
#: The entries a checkpoint's epoch is stored under.
EPOCH_KEYS = ("epoch", "ep")
#: The config group a Hydra composition keeps the model's settings in (`cfg.model.hidden`).
MODEL_GROUP = "model"

#: Name parts of a one-output layer that gives μ, and of one that gives log σ.
_MU_NAMES = ("mu", "mean", "loc")
_SIGMA_NAMES = ("log_std", "logstd", "log_sigma", "logsigma", "sigma", "std", "scale", "var")

#: The profile module's parameter that names each head (see model/heads.py).
PROFILE_PARAMS = {
    "profile.logits.weight": "linear",
    "profile.templates": "templates",
    "profile.increments.weight": "increments",
    "profile.decrements.weight": "monotonic",
}


@dataclass
class LinearShape:
    """One 2-D weight of a state_dict: a Linear layer as the static reading sees it."""

    key: str
    in_features: int
    out_features: int


@dataclass
class StaticReading:
    """What the shapes alone say about an unknown model."""

    layers: list[LinearShape]
    input_dim: int | None
    #: The (μ, log σ) layer, or "mu_key + sigma_key" for two one-output layers.
    duration_layer: str | None
    logits_layer: str | None
    logits_width: int | None


@dataclass
class CheckpointArtifact:
    """A loaded checkpoint: its weights, its full config, and a module when one can be built."""

    path: Path
    layout: str
    state_dict: dict[str, torch.Tensor]
    config: dict[str, Any]
    #: Config keys the file does not store: key -> how the value was obtained.
    inferred: dict[str, str] = field(default_factory=dict)
    #: "reference" (TimingHead), "factory" (--model) or "static" (shapes only).
    source: str = "reference"
    model: nn.Module | None = None
    epoch: int | None = None
    static: StaticReading | None = None
    notes: list[str] = field(default_factory=list)
    #: The container key holding the weights (None for a bare state_dict), for messages.
    state_key: str | None = None
    #: The dotted class name of a config stored as the user's own object, read as data.
    config_class: str | None = None
    #: The files read (the weights, their shards, the config beside them).
    files: CheckpointFiles | None = None
    #: Where the config came from ("config.json beside the weights", ...); None: no config.
    config_origin: str | None = None
    #: Other readings of the checkpoint (which config, which names), with their sources.
    read_as: list[Assumption] = field(default_factory=list)

    @property
    def assumptions(self) -> list[Assumption]:
        """How the checkpoint was read, then every config value the file does not store
        (shown in the panes and the reports' "read as"): `config.<key>` in the table's key
        map or the file's own config overrides it."""
        return [
            *self.read_as,
            *(
                Assumption("checkpoint", f"config {key}", repr(self.config.get(key)), how)
                for key, how in self.inferred.items()
            ),
        ]

    @property
    def tensor_order_known(self) -> bool:
        """Whether the weights' stored order is the model's module order (torch.save keeps
        it; a safetensors header sorts the names, so its first tensor says nothing)."""
        weights = self.files.weights if self.files else (self.path,)
        return not any(p.suffix == ".safetensors" for p in weights)

    @property
    def cond_dim(self) -> int | None:
        """The width of the conditioning vector the model takes (None when unknown)."""
        value = self.config.get("cond_dim")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def cond_dim_for(self, feature_dim: int) -> int | None:
        """The conditioning width to compare with a cache of `feature_dim` features.

        A width the file does not store is read from the first layer's inputs; when that is
        one more than the features, the extra input is the length (as the reference head
        takes it), not a feature the cache lacks.
        """
        width = self.cond_dim
        if width == feature_dim + 1 and "cond_dim" in self.inferred:
            return feature_dim
        return width


def read_checkpoint(path: str | Path) -> CheckpointArtifact:
    """Read a checkpoint's weights and config (no module yet): a file, or an HF-style folder
    (or its weights file) with the config.json beside the weights; raise ArtifactError
    when it holds no usable weights."""
    path = Path(path)
    files = checkpoint_files(path)
    weights = files.weights[0]
    container = load_container(weights) if len(files.weights) == 1 else _shards(files)
    if not isinstance(container, dict):
        raise ArtifactError(
            str(weights),
            None,
            f"wrong container: expected a checkpoint dict, found {kind_of(container)}",
        )
    layout, state_key, state = _find_state_dict(weights, container)
    if files.config is not None or len(files.weights) > 1:
        layout = f"{layout} in a checkpoint folder" if files.config else "sharded checkpoint"
    stored = _stored_config(weights, container)
    epoch = next((container[key] for key in EPOCH_KEYS if key in container), None)
    artifact = CheckpointArtifact(
        path=path,
        layout=layout,
        state_dict=state,
        config=dict(stored),
        epoch=epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else None,
        state_key=state_key,
        config_class=stored.class_name if isinstance(stored, ObjectFields) else None,
        files=files,
    )
    if artifact.config_class:
        artifact.notes.append(
            f"config stored as a {artifact.config_class} object: read as its fields, "
            "without importing it"
        )
    stored_key = _stored_config_key(container)
    if stored_key is not None:
        _read_model_group(artifact, stored_key)
    _add_config_beside(artifact, files, stored_key=stored_key)
    return artifact


def _read_model_group(artifact: CheckpointArtifact, stored_key: str) -> None:
    """A Hydra composition keeps the model's settings in their own group (`cfg.model`):
    its fields are added beside the top level's (winning over a same-named one there), so
    that a factory's parameters, `max_len` and the conditioning width are found in it; the
    nested groups stay as they are (a factory taking the whole config gets them)."""
    group = artifact.config.get(MODEL_GROUP)
    if not isinstance(group, dict) or not group:
        return
    artifact.config = {**artifact.config, **{str(k): v for k, v in group.items()}}
    names = ", ".join(map(str, list(group)[:6])) + (", …" if len(group) > 6 else "")
    artifact.read_as.append(
        Assumption(
            "checkpoint",
            "model settings",
            f"the fields of {stored_key}.{MODEL_GROUP} ({names})",
            f"the file's {stored_key!r} keeps them in a {MODEL_GROUP!r} group (Hydra's "
            "layout); each is read as the model's, over a top-level field of the same name; "
            'name another field with [tool.timing-tui.keys.config] (cond_dim = "data.width")',
        )
    )


def _shards(files: CheckpointFiles) -> dict[str, torch.Tensor]:
    """The weights of a sharded checkpoint, every shard read and joined into one dict."""
    state: dict[str, torch.Tensor] = {}
    for shard in files.weights:
        part = load_container(shard)
        if not isinstance(part, dict):
            found = kind_of(part)
            raise ArtifactError(str(shard), None, f"wrong container: a shard holds {found}")
        _, _, tensors = _find_state_dict(shard, part)
        twice = next((name for name in tensors if name in state), None)
        if twice is not None:
            raise ArtifactError(str(shard), twice, "this weight is in two shards")
        state.update(tensors)
    return state


def _stored_config_key(container: dict[Any, Any]) -> str | None:
    return next((key for key in CONFIG_KEYS if key in container), None)


def _add_config_beside(
    artifact: CheckpointArtifact, files: CheckpointFiles, stored_key: str | None
) -> None:
    """Read the config.json beside the weights (always: the model must be built with the
    settings it was trained with), the file's own config winning where both have a field;
    record where the config came from."""
    if stored_key is not None:
        artifact.config_origin = f"the file's {stored_key!r}"
    if files.config is None:
        return
    beside = read_json_object(files.config, "config")
    artifact.config = {**beside, **artifact.config}
    where = f"{files.config.name} beside the weights"
    if stored_key is None:
        artifact.config_origin = where
        source = f"{files.config}: read as the model's config"
    else:
        artifact.config_origin = f"the file's {stored_key!r}, then {where}"
        source = (
            f"{files.config}: its fields complete the file's own {stored_key!r}, "
            "which wins where both have one"
        )
    artifact.read_as.append(
        Assumption("checkpoint", "model config", artifact.config_origin, source)
    )


def kind_of(obj: Any) -> str:
    """What a value is, for a message ("a bare tensor of shape [3]", "a list")."""
    if isinstance(obj, torch.Tensor):
        return f"a bare tensor of shape {list(obj.shape)}"
    return f"a {type(obj).__name__}"


def _find_state_dict(
    path: Path, container: dict[Any, Any]
) -> tuple[str, str | None, dict[str, torch.Tensor]]:
    """(layout, key holding the weights or None for a bare state_dict, the weights).

    Discovery recognises a checkpoint by the same rule (weights_layout.find_weights); when
    it finds none, the first container key holding a dict says what is wrong with it.
    """
    found = find_weights(container, lambda value: isinstance(value, torch.Tensor))
    if found is not None:
        layout, key, state = found
        return layout, key, {str(k): v for k, v in state.items()}
    for key, _ in STATE_KEYS:
        if isinstance(container.get(key), dict):
            _tensors_only(path, key, container[key])  # raises, naming the key
    names = ", ".join(repr(key) for key, _ in STATE_KEYS)
    found_keys = ", ".join(map(str, container)) or "none"
    raise ArtifactError(
        str(path),
        None,
        f"no weights found: expected a state_dict (names like 'layer.weight'), or a dict "
        f"with one under {names} (found keys: {found_keys})",
    )


def _tensors_only(path: Path, key: str | None, state: dict[Any, Any]) -> dict[str, torch.Tensor]:
    if not state:
        raise ArtifactError(str(path), key, "the checkpoint holds no weights (empty state_dict)")
    for name, value in state.items():
        if not isinstance(value, torch.Tensor):
            where = f"{key}.{name}" if key else str(name)
            raise ArtifactError(
                str(path), where, f"expected a tensor in the state_dict, found {kind_of(value)}"
            )
    return {str(k): v for k, v in state.items()}


def strip_module_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Lightning saves `model.backbone.0.weight`: drop a prefix every key shares."""
    while True:
        heads = {k.split(".", 1)[0] for k in state}
        if len(heads) != 1 or any("." not in k for k in state) or is_reference(state):
            return state
        state = {k.split(".", 1)[1]: v for k, v in state.items()}


def _stored_config(path: Path, container: dict[Any, Any]) -> dict[str, Any]:
    for key in CONFIG_KEYS:
        if key not in container:
            continue
        config = container[key]
        if not isinstance(config, dict):
            raise ArtifactError(
                str(path), key, f"expected a dict of settings, found {kind_of(config)}"
            )
        nested = config.get("config")
        return nested if isinstance(nested, dict) else config
    return {}


def is_reference(state: dict[str, torch.Tensor]) -> bool:
    """Whether the parameter names are those of the reference TimingHead."""
    return (
        "backbone.0.weight" in state
        and "duration.weight" in state
        and any(k in state for k in PROFILE_PARAMS)
    )


def static_reading(state: dict[str, torch.Tensor], max_len: Any = None) -> StaticReading:
    """Read the Linear layers of a state_dict from their 2-D weights, in stored order.

    The input width is the first layer's; a layer with 2 outputs is the (μ, log σ) head,
    or else two layers with 1 output each whose names say μ and log σ; an output layer
    (its width feeds no other layer) with `max_len` outputs, or the widest one when max_len
    is unknown, gives the per-step logits.
    """
    layers = [
        LinearShape(k, int(v.shape[1]), int(v.shape[0]))
        for k, v in state.items()
        if k.endswith("weight") and v.dim() == 2
    ]
    inputs = {layer.in_features for layer in layers[1:]}
    duration = next((layer.key for layer in layers if layer.out_features == 2), None)
    if duration is None:
        duration = _duration_pair(layers)
    outputs = [la for la in layers if la.out_features > 2 and la.out_features not in inputs]
    if isinstance(max_len, int) and not isinstance(max_len, bool):
        outputs = [la for la in layers if la.out_features == max_len]
    logits = max(outputs, key=lambda la: la.out_features, default=None)
    return StaticReading(
        layers=layers,
        input_dim=layers[0].in_features if layers else None,
        duration_layer=duration,
        logits_layer=logits.key if logits else None,
        logits_width=logits.out_features if logits else None,
    )


def _duration_pair(layers: list[LinearShape]) -> str | None:
    """ "mu_key + sigma_key" for two one-output layers named like μ and log σ, else None."""
    single = [la.key for la in layers if la.out_features == 1]

    def named(key: str, names: tuple[str, ...]) -> bool:
        parts = key.lower().replace("_head", "").split(".")[:-1]
        return any(part in names or part.endswith(names) for part in parts)

    sigma = next((k for k in single if named(k, _SIGMA_NAMES)), None)
    mu = next((k for k in single if k != sigma and named(k, _MU_NAMES)), None)
    return f"{mu} + {sigma}" if mu and sigma else None
