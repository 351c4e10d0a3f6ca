"""The user's own sampler (`sampler = "pkg.mod:name"`, docs/artifacts.md#your-own-repo), in either
of its forms.

- A function `f(model, features, length, *, generator=None, temperature=1.0, **kwargs)`
  sampling the rows it is given; it is called with the parameters it declares, plus the
  table's `sampler_kwargs`.
- A factory (a class's `from_checkpoint`, say) called as `factory(checkpoint_path=...,
  cache_path=..., device=..., **sampler_kwargs)` with the parameters it declares, or a
  class's `from_pretrained` called with the checkpoint's folder, that returns an object
  whose `.sample(n)` picks its own rows and returns them with their `mask`. Its samples
  have no real twins: stage 5 then compares distributions with the whole cache, and its
  durations with the cache's own values. The global torch generator is seeded (and
  restored after) so that such a sampler is repeatable too.

Both go through `call_user`, so what they raise is reported as the user's.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tui_timing.artifacts.cache import TimingCache
from tui_timing.errors import UsageError
from tui_timing.model.sample import SampleChunk, duration_and_profile, sample_chunks
from tui_timing.model.user_model import UserModel
from tui_timing.plugins import call_user, describe_call, is_from_pretrained, load_object

#: Parameters that make a callable a factory of sampler objects rather than a sampler.
FACTORY_PARAMS = ("checkpoint_path", "cache_path")


@dataclass
class SamplerRun:
    """Where sampling happens and what with: the stage's settings for one run."""

    model: nn.Module | None
    cache: TimingCache
    samples: int
    seed: int
    temperature: float
    device: torch.device
    chunk_size: int


@dataclass
class UserSampler:
    """A loaded `sampler` plug-in: its name, and whether it picks its own rows."""

    spec: str
    target: Callable[..., Any]
    kwargs: dict[str, Any]
    own_rows: bool

    def chunks(
        self, run: SamplerRun, *, checkpoint: Path | None, cache_path: Path
    ) -> Iterator[SampleChunk]:
        """The sampled chunks (on the CPU), as `sample_chunks` gives them."""
        if self.own_rows:
            yield from self._object_chunks(run, checkpoint, cache_path)
            return
        yield from sample_chunks(
            run.model,
            run.cache,
            samples=run.samples,
            seed=run.seed,
            temperature=run.temperature,
            device=run.device,
            chunk_size=run.chunk_size,
            sampler=self._function,
        )

    def _function(
        self,
        model: nn.Module | None,
        features: torch.Tensor,
        length: torch.Tensor,
        *,
        generator: torch.Generator,
        temperature: float,
    ) -> Any:
        offered = {"generator": generator, "temperature": temperature, **self.kwargs}
        kwargs = _accepted(self.target, offered)
        if isinstance(model, UserModel):
            model = model.inner  # their sampler is written for their model, not our wrapper
        return call_user(self.spec, self.target, model, features, length, **kwargs)

    def _object_chunks(
        self, run: SamplerRun, checkpoint: Path | None, cache_path: Path
    ) -> Iterator[SampleChunk]:
        offered: dict[str, Any] = {"cache_path": str(cache_path), "device": run.device}
        args: list[Any] = []
        if is_from_pretrained(self.spec):
            args = [str(_folder_of(checkpoint)) if checkpoint is not None else None]
        else:
            offered["checkpoint_path"] = str(checkpoint) if checkpoint is not None else None
        kwargs = {**_accepted(self.target, offered), **self.kwargs}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(run.seed)
            sampler = call_user(self.spec, self.target, *args, **kwargs)
            sample = getattr(sampler, "sample", None)
            if not callable(sample):
                raise ValueError(
                    f"{describe_call(self.spec, args, kwargs)} returned "
                    f"{type(sampler).__name__}, which has no sample(n) method"
                )
            name = f"{type(sampler).__name__}.sample"
            done = 0
            while done < run.samples:
                n = min(run.chunk_size, run.samples - done)
                out = call_user(name, sample, n)
                yield _own_rows_chunk(name, out, n, run.cache.max_len)
                done += n


def load_user_sampler(
    spec: str, pythonpath: tuple[Path, ...], sampler_kwargs: dict[str, Any]
) -> UserSampler:
    """Import the plug-in and tell its form by its parameters; check `sampler_kwargs`."""
    target = load_object(spec, "--sampler", pythonpath)
    if not callable(target):
        raise UsageError(f"--sampler {spec}: {type(target).__name__} is not callable")
    params = _parameters(target) or []
    own_rows = (
        inspect.isclass(target)
        or any(p in params for p in FACTORY_PARAMS)
        or is_from_pretrained(spec)
    )
    takes_any = not params or "**" in params
    unknown = [k for k in sampler_kwargs if not takes_any and k not in params]
    if unknown:
        raise UsageError(
            f"[tool.timing-tui] sampler_kwargs has {', '.join(unknown)}, which {spec} does "
            f"not take (its parameters: {', '.join(p for p in params if p != '**')})"
        )
    return UserSampler(spec=spec, target=target, kwargs=dict(sampler_kwargs), own_rows=own_rows)


def _folder_of(checkpoint: Path) -> Path:
    """The checkpoint's folder, what `from_pretrained` is given (the folder itself when
    the checkpoint was named as one)."""
    return checkpoint if checkpoint.is_dir() else checkpoint.parent


def _parameters(func: Callable[..., Any]) -> list[str] | None:
    """Parameter names ("**" for a **kwargs catch-all); None when there is no signature."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return None
    return ["**" if p.kind == p.VAR_KEYWORD else p.name for p in params]


def _accepted(func: Callable[..., Any], offered: dict[str, Any]) -> dict[str, Any]:
    """The offered keyword arguments the callable declares (all of them for **kwargs)."""
    params = _parameters(func)
    if params is None or "**" in params:
        return dict(offered)
    return {k: v for k, v in offered.items() if k in params}


def _own_rows_chunk(name: str, out: Any, n: int, max_len: int) -> SampleChunk:
    """A chunk from `.sample(n)`: its duration and profile, lengths from its mask."""
    mask = out.get("mask") if isinstance(out, dict) else None
    if mask is None:
        raise ValueError(
            f"{name}({n}) picks its own rows, so it must return their mask with them "
            f"(a dict with mask, duration and profile or dt); it returned "
            f"{', '.join(map(str, out)) if isinstance(out, dict) else type(out).__name__}"
        )
    duration, profile = duration_and_profile(out, n, max_len)
    mask = torch.as_tensor(mask).detach().cpu()
    if tuple(mask.shape) != (n, max_len):
        raise ValueError(
            f"{name}({n})'s mask has shape {list(mask.shape)}, expected {[n, max_len]}"
        )
    length = (mask != 0).sum(dim=1).to(torch.int64)
    return SampleChunk(rows=None, duration=duration, profile=profile, length=length)
