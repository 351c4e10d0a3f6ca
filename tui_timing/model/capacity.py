"""The capacity probe: can the checkpoint's profile parameterization fit this cache at all?

A flat sampler has two very different causes: an architecture that cannot represent the
cache's sharp decay (bounded logits, a softmax over padding, ...), or a training/sampling
problem in an architecture that could. The probe tells them apart by experiment: it fits
the checkpoint's own configuration and each healthy alternative briefly on the cache, all
under the same conditions, and compares what they reach.

Fairness and trust:
- every candidate gets the checkpoint's backbone size, the same seeded subsample of rows,
  the same seeded initialisation and batches, the same optimizer and the same fixed number
  of steps (a fixed budget, so the probe costs the same on any cache);
- every candidate is fitted with the same objective, KL(target ‖ profile): the probe asks
  what each parameterization can *represent*, whatever loss the checkpoint was trained
  with (stage 4 judges the training);
- candidates are scored on held-out rows: their profile KL, and the first/mid/last bins of
  their mean predicted profile against the same rows' real ones.

A candidate *reaches the cache's shape* when its first bin is within `first_rel` of the
real one and its mid and last bins within `bin_factor` (or both below `floor`). The best
candidate has the lowest held-out KL among those that reach the shape (near-ties go to the
checkpoint's own configuration, then to the plan's preference (docs/README.md#the-plan)). The
checkpoint's configuration is *clearly worse* when its held-out KL exceeds the best one's by more
than `margin` (relative).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from tui_timing.artifacts.cache import TimingCache
from tui_timing.model.heads import HeadConfig, TimingHead, profile_kl, valid_steps
from tui_timing.model.threads import one_cpu_thread
from tui_timing.numerics.figures import profile_bins
from tui_timing.numerics.noise import MIN_SUPPORT

#: The healthy alternatives: each profile head, masked, unbounded, told the length. The
#: order is the preference among near-ties: the plan's suggestion (docs/README.md#the-plan)
#: (increments) first.
HEALTHY_HEADS = ("increments", "templates", "monotonic", "linear")
#: Held-out KLs within this share of the lowest are a tie: the difference is noise of a
#: brief fit, not a reason to change architecture.
TIE_SHARE = 0.02


#: Fits already made on one cache, by configuration, budget, seed, target and device.
FitMemo = dict[tuple[str, "ProbeBudget", int, "ShapeTarget", str], "CandidateFit"]


@dataclass(frozen=True)
class ProbeBudget:
    """The fixed cost of one candidate fit: rows, steps and batch size."""

    fit_rows: int = 2048
    eval_rows: int = 1024
    steps: int = 150
    batch_size: int = 256
    lr: float = 1e-2


@dataclass
class CandidateFit:
    """One parameterization after its brief fit, scored on the held-out rows."""

    name: str
    config: HeadConfig
    profile_kl: float
    first: float
    mid: float
    last: float
    reaches_shape: bool
    seconds: float


@dataclass
class ProbeResult:
    """All candidates, the best one, and the verdict on the checkpoint's configuration."""

    candidates: dict[str, CandidateFit]
    checkpoint_name: str | None
    best: str
    real: dict[str, float]
    #: Held-out KL of a profile uniform over each row's valid steps: what the mask alone gives.
    baseline_kl: float
    margin: float
    rows_fit: int
    rows_eval: int
    seconds: float

    @property
    def checkpoint_fit(self) -> CandidateFit | None:
        return self.candidates.get(self.checkpoint_name) if self.checkpoint_name else None

    @property
    def can_fit(self) -> bool | None:
        """Whether the checkpoint's configuration reaches the cache's shape (None: untested)."""
        fit = self.checkpoint_fit
        return None if fit is None else fit.reaches_shape

    @property
    def excess(self) -> float | None:
        """How much worse (relative) the checkpoint's held-out KL is than the best's."""
        fit = self.checkpoint_fit
        if fit is None:
            return None
        best = self.candidates[self.best].profile_kl
        return (fit.profile_kl - best) / max(abs(best), 1e-12)

    @property
    def clearly_worse(self) -> bool | None:
        excess = self.excess
        return None if excess is None else excess > self.margin


def config_name(config: HeadConfig) -> str:
    """A short name for a parameterization: the head plus whatever makes it unhealthy."""
    parts = [config.profile_head]
    if config.logit_bound is not None:
        parts.append(f"bound={config.logit_bound:g}")
    if not config.mask_padding:
        parts.append("no-mask")
    if not config.length_input:
        parts.append("no-length")
    return "+".join(parts)


def healthy_configs(base: HeadConfig) -> list[HeadConfig]:
    """Each profile head at `base`'s size, with the healthy knobs."""
    return [
        dataclasses.replace(
            base,
            profile_head=head,
            logit_bound=None,
            mask_padding=True,
            length_input=True,
            logsigma_min=None,
            logsigma_max=None,
            profile_loss="kl",
        )
        for head in HEALTHY_HEADS
    ]


