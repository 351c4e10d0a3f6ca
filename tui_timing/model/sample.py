"""Sample durations and Δt from a timing head on real rows (`timing-tui sample`, stage 5).

The plan's `compare_timing_sampler.py` (docs/README.md#the-plan): rows are drawn at random (seeded)
from the cache and sampled with their own features and lengths, so every fake row has a real twin to
be compared with. For each row the duration is drawn from the head's log-normal
(exp(μ + σ·ε)), the profile is the head's softmax at a temperature (logits / T), and
Δt = duration · profile. Rows are sampled a chunk at a time so that a live display can
fill its histogram as the chunks arrive; the model runs on the GPU when there is one.

A user's sampler replaces the built-in one with `--sampler module:function`. It is called
once per chunk as

    function(model, features, length, *, generator, temperature) -> dict

with `model` the checkpoint's module in eval mode (None when the checkpoint could not be
instantiated), `features` float32 [n, D] and `length` int64 [n] on the run's device, and a
seeded CPU `torch.Generator` (draw on the CPU, then move to the device: the same seed then
gives the same samples on any device). It returns {"duration": [n], "profile": [n, L]},
{"duration", "dt" or "delta_t"}, {"dt": [n, L]} (the duration is then the sum of Δt), or a
tuple (duration, profile) or (duration, dt), told apart by the rows' sums. A sampler object
that picks its own rows (model/user_sampler.py) gives chunks without twins (`rows` None).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from tui_timing.artifacts.cache import TimingCache
from tui_timing.config import Settings
from tui_timing.errors import UsageError
from tui_timing.model.heads import HeadOutputs, read_outputs
from tui_timing.model.user_model import bind_steps
from tui_timing.numerics.figures import QUANTILES, ks_distance, profile_bins, quantile_dict
from tui_timing.numerics.noise import quantile_interval, quantile_noise
from tui_timing.numerics.sampler_stats import (
    CacheValues,
    calibration,
    duration_ceiling,
    passthrough,
    profile_dispersion,
    profile_hashes,
    row_dispersion,
    same_durations,
    same_profiles,
    tempering,
)
from tui_timing.plugins import load_object

SamplerFn = Callable[..., Any]


@dataclass
class SampleChunk:
    """One chunk of sampled rows with the cache rows they twin."""

    rows: torch.Tensor | None  # int64 [n], row numbers in the cache; None: rows unknown
    duration: torch.Tensor  # float [n], sampled
    profile: torch.Tensor  # float [n, L], sampled
    length: torch.Tensor  # int64 [n], the rows' own lengths

    @property
    def dt(self) -> torch.Tensor:
        """Δt = duration · profile, [n, L]."""
        return self.duration[:, None] * self.profile


def load_sampler(spec: str) -> SamplerFn:
    """The user's `--sampler module:function` (UsageError when it cannot be imported)."""
    function = load_object(spec, "--sampler")
    if not callable(function):
        raise UsageError(f"--sampler {spec}: {type(function).__name__} is not callable")
    return function


def draw_rows(n_rows: int, samples: int, seed: int) -> torch.Tensor:
    """`samples` row numbers drawn at random: without replacement when the cache has enough."""
    generator = torch.Generator().manual_seed(seed)
    if samples <= n_rows:
        return torch.randperm(n_rows, generator=generator)[:samples]
    return torch.randint(n_rows, (samples,), generator=generator)


@torch.no_grad()
def reference_sampler(
    model: nn.Module | None,
    features: torch.Tensor,
    length: torch.Tensor,
    *,
    generator: torch.Generator,
    temperature: float,
) -> dict[str, torch.Tensor]:
    """The built-in sampler: a log-normal duration and the head's profile at temperature T."""
    if model is None:
        raise ValueError("the checkpoint has no model to sample from (give --model or --sampler)")
    out = read_outputs(model(features, length), temperature)
    noise = torch.randn(out.mu.shape, generator=generator).to(out.mu.device)
    duration = torch.exp(out.mu + out.log_sigma.exp() * noise)
    return {"duration": duration, "profile": out.profile}


