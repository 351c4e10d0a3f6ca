"""A research repo's own code, as `timing-tui` meets it through `--model`, `--sampler` and
`--dataset`: the faults that were found in a real repo, planted here.

- `TanhSigmaHead` (`verdict_plugins:make_tanh_head`): a timing head whose log σ is
  `base + range·tanh(z)` with `base` the standard deviation of log-duration (as the repo
  did), so log σ can never go below `base − range`; trained by `train_tanh_head`, its own
  entry point, it sits at that floor on most rows while the residual spread is far smaller;
- samplers (`verdict_plugins:<name>`), each `f(model, features, length, *, generator,
  temperature)` as the sampler contract says: `passthrough` hands back the cache's own rows
  (a profile/duration mix of 0); `clipped` draws from the head and clips durations at a
  quantile of the cache's; `dirichlet` draws each profile from a Dirichlet with a low
  concentration around the head's profile; `hot` samples the head at temperature 5;
  `cold` at temperature 0.5; `wide` draws durations with 2.5× the head's σ;
  `log_sigma_as_sigma` uses log σ where σ belongs; `shared_noise` draws one ε for the whole
  chunk; `full_length` runs the head at full length for every row to get μ and σ;
- datasets (`verdict_plugins:<Class>`): `Log10Dataset` serves log10 durations as the
  log-duration; `ShortDataset` leaves the last 200 rows out of every epoch;
  `NextRowProfileDataset` serves the next row's profile, mask and length beside each row's
  duration (an index off by one in one tensor); `StandardizedDataset` standardizes the
  features per column (harmless: the same rows);
- `foreign_state_dict`: the healthy head's weights renamed as another codebase names them,
  with the duration head as two one-output layers (`mu_head`, `log_std_head`).

The samplers that need the cache (the passthrough one copies its rows, the clip reads its
quantile) find it through `use_cache`, as a repo's sampler holds its own dataset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from tui_timing.artifacts.cache import TimingCache, as_timing_cache, load_cache
from tui_timing.artifacts.stats_logger import TimingStatsLogger
from tui_timing.data.dataset import TimingDataset, collate_timing
from tui_timing.model.heads import HeadConfig, TimingHead, read_outputs
from tui_timing.model.train import batch_losses, evaluate, head_config_for, init_from_data

#: The cache the samplers read (set by `use_cache`), and its rows by feature bytes.
_STATE: dict[str, Any] = {}


def use_cache(path: Path) -> None:
    """Point the samplers at the cache they are run on."""
    cache = as_timing_cache(load_cache(path))
    _STATE["cache"] = cache
    _STATE["rows"] = {cache.features[i].numpy().tobytes(): i for i in range(cache.n_rows)}


def _cache() -> TimingCache:
    if "cache" not in _STATE:
        raise RuntimeError("verdict_plugins.use_cache(path) was not called")
    cache: TimingCache = _STATE["cache"]
    return cache


# --- a log σ bounded by base + range·tanh(z) ------------------------------------------------


class TanhSigmaHead(TimingHead):
    """The reference head with the real repo's duration head: log σ = base + range·tanh(z)."""

    def __init__(self, config: HeadConfig, base: float = 0.0, span: float = 0.5) -> None:
        super().__init__(config)
        self.register_buffer("sigma_base", torch.tensor(float(base)))
        self.register_buffer("sigma_range", torch.tensor(float(span)))

    def forward(self, features: torch.Tensor, length: torch.Tensor) -> dict[str, torch.Tensor]:
        out = super().forward(features, length)
        out["log_sigma"] = self.sigma_base + self.sigma_range * torch.tanh(out["log_sigma"])
        return out


def make_tanh_head(config: dict[str, Any]) -> TanhSigmaHead:
    """The `--model` factory: the config's dimensions; base and range come with the weights."""
    return TanhSigmaHead(HeadConfig.from_dict(config))


