"""The duration-fit probe: does the checkpoint's duration head fit *this* cache's rows?

The capacity probe's twin for durations. Pooled checks (quantiles of sampled durations,
the model's σ against its own residuals) pass a head that predicts the overall mean for
every row, or a head trained on other data whose σ happens to cover the offset. Per-row
likelihood does not: the probe fits a small duration head (the checkpoint's backbone
size, on the same features and length) briefly on some of the cache's rows, and compares
the checkpoint's duration NLL with it on held-out rows. A checkpoint worse by more than
a margin (0.1 nats per row by default) does not fit this cache's durations.

What the gap is made of decides the fix, so it is split into three parts, in nats per row:
- `bias_nats`: what shifting every μ by the mean residual (log d − μ) would save: a
  checkpoint trained on other data (another user's speed, another split) or a wrong cache;
- `sigma_nats`: what rescaling σ by one factor would save next: σ held by a bound, or a
  spread learned on other data;
- `rest_nats`: what is left: μ does not follow the features (an undertrained head).
The parts are measured in this order on the same rows, so they add up to the checkpoint's
own excess over the best of these corrections, and `gap` is the checkpoint's NLL minus the
probe's.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import nn

from tui_timing.artifacts.cache import TimingCache
from tui_timing.model.capacity import Adam, ProbeBudget
from tui_timing.model.heads import duration_nll


@dataclass(frozen=True)
class DurationFit:
    """The checkpoint's duration NLL on held-out rows against the probe's, and its parts."""

    checkpoint_nll: float
    probe_nll: float
    #: Mean of log d − μ over the held-out rows (positive: the checkpoint predicts too short).
    mu_bias: float
    #: The factor that would best rescale the checkpoint's σ once the bias is removed.
    sigma_scale: float
    bias_nats: float
    sigma_nats: float
    rows_fit: int
    rows_eval: int
    seconds: float
    #: The one factor k that best maps μ onto log d (least squares through 0): ln 10 ≈
    #: 2.303 when the head was trained on log10 durations.
    log_factor: float = 1.0
    #: What scaling (μ, σ) by `log_factor` would save, nats per row.
    factor_nats: float = 0.0

    @property
    def gap(self) -> float:
        """Checkpoint NLL minus probe NLL, nats per row (positive: the checkpoint is worse)."""
        return self.checkpoint_nll - self.probe_nll

    @property
    def rest_nats(self) -> float:
        """The part of the gap neither the bias nor a σ scale explains (never negative)."""
        return max(self.gap - self.bias_nats - self.sigma_nats, 0.0)

    def worse(self, margin: float) -> bool:
        """The checkpoint fits this cache's durations worse than the probe by > `margin`."""
        return not self.gap <= margin

    @property
    def scaled(self) -> bool:
        """μ is a constant multiple of log d: scaling (μ, σ) by one factor far from 1 saves
        most of the gap (a head trained on log10 durations: k ≈ 2.303)."""
        return abs(self.log_factor - 1) > 0.25 and self.factor_nats > 0.5 * self.gap > 0

    @property
    def log10(self) -> bool:
        """The factor is ln 10 within 10%: the head was trained on log10 durations."""
        return self.scaled and abs(self.log_factor / math.log(10) - 1) < 0.1

    @property
    def cause(self) -> str:
        """The largest part of the gap: "scale" when μ is a constant multiple of log d, else
        "bias", "sigma" or "features"."""
        if self.scaled:
            return "scale"
        parts = {"bias": self.bias_nats, "sigma": self.sigma_nats, "features": self.rest_nats}
        return max(parts, key=lambda k: parts[k])

    def as_dict(self) -> dict[str, float | int | str]:
        return {
            "checkpoint_nll": self.checkpoint_nll,
            "probe_nll": self.probe_nll,
            "gap": self.gap,
            "mu_bias": self.mu_bias,
            "sigma_scale": self.sigma_scale,
            "bias_nats": self.bias_nats,
            "sigma_nats": self.sigma_nats,
            "rest_nats": self.rest_nats,
            "cause": self.cause,
            "log_factor": self.log_factor,
            "factor_nats": self.factor_nats,
            "log10": self.log10,
            "rows_fit": self.rows_fit,
            "rows_eval": self.rows_eval,
            "seconds": self.seconds,
        }


class DurationProbe(nn.Module):
    """(μ, log σ) of log-duration from standardized features and the length: the reference
    head's backbone and duration layer, without a profile head."""

    def __init__(self, cond_dim: int, hidden: int) -> None:
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Linear(cond_dim + 1, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
        )
        self.duration = nn.Linear(hidden, 2)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.duration(self.backbone(inputs))


def probe_inputs(
    cache: TimingCache, rows: torch.Tensor, mean: torch.Tensor, std: torch.Tensor
) -> torch.Tensor:
    """Standardized features and the length as a share of L, as the reference head sees them."""
    features = (cache.features[rows].float() - mean) / std
    length = cache.length[rows].float() / cache.max_len
    return torch.cat([features, length[:, None]], dim=-1)


