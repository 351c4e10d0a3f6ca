"""The reference timing head: each knob does what docs/artifacts.md#checkpoint says, and the losses
stay finite."""

from __future__ import annotations

import math

import pytest
import torch

from tui_timing.model.heads import (
    HeadConfig,
    TimingHead,
    duration_nll,
    profile_kl,
    profile_loss,
    read_outputs,
    valid_steps,
)
from tui_timing.model.options import PROFILE_HEADS

L = 16


def batch(n: int = 6, d: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(n, d, generator=generator)
    length = torch.tensor([1, 3, 7, 16, 2, 9][:n])
    return features, length


def head(**knobs: object) -> TimingHead:
    torch.manual_seed(0)
    return TimingHead(HeadConfig(cond_dim=5, max_len=L, hidden=8, **knobs))


@torch.no_grad()
def forward(model: TimingHead, features: torch.Tensor, length: torch.Tensor) -> dict:
    return model(features, length)


@pytest.mark.parametrize("profile_head", PROFILE_HEADS)
def test_masked_profiles_live_on_valid_steps(profile_head: str) -> None:
    features, length = batch()
    out = forward(head(profile_head=profile_head), features, length)
    assert out["mu"].shape == out["log_sigma"].shape == (6,)
    profile = torch.softmax(out["logits"], dim=-1)
    valid = valid_steps(length, L)
    assert torch.allclose(profile.sum(dim=1), torch.ones(6))
    assert float(profile[~valid].abs().max()) == 0.0


def test_without_masking_mass_leaks_onto_padding() -> None:
    features, length = batch()
    profile = torch.softmax(forward(head(mask_padding=False), features, length)["logits"], dim=-1)
    assert float(profile[~valid_steps(length, L)].sum()) > 0.1


def test_logit_bound_caps_how_peaked_a_profile_can_be() -> None:
    features, length = batch()
    model = head(profile_head="linear", logit_bound=0.3, mask_padding=False)
    with torch.no_grad():
        model.profile.logits.weight.mul_(100.0)
    logits = forward(model, features, length)["logits"]
    assert float(logits.abs().max()) <= 0.3 + 1e-6
    profile = torch.softmax(logits, dim=-1)
    ratio = profile.max(dim=1).values / profile.min(dim=1).values
    assert float(ratio.max()) <= math.exp(0.6) + 1e-5


def test_logsigma_clamps_apply() -> None:
    features, length = batch()
    model = head(logsigma_min=-0.5, logsigma_max=-0.4)
    with torch.no_grad():
        model.duration.bias.fill_(3.0)
    log_sigma = forward(model, features, length)["log_sigma"]
    assert torch.allclose(log_sigma, torch.full_like(log_sigma, -0.4))


def test_monotonic_profiles_only_decay() -> None:
    features, length = batch()
    model = head(profile_head="monotonic")
    with torch.no_grad():
        model.profile.decrements.bias.fill_(0.0)
    profile = torch.softmax(forward(model, features, length)["logits"], dim=-1)
    for row, n in enumerate(length.tolist()):
        assert torch.all(profile[row, 1:n] <= profile[row, : n - 1] + 1e-7)


def test_length_input_changes_the_input_width() -> None:
    assert head().backbone[0].in_features == 6
    assert head(length_input=False).backbone[0].in_features == 5


def test_features_are_standardized_with_stored_buffers() -> None:
    model = head()
    model.set_feature_scale(torch.full((5,), 2.0), torch.tensor([1.0, 0.0, 2.0, 1.0, 1.0]))
    state = model.state_dict()
    assert torch.equal(state["feature_mean"], torch.full((5,), 2.0))
    assert float(state["feature_std"][1]) == 1.0  # a constant column is not divided by 0


def test_losses_and_grads_are_finite_with_zero_steps_and_masked_logits() -> None:
    features, length = batch()
    model = head()
    target = torch.zeros(6, L)
    for row, n in enumerate(length.tolist()):
        target[row, :n] = torch.rand(n)
        target[row, 0] = 0.0 if n > 1 else target[row, 0]  # a real zero-Δt step
        target[row] /= target[row].sum()
    out = model(features, length)
    for kind in ("kl", "mse"):
        loss = profile_loss(out["logits"], target, kind).mean()
        loss.backward(retain_graph=True)
        assert math.isfinite(float(loss.detach()))
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_kl_is_zero_for_a_perfect_prediction() -> None:
    target = torch.tensor([[0.5, 0.5, 0.0, 0.0]])
    logits = torch.tensor([[0.0, 0.0, -math.inf, -math.inf]])
    assert float(profile_kl(logits, target)) == pytest.approx(0.0, abs=1e-7)


def test_duration_nll_is_the_gaussian_nll_of_log_duration() -> None:
    value = duration_nll(torch.tensor([0.0]), torch.tensor([0.0]), torch.tensor([0.0]))
    assert float(value) == pytest.approx(0.5 * math.log(2 * math.pi))


def test_read_outputs_accepts_the_three_forms() -> None:
    mu, log_sigma = torch.zeros(2), torch.zeros(2)
    logits = torch.tensor([[0.0, 0.0], [0.0, -math.inf]])
    from_dict = read_outputs({"mu": mu, "log_sigma": log_sigma, "logits": logits})
    from_tuple = read_outputs((mu, log_sigma, logits))
    given = read_outputs({"mu": mu, "log_sigma": log_sigma, "profile": torch.tensor([[3.0, 1.0]])})
    assert torch.equal(from_dict.profile, from_tuple.profile)
    assert from_dict.profile.tolist() == [[0.5, 0.5], [1.0, 0.0]]
    assert given.profile.tolist() == [[0.75, 0.25]]
    hot = read_outputs({"mu": mu, "log_sigma": log_sigma, "logits": logits}, temperature=100.0)
    assert float(hot.profile[0, 0]) == pytest.approx(0.5)


def test_read_outputs_names_what_a_model_does_not_return() -> None:
    with pytest.raises(ValueError, match="log_sigma"):
        read_outputs({"mu": torch.zeros(1), "logits": torch.zeros(1, 2)})
    with pytest.raises(ValueError, match="dict"):
        read_outputs(torch.zeros(3))


@pytest.mark.parametrize(
    ("knobs", "problem"),
    [
        ({"profile_head": "spline"}, "profile_head"),
        ({"profile_loss": "l1"}, "profile_loss"),
        ({"logit_bound": 0.0}, "logit_bound"),
        ({"logsigma_min": 1.0, "logsigma_max": 0.0}, "logsigma_min"),
        ({"hidden": 0}, "hidden"),
    ],
)
def test_unusable_configs_are_refused(knobs: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        HeadConfig(cond_dim=3, **knobs)


def test_config_round_trips_through_plain_values() -> None:
    config = HeadConfig(cond_dim=3, feature_names=["a", "b", "c"], logit_bound=0.5)
    values = config.as_dict()
    assert HeadConfig.from_dict({**values, "unknown": 1}) == config
    assert all(isinstance(v, (int, float, str, bool, list, type(None))) for v in values.values())
