import pytest
import torch

from dreampose.models.adapter import DreamPoseAdapter, null_image_condition

from dummies import dummy_base


def adapter(mode="clip+vae"):
    b = dummy_base()
    return DreamPoseAdapter.for_encoders(b.image_encoder, b.unet, b.vae, mode)


def test_zero_init_equals_clip_only():
    a = adapter()
    clip = torch.randn(2, 17, 16)
    assert torch.equal(a(clip, torch.randn(2, 4, 8, 8)), clip)
    assert torch.equal(adapter("clip")(clip), clip)


def test_vae_branch_adds_spatial_detail_once_trained():
    a = adapter()
    with torch.no_grad():
        a.vae_patch.weight.normal_()
    clip = torch.randn(1, 17, 16)
    z = torch.zeros(1, 4, 8, 8)
    z2 = z.clone()
    z2[:, :, :2, :2] = 1.0  # top-left latent cell only
    diff = (a(clip, z2) - a(clip, z)).abs().sum(-1)[0]
    assert diff[1] > 0 and (diff[2:] == 0).all()  # only the top-left patch token changes (CLS: global, zero)


def test_square_crop_matches_clips_centre_crop():
    a = adapter()
    with torch.no_grad():
        a.vae_patch.weight.normal_()
    clip = torch.zeros(1, 17, 16)
    tall = torch.zeros(1, 4, 12, 8)
    tall[:, :, :2] = 5.0  # outside the centre square: CLIP would not see it either
    assert torch.equal(a(clip, tall), a(clip, torch.zeros(1, 4, 12, 8)))


def test_save_load_round_trip(tmp_path):
    a = adapter()
    with torch.no_grad():
        a.vae_global.bias.fill_(0.5)
    a.save_pretrained(tmp_path)
    b = DreamPoseAdapter.from_pretrained(tmp_path)
    clip, z = torch.randn(1, 17, 16), torch.randn(1, 4, 8, 8)
    assert torch.equal(a(clip, z), b(clip, z)) and b.config.mode == "clip+vae"


@pytest.mark.parametrize("clip_dim, width, grid, latent, tokens", [
    (64, 64, 8, (16, 16), 65),  # tiny base: 8x8 patches + CLS, 16x16x4 latents
    (768, 768, 7, (80, 64), 50),  # SD 1.5 + CLIP ViT-B/32 at 640x512 (paper)
])
def test_documented_shapes(clip_dim, width, grid, latent, tokens):
    a = DreamPoseAdapter(clip_dim, width, grid=grid)
    with torch.no_grad():
        a.vae_patch.weight.normal_()
    out = a(torch.randn(2, tokens, clip_dim), torch.randn(2, 4, *latent))
    assert out.shape == (2, tokens, width) and torch.isfinite(out).all()


def test_projection_for_other_widths_starts_as_documented_identity():
    clip = torch.randn(2, 17, 16)
    wider = DreamPoseAdapter(16, 24, grid=4, mode="clip")(clip)
    narrower = DreamPoseAdapter(16, 8, grid=4, mode="clip")(clip)
    assert torch.equal(wider[..., :16], clip) and (wider[..., 16:] == 0).all()
    assert torch.equal(narrower, clip[..., :8])


def test_errors():
    with pytest.raises(ValueError, match="17 CLIP tokens"):
        adapter()(torch.randn(1, 10, 16), torch.randn(1, 4, 8, 8))
    with pytest.raises(ValueError, match="one of"):
        DreamPoseAdapter(16, 16, mode="vae")
    with pytest.raises(ValueError, match="c_VAE must be"):
        adapter()(torch.randn(1, 17, 16), torch.randn(1, 3, 8, 8))
    with pytest.raises(ValueError, match="needs the VAE latent"):
        adapter()(torch.randn(1, 17, 16))
    assert (null_image_condition(torch.randn(2, 3, 4)) == 0).all()


def test_vae_share_is_zero_at_init_and_scales_with_the_vae_branch():
    a = adapter()
    clip, z = torch.randn(3, 17, 16), torch.randn(3, 4, 8, 8)
    assert a.vae_share(clip, z) == {"tokens": 0.0, "variation": 0.0}
    with torch.no_grad():
        for layer in (a.vae_patch, a.vae_global):
            layer.weight.normal_()
    once = a.vae_share(clip, z)
    assert once["tokens"] > 0 and once["variation"] > 0
    with torch.no_grad():
        for layer in (a.vae_patch, a.vae_global):
            layer.weight.mul_(2)  # the branch is linear in its weights: twice the weights, twice the share
    twice = a.vae_share(clip, z)
    assert twice["tokens"] == pytest.approx(2 * once["tokens"], rel=1e-5)
    assert twice["variation"] == pytest.approx(2 * once["variation"], rel=1e-5)
    with pytest.raises(ValueError, match="at least 2 input images"):
        a.vae_share(clip[:1], z[:1])
    with pytest.raises(ValueError, match="CLIP-only"):
        adapter("clip").vae_share(clip, z)
