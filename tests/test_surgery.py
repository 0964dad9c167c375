import pytest
import torch

from dreampose.models.surgery import expand_conv_in, n_poses_of

from dummies import dummy_base


@pytest.mark.parametrize("n_poses", [1, 5])
def test_modified_unet_equals_the_original_for_any_pose(n_poses):
    base = dummy_base()
    original = base.unet
    modified = expand_conv_in(dummy_base().unet, n_poses)
    assert modified.config.in_channels == 4 + 2 * n_poses and n_poses_of(modified) == n_poses
    torch.manual_seed(1)
    z = torch.randn(2, 4, 8, 8)
    states = torch.randn(2, 17, 16)
    with torch.no_grad():
        ref = original(z, 10, encoder_hidden_states=states).sample
        for pose in (torch.randn(2, 2 * n_poses, 8, 8), torch.zeros(2, 2 * n_poses, 8, 8)):
            out = modified(torch.cat([z, pose], 1), 10, encoder_hidden_states=states).sample
            assert torch.allclose(out, ref, atol=1e-6)


def test_pretrained_weights_and_bias_are_copied_only_new_channels_zero():
    base = dummy_base()
    w, b = base.unet.conv_in.weight.clone(), base.unet.conv_in.bias.clone()
    unet = expand_conv_in(base.unet, 5)
    assert torch.equal(unet.conv_in.weight[:, :4], w) and torch.equal(unet.conv_in.bias, b)
    assert (unet.conv_in.weight[:, 4:] == 0).all() and unet.conv_in.weight.shape[1] == 14
    assert all((w[:, c] != 0).any() for c in range(4))  # no pretrained latent channel zeroed


def pitfall_zeroed_latent_channel(unet, n_poses):
    expand_conv_in(unet, n_poses)
    with torch.no_grad():
        unet.conv_in.weight[:, 3] = 0
    return unet


def pitfall_random_bias(unet, n_poses):
    expand_conv_in(unet, n_poses)
    with torch.no_grad():
        unet.conv_in.bias.normal_()
    return unet


@pytest.mark.parametrize("pitfall", [pitfall_zeroed_latent_channel, pitfall_random_bias])
def test_the_equivalence_check_catches_the_known_public_pitfalls(pitfall):
    """The equivalence test above would fail for both bugs of public reimplementations."""
    original = dummy_base().unet
    broken = pitfall(dummy_base().unet, 5)
    z, states = torch.randn(1, 4, 8, 8), torch.randn(1, 17, 16)
    with torch.no_grad():
        ref = original(z, 10, encoder_hidden_states=states).sample
        out = broken(torch.cat([z, torch.zeros(1, 10, 8, 8)], 1), 10, encoder_hidden_states=states).sample
    assert not torch.allclose(out, ref, atol=1e-6)


def test_bad_calls():
    with pytest.raises(ValueError, match="positive odd"):
        expand_conv_in(dummy_base().unet, 2)
    with pytest.raises(ValueError, match="already"):
        expand_conv_in(expand_conv_in(dummy_base().unet, 1), 5)


def test_save_and_load_keep_the_new_channels(tmp_path):
    from diffusers import UNet2DConditionModel

    unet = expand_conv_in(dummy_base().unet, 5)
    unet.save_pretrained(tmp_path)
    back = UNet2DConditionModel.from_pretrained(tmp_path)
    assert back.config.in_channels == 14 and torch.equal(back.conv_in.weight, unet.conv_in.weight)


def test_not_a_dreampose_unet():
    with pytest.raises(ValueError, match="not a DreamPose UNet"):
        n_poses_of(dummy_base().unet)