def probe_rows(n_rows: int, budget: ProbeBudget, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded subsample split into fit and held-out rows (2:1 when the cache is small)."""
    order = torch.randperm(n_rows, generator=torch.Generator().manual_seed(seed))
    wanted = budget.fit_rows + budget.eval_rows
    if n_rows >= wanted:
        return order[: budget.fit_rows], order[budget.fit_rows : wanted]
    n_fit = max(1, (2 * n_rows) // 3)
    return order[:n_fit], order[n_fit:] if n_rows > n_fit else order[:n_fit]


@dataclass(frozen=True)
class ShapeTarget:
    """The held-out rows' real first/mid/last bins and how close a fit must come."""

    first: float
    mid: float
    last: float
    first_rel: float
    bin_factor: float
    floor: float
    #: Held-out rows that reach the mid and last bins: a bin fewer than MIN_SUPPORT rows
    #: reach is noise (0 or a few rows' shares), so it is not judged.
    mid_support: int = MIN_SUPPORT
    last_support: int = MIN_SUPPORT

    def reached(self, bins: dict[str, float]) -> bool:
        """First bin within `first_rel`; mid and last within `bin_factor` (or both tiny),
        each where enough held-out rows reach it."""
        if not abs(bins["first"] - self.first) <= self.first_rel * max(self.first, self.floor):
            return False
        for got, want, support in (
            (bins["mid"], self.mid, self.mid_support),
            (bins["last"], self.last, self.last_support),
        ):
            if support < MIN_SUPPORT or (got <= self.floor and want <= self.floor):
                continue
            if got <= 0 or want <= 0 or max(got / want, want / got) > self.bin_factor:
                return False
        return True


def fit_candidate(
    name: str,
    config: HeadConfig,
    data: dict[str, torch.Tensor],
    fit: torch.Tensor,
    held: torch.Tensor,
    budget: ProbeBudget,
    seed: int,
    target: ShapeTarget,
) -> CandidateFit:
    """Fit one parameterization for the fixed budget; score it on the held-out rows.

    The model is initialised on the CPU and then moved to `data`'s device, so a seed gives
    the same starting weights on any device.
    """
    start = time.perf_counter()
    torch.manual_seed(seed)
    model = TimingHead(config).to(data["profile"].device)
    feats = data["features"][fit]
    model.set_feature_scale(feats.mean(dim=0), feats.std(dim=0))
    optimizer = Adam(list(model.parameters()), lr=budget.lr)
    batches = torch.Generator().manual_seed(seed)
    for _ in range(budget.steps):
        rows = fit[torch.randint(len(fit), (min(budget.batch_size, len(fit)),), generator=batches)]
        logits = model(data["features"][rows], data["length"][rows])["logits"]
        loss = profile_kl(logits, data["profile"][rows]).mean()
        optimizer.step(torch.autograd.grad(loss, optimizer.params, allow_unused=True))
    model.eval()
    with torch.no_grad():
        logits = model(data["features"][held], data["length"][held])["logits"]
        kl = float(profile_kl(logits, data["profile"][held]).mean())
        bins = mean_profile_bins(torch.softmax(logits, dim=-1))
    return CandidateFit(
        name=name,
        config=config,
        profile_kl=kl if math.isfinite(kl) else math.inf,
        first=bins["first"],
        mid=bins["mid"],
        last=bins["last"],
        reaches_shape=target.reached(bins),
        seconds=time.perf_counter() - start,
    )


class Adam:
    """Adam with torch's defaults: the update of `torch.optim.Adam` (its single-tensor path).

    Why not torch.optim: constructing any of its optimizers imports torch._dynamo, which
    costs 1 to 1.7 s and 70 MB on a CPU box, more than all the probe's fits together.
    The update is a handful of tensor ops, written as torch writes them so that the same
    seed gives the same fit.
    """

    def __init__(
        self,
        params: list[torch.nn.Parameter],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = params
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps
        self.exp_avg = [torch.zeros_like(p) for p in params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in params]
        self.steps = 0

    @torch.no_grad()
    def step(self, grads: tuple[torch.Tensor | None, ...]) -> None:
        """Apply one update; a parameter without a gradient (None) is left alone, as torch does
        (the probe's loss does not reach the duration head)."""
        self.steps += 1
        bias_correction1 = 1 - self.beta1**self.steps
        bias_correction2_sqrt = (1 - self.beta2**self.steps) ** 0.5
        step_size = self.lr / bias_correction1
        for param, grad, exp_avg, exp_avg_sq in zip(
            self.params, grads, self.exp_avg, self.exp_avg_sq, strict=True
        ):
            if grad is None:
                continue
            exp_avg.lerp_(grad, 1 - self.beta1)
            exp_avg_sq.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
            param.addcdiv_(exp_avg, denom, value=-step_size)


def mean_profile_bins(profiles: torch.Tensor) -> dict[str, float]:
    """First, mid and last bins (0, L // 2, L − 1) of the mean of [N, L] profiles."""
    return profile_bins(profiles.double().mean(dim=0).cpu().numpy())


def run_probe(
    cache: TimingCache,
    checkpoint_config: HeadConfig | None,
    *,
    seed: int = 0,
    budget: ProbeBudget | None = None,
    margin: float = 0.25,
    first_rel: float = 0.25,
    bin_factor: float = 3.0,
    floor: float = 1e-6,
    on_candidate: Callable[[int, int, str], None] | None = None,
    device: torch.device | None = None,
    fitted: FitMemo | None = None,
) -> ProbeResult:
    """Fit the checkpoint's configuration (when known) and each healthy alternative.

    `checkpoint_config` None means the checkpoint's parameterization is not one the probe
    can build (a user's model, a statically read state_dict): only the alternatives run.
    The checkpoint's dimensions decide the backbone size; the cache decides the rest.
    `on_candidate(done, total, name)` is called before each fit (progress, cancellation).
    `device` (default the CPU) is where the fits run; the rows and batches drawn are the same.
    `fitted` keeps fits of this cache across calls: a fit depends only on the cache, its
    configuration, the budget, the seed and the target, so a second checkpoint of the same
    size (two runs compared, a run switched in the TUI) refits only its own configuration.
    """
    budget = budget or ProbeBudget()
    with one_cpu_thread():
        return _run_probe(
            cache,
            checkpoint_config,
            seed,
            budget,
            margin,
            first_rel,
            bin_factor,
            floor,
            on_candidate,
            device or torch.device("cpu"),
            {} if fitted is None else fitted,
        )


def _run_probe(
    cache: TimingCache,
    checkpoint_config: HeadConfig | None,
    seed: int,
    budget: ProbeBudget,
    margin: float,
    first_rel: float,
    bin_factor: float,
    floor: float,
    on_candidate: Callable[[int, int, str], None] | None,
    device: torch.device,
    fitted: FitMemo,
) -> ProbeResult:
    start = time.perf_counter()
    fit_rows, held_rows = probe_rows(cache.n_rows, budget, seed)
    data = _gather(cache, torch.cat([fit_rows, held_rows]), device)
    fit = torch.arange(len(fit_rows))
    held = torch.arange(len(fit_rows), len(fit_rows) + len(held_rows))

    base = checkpoint_config or HeadConfig(cond_dim=cache.feature_dim, max_len=cache.max_len)
    base = dataclasses.replace(base, cond_dim=cache.feature_dim, max_len=cache.max_len)
    candidates: dict[str, HeadConfig] = {config_name(c): c for c in healthy_configs(base)}
    checkpoint_name = None
    if checkpoint_config is not None:
        checkpoint_name = config_name(base)
        candidates.setdefault(checkpoint_name, base)

    real = mean_profile_bins(data["profile"][held])
    held_length = data["length"][held].long()
    target = ShapeTarget(
        **real,
        first_rel=first_rel,
        bin_factor=bin_factor,
        floor=floor,
        mid_support=int((held_length > cache.max_len // 2).sum()),
        last_support=int((held_length >= cache.max_len).sum()),
    )
    fits: dict[str, CandidateFit] = {}
    for done, (name, config) in enumerate(candidates.items()):
        if on_candidate is not None:
            on_candidate(done, len(candidates), name)
        key = (repr(config), budget, seed, target, str(device))
        if key not in fitted:
            fitted[key] = fit_candidate(name, config, data, fit, held, budget, seed, target)
        fits[name] = fitted[key]
    best = pick_best(fits, checkpoint_name)
    return ProbeResult(
        candidates=fits,
        checkpoint_name=checkpoint_name,
        best=best,
        real=real,
        baseline_kl=_uniform_kl(data["profile"][held], data["length"][held]),
        margin=margin,
        rows_fit=len(fit),
        rows_eval=len(held),
        seconds=time.perf_counter() - start,
    )


def pick_best(fits: dict[str, CandidateFit], checkpoint_name: str | None) -> str:
    """The candidate with the lowest held-out KL among those that reach the cache's shape.

    Near-ties (within TIE_SHARE) go to the checkpoint's own configuration, then to the
    order of HEALTHY_HEADS, so that the probe never recommends a change for noise.
    """
    reaching = [f for f in fits.values() if f.reaches_shape] or list(fits.values())
    lowest = min(f.profile_kl for f in reaching)
    tied = [f.name for f in reaching if f.profile_kl <= lowest + TIE_SHARE * abs(lowest)]
    order = [checkpoint_name, *HEALTHY_HEADS]
    return min(tied, key=lambda name: order.index(name) if name in order else len(order))


def _uniform_kl(profile: torch.Tensor, length: torch.Tensor) -> float:
    """Mean KL(target ‖ uniform over the row's valid steps)."""
    flat = torch.zeros_like(profile).masked_fill(~valid_steps(length, profile.shape[1]), -math.inf)
    return float(profile_kl(flat, profile).mean())


def _gather(
    cache: TimingCache, rows: torch.Tensor, device: torch.device
) -> dict[str, torch.Tensor]:
    """The probe's rows as small dense tensors on `device`."""
    return {
        "features": cache.features[rows].float().to(device),
        "length": cache.length[rows].long().to(device),
        "profile": cache.profile[rows].float().to(device),
    }