def train_tanh_head(cache_path: Path, out: Path, epochs: int, seed: int = 0) -> Path:
    """The repo's own training entry point: NLL + KL, Adam, writes checkpoint and stats."""
    dataset = TimingDataset(cache_path)
    config = head_config_for(dataset.cache)
    torch.manual_seed(seed)
    base = float(dataset.cache.log_duration.double().std())
    model = TanhSigmaHead(config, base=base)
    rows = list(range(len(dataset)))
    init_from_data(model, dataset, rows)
    with torch.no_grad():
        model.duration.bias[1] = 0.0  # tanh(0): start in the middle of the range
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loader = DataLoader(
        dataset,
        batch_size=256,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
        collate_fn=collate_timing,
    )
    evaluation = DataLoader(dataset, batch_size=1024, collate_fn=collate_timing)
    out.mkdir(parents=True, exist_ok=True)
    with TimingStatsLogger(out / "stats.jsonl", max_len=dataset.cache.max_len) as stats:
        for epoch in range(1, epochs + 1):
            model.train()
            for batch in loader:
                nll, prof, _ = batch_losses(model, batch)
                optimizer.zero_grad()
                (nll + prof).mean().backward()
                optimizer.step()
            evaluate(model, evaluation, torch.device("cpu"), "train", stats)
            stats.end_epoch(epoch)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    torch.save({"model": state, "config": config.as_dict(), "epoch": epochs}, out / "checkpoint.pt")
    return out / "checkpoint.pt"


# --- samplers -------------------------------------------------------------------------------


def passthrough(
    model: nn.Module | None,
    features: torch.Tensor,
    length: torch.Tensor,
    *,
    generator: torch.Generator,
    temperature: float = 1.0,
) -> dict[str, torch.Tensor]:
    """Profile and duration mix 0: each row's real duration and profile, from the cache."""
    cache = _cache()
    index = torch.tensor([_STATE["rows"][f.cpu().numpy().tobytes()] for f in features])
    return {"duration": cache.duration[index].clone(), "profile": cache.profile[index].clone()}