def gap_parts(
    log_duration: torch.Tensor, mu: torch.Tensor, log_sigma: torch.Tensor
) -> tuple[float, float, float, float, float]:
    """(NLL, μ bias, bias nats, σ scale, σ nats) of a head's (μ, log σ) on real rows.

    The bias correction shifts every μ by the mean residual; the σ correction then scales
    every σ by the one factor that minimizes the NLL (the RMS of the standardized
    residuals), which has a closed form: log s + ½ (mean z²/s² − mean z²) is least at
    s² = mean z².
    """
    log_duration, mu, log_sigma = log_duration.double(), mu.double(), log_sigma.double()
    nll = float(duration_nll(mu, log_sigma, log_duration).mean())
    bias = float((log_duration - mu).mean())
    shifted = float(duration_nll(mu + bias, log_sigma, log_duration).mean())
    z2 = float((((log_duration - mu - bias) * torch.exp(-log_sigma)) ** 2).mean())
    scale = math.sqrt(z2) if z2 > 0 else 1.0
    rescaled = float(duration_nll(mu + bias, log_sigma + math.log(scale), log_duration).mean())
    return nll, bias, nll - shifted, scale, shifted - rescaled


def unit_factor(
    log_duration: torch.Tensor, mu: torch.Tensor, log_sigma: torch.Tensor
) -> tuple[float, float]:
    """(k, nats saved): the factor that best maps μ onto log d, and what scaling μ and σ by
    it would save. A head trained on log10 durations has k ≈ ln 10 and saves most of its
    gap; a healthy head has k ≈ 1 and saves nothing."""
    log_duration, mu, log_sigma = log_duration.double(), mu.double(), log_sigma.double()
    denominator = float((mu * mu).sum())
    if denominator <= 0:
        return 1.0, 0.0
    k = float((mu * log_duration).sum()) / denominator
    if not math.isfinite(k) or k <= 0:
        return 1.0, 0.0
    nll = float(duration_nll(mu, log_sigma, log_duration).mean())
    scaled = float(duration_nll(k * mu, log_sigma + math.log(k), log_duration).mean())
    return k, nll - scaled


def run_duration_fit(
    cache: TimingCache,
    mu: torch.Tensor,
    log_sigma: torch.Tensor,
    fit_rows: torch.Tensor,
    held_rows: torch.Tensor,
    *,
    hidden: int = 64,
    seed: int = 0,
    budget: ProbeBudget | None = None,
) -> DurationFit:
    """Fit the probe on `fit_rows`; compare it with the checkpoint's (μ, log σ) on `held_rows`.

    `mu` and `log_sigma` are the checkpoint's outputs on `held_rows`, in that order. The
    fit has the capacity probe's budget (steps, batch size, learning rate) and is seeded.
    """
    start = time.perf_counter()
    budget = budget or ProbeBudget()
    features = cache.features[fit_rows].float()
    std = features.std(dim=0) if len(fit_rows) > 1 else torch.ones(cache.feature_dim)
    std = torch.where(std > 1e-8, std, torch.ones_like(std))
    mean = features.mean(dim=0)
    inputs = probe_inputs(cache, fit_rows, mean, std)
    target = cache.log_duration[fit_rows].float()
    torch.manual_seed(seed)
    probe = DurationProbe(cache.feature_dim, hidden)
    with torch.no_grad():  # start at the marginal, as the trainer does
        probe.duration.bias[0] = float(target.mean())
        spread = float(target.std()) if len(target) > 1 else 1.0
        probe.duration.bias[1] = math.log(max(spread, 1e-3))
    params = list(probe.parameters())
    optimizer = Adam(params, lr=budget.lr)
    batches = torch.Generator().manual_seed(seed)
    n = len(fit_rows)
    for _ in range(budget.steps):
        pick = torch.randint(n, (min(budget.batch_size, n),), generator=batches)
        out = probe(inputs[pick])
        loss = duration_nll(out[:, 0], out[:, 1], target[pick]).mean()
        optimizer.step(torch.autograd.grad(loss, params))
    held_d = cache.log_duration[held_rows].double()
    with torch.no_grad():
        out = probe(probe_inputs(cache, held_rows, mean, std)).double()
    probe_nll = float(duration_nll(out[:, 0], out[:, 1], held_d).mean())
    nll, bias, bias_nats, scale, sigma_nats = gap_parts(held_d, mu, log_sigma)
    factor, factor_nats = unit_factor(held_d, mu, log_sigma)
    return DurationFit(
        checkpoint_nll=nll,
        probe_nll=probe_nll,
        mu_bias=bias,
        sigma_scale=scale,
        bias_nats=bias_nats,
        sigma_nats=sigma_nats,
        rows_fit=n,
        rows_eval=len(held_rows),
        seconds=time.perf_counter() - start,
        log_factor=factor,
        factor_nats=factor_nats,
    )


#: Rows whose log σ lies within this of the pile's value are "at" it.
PIN_WIDTH = 0.01


@dataclass(frozen=True)
class Pinning:
    """The share of rows whose log σ sits within PIN_WIDTH of its lowest (or highest)
    value: a bound that binds shows as a pile at one edge, a free σ as a spread."""

    value: float
    share: float
    edge: str  # "floor" or "ceiling"


def sigma_pinning(log_sigma: torch.Tensor) -> Pinning:
    """The edge of log σ over the rows with the most rows piled within PIN_WIDTH of it."""
    values = log_sigma.double().reshape(-1)
    values = values[torch.isfinite(values)]
    if values.numel() == 0:
        return Pinning(math.nan, 0.0, "floor")
    low, high = float(values.min()), float(values.max())
    at_low = float((values <= low + PIN_WIDTH).double().mean())
    at_high = float((values >= high - PIN_WIDTH).double().mean())
    if at_high > at_low:
        return Pinning(high, at_high, "ceiling")
    return Pinning(low, at_low, "floor")
