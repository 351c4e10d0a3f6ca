"""The reference head's and the trainer's knobs with their defaults and choices, without torch.

`timing-tui train` offers these as options (defaults, choices) and `cli.py` must not import
torch (its `--help` is instant), so they are declared here, once, and `heads.py` and
`train.py` build on them. A checkpoint's config is read against `HeadConfig` too.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

PROFILE_HEADS = ("linear", "templates", "increments", "monotonic")
PROFILE_LOSSES = ("kl", "mse")


@dataclass
class HeadConfig:
    """Every config key of a checkpoint (docs/artifacts.md#checkpoint); the defaults are the
    healthy head."""

    cond_dim: int
    max_len: int = 128
    hidden: int = 64
    profile_head: str = "increments"
    n_templates: int = 8
    logsigma_min: float | None = None
    logsigma_max: float | None = None
    logit_bound: float | None = None
    length_input: bool = True
    mask_padding: bool = True
    profile_loss: str = "kl"
    feature_names: list[str] | None = None
    diffusion_cond_dim: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.feature_names, tuple):
            self.feature_names = list(self.feature_names)
        problems = config_problems(self)
        if problems:
            raise ValueError("; ".join(problems))

    def as_dict(self) -> dict[str, Any]:
        """Plain values only, so the checkpoint loads with `weights_only=True`."""
        out = asdict(self)
        if self.feature_names is not None:
            out["feature_names"] = [str(n) for n in self.feature_names]
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> HeadConfig:
        """The config of the known keys of `values` (other keys are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def config_problems(config: HeadConfig) -> list[str]:
    """What makes a config unusable, in words naming the key (empty when it is fine).

    Types are checked before values, since a config read from someone's checkpoint can
    hold anything (a string where a number belongs, say).
    """
    problems: list[str] = []
    for name in ("cond_dim", "max_len", "hidden", "n_templates"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(f"{name} must be a positive integer, not {value!r}")
    if config.profile_head not in PROFILE_HEADS:
        problems.append(f"profile_head must be one of {', '.join(PROFILE_HEADS)}")
    if config.profile_loss not in PROFILE_LOSSES:
        problems.append(f"profile_loss must be one of {', '.join(PROFILE_LOSSES)}")
    for name in ("length_input", "mask_padding"):
        if not isinstance(getattr(config, name), bool):
            problems.append(f"{name} must be true or false, not {getattr(config, name)!r}")
    numbers = {}
    for name in ("logit_bound", "logsigma_min", "logsigma_max"):
        value = getattr(config, name)
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            problems.append(f"{name} must be a finite number or null, not {value!r}")
        else:
            numbers[name] = value
    if "logit_bound" in numbers and not numbers["logit_bound"] > 0:
        problems.append(f"logit_bound must be > 0 or null, not {numbers['logit_bound']!r}")
    low, high = numbers.get("logsigma_min"), numbers.get("logsigma_max")
    if low is not None and high is not None and not low < high:
        problems.append(f"logsigma_min ({low}) must be below logsigma_max ({high})")
    names = config.feature_names
    if names is not None and not (
        isinstance(names, list) and all(isinstance(n, str) for n in names)
    ):
        problems.append("feature_names must be a list of strings or null")
    diffusion = config.diffusion_cond_dim
    if diffusion is not None and (isinstance(diffusion, bool) or not isinstance(diffusion, int)):
        problems.append(f"diffusion_cond_dim must be an integer or null, not {diffusion!r}")
    return problems


@dataclass
class TrainOptions:
    """How to train: epochs, batches, optimizer, split, seed and device."""

    epochs: int = 30
    batch_size: int = 256
    lr: float = 3e-3
    val_fraction: float = 0.1
    seed: int = 0
    device: str = "auto"
    #: Also save RUN_DIR/epochs/epoch_NNNN.pt every this many epochs (0: never).
    save_every: int = 0


_Options = TypeVar("_Options", "HeadConfig", "TrainOptions")


def default_of(options: type[_Options], name: str) -> Any:
    """The declared default of one knob (`default_of(HeadConfig, "hidden")` is 64)."""
    for spec in fields(options):
        if spec.name == name:
            return spec.default
    raise KeyError(f"{options.__name__} has no field {name!r}")
