"""A checkpoint made into a model (docs/artifacts.md#checkpoint): the reference head, the user's, or
none.

The file is read by artifacts/checkpoint.py (layouts, weights, config); here the weights
become a module in one of three ways:
- `--model module:factory` (settings.model_spec): the user's own model, built by
  model/user_model.py from the config (keyword arguments matching the factory's
  parameters, or the whole config / its dataclass for one `config` parameter), wrapped in
  UserModel and loaded strictly (module prefixes such as `model.` stripped when that
  makes the names match); `module:Class.from_pretrained` is called with the checkpoint's
  folder and loads its weights itself. A conditioning width no config names is found from
  the built model (model/conditioning_width.py), never from the file's tensor order;
- the reference `TimingHead`, when the state_dict has its parameter names; any config key
  the file does not store is inferred from the weight shapes, or else assumed at its
  default, and reported in `inferred`;
- otherwise a static reading of the shapes only (no module): the input width of the first
  layer, a Linear with 2 outputs (or two with 1 output each, named like mu / log_std)
  read as (μ, log σ), and output layers wider than that read as per-step logits.

Weights that do not fit the model raise ArtifactError naming the file, the key and the
problem.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tui_timing.artifacts.checkpoint import (
    CONFIG_KEYS,
    PROFILE_PARAMS,
    CheckpointArtifact,
    is_reference,
    kind_of,
    read_checkpoint,
    static_reading,
    strip_module_prefix,
)
from tui_timing.artifacts.checkpoint_config import apply_config_names
from tui_timing.config import Settings
from tui_timing.errors import ArtifactError, UsageError
from tui_timing.findings import Assumption
from tui_timing.model.conditioning_width import probe_width
from tui_timing.model.heads import HeadConfig, TimingHead
from tui_timing.model.user_model import (
    Built,
    MissingConfig,
    UserModel,
    build_model,
    factory_arguments,
    max_len_of,
    whole_config_parameter,
)
from tui_timing.plugins import (
    YOURS,
    UserCodeError,
    call_user,
    describe_call,
    is_from_pretrained,
    load_object,
)

#: Prefixes wrappers add to parameter names: Lightning modules, DDP, torch.compile.
MODULE_PREFIXES = ("model.", "module.", "net.", "_orig_mod.")


def load_checkpoint(path: str | Path, settings: Settings) -> CheckpointArtifact:
    """Load a checkpoint file and build its model; raise ArtifactError when it cannot be
    used at all."""
    artifact = read_checkpoint(path)
    apply_config_names(artifact, settings.keys["config"])
    state_key = artifact.state_key
    if settings.model_spec:
        _build_user_model(artifact, settings, state_key)
        return artifact
    if state_key == "state_dict":
        artifact.state_dict = strip_module_prefix(artifact.state_dict)
    if is_reference(artifact.state_dict):
        _build_reference(artifact, state_key)
    else:
        _read_statically(artifact, state_key)
    return artifact


def reference_config(ckpt: CheckpointArtifact) -> HeadConfig | None:
    """The reference head's config (None for a user's model or a static reading)."""
    if ckpt.source != "reference":
        return None
    return HeadConfig.from_dict(ckpt.config)


def _build_reference(artifact: CheckpointArtifact, state_key: str | None) -> None:
    """Complete the config from the shapes, build a TimingHead, load the weights strictly."""
    path, state = artifact.path, artifact.state_dict
    shapes = _reference_shapes(path, state_key, state)
    for key, (value, how) in shapes.items():
        stored = artifact.config.get(key)
        if key not in artifact.config:
            artifact.config[key] = value
            artifact.inferred[key] = how
        elif stored != value:
            raise ArtifactError(
                str(path),
                f"config.{key}",
                f"the config says {stored!r} but the weights say {value!r} ({how}): "
                "the weights do not fit the model",
            )
    defaults = HeadConfig(cond_dim=1)
    for f in fields(HeadConfig):
        if f.name not in artifact.config:
            artifact.config[f.name] = getattr(defaults, f.name)
            artifact.inferred[f.name] = f"not stored; assumed {getattr(defaults, f.name)!r}"
    try:
        config = HeadConfig.from_dict(artifact.config)
    except (TypeError, ValueError) as exc:
        raise ArtifactError(str(path), "config", f"unusable config: {exc}") from None
    artifact.config.update(config.as_dict())
    model = TimingHead(config)
    _load_strict(path, state_key, model, state)
    artifact.model = model.eval()
    artifact.source = "reference"


def _reference_shapes(
    path: Path, state_key: str | None, state: dict[str, torch.Tensor]
) -> dict[str, tuple[Any, str]]:
    """Config values the reference head's weights pin down, with where each was read."""

    def weight(key: str, rank: int) -> torch.Tensor:
        tensor = state[key]
        if tensor.dim() != rank:
            raise ArtifactError(
                str(path),
                f"{state_key}.{key}" if state_key else key,
                f"the weights do not fit the model: expected {rank} dimensions, found shape "
                f"{list(tensor.shape)}",
            )
        return tensor

    first = weight("backbone.0.weight", 2)
    out: dict[str, tuple[Any, str]] = {
        "hidden": (int(first.shape[0]), "rows of backbone.0.weight"),
    }
    head_key = next(k for k in PROFILE_PARAMS if k in state)
    head = PROFILE_PARAMS[head_key]
    head_weight = weight(head_key, 2)
    out["profile_head"] = (head, f"the parameter {head_key}")
    if head == "templates":
        out["n_templates"] = (int(head_weight.shape[0]), "rows of profile.templates")
        out["max_len"] = (int(head_weight.shape[1]), "columns of profile.templates")
    else:
        out["max_len"] = (int(head_weight.shape[0]), f"rows of {head_key}")
    if "feature_mean" in state:
        cond_dim = int(weight("feature_mean", 1).shape[0])
        out["cond_dim"] = (cond_dim, "length of feature_mean")
        extra = int(first.shape[1]) - cond_dim
        out["length_input"] = (extra == 1, "backbone.0.weight has one column more than features")
    return out


