"""The sampler: seeded rows with their own features and lengths, chunks, user samplers, CLI."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from sample_paths import CACHE, INCREMENTS
from torch import nn

from tui_timing.artifacts.cache import TimingCache, as_timing_cache, load_cache
from tui_timing.cli import main
from tui_timing.config import Settings
from tui_timing.model.checkpoint import load_checkpoint
from tui_timing.model.sample import draw_rows, load_sampler, sample_chunks

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def cache() -> TimingCache:
    return as_timing_cache(load_cache(CACHE))


@pytest.fixture(scope="module")
def model() -> nn.Module | None:
    return load_checkpoint(INCREMENTS, Settings()).model


def test_rows_are_seeded_and_drawn_without_replacement_when_possible() -> None:
    rows = draw_rows(100, 60, seed=1)
    assert len(set(rows.tolist())) == 60
    assert torch.equal(rows, draw_rows(100, 60, seed=1))
    assert not torch.equal(rows, draw_rows(100, 60, seed=2))
    assert len(draw_rows(10, 25, seed=0)) == 25  # more samples than rows: with replacement


def test_chunks_cover_the_samples_with_each_rows_own_length(
    cache: TimingCache, model: nn.Module
) -> None:
    chunks = list(sample_chunks(model, cache, samples=600, seed=0, chunk_size=256))
    assert [len(c.rows) for c in chunks] == [256, 256, 88]
    for chunk in chunks:
        assert torch.equal(chunk.length, cache.length[chunk.rows])
        assert torch.allclose(chunk.dt.sum(dim=1), chunk.duration, rtol=1e-5)
        beyond = torch.arange(cache.max_len)[None, :] >= chunk.length[:, None]
        assert float(chunk.profile[beyond].abs().max()) == 0.0
        assert bool((chunk.duration > 0).all())


def test_same_seed_same_samples(cache: TimingCache, model: nn.Module) -> None:
    a = torch.cat([c.duration for c in sample_chunks(model, cache, samples=300, seed=5)])
    b = torch.cat([c.duration for c in sample_chunks(model, cache, samples=300, seed=5)])
    c = torch.cat([c.duration for c in sample_chunks(model, cache, samples=300, seed=6)])
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_temperature_flattens_each_rows_profile(cache: TimingCache, model: nn.Module) -> None:
    def spread(temperature: float) -> float:
        """Mean max/min ratio of the profile over each row's valid steps."""
        chunk = next(sample_chunks(model, cache, samples=256, temperature=temperature))
        ratios = [
            float(row[:n].max() / row[:n].min())
            for row, n in zip(chunk.profile, chunk.length.tolist(), strict=True)
        ]
        return sum(ratios) / len(ratios)

    assert 1.0 <= spread(50.0) < spread(1.0)


def user_module(folder: Path, name: str, body: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Write a user's module into `folder`, made importable from the working directory."""
    (folder / f"{name}.py").write_text(textwrap.dedent(body))
    monkeypatch.chdir(folder)
    return name


def test_a_users_sampler_returning_dt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: TimingCache
) -> None:
    name = user_module(
        tmp_path,
        "sampler_dt_user",
        """
        import torch

        def sample(model, features, length, *, generator, temperature):
            steps = torch.arange(128, device=length.device)[None, :] < length[:, None]
            return {"dt": steps.float() * 0.01}
        """,
        monkeypatch,
    )
    sampler = load_sampler(f"{name}:sample")
    chunk = next(sample_chunks(None, cache, samples=10, sampler=sampler))
    assert torch.allclose(chunk.duration, chunk.length.float() * 0.01)
    assert torch.allclose(chunk.profile.sum(dim=1), torch.ones(10))


@pytest.mark.parametrize(
    ("returned", "problem"),
    [
        ("torch.zeros(3)", "must return a dict"),
        ('{"duration": torch.ones(len(length))}', "lacks profile"),
        ('{"duration": torch.ones(2), "profile": torch.ones(len(length), 128)}', "duration"),
    ],
)
def test_a_sampler_breaking_the_contract_is_named(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cache: TimingCache,
    returned: str,
    problem: str,
) -> None:
    name = user_module(
        tmp_path,
        f"sampler_bad_{abs(hash(returned))}",
        f"""
        import torch

        def sample(model, features, length, *, generator, temperature):
            return {returned}
        """,
        monkeypatch,
    )
    with pytest.raises(ValueError, match=problem):
        next(sample_chunks(None, cache, samples=10, sampler=load_sampler(f"{name}:sample")))


def test_cli_sample_prints_fake_beside_real() -> None:
    result = CliRunner().invoke(
        main, ["sample", "--checkpoint", str(INCREMENTS), "--cache", str(CACHE), "--samples", "300"]
    )
    assert result.exit_code == 0, result.output
    for figure in ("q05", "q95", "KS distance", "first", "mid", "last", "rel. error"):
        assert figure in result.output
    assert "300 rows" in result.output


def test_cli_sample_refuses_a_cache_given_as_checkpoint() -> None:
    result = CliRunner().invoke(main, ["sample", "--checkpoint", str(CACHE), "--cache", str(CACHE)])
    assert result.exit_code == 2
    assert "no weights found" in result.output