def sample_chunks(
    model: nn.Module | None,
    cache: TimingCache,
    *,
    samples: int = Settings.samples,
    seed: int = 0,
    temperature: float = 1.0,
    device: torch.device | None = None,
    chunk_size: int = 256,
    sampler: SamplerFn | None = None,
) -> Iterator[SampleChunk]:
    """Sample `samples` random cache rows, `chunk_size` at a time (results on the CPU).

    Raises ValueError when the sampler's output does not fit the contract above.
    """
    device = device or torch.device("cpu")
    sampler = sampler or reference_sampler
    if model is not None:
        model.to(device).eval()
    rows = draw_rows(cache.n_rows, samples, seed)
    generator = torch.Generator().manual_seed(seed)
    for start in range(0, len(rows), chunk_size):
        chunk_rows = rows[start : start + chunk_size]
        length = cache.length[chunk_rows].long()
        with torch.no_grad():
            out = sampler(
                model,
                cache.features[chunk_rows].float().to(device),
                length.to(device),
                generator=generator,
                temperature=temperature,
            )
        duration, profile = duration_and_profile(out, len(chunk_rows), cache.max_len)
        yield SampleChunk(rows=chunk_rows, duration=duration, profile=profile, length=length)


@torch.no_grad()
def predict_rows(
    model: nn.Module, cache: TimingCache, rows: torch.Tensor, device: torch.device
) -> HeadOutputs:
    """The head's outputs (temperature 1) on the given cache rows, gathered on the CPU."""
    bind_steps(model, cache.max_len)
    model.to(device).eval()
    parts: list[HeadOutputs] = []
    for start in range(0, len(rows), 4096):
        chunk = rows[start : start + 4096]
        raw = model(cache.features[chunk].float().to(device), cache.length[chunk].long().to(device))
        parts.append(read_outputs(raw))
    return HeadOutputs(
        mu=torch.cat([p.mu.float().cpu() for p in parts]),
        log_sigma=torch.cat([p.log_sigma.float().cpu() for p in parts]),
        profile=torch.cat([p.profile.float().cpu() for p in parts]),
        logits=None,
        extras={
            name: torch.cat([p.extras[name].detach().float().cpu() for p in parts])
            for name in parts[0].extras
            if all(name in p.extras and p.extras[name].dim() for p in parts)
        },
    )