def _load_strict(
    path: Path, state_key: str | None, model: nn.Module, state: dict[str, torch.Tensor]
) -> None:
    """load_state_dict(strict=True), turning every mismatch into one clear ArtifactError."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    prefix = f"{state_key}." if state_key else ""
    for key, tensor in expected.items():
        if key in state and tuple(state[key].shape) != tuple(tensor.shape):
            raise ArtifactError(
                str(path),
                prefix + key,
                f"the weights do not fit the model: shape {list(state[key].shape)} in the file, "
                f"{list(tensor.shape)} in the model",
            )
        if key in state:
            problem = _dtype_problem(state[key], tensor.dtype)
            if problem:
                raise ArtifactError(str(path), prefix + key, problem)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:5])}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:5])}")
        raise ArtifactError(
            str(path), None, "the weights do not fit the model: " + "; ".join(parts)
        )
    model.load_state_dict(state, strict=True)


def _dtype_problem(stored: torch.Tensor, wanted: torch.dtype) -> str | None:
    """Why a stored tensor cannot be copied into a parameter or buffer of dtype `wanted`.

    load_state_dict casts silently: a complex weight loses its imaginary part (torch only
    warns on stderr), an integer or boolean one becomes a float that was never trained.
    A float where a float is wanted is fine (float64 and half precision are converted).
    """
    if wanted.is_complex:
        if stored.dtype.is_complex or stored.dtype.is_floating_point:
            return None
        return f"expected complex or real numbers, found dtype {_dtype_name(stored.dtype)}"
    if stored.dtype.is_complex:
        return (
            f"complex numbers (dtype {_dtype_name(stored.dtype)}) where the model holds real "
            f"{_dtype_name(wanted)}: loading would drop the imaginary part"
        )
    if wanted.is_floating_point and not stored.dtype.is_floating_point:
        return (
            f"expected floating-point weights ({_dtype_name(wanted)}), found dtype "
            f"{_dtype_name(stored.dtype)}"
        )
    return None


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _build_user_model(
    artifact: CheckpointArtifact, settings: Settings, state_key: str | None
) -> None:
    """The user's model: built from the config (or by their `from_pretrained`
    from the checkpoint's folder), wrapped in UserModel, loaded strictly. What their code
    raises is raised as theirs (UserCodeError)."""
    spec = settings.model_spec or ""
    factory = load_object(spec, "--model", settings.pythonpath)
    if not callable(factory):
        raise UsageError(f"--model {spec}: {type(factory).__name__} is not callable")
    reading = static_reading(artifact.state_dict, max_len_of(artifact.config))
    artifact.static = reading
    if max_len_of(artifact.config) is None and reading.logits_width is not None:
        artifact.config["max_len"] = reading.logits_width
        artifact.inferred["max_len"] = f"outputs of {reading.logits_layer}"
    if is_from_pretrained(spec):
        built = _from_pretrained(spec, factory, artifact)
        stripped = ""
    else:
        built = _build_without_config(spec, factory, artifact)
        state, stripped = _match_prefixes(artifact.state_dict, built.model.state_dict())
        _load_strict(artifact.path, state_key, built.model, state)
        artifact.state_dict = state
    model = UserModel(built.model, spec, settings.keys["model"], max_len_of(artifact.config))
    artifact.model = model.eval()
    artifact.source = "factory"
    artifact.notes.append(f"model built by {built.call}")
    if stripped:
        artifact.notes.append(f"parameter names read without the prefix {stripped!r}")
        artifact.read_as.append(
            Assumption(
                "checkpoint",
                "parameter names",
                f"without the prefix {stripped!r}",
                "every stored name starts with it, and without it they are your model's",
            )
        )
    if artifact.config_origin is None:
        artifact.read_as.append(
            Assumption(
                "checkpoint",
                "model config",
                "your factory's defaults",
                "no config in the file and no config.json beside the weights: put the "
                "config the model was trained with there",
            )
        )
    if artifact.cond_dim is None:
        found = probe_width(model)
        if found is not None:
            artifact.config["cond_dim"], artifact.inferred["cond_dim"] = found


def _build_without_config(spec: str, factory: Any, artifact: CheckpointArtifact) -> Built:
    """`_build_fitting`; where the factory takes the whole config and the file stores none,
    an exception it raises is told as the missing config's (it was called with only what
    was inferred from the shapes), naming the checkpoint: not as a bug in the user's code.
    A factory that builds from its own defaults then still does (model.load warns)."""
    try:
        return _build_fitting(spec, factory, artifact)
    except UserCodeError as exc:
        whole = whole_config_parameter(factory, artifact.config)
        if whole is None or artifact.config_origin is not None:
            raise
        where = ", ".join(repr(key) for key in CONFIG_KEYS)
        raise ArtifactError(
            str(artifact.path),
            "config",
            f"the checkpoint stores no config (no {where} entry, no config.json beside the "
            f"weights), and {spec} takes the whole config ({whole.name}): called with only "
            f"what was inferred, {exc.problem.removesuffix(YOURS)}; save the config the "
            "model was trained with in the checkpoint under one of those names, or give "
            "--model a factory that takes the model's settings as parameters",
        ) from None


def _from_pretrained(spec: str, factory: Any, artifact: CheckpointArtifact) -> Built:
    """`Class.from_pretrained(folder)`: their code reads the folder (weights and config)."""
    folder = str(artifact.files.folder if artifact.files else artifact.path)
    model = call_user(spec, factory, folder)
    call = describe_call(spec, [folder], {})
    if not isinstance(model, nn.Module):
        raise UsageError(f"{call} returned {kind_of(model)}, not an nn.Module")
    return Built(model=model, call=call)


def _build_fitting(spec: str, factory: Any, artifact: CheckpointArtifact) -> Built:
    """Build the model; when the factory takes `cond_dim` and no config names it, with the
    width for which the model's weights fit the file's (each input width of the file's
    layers tried, the model built for each: the order of a file's tensors says nothing)."""
    config = artifact.config
    tries = _width_candidates(spec, factory, artifact)
    built = None
    for width in tries:
        try:
            built = build_model(spec, factory, {**config, "cond_dim": width})
        except MissingConfig as exc:
            raise ArtifactError(str(artifact.path), "config", str(exc)) from None
        if isinstance(built.model, nn.Module) and _fits(artifact.state_dict, built.model):
            config["cond_dim"] = width
            artifact.inferred["cond_dim"] = (
                f"the width for which {spec} builds a model whose weights fit the file's "
                f"(tried {', '.join(map(str, tries))}); write [tool.timing-tui.keys.config] "
                'cond_dim = "<your field>" to name it'
            )
            return built
    if built is None:
        try:
            built = build_model(spec, factory, config)
        except MissingConfig as exc:
            raise ArtifactError(str(artifact.path), "config", str(exc)) from None
    if not isinstance(built.model, nn.Module):
        raise UsageError(f"{built.call} returned {kind_of(built.model)}, not an nn.Module")
    return built


def _width_candidates(spec: str, factory: Any, artifact: CheckpointArtifact) -> list[int]:
    """The conditioning widths to try: none when the config names it or the factory does
    not take it; else every input width of the file's 2-D weights, in stored order."""
    if artifact.cond_dim is not None or artifact.static is None:
        return []
    try:
        _, kwargs = factory_arguments(spec, factory, {**artifact.config, "cond_dim": 0})
    except MissingConfig:
        return []
    if "cond_dim" not in kwargs:
        return []
    return list(dict.fromkeys(layer.in_features for layer in artifact.static.layers))


def _fits(state: dict[str, torch.Tensor], model: nn.Module) -> bool:
    """Whether every weight of the model has the shape the file gives it."""
    expected = model.state_dict()
    matched, _ = _match_prefixes(state, expected)
    return set(matched) == set(expected) and all(
        tuple(matched[k].shape) == tuple(v.shape) for k, v in expected.items()
    )


def _match_prefixes(
    state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]
) -> tuple[dict[str, torch.Tensor], str]:
    """The state_dict with wrapper prefixes stripped when that makes its names those of the
    model (and the prefixes stripped); as it is otherwise, for _load_strict to report."""
    wanted = set(expected)
    if set(state) == wanted:
        return state, ""
    candidates = [(state, "")]
    while candidates:
        current, prefix = candidates.pop(0)
        for head in MODULE_PREFIXES:
            if current and all(k.startswith(head) for k in current):
                stripped = {k[len(head) :]: v for k, v in current.items()}
                if set(stripped) == wanted:
                    return stripped, prefix + head
                candidates.append((stripped, prefix + head))
        # a LightningModule may keep other modules beside the model: keep those with a prefix
        for head in MODULE_PREFIXES:
            inner = {k[len(head) :]: v for k, v in current.items() if k.startswith(head)}
            if inner and set(inner) == wanted:
                return inner, prefix + head
    return state, ""


