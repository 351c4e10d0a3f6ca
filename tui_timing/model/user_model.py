"""The user's own model (`model = "pkg.mod:factory"`, docs/artifacts.md#your-own-repo): built from
the checkpoint's config, and wrapped so that every stage can call it as it calls the reference head.

Research code never has our signatures: a factory takes `hidden=..., max_len=...`, or one
`config` (a dict, or the model's own config dataclass); forward takes the mask rather than
the length; outputs are named `mu_log_duration` or come as a tuple. `build_model` reads
the factory's signature to call it right, and `UserModel` adapts forward to
`(features, length) -> {"mu", "log_sigma", "logits" | "profile", extras...}`.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
import typing
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from tui_timing.plugins import call_user, describe_call

#: A factory parameter of one of these names gets the whole config.
WHOLE_CONFIG = ("config", "cfg", "hparams", "hyper_parameters")
#: The user's names of each contract output (after `[tool.timing-tui.keys.model]`).
OUTPUT_ALIASES: dict[str, tuple[str, ...]] = {
    "mu": ("mu", "mu_log_duration", "mu_log", "log_duration_mu", "loc"),
    "log_sigma": ("log_sigma", "log_sigma_log_duration", "logsigma", "log_std", "log_scale"),
    "logits": ("logits", "profile_logits", "step_logits"),
    "profile": ("profile", "template", "probs", "profile_probs"),
}
#: Forward parameter names that mean "the number of valid steps" or "the valid-step mask".
LENGTH_NAMES = ("length", "lengths", "n_steps", "lens", "seq_len", "seq_lens")
MASK_NAMES = ("mask", "masks", "valid", "valid_mask", "step_mask", "attention_mask")
#: Config keys read as the number of steps when `max_len` itself is absent.
MAX_LEN_NAMES = ("max_len", "sequence_length", "seq_len", "max_length", "max_steps", "n_steps", "L")


@dataclasses.dataclass
class Built:
    """A user's model and how it was made (the call, for messages and the report)."""

    model: nn.Module
    call: str


def build_model(spec: str, factory: Callable[..., Any], config: dict[str, Any]) -> Built:
    """Call the factory with what its signature asks for from `config`."""
    args, kwargs = factory_arguments(spec, factory, config)
    model = call_user(spec, factory, *args, **kwargs)
    return Built(model=model, call=describe_call(spec, args, kwargs))


class MissingConfig(ValueError):
    """The factory requires parameters the checkpoint's config does not have."""


def factory_arguments(
    spec: str, factory: Callable[..., Any], config: dict[str, Any]
) -> tuple[list[Any], dict[str, Any]]:
    """(args, kwargs) for the factory: the whole config for a single `config`-like
    parameter (as its annotated dataclass when it has one), else the matching entries."""
    read = _parameters(factory)
    if read is None:
        return [dict(config)], {}
    params, takes_any = read
    whole = _whole_config(params, config)
    if whole is not None:
        target = _dataclass_annotation(factory, whole)
        value = _build_dataclass(spec, target, config) if target is not None else dict(config)
        if whole.kind == whole.KEYWORD_ONLY:
            return [], {whole.name: value}
        return [value], {}
    if takes_any:
        return [], dict(config)
    kwargs = {p.name: config[p.name] for p in params if p.name in config}
    missing = [
        p.name
        for p in params
        if p.default is p.empty and p.name not in kwargs and p.kind != p.POSITIONAL_ONLY
    ]
    if missing:
        found = ", ".join(map(str, config)) or "none"
        raise MissingConfig(
            f"{spec} needs {', '.join(missing)}, which the checkpoint's config does not have "
            f"(its keys: {found}); give them defaults, or take one `config` parameter"
        )
    return [], kwargs


def whole_config_parameter(
    factory: Callable[..., Any], config: dict[str, Any]
) -> inspect.Parameter | None:
    """The factory's one parameter when it takes the whole config (named `config`, `cfg`,
    `hparams` or `hyper_parameters`, and not a field of the config itself); else None."""
    read = _parameters(factory)
    return _whole_config(read[0], config) if read is not None else None


def _parameters(factory: Callable[..., Any]) -> tuple[list[inspect.Parameter], bool] | None:
    """The factory's named parameters, and whether it takes `**kwargs`; None when its
    signature cannot be read (a builtin)."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return None
    every = list(signature.parameters.values())
    named = [p for p in every if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return named, any(p.kind == p.VAR_KEYWORD for p in every)


def _whole_config(
    params: list[inspect.Parameter], config: dict[str, Any]
) -> inspect.Parameter | None:
    if len(params) == 1 and params[0].name in WHOLE_CONFIG and params[0].name not in config:
        return params[0]
    return None


def _dataclass_annotation(factory: Callable[..., Any], param: inspect.Parameter) -> type | None:
    """The dataclass the parameter is annotated with, resolving string annotations in the
    factory's own module (which the user's plug-in already imported)."""
    annotation = param.annotation
    if isinstance(annotation, str):
        target = factory.__init__ if inspect.isclass(factory) else factory
        try:
            annotation = typing.get_type_hints(target).get(param.name, annotation)
        except Exception:  # an annotation that does not resolve: use it as a name
            module = sys.modules.get(getattr(factory, "__module__", ""), None)
            annotation = getattr(module, annotation, None)
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return annotation
    return None


def _build_dataclass(spec: str, cls: type, config: dict[str, Any]) -> Any:
    """The config dataclass from the config's fields (those it has; defaults for the rest)."""
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    values = {k: v for k, v in config.items() if k in names}
    return call_user(f"{cls.__module__}:{cls.__qualname__}", cls, **values)


