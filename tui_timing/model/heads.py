"""The reference timing head (docs/artifacts.md#checkpoint): duration (μ, log σ) and a per-step
profile.

For each path the head predicts the log-normal of its total duration and a profile, a
distribution over the path's steps, so that Δt_i = duration · profile_i. Its knobs are the
ways real timing heads go wrong, kept so that timing-tui can train (and then diagnose) the
broken variants too; every default is the healthy choice:

- `profile_head`: how the per-step logits are produced (`linear` logits straight from a
  layer; `templates`, a softmax mix of K learned logit templates; `increments`, logits as
  the cumulative sum of predicted increments; `monotonic`, increments ≤ 0 so the profile
  can only decay);
- `logit_bound` b: logits squashed to b·tanh(z/b), which caps how peaked a profile can be;
- `mask_padding`: softmax over the valid steps only; off, mass leaks onto padded steps;
- `length_input`: whether the backbone is told the path's length;
- `logsigma_min/max`: clamps of log σ, which can hide the true spread of durations.

The input features are standardized inside the model with the training split's mean and
standard deviation, stored as buffers, so a checkpoint is self-contained.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from tui_timing.model.options import HeadConfig

_LOG_2PI = math.log(2 * math.pi)


def valid_steps(length: torch.Tensor, max_len: int) -> torch.Tensor:
    """[B, L] booleans: True on each row's first `length` steps."""
    steps = torch.arange(max_len, device=length.device)
    return steps[None, :] < length[:, None]


class LinearLogits(nn.Module):
    """Per-step logits straight from one layer: each step's logit is learned on its own."""

    def __init__(self, hidden: int, max_len: int) -> None:
        super().__init__()
        self.logits = nn.Linear(hidden, max_len)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.logits(h)


class TemplateLogits(nn.Module):
    """A softmax mix of K learned logit templates: low rank, shared across paths."""

    def __init__(self, hidden: int, max_len: int, n_templates: int) -> None:
        super().__init__()
        self.mix = nn.Linear(hidden, n_templates)
        self.templates = nn.Parameter(0.01 * torch.randn(n_templates, max_len))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.mix(h), dim=-1) @ self.templates


class IncrementLogits(nn.Module):
    """Logits as the running sum of predicted increments (the plan's suggestion
    (docs/README.md#the-plan)).

    A sharp decay is a few large negative increments rather than L independent logits
    each pushed far down, which is why this parameterization learns decays easily.
    """

    def __init__(self, hidden: int, max_len: int) -> None:
        super().__init__()
        self.increments = nn.Linear(hidden, max_len)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.cumsum(self.increments(h), dim=-1)


class MonotonicLogits(nn.Module):
    """Increments constrained to be ≤ 0 (−softplus), so a profile can only decay."""

    def __init__(self, hidden: int, max_len: int) -> None:
        super().__init__()
        self.decrements = nn.Linear(hidden, max_len)
        # softplus(-5) ≈ 0.007: start close to a flat profile, as the other heads do.
        nn.init.constant_(self.decrements.bias, -5.0)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.cumsum(-F.softplus(self.decrements(h)), dim=-1)


#: How each `profile_head` of the config makes its per-step logits (hidden, max_len, config).
PROFILE_MODULES: dict[str, Callable[[HeadConfig], nn.Module]] = {
    "linear": lambda c: LinearLogits(c.hidden, c.max_len),
    "templates": lambda c: TemplateLogits(c.hidden, c.max_len, c.n_templates),
    "increments": lambda c: IncrementLogits(c.hidden, c.max_len),
    "monotonic": lambda c: MonotonicLogits(c.hidden, c.max_len),
}


def make_profile_head(config: HeadConfig) -> nn.Module:
    """The profile module named by `config.profile_head`."""
    return PROFILE_MODULES[config.profile_head](config)