def _read_statically(artifact: CheckpointArtifact, state_key: str | None) -> None:
    """An unknown state_dict: record what the shapes say; there is no module to run."""
    for key, tensor in artifact.state_dict.items():
        if tensor.dim() == 2 and key.endswith("weight"):  # the layers static_reading reads
            problem = _dtype_problem(tensor, torch.float32)
            if problem:
                where = f"{state_key}.{key}" if state_key else key
                raise ArtifactError(str(artifact.path), where, problem)
    reading = static_reading(artifact.state_dict, artifact.config.get("max_len"))
    artifact.static = reading
    artifact.source = "static"
    if reading.input_dim is None:
        raise ArtifactError(
            str(artifact.path), None, "no 2-D weight found: cannot tell what the model takes"
        )
    if "cond_dim" not in artifact.config and artifact.tensor_order_known:
        artifact.config["cond_dim"] = reading.input_dim
        first = reading.layers[0].key
        artifact.inferred["cond_dim"] = (
            f"input width of {first} (assumes the length is not an input)"
        )
    elif "cond_dim" not in artifact.config:
        artifact.notes.append(
            "conditioning width not inferred: a safetensors file sorts its tensors by name, "
            "so its first weight is not the model's first layer"
        )
    if reading.logits_width is not None and "max_len" not in artifact.config:
        artifact.config["max_len"] = reading.logits_width
        artifact.inferred["max_len"] = f"outputs of {reading.logits_layer} (per-step logits)"
    if reading.logits_layer is not None and "profile_head" not in artifact.config:
        artifact.config["profile_head"] = "linear"
        artifact.inferred["profile_head"] = (
            f"{reading.logits_layer} maps straight to {reading.logits_width} per-step logits"
        )
    artifact.notes.append(
        "unknown parameter names: read statically from the weight shapes; give "
        "--model module:factory to run the model"
    )