def max_len_of(config: dict[str, Any]) -> int | None:
    """The number of steps a config names, under any common name."""
    for name in MAX_LEN_NAMES:
        value = config.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


class UserModel(nn.Module):
    """The user's module behind the reference head's interface: `forward(features, length)`
    returning a dict with the contract's names (other outputs kept under their own)."""

    def __init__(
        self, inner: nn.Module, spec: str, output_names: dict[str, str], steps: int | None
    ) -> None:
        super().__init__()
        self.inner = inner
        self.spec = spec
        self.output_names = dict(output_names)
        #: L, the width of the mask built from the length (set from the cache if unknown).
        self.steps = steps
        self.second = _second_input(inner)

    def forward(self, features: torch.Tensor, length: torch.Tensor) -> dict[str, Any]:
        kind, name = self.second
        forward = self.inner.forward
        if kind == "length":
            raw = call_user(self.spec, forward, features, **{name: length})
        elif kind == "mask":
            raw = call_user(self.spec, forward, features, **{name: self.mask(length)})
        elif kind == "positional":
            raw = call_user(self.spec, forward, features, length)
        else:
            raw = call_user(self.spec, forward, features)
        return self.rename(raw)

    def mask(self, length: torch.Tensor) -> torch.Tensor:
        """The [B, L] valid-step mask of the given lengths."""
        steps = self.steps if self.steps is not None else int(length.max())
        return torch.arange(steps, device=length.device)[None, :] < length[:, None]

    def rename(self, raw: Any) -> Any:
        """A dict output under the contract's names; a plain tuple is left to read_outputs.

        A NamedTuple or a dataclass is read by its field names, not its order: a forward
        returning `Out(loc, log_scale, step_logits)` means what its names say.
        """
        raw = named_fields(raw)
        if not isinstance(raw, dict):
            return raw
        out: dict[str, Any] = {}
        used: set[str] = set()
        for contract, aliases in OUTPUT_ALIASES.items():
            mapped = self.output_names.get(contract)
            names = (mapped,) if mapped is not None else aliases
            for name in names:
                if name in raw:
                    out[contract] = raw[name]
                    used.add(name)
                    break
            else:
                if mapped is not None:
                    raise ValueError(
                        f"[tool.timing-tui.keys.model] maps {contract} to {mapped!r}, which "
                        f"the forward of {self.spec} does not return (it returns "
                        f'{", ".join(map(str, raw))}; write {contract} = "<one of them>" '
                        f"there, or --key model.{contract}=NAME)"
                    )
        if "logits" in out and "profile" in out:
            del out["profile"]  # logits carry the temperature; the profile follows from them
        out.update({str(k): v for k, v in raw.items() if k not in used})
        return out


def named_fields(raw: Any) -> Any:
    """A NamedTuple's or a dataclass instance's fields as a dict; anything else as it is."""
    if isinstance(raw, tuple) and hasattr(raw, "_fields"):
        return dict(zip(raw._fields, raw, strict=True))
    if dataclasses.is_dataclass(raw) and not isinstance(raw, type):
        return {f.name: getattr(raw, f.name) for f in dataclasses.fields(raw)}
    return raw


def _second_input(inner: nn.Module) -> tuple[str, str]:
    """What forward takes besides the features: ("length" | "mask", parameter name),
    ("positional", "") for an unnamed second parameter, or ("none", "")."""
    try:
        params = list(inspect.signature(inner.forward).parameters.values())
    except (TypeError, ValueError):
        return "positional", ""
    named = [p for p in params[1:] if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    for p in named:
        if p.name in LENGTH_NAMES and p.kind != p.POSITIONAL_ONLY:
            return "length", p.name
    for p in named:
        if p.name in MASK_NAMES and p.kind != p.POSITIONAL_ONLY:
            return "mask", p.name
    if named or any(p.kind == p.VAR_POSITIONAL for p in params):
        return "positional", ""
    return "none", ""


def bind_steps(model: nn.Module | None, steps: int) -> None:
    """Tell a UserModel the cache's L when its config did not say."""
    if isinstance(model, UserModel) and model.steps is None:
        model.steps = steps