class TimingHead(nn.Module):
    """Backbone MLP on standardized features (and the length), duration and profile heads.

    forward(features [B, D], length [B]) returns {"mu", "log_sigma"} ([B] each, the
    log-normal of the duration) and "logits" [B, L] (−inf on padded steps when masked).
    """

    def __init__(self, config: HeadConfig) -> None:
        super().__init__()
        self.config = config
        self.feature_mean: torch.Tensor
        self.feature_std: torch.Tensor
        self.register_buffer("feature_mean", torch.zeros(config.cond_dim))
        self.register_buffer("feature_std", torch.ones(config.cond_dim))
        n_in = config.cond_dim + int(config.length_input)
        self.backbone = nn.Sequential(
            nn.Linear(n_in, config.hidden),
            nn.SiLU(),
            nn.Linear(config.hidden, config.hidden),
            nn.SiLU(),
        )
        self.duration = nn.Linear(config.hidden, 2)
        self.profile = make_profile_head(config)

    def set_feature_scale(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Standardize inputs with these statistics (a constant column keeps std 1)."""
        self.feature_mean.copy_(mean)
        self.feature_std.copy_(torch.where(std > 1e-8, std, torch.ones_like(std)))

    def forward(self, features: torch.Tensor, length: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg = self.config
        x = (features.float() - self.feature_mean) / self.feature_std
        if cfg.length_input:
            x = torch.cat([x, (length.float() / cfg.max_len)[:, None]], dim=-1)
        h = self.backbone(x)
        mu, log_sigma = self.duration(h).unbind(dim=-1)
        if cfg.logsigma_min is not None or cfg.logsigma_max is not None:
            log_sigma = log_sigma.clamp(cfg.logsigma_min, cfg.logsigma_max)
        logits = self.profile(h)
        if cfg.logit_bound is not None:
            logits = cfg.logit_bound * torch.tanh(logits / cfg.logit_bound)
        if cfg.mask_padding:
            logits = logits.masked_fill(~valid_steps(length, cfg.max_len), -math.inf)
        return {"mu": mu, "log_sigma": log_sigma, "logits": logits}


@dataclass
class HeadOutputs:
    """What any timing head predicts for a batch, whatever form its forward returned."""

    mu: torch.Tensor  # [B]
    log_sigma: torch.Tensor  # [B]
    profile: torch.Tensor  # [B, L], each row sums to 1
    logits: torch.Tensor | None  # [B, L] when the model gave logits
    #: Other tensors the forward returned (a Dirichlet `concentration`, `alpha`): shown only.
    extras: dict[str, torch.Tensor] = field(default_factory=dict)


def read_outputs(raw: Any, temperature: float = 1.0) -> HeadOutputs:
    """Normalize a forward's result: a dict with `mu`, `log_sigma` and `logits` or `profile`,
    or a tuple (mu, log_sigma, logits).

    Temperature T divides the logits (a given profile p becomes p^(1/T), renormalized).
    Raises ValueError saying what is missing, for a user's model that does not follow
    the contract.
    """
    if isinstance(raw, (tuple, list)) and len(raw) == 3:
        raw = {"mu": raw[0], "log_sigma": raw[1], "logits": raw[2]}
    if not isinstance(raw, dict):
        raise ValueError(
            "the model's forward must return a dict with mu, log_sigma and logits or "
            f"profile (or a tuple of three), not {type(raw).__name__}"
        )
    missing = [k for k in ("mu", "log_sigma") if k not in raw]
    if "logits" not in raw and "profile" not in raw:
        missing.append("logits or profile")
    if missing:
        raise ValueError(
            f"the model's forward does not return {', '.join(missing)} (it returns "
            f"{', '.join(map(str, raw))}; name them in [tool.timing-tui.keys.model], e.g. "
            'mu = "their_mu", log_sigma = "...", logits = "..." or profile = "...")'
        )
    not_tensors = [
        str(k)
        for k in ("mu", "log_sigma", "logits", "profile")
        if k in raw and not isinstance(raw[k], torch.Tensor)
    ]
    if not_tensors:
        kinds = ", ".join(f"{k} a {type(raw[k]).__name__}" for k in not_tensors)
        raise ValueError(
            f"the model's forward must return torch tensors, but {kinds} (convert with "
            "torch.as_tensor in forward)"
        )
    mu = raw["mu"].reshape(-1)
    log_sigma = raw["log_sigma"].reshape(-1)
    logits = raw.get("logits")
    if logits is not None:
        profile = torch.softmax(logits.float() / temperature, dim=-1)
    else:
        given = raw["profile"].float().clamp_min(0.0)
        powered = given if temperature == 1.0 else given ** (1.0 / temperature)
        profile = powered / powered.sum(dim=-1, keepdim=True).clamp_min(1e-30)
    extras = {
        str(k): v
        for k, v in raw.items()
        if k not in ("mu", "log_sigma", "logits", "profile") and isinstance(v, torch.Tensor)
    }
    return HeadOutputs(mu=mu, log_sigma=log_sigma, profile=profile, logits=logits, extras=extras)


def duration_nll(
    mu: torch.Tensor, log_sigma: torch.Tensor, log_duration: torch.Tensor
) -> torch.Tensor:
    """Per-row Gaussian negative log-likelihood of log-duration (nats, constant included).

    Keeping ½·log 2π makes the figure an honest NLL, so stage 4 can compare logs.
    """
    z = (log_duration - mu) * torch.exp(-log_sigma)
    return 0.5 * _LOG_2PI + log_sigma + 0.5 * z * z


def profile_kl(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-row KL(target ‖ predicted profile), in nats.

    Zero-Δt steps (target 0) contribute nothing, and the −inf of masked steps is never
    multiplied, so the loss and its gradient stay finite.
    """
    log_p = torch.log_softmax(logits, dim=-1).masked_fill(target <= 0, 0.0)
    return (torch.special.xlogy(target, target) - target * log_p).sum(dim=-1)


def profile_mse(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-row squared error between the predicted profile and the target, summed over steps."""
    return (torch.softmax(logits, dim=-1) - target).pow(2).sum(dim=-1)


def profile_loss(logits: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """The per-row profile loss named by `kind` (`kl` or `mse`)."""
    return profile_kl(logits, target) if kind == "kl" else profile_mse(logits, target)
