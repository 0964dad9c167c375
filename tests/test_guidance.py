import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from dreampose.guidance import branch_weights, combine, guided_eps


class FakeUNet:
    """A nonlinear but deterministic stand-in: eps depends on latent, pose and image condition."""

    def __init__(self):
        self.calls = []

    def __call__(self, x, t, encoder_hidden_states):
        self.calls.append(x.shape[0])
        z, pose = x[:, :4], x[:, 4:]
        img = encoder_hidden_states.mean(dim=(1, 2))[:, None, None, None]
        eps = torch.tanh(z) * (1 + img) + pose.mean(1, keepdim=True) ** 2 + 0.1 * img
        return SimpleNamespace(sample=eps)


@pytest.fixture
def inputs():
    torch.manual_seed(0)
    return torch.randn(3, 4, 8, 8), torch.randn(3, 5, 16) + 1, torch.randn(3, 10, 8, 8)


def branches(unet, z, c, pose):
    zero_c, zero_p = torch.zeros_like(c), torch.zeros_like(pose)
    run = lambda cc, pp: unet(torch.cat([z, pp], 1), 5, encoder_hidden_states=cc).sample  # noqa: E731
    return run(zero_c, zero_p), run(c, zero_p), run(c, pose)


def test_matches_the_papers_equation_term_by_term(inputs):
    z, c, pose = inputs
    unet = FakeUNet()
    u, i, f = branches(unet, z, c, pose)
    for s_i, s_p in [(8.0, 3.0), (1.0, 1.0), (0.0, 0.0), (2.5, 0.0), (0.0, 4.0), (-1.0, 2.0), (3.0, 3.0)]:
        expected = u + s_i * (i - u) + s_p * (f - i)
        assert torch.allclose(guided_eps(unet, z, 5, c, pose, s_i, s_p), expected, atol=1e-5)
        assert torch.allclose(combine(u, i, f, s_i, s_p), expected)


def test_special_cases(inputs):
    z, c, pose = inputs
    unet = FakeUNet()
    u, i, f = branches(unet, z, c, pose)
    assert torch.allclose(guided_eps(unet, z, 5, c, pose, 1.0, 1.0), f, atol=1e-6)  # full conditional
    assert torch.allclose(guided_eps(unet, z, 5, c, pose, 0.0, 0.0), u, atol=1e-6)  # unconditional
    assert torch.allclose(guided_eps(unet, z, 5, c, pose, 1.0, 0.0), i, atol=1e-6)  # image only


def test_linear_in_each_scale(inputs):
    z, c, pose = inputs
    unet = FakeUNet()
    g = lambda a, b: guided_eps(unet, z, 5, c, pose, a, b)  # noqa: E731
    assert torch.allclose(g(4.0, 3.0) - g(2.0, 3.0), 2 * (g(3.0, 3.0) - g(2.0, 3.0)), atol=1e-5)
    assert torch.allclose(g(5.0, 4.0) - g(5.0, 2.0), 2 * (g(5.0, 3.0) - g(5.0, 2.0)), atol=1e-5)


def test_branches_share_one_call_and_unneeded_ones_are_skipped(inputs):
    z, c, pose = inputs
    unet = FakeUNet()
    guided_eps(unet, z, 5, c, pose, 8.0, 3.0)
    guided_eps(unet, z, 5, c, pose, 1.0, 1.0)
    guided_eps(unet, z, 5, c, pose, 3.0, 0.0)
    assert unet.calls == [9, 3, 6]  # one call each; 3, 1 and 2 branches of batch 3
    assert list(branch_weights(8, 3)) == ["uncond", "image", "full"]
    assert list(branch_weights(1, 1)) == ["full"] and list(branch_weights(3, 3)) == ["uncond", "full"]


def test_numpy_and_tensor_scales_are_accepted(inputs):
    z, c, pose = inputs
    ref = guided_eps(FakeUNet(), z, 5, c, pose, 3.0, 2.0)
    assert torch.equal(guided_eps(FakeUNet(), z, 5, c, pose, np.float32(3.0), torch.tensor(2.0)), ref)


def test_per_sample_timesteps_follow_their_sample(inputs):
    z, c, pose = inputs
    seen = []

    def unet(x, t, encoder_hidden_states):
        seen.append(t)
        return SimpleNamespace(sample=x[:, :4] * t[:, None, None, None])

    t = torch.tensor([1.0, 2.0, 3.0])
    eps = guided_eps(unet, z, t, c, pose, 8.0, 3.0)
    assert torch.equal(seen[0], t.repeat(3)) and torch.allclose(eps, z * t[:, None, None, None])


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "3", None, True])
def test_non_finite_scale_is_a_clear_error(inputs, bad):
    z, c, pose = inputs
    with pytest.raises(ValueError, match="finite"):
        guided_eps(FakeUNet(), z, 5, c, pose, bad, 1.0)
