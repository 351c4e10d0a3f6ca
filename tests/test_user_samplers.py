"""The user's sampler in the forms research code writes it: an object that
picks its own rows, built by a class's `from_checkpoint` or `from_pretrained`, and a call
that does not fit its signature (ours to say, not theirs).

The samplers are written to a temporary folder reached only through `pythonpath`; the
cache is the bundled sample cache (real Balabit rows) and stage 5 runs as `check` runs it.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from sample_paths import CACHE

from tui_timing.config import ArtifactPaths, Settings
from tui_timing.stages.runner import load_artifacts, run_stage

SAMPLERS = '''
import torch


class FromCache:
    """Picks its own rows; `mix` = 0 hands back the cache's own durations and profiles,
    1 draws log-normal durations and Dirichlet profiles."""

    def __init__(self, cache_path, mix):
        rows = torch.load(cache_path, weights_only=True)
        self.duration, self.profile, self.mask = rows["duration"], rows["profile"], rows["mask"]
        self.mix = mix

    @classmethod
    def from_checkpoint(cls, checkpoint_path, cache_path, *, device, mix=0.0):
        return cls(cache_path, mix)

    @classmethod
    def from_pretrained(cls, folder, device=None):
        cache = next(p for p in __import__("pathlib").Path(folder).glob("*_timing.pt"))
        return cls(cache, 1.0)

    def sample(self, n):
        pick = torch.randint(0, len(self.duration), (n,))
        mask = self.mask[pick].bool()
        log_d = self.duration.log()
        drawn_d = torch.exp(log_d.mean() + log_d.std() * torch.randn(n))
        alpha = torch.where(mask, 2.0, 1e-3)
        drawn_p = torch.distributions.Dirichlet(alpha).sample() * mask
        drawn_p = drawn_p / drawn_p.sum(-1, keepdim=True)
        keep = self.mix == 0.0
        return {
            "duration": self.duration[pick] if keep else drawn_d,
            "profile": self.profile[pick] if keep else drawn_p,
            "mask": mask,
        }


def wrong_form(checkpoint, device):
    """Neither a sampler function nor a factory the contract names."""
    raise AssertionError("never called: the call does not fit")


def raises_inside(model, features, length, *, generator=None):
    return {"duration": torch.ones(len(features)) + "x"}
'''


@pytest.fixture()
def src(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "samplers.py").write_text(textwrap.dedent(SAMPLERS))
    before = list(sys.path)
    yield folder
    sys.path[:] = before
    sys.modules.pop("samplers", None)


def stage5(
    src: Path, spec: str, checkpoint: Path | None = None, cache: Path = CACHE, **kwargs: object
) -> object:
    settings = Settings(
        sampler_spec=spec, pythonpath=(src,), sampler_kwargs=dict(kwargs), samples=512
    )
    ctx = load_artifacts(ArtifactPaths(cache=cache, checkpoint=checkpoint), settings)
    return run_stage(ctx, 5)


def test_own_rows_handing_back_cache_values_is_passthrough(src: Path) -> None:
    """No sample has a twin, but every duration is one of the cache's values: fail."""
    result = stage5(src, "samplers:FromCache.from_checkpoint", mix=0.0)
    check = result.check("sampler.passthrough")  # type: ignore[attr-defined]
    assert check.status == "fail", check.message
    measured = check.measured
    assert measured["duration_share"] == 1.0 and measured["profile_share"] > 0.9
    # the chance level, computed here: draws from the same log-normal landing within the
    # tolerance of a cache value
    values = np.unique(torch.load(CACHE, weights_only=True)["duration"].double().numpy())
    draws = np.exp(np.random.default_rng(0).normal(np.log(values).mean(), 0.8, 4000))
    nearest = np.abs(values[np.clip(np.searchsorted(values, draws), 0, values.size - 1)] - draws)
    chance = float(np.mean(nearest <= measured["tolerance_rel"] * draws))
    assert abs(measured["chance_share"] - chance) < 0.05, (measured, chance)


def test_own_rows_that_draw_pass(src: Path) -> None:
    result = stage5(src, "samplers:FromCache.from_checkpoint", mix=1.0)
    check = result.check("sampler.passthrough")  # type: ignore[attr-defined]
    assert check.status == "pass", check.message
    assert "values of the cache" in check.message


def test_a_coarse_cache_lets_draws_land_on_its_values_by_chance(src: Path, tmp_path: Path) -> None:
    """A float16 cache's durations are known to ~1e-3: a drawn value lands on one of them
    by chance often. That chance is measured, and a drawing sampler still passes."""
    rows = torch.load(CACHE, weights_only=True)
    half = {**rows, "duration": rows["duration"].half(), "profile": rows["profile"].half()}
    coarse = tmp_path / "half_timing.pt"
    torch.save(half, coarse)
    check = stage5(src, "samplers:FromCache.from_checkpoint", cache=coarse, mix=1.0)
    passthrough = check.check("sampler.passthrough")  # type: ignore[attr-defined]
    measured = passthrough.measured
    assert measured["tolerance_rel"] == pytest.approx(float(np.finfo(np.float16).eps))
    assert measured["chance_share"] > 0.05  # material at this precision
    assert abs(measured["duration_share"] - measured["chance_share"]) < 0.1
    assert passthrough.status == "pass", passthrough.message


def test_from_pretrained_sampler_gets_the_checkpoint_folder(src: Path, tmp_path: Path) -> None:
    """`Class.from_pretrained` builds a sampler object from the folder (never called as a
    sampler function with (model, features, length))."""
    from safetensors.torch import save_file

    folder = tmp_path / "checkpoint-9"
    folder.mkdir()
    save_file({"head.weight": torch.zeros(2, 10)}, str(folder / "model.safetensors"))
    (folder / "train_timing.pt").write_bytes(CACHE.read_bytes())  # what their sampler reads
    result = stage5(src, "samplers:FromCache.from_pretrained", checkpoint=folder)
    run = result.check("sampler.run")  # type: ignore[attr-defined]
    assert run.status == "pass", run.message
    assert "picks its own rows" in run.message
    assert result.check("sampler.passthrough").status == "pass"  # type: ignore[attr-defined]


def test_a_call_that_does_not_fit_is_ours_a_raise_inside_is_theirs(src: Path) -> None:
    from tui_timing.plugins import CallMismatch

    settings = Settings(sampler_spec="samplers:wrong_form", pythonpath=(src,), samples=64)
    ctx = load_artifacts(ArtifactPaths(cache=CACHE), settings)
    result = run_stage(ctx, 5)
    (error,) = ctx.user_errors
    assert isinstance(error, CallMismatch)
    assert error.problem.startswith("timing-tui called samplers:wrong_form(")
    assert "does not fit samplers:wrong_form(checkpoint, device)" in error.problem
    assert "could not call your plug-in" in result.checks[0].message
    settings = Settings(sampler_spec="samplers:raises_inside", pythonpath=(src,), samples=64)
    ctx = load_artifacts(ArtifactPaths(cache=CACHE), settings)
    run_stage(ctx, 5)
    (error,) = ctx.user_errors
    assert not isinstance(error, CallMismatch)
    assert "raised TypeError" in error.problem and "samplers.py:" in error.problem