def _draw(
    model: nn.Module | None,
    features: torch.Tensor,
    length: torch.Tensor,
    generator: torch.Generator,
    temperature: float,
    sigma_factor: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    if model is None:
        raise ValueError("this sampler needs the checkpoint's model")
    out = read_outputs(model(features, length), temperature)
    noise = torch.randn(out.mu.shape, generator=generator)
    duration = torch.exp(out.mu + sigma_factor * out.log_sigma.exp() * noise)
    return duration, out.profile


def clipped(
    model: nn.Module | None,
    features: torch.Tensor,
    length: torch.Tensor,
    *,
    generator: torch.Generator,
    temperature: float = 1.0,
) -> dict[str, torch.Tensor]:
    """The head's draw, durations clipped at the cache's 94th percentile."""
    duration, profile = _draw(model, features, length, generator, temperature)
    ceiling = float(torch.quantile(_cache().duration.double(), 0.94))
    return {"duration": duration.clamp(max=ceiling), "profile": profile}


def dirichlet(
    model: nn.Module | None,
    features: torch.Tensor,
    length: torch.Tensor,
    *,
    generator: torch.Generator,
    temperature: float = 1.0,
) -> dict[str, torch.Tensor]:
    """Profiles drawn from Dirichlet(5 · the head's profile) over the valid steps."""
    duration, profile = _draw(model, features, length, generator, temperature)
    valid = torch.arange(profile.shape[1])[None, :] < length[:, None]
    alpha = (5.0 * profile.double()).clamp_min(1e-3)
    gamma = torch._standard_gamma(alpha, generator=generator)
    draws = torch.where(valid, gamma, torch.zeros_like(gamma))
    return {"duration": duration, "profile": (draws / draws.sum(dim=1, keepdim=True)).float()}


def hot(
    model: nn.Module | None,
    features: torch.Tensor,
    length: torch.Tensor,
    *,
    generator: torch.Generator,
    temperature: float = 1.0,
) -> dict[str, torch.Tensor]:
    """The head sampled at temperature 5 (logits / 5): a sampler setting left too high."""
    duration, profile = _draw(model, features, length, generator, 5.0)
    return {"duration": duration, "profile": profile}


def wide(
    model: nn.Module | None,
    features: torch.Tensor,
    length: torch.Tensor,
    *,
    generator: torch.Generator,
    temperature: float = 1.0,
) -> dict[str, torch.Tensor]:
    """Durations drawn with 2.5× the head's σ."""
    duration, profile = _draw(model, features, length, generator, temperature, sigma_factor=2.5)
    return {"duration": duration, "profile": profile}


def cold(
    model: nn.Module | None,
    features: torch.Tensor,
    length: torch.Tensor,
    *,
    generator: torch.Generator,
    temperature: float = 1.0,
) -> dict[str, torch.Tensor]:
    """The head sampled at temperature 0.5 (logits × 2): a sampler colder than its head."""
    duration, profile = _draw(model, features, length, generator, 0.5)
    return {"duration": duration, "profile": profile}


def log_sigma_as_sigma(
    model: nn.Module | None,
    features: torch.Tensor,
    length: torch.Tensor,
    *,
    generator: torch.Generator,
    temperature: float = 1.0,
) -> dict[str, torch.Tensor]:
    """log d = μ + log σ · ε: the head's log σ used where σ belongs."""
    if model is None:
        raise ValueError("this sampler needs the checkpoint's model")
    out = read_outputs(model(features, length), temperature)
    noise = torch.randn(out.mu.shape, generator=generator)
    return {"duration": torch.exp(out.mu + out.log_sigma * noise), "profile": out.profile}


def shared_noise(
    model: nn.Module | None,
    features: torch.Tensor,
    length: torch.Tensor,
    *,
    generator: torch.Generator,
    temperature: float = 1.0,
) -> dict[str, torch.Tensor]:
    """One ε drawn per call and shared by every row of the chunk."""
    if model is None:
        raise ValueError("this sampler needs the checkpoint's model")
    out = read_outputs(model(features, length), temperature)
    noise = torch.randn(1, generator=generator)
    return {"duration": torch.exp(out.mu + out.log_sigma.exp() * noise), "profile": out.profile}


def full_length(
    model: nn.Module | None,
    features: torch.Tensor,
    length: torch.Tensor,
    *,
    generator: torch.Generator,
    temperature: float = 1.0,
) -> dict[str, torch.Tensor]:
    """μ and σ from the head run at full length for every row; the profile at the row's."""
    if model is None:
        raise ValueError("this sampler needs the checkpoint's model")
    out = read_outputs(model(features, length), temperature)
    full = read_outputs(model(features, torch.full_like(length, _cache().max_len)), temperature)
    noise = torch.randn(out.mu.shape, generator=generator)
    return {"duration": torch.exp(full.mu + full.log_sigma.exp() * noise), "profile": out.profile}


# --- datasets ---------------------------------------------------------------------------------


class NextRowProfileDataset(TimingDataset):
    """Each row's duration and features beside the next row's profile, mask and length."""

    def __init__(self, cache_path: str) -> None:
        super().__init__(cache_path)
        for key in ("profile", "mask", "length"):
            self._columns[key] = torch.roll(self._columns[key], -1, dims=0)


class ShiftedProfileDataset(TimingDataset):
    """Each row's profile rolled one step later within its valid steps: the row's own Δt
    served one step late (an off-by-one between the profile and the mask)."""

    def __init__(self, cache_path: str) -> None:
        super().__init__(cache_path)
        profile = self._columns["profile"].clone()
        for row, steps in enumerate(self._columns["length"].tolist()):
            profile[row, :steps] = torch.roll(profile[row, :steps], 1)
        self._columns["profile"] = profile


class StandardizedDataset(TimingDataset):
    """Features standardized per column (mean 0, sd 1): harmless, the same rows."""

    def __init__(self, cache_path: str) -> None:
        super().__init__(cache_path)
        features = self._columns["features"].float()
        std = features.std(dim=0).clamp_min(1e-8)
        self._columns["features"] = (features - features.mean(dim=0)) / std


class Log10Dataset(TimingDataset):
    """Serves log10(duration) as the log-duration."""

    def __init__(self, cache_path: str) -> None:
        super().__init__(cache_path)
        self._columns["log_duration"] = torch.log10(self.cache.duration)


class ShortDataset(TimingDataset):
    """Leaves the last 200 rows out of every epoch (a length computed from stale data)."""

    def __len__(self) -> int:
        return max(self.cache.n_rows - 200, 1)


# --- a checkpoint of another codebase ---------------------------------------------------------


def foreign_state_dict(checkpoint: Path) -> dict[str, torch.Tensor]:
    """The reference head's weights under another codebase's names, its (μ, log σ) layer
    split into two one-output layers."""
    state = torch.load(checkpoint, weights_only=True)["model"]
    weight, bias = state["duration.weight"], state["duration.bias"]
    out: dict[str, torch.Tensor] = {
        "encoder.fc1.weight": state["backbone.0.weight"],
        "encoder.fc1.bias": state["backbone.0.bias"],
        "encoder.fc2.weight": state["backbone.2.weight"],
        "encoder.fc2.bias": state["backbone.2.bias"],
        "mu_head.weight": weight[:1].clone(),
        "mu_head.bias": bias[:1].clone(),
        "log_std_head.weight": weight[1:].clone(),
        "log_std_head.bias": bias[1:].clone(),
    }
    for key, value in state.items():
        if key.startswith("profile."):
            out["step_head." + key.split(".", 1)[1]] = value
    return out