def duration_and_profile(out: Any, n: int, max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Check a sampler's output and bring it to the CPU as (duration [n], profile [n, L])."""
    if isinstance(out, (tuple, list)) and len(out) >= 2:
        out = _tuple_output(out[0], out[1], n, max_len)
    if not isinstance(out, dict):
        raise ValueError(
            "the sampler must return a dict (duration + profile, duration + dt, or dt) or "
            f"a tuple (duration, profile) / (duration, dt), not {type(out).__name__}"
        )
    if "dt" not in out and "delta_t" in out:
        out = {**out, "dt": out["delta_t"]}
    if "dt" in out and "profile" not in out:
        dt = torch.as_tensor(out["dt"]).detach().float().cpu()
        _require_shape("dt", dt, (n, max_len))
        duration = dt.sum(dim=1)
        if "duration" in out:
            duration = torch.as_tensor(out["duration"]).detach().float().cpu().reshape(-1)
            _require_shape("duration", duration, (n,))
        return duration, dt / dt.sum(dim=1).clamp_min(1e-30)[:, None]
    missing = [k for k in ("duration", "profile") if k not in out]
    if missing:
        raise ValueError(f"the sampler's output lacks {', '.join(missing)} (or give dt)")
    duration = torch.as_tensor(out["duration"]).detach().float().cpu().reshape(-1)
    profile = torch.as_tensor(out["profile"]).detach().float().cpu()
    _require_shape("duration", duration, (n,))
    _require_shape("profile", profile, (n, max_len))
    return duration, profile


def _tuple_output(first: Any, second: Any, n: int, max_len: int) -> dict[str, Any]:
    """(duration, profile) or (duration, dt): a profile's rows sum to 1, Δt rows to the
    duration; whichever the rows are closer to (in log ratio) decides."""
    duration = torch.as_tensor(first).detach().float().cpu().reshape(-1)
    steps = torch.as_tensor(second).detach().float().cpu()
    _require_shape("duration (first in the tuple)", duration, (n,))
    _require_shape("second tensor of the tuple", steps, (n, max_len))
    sums = steps.double().sum(dim=1).clamp_min(1e-30)
    off_one = (sums.log()).abs().nan_to_num(math.inf).median()
    off_duration = (sums.log() - duration.double().clamp_min(1e-30).log()).abs()
    off_duration = off_duration.nan_to_num(math.inf).median()
    if off_one <= off_duration:
        return {"duration": duration, "profile": steps}
    return {"duration": duration, "dt": steps}


def _require_shape(name: str, value: torch.Tensor, shape: tuple[int, ...]) -> None:
    if tuple(value.shape) != shape:
        raise ValueError(
            f"the sampler's {name} has shape {list(value.shape)}, expected {list(shape)}"
        )


def uniform_divergence(mean_profile: np.ndarray) -> float:
    """KL(mean profile ‖ uniform over all L steps): how much shape a profile has, in nats."""
    p = mean_profile[mean_profile > 0]
    return float(np.sum(p * np.log(p * len(mean_profile))))


@dataclass
class SampleStats:
    """Running figures of a sampler run, fake beside the same rows' real values (or, for a
    sampler that picks its own rows, beside the whole cache: `use_whole_cache`)."""

    max_len: int
    rows: int = 0
    real_rows: int = 0
    whole_cache: bool = False
    fake_duration: list[np.ndarray] = field(default_factory=list)
    real_duration: list[np.ndarray] = field(default_factory=list)
    padding_mass: list[np.ndarray] = field(default_factory=list)
    #: Per row: the sampled duration / profile is a copy of the real one (passthrough).
    same_duration: list[np.ndarray] = field(default_factory=list)
    same_profile: list[np.ndarray] = field(default_factory=list)
    #: With the whole cache: the cache's durations, and per row whether a sample moved off
    #: its value still lands on one (the chance level of `same_duration`).
    cache_values: CacheValues | None = None
    chance_duration: list[np.ndarray] = field(default_factory=list)
    #: Per row with two or more steps: the CV of its step shares, sampled and real.
    fake_cv: list[np.ndarray] = field(default_factory=list)
    real_cv: list[np.ndarray] = field(default_factory=list)
    #: The same for the head's own profile at temperature 1, when there is a head to run.
    head_cv: list[np.ndarray] = field(default_factory=list)
    #: Per row, in draw order: (log sampled duration − the head's μ) / its σ.
    head_z: list[np.ndarray] = field(default_factory=list)
    #: Per row: slope and correlation of log sampled profile on log head profile.
    temper_slope: list[np.ndarray] = field(default_factory=list)
    temper_corr: list[np.ndarray] = field(default_factory=list)
    nonfinite: int = 0
    negative: int = 0
    fake_profile_sum: np.ndarray = field(init=False)
    real_profile_sum: np.ndarray = field(init=False)
    #: Sums of squares per step and rows that reach each step: each bin's noise and support.
    fake_profile_sq: np.ndarray = field(init=False)
    real_profile_sq: np.ndarray = field(init=False)
    fake_reach: np.ndarray = field(init=False)
    real_reach: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.fake_profile_sum = np.zeros(self.max_len)
        self.real_profile_sum = np.zeros(self.max_len)
        self.fake_profile_sq = np.zeros(self.max_len)
        self.real_profile_sq = np.zeros(self.max_len)
        self.fake_reach = np.zeros(self.max_len)
        self.real_reach = np.zeros(self.max_len)

    def use_whole_cache(self, cache: TimingCache) -> None:
        """Compare with every cache row: the distributions, not row by row."""
        self.whole_cache = True
        self.real_duration = [cache.duration.double().numpy()]
        self.real_profile_sum = np.zeros(self.max_len)
        self.real_profile_sq = np.zeros(self.max_len)
        self.real_reach = np.zeros(self.max_len)
        self.real_cv = []
        hashes: set[int] = set()
        for rows in cache.row_chunks():
            real = cache.profile[rows].double()
            self._fold_real(real, cache.length[rows])
            self.real_cv.append(row_dispersion(real.numpy(), cache.length[rows].numpy()))
            hashes.update(profile_hashes(real.numpy()))
        self.real_rows = cache.n_rows
        self.cache_values = CacheValues.of(
            cache.duration.double().numpy(), _eps(cache.duration.dtype), frozenset(hashes)
        )

    def add(self, chunk: SampleChunk, cache: TimingCache) -> None:
        """Fold a chunk in, with its rows' real durations and profiles."""
        fake = chunk.profile.double()
        finite = torch.isfinite(fake).all(dim=1) & torch.isfinite(chunk.duration)
        self.nonfinite += int((~finite).sum())
        self.negative += int(((fake < 0).any(dim=1) | (chunk.duration < 0)).sum())
        fake = torch.nan_to_num(fake, nan=0.0, posinf=0.0, neginf=0.0)
        self.fake_profile_sum += fake.sum(dim=0).numpy()
        self.fake_profile_sq += (fake * fake).sum(dim=0).numpy()
        self.fake_reach += _reach(chunk.length, self.max_len)
        fake_d = chunk.duration.double().numpy()
        self.fake_duration.append(fake_d)
        length = chunk.length.numpy()
        self.fake_cv.append(row_dispersion(fake.numpy(), length))
        if chunk.rows is not None and not self.whole_cache:  # twins: compared row by row
            real = cache.profile[chunk.rows].double()
            real_d = cache.duration[chunk.rows].double().numpy()
            self._fold_real(real, chunk.length)
            self.real_duration.append(real_d)
            self.real_rows += len(chunk.rows)
            self.same_duration.append(same_durations(fake_d, real_d))
            self.same_profile.append(same_profiles(fake.numpy(), real.numpy(), length))
            self.real_cv.append(row_dispersion(real.numpy(), length))
        elif self.cache_values is not None:  # no twins: one of the cache's own values?
            self.same_duration.append(self.cache_values.matches(fake_d))
            self.chance_duration.append(self.cache_values.by_chance(fake_d))
            self.same_profile.append(self.cache_values.profile_matches(fake.numpy(), length))
        steps = torch.arange(self.max_len)
        beyond = steps[None, :] >= chunk.length[:, None]
        mass = (fake * beyond).sum(dim=1)
        # a row whose profile was not finite was zeroed above: its mass is unknown, not 0
        mass[~torch.isfinite(chunk.profile.double()).all(dim=1)] = float("nan")
        self.padding_mass.append(mass.numpy())
        self.rows += len(chunk.duration)

    def _fold_real(self, real: torch.Tensor, length: torch.Tensor) -> None:
        """Fold real rows into the mean profile's sums, squares and support."""
        self.real_profile_sum += real.sum(dim=0).numpy()
        self.real_profile_sq += (real * real).sum(dim=0).numpy()
        self.real_reach += _reach(length, self.max_len)

    def bin_noise(self) -> dict[str, dict[str, float]]:
        """Per first/mid/last bin: the standard error of the fake and real mean profile
        there (over rows, padding counted as 0) and the rows that reach it."""
        out: dict[str, dict[str, float]] = {}
        picks = {"first": 0, "mid": self.max_len // 2, "last": self.max_len - 1}
        for name, k in picks.items():
            figures: dict[str, float] = {}
            for side, total, squares, reach, n in (
                ("fake", self.fake_profile_sum, self.fake_profile_sq, self.fake_reach, self.rows),
                ("real", self.real_profile_sum, self.real_profile_sq, self.real_reach,
                 self.real_rows),
            ):  # fmt: skip
                mean = total[k] / max(n, 1)
                variance = max(squares[k] / max(n, 1) - mean * mean, 0.0)
                figures[f"{side}_se"] = math.sqrt(variance / max(n, 1))
                figures[f"{side}_support"] = float(reach[k])
            out[name] = figures
        return out

    def add_head(self, head: HeadOutputs, chunk: SampleChunk) -> None:
        """Fold in the head's own outputs (temperature 1) for a chunk's rows, so that a
        sampler that flattens, sharpens or roughens what the head predicts, or draws
        durations other than μ + σ·ε, can be told from one that samples it."""
        length = chunk.length.numpy()
        head_profile = head.profile.double().numpy()
        self.head_cv.append(row_dispersion(head_profile, length))
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (np.log(chunk.duration.double().numpy()) - head.mu.double().numpy()) / np.exp(
                head.log_sigma.double().numpy()
            )
        self.head_z.append(z)
        slope, corr = tempering(chunk.profile.double().numpy(), head_profile, length)
        self.temper_slope.append(slope)
        self.temper_corr.append(corr)

    def durations(self) -> tuple[np.ndarray, np.ndarray]:
        """(fake, real) durations of every row so far."""

        def joined(parts: list[np.ndarray]) -> np.ndarray:
            return np.concatenate(parts) if parts else np.zeros(0)

        return joined(self.fake_duration), joined(self.real_duration)

    def mean_profiles(self) -> tuple[np.ndarray, np.ndarray]:
        """(fake, real) mean profiles over the rows so far, padding counted as 0."""
        return (
            self.fake_profile_sum / max(self.rows, 1),
            self.real_profile_sum / max(self.real_rows, 1),
        )

    def summary(self) -> dict[str, Any]:
        """Quantiles, KS distance, first/mid/last, padding mass and shape of both sides."""
        fake_d, real_d = self.durations()
        fake_p, real_p = self.mean_profiles()
        finite = fake_d[np.isfinite(fake_d)]
        every_pad = np.concatenate(self.padding_mass) if self.padding_mass else np.zeros(0)
        pad = every_pad[np.isfinite(every_pad)]  # a NaN row has no measurable mass
        copies = passthrough(_joined(self.same_duration, bool), _joined(self.same_profile, bool))
        ceiling = duration_ceiling(finite, real_d)
        spread = profile_dispersion(_joined(self.fake_cv, float), _joined(self.real_cv, float))
        head_cv = _joined(self.head_cv, float)
        head = float(np.median(head_cv)) if head_cv.size else None
        calibrated = calibration(_joined(self.head_z, float))
        slope, corr = _joined(self.temper_slope, float), _joined(self.temper_corr, float)
        return {
            "rows": self.rows,
            "compared_with": "the whole cache" if self.whole_cache else "the same rows",
            "quantiles": {
                "fake": quantile_dict(finite),
                "real": quantile_dict(real_d),
            },
            "quantile_noise": {
                key: {
                    "judged": quantile_noise(real_d, q),
                    "interval": list(quantile_interval(real_d, q)),
                }
                for key, q in zip(quantile_dict(real_d), QUANTILES, strict=True)
            },
            "ks": ks_distance(finite, real_d),
            "bins": {"fake": profile_bins(fake_p), "real": profile_bins(real_p)},
            "bin_noise": self.bin_noise(),
            "padding_mass": {
                "mean": float(pad.mean()) if pad.size else 0.0,
                "max": float(pad.max()) if pad.size else 0.0,
                "rows": int(pad.size),
                "nonfinite_rows": int(every_pad.size - pad.size),
            },
            "divergence": {
                "fake": uniform_divergence(fake_p),
                "real": uniform_divergence(real_p),
            },
            "passthrough": {
                "duration_share": copies.duration_share,
                "profile_share": copies.profile_share,
                "share": copies.share,
                "rows": copies.rows,
                **self._cache_value_figures(),
            },
            "ceiling": {
                "value": ceiling.value,
                "at_ceiling": ceiling.at_ceiling,
                "share": ceiling.share,
                "real_above": ceiling.real_above,
            },
            "dispersion": {
                "fake": spread.fake,
                "real": spread.real,
                "ratio": spread.ratio,
                "rows": spread.rows,
                "head": head,
                "head_ratio": spread.fake / head if head else None,
            },
            "calibration": {
                "rows": calibrated.rows,
                "mean": calibrated.mean,
                "sd": calibrated.sd,
                "lag1": calibrated.lag1,
                "bands": calibrated.bands(),
                "off": calibrated.off() if calibrated.rows >= 3 else [],
            },
            "tempering": {
                "rows": int(slope.size),
                "slope": float(np.median(slope)) if slope.size else None,
                "corr": float(np.median(corr)) if corr.size else None,
            },
            "nonfinite": self.nonfinite,
            "negative": self.negative,
        }

    def _cache_value_figures(self) -> dict[str, Any]:
        """For a sampler with no twins: what its durations were compared with, and how
        often a draw lands on a cache value by chance (empty otherwise)."""
        if self.cache_values is None:
            return {}
        chance = _joined(self.chance_duration, bool)
        return {
            "against": "the cache's own durations",
            "chance_share": float(chance.mean()) if chance.size else 0.0,
            "tolerance_rel": self.cache_values.rel,
        }


def _eps(dtype: torch.dtype) -> float:
    """The machine epsilon of a stored dtype (0 for integers: exact)."""
    return float(torch.finfo(dtype).eps) if dtype.is_floating_point else 0.0


def _reach(length: torch.Tensor, max_len: int) -> np.ndarray:
    """How many of the rows reach each step (their length is beyond it)."""
    steps = torch.arange(max_len)
    return (steps[None, :] < length.long()[:, None]).sum(dim=0).double().numpy()


def _joined(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    """The chunks' per-row arrays as one (empty before the first chunk)."""
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def comparison_table(summary: dict[str, Any]) -> str:
    """The `timing-tui sample` printout: fake beside real, with relative errors."""
    fake_q, real_q = summary["quantiles"]["fake"], summary["quantiles"]["real"]
    fake_b, real_b = summary["bins"]["fake"], summary["bins"]["real"]
    lines = [f"{'duration (s)':<14}{'fake':>12}{'real':>12}{'rel. error':>12}"]
    for q in real_q:
        error = abs(fake_q[q] - real_q[q]) / abs(real_q[q]) if real_q[q] else float("nan")
        lines.append(f"{q:<14}{fake_q[q]:>12.4g}{real_q[q]:>12.4g}{error:>12.1%}")
    lines += [f"{'KS distance':<14}{summary['ks']:>12.3f}", ""]
    lines.append(f"{'mean profile':<14}{'fake':>12}{'real':>12}{'ratio':>12}")
    for key in ("first", "mid", "last"):
        ratio = fake_b[key] / real_b[key] if real_b[key] else float("nan")
        lines.append(f"{key:<14}{fake_b[key]:>12.4g}{real_b[key]:>12.4g}{ratio:>12.3g}")
    pad, shape = summary["padding_mass"], summary["divergence"]
    lines += [
        "",
        f"mass beyond each row's length: mean {pad['mean']:.3g}, max {pad['max']:.3g}",
        f"shape (KL of the mean profile from uniform): fake {shape['fake']:.3g}, "
        f"real {shape['real']:.3g} nats",
    ]
    return "\n".join(lines)
