import copy

import pytest
import torch

from dreampose.pipeline import DreamPosePipeline
from dreampose.train.loop import LoopConfig, train
from dreampose.train.objectives import DecoderObjective, DreamPoseObjective, PosteriorMemo, dropout_masks

from dummies import dummy_base


@pytest.mark.parametrize("image, pose, both", [(0.05, 0.05, 0.02), (0.3, 0.1, 0.05), (0.0, 0.0, 0.0)])
def test_dropout_rates_are_as_configured(image, pose, both):
    n = 200_000
    drop_i, drop_p = dropout_masks(n, image, pose, both, torch.Generator().manual_seed(0))
    tol = 4 * (0.25 / n) ** 0.5
    assert abs(drop_i.float().mean() - image) < tol
    assert abs(drop_p.float().mean() - pose) < tol
    assert abs((drop_i & drop_p).float().mean() - both) < tol


def test_the_paper_profile_drops_as_the_authors_code_splits_dropout_rate_0_15():
    """5% pose only, 5% image only, 5% both (the authors' thirds of 0.15), 85% keep both."""
    from dreampose.config import load_profile

    s1 = load_profile("paper").stage1
    n = 200_000
    drop_i, drop_p = dropout_masks(n, s1.image_dropout, s1.pose_dropout, s1.both_dropout,
                                   torch.Generator().manual_seed(1))
    shares = [(drop_p & ~drop_i).float().mean(), (drop_i & ~drop_p).float().mean(), (drop_i & drop_p).float().mean()]
    tol = 4 * (0.05 * 0.95 / n) ** 0.5  # 4 standard errors of a 5% share
    assert all(abs(share - 0.05) < tol for share in shares), shares
    assert abs((~drop_i & ~drop_p).float().mean() - 0.85) < 4 * (0.85 * 0.15 / n) ** 0.5


def batch(n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    img = torch.rand(n, 3, 32, 32, generator=g) * 2 - 1
    return {"image": img, "target": img.flip(-1), "pose": torch.rand(n, 10, 8, 8, generator=g) * 2 - 1}


def test_dreampose_loss_falls_and_trains_only_unet_and_adapter(tmp_path):
    pipe = DreamPosePipeline.from_base(dummy_base(), n_poses=5)
    frozen = {k: v.clone() for k, v in pipe.image_encoder.state_dict().items()}
    vae_before = {k: v.clone() for k, v in pipe.vae.state_dict().items()}
    adapter_before = pipe.adapter.vae_patch.weight.clone()
    objective = DreamPoseObjective(pipe, 0.1, 0.1, 0.05)
    fixed = batch()
    first = objective(fixed, torch.Generator().manual_seed(0)).item()
    out = train(objective, lambda idx: fixed, LoopConfig(steps=40, lr=2e-3, batch_size=4, desc="t"), tmp_path,
                progress=False)
    last = objective(fixed, torch.Generator().manual_seed(0)).item()
    assert last < first and out["final_loss"] < first
    assert all(torch.equal(v, pipe.image_encoder.state_dict()[k]) for k, v in frozen.items())
    assert all(torch.equal(v, pipe.vae.state_dict()[k]) for k, v in vae_before.items())
    assert not torch.equal(adapter_before, pipe.adapter.vae_patch.weight)  # the VAE branch learns


def test_decoder_finetuning_leaves_the_encoder_untouched(tmp_path):
    vae = dummy_base().vae
    enc = {k: v.clone() for k, v in vae.encoder.state_dict().items()}
    quant = vae.quant_conv.weight.clone()
    dec = {k: v.clone() for k, v in vae.decoder.state_dict().items()}
    fixed = batch()
    objective = DecoderObjective(vae)
    first = objective(fixed, torch.Generator().manual_seed(0)).item()
    train(objective, lambda idx: fixed, LoopConfig(steps=30, lr=3e-3, batch_size=4, desc="d"), tmp_path, progress=False)
    assert objective(fixed, torch.Generator().manual_seed(0)).item() < first
    assert all(torch.equal(v, vae.encoder.state_dict()[k]) for k, v in enc.items())
    assert torch.equal(quant, vae.quant_conv.weight)
    assert any(not torch.equal(v, vae.decoder.state_dict()[k]) for k, v in dec.items())


def test_fixed_images_encode_each_distinct_batch_once_and_train_the_same_weights(tmp_path):
    photos = [batch(seed=1)["image"], batch(seed=2)["image"]]  # the subject stage: x0 repeats, targets vary

    def make_batch(idx):
        g = torch.Generator().manual_seed(idx[0])
        return {"image": photos[idx[0] // 4 % 2], "target": torch.rand(4, 3, 32, 32, generator=g) * 2 - 1,
                "pose": torch.rand(4, 10, 8, 8, generator=g) * 2 - 1}

    base = dummy_base()
    weights = {}
    for fixed in (False, True):
        pipe = DreamPosePipeline.from_base(copy.deepcopy(base), n_poses=5)
        calls = []
        encode = pipe.encode_image_features
        pipe.encode_image_features = lambda images: calls.append(1) or encode(images)
        train(DreamPoseObjective(pipe, fixed_images=fixed), make_batch,
              LoopConfig(steps=6, lr=2e-3, batch_size=4, desc="s"), tmp_path / str(fixed), progress=False)
        assert len(calls) == (2 if fixed else 6)
        weights[fixed] = {**pipe.unet.state_dict(), **{f"a.{k}": v for k, v in pipe.adapter.state_dict().items()}}
    assert all(torch.equal(v, weights[True][k]) for k, v in weights[False].items())


def test_posterior_memo_shares_encoder_passes_between_stages_and_trains_the_same_weights(tmp_path):
    """Two subject stages and a decoder stage on the same crops (as Ours_Full, Ours_CLIP and the
    decoder of one photo draw them): the memo encodes each batch once, and every stage ends with
    the weights it has without the memo."""
    photo = batch(seed=1)["image"]

    def make_batch(idx):
        g = torch.Generator().manual_seed(idx[0])
        return {"image": photo, "target": torch.rand(4, 3, 32, 32, generator=g) * 2 - 1,
                "pose": torch.rand(4, 10, 8, 8, generator=g) * 2 - 1}

    base = dummy_base()
    weights, memo = {}, PosteriorMemo()
    for posteriors in (None, memo):
        trained = {}
        for mode in ("clip+vae", "clip"):
            pipe = DreamPosePipeline.from_base(copy.deepcopy(base), n_poses=5, image_encoder_mode=mode)
            train(DreamPoseObjective(pipe, fixed_images=True, posteriors=posteriors), make_batch,
                  LoopConfig(steps=5, lr=2e-3, batch_size=4, desc="s"), tmp_path / f"{mode}{posteriors}", progress=False)
            trained.update({f"{mode}.{k}": v for k, v in pipe.unet.state_dict().items()})
        vae = copy.deepcopy(base.vae)
        train(DecoderObjective(vae, posteriors), make_batch, LoopConfig(steps=3, lr=2e-3, batch_size=4, desc="d"),
              tmp_path / f"decoder{posteriors}", progress=False)
        weights[posteriors is None] = {**trained, **{f"vae.{k}": v for k, v in vae.state_dict().items()}}
    assert (memo.misses, memo.hits) == (5, 5 + 3)
    assert all(torch.equal(v, weights[False][k]) for k, v in weights[True].items())


def test_posterior_memo_keys_on_the_encoder_and_forgets_the_oldest_batches():
    vae, pixels = dummy_base().vae, batch()["target"]
    one = PosteriorMemo.encoder_key(vae)
    memo = PosteriorMemo(max_bytes=1)  # room for one batch only
    assert torch.equal(memo.posterior(vae, pixels, one).mean, vae.encode(pixels).latent_dist.mean)
    memo.posterior(vae, pixels, one)
    assert (memo.misses, memo.hits) == (1, 1)
    memo.posterior(vae, pixels.flip(-2), one)  # evicts the first batch
    memo.posterior(vae, pixels, one)
    assert (memo.misses, memo.hits) == (3, 1)
    with torch.no_grad():
        vae.encoder.conv_in.weight.mul_(2)
    assert PosteriorMemo.encoder_key(vae) != one


def test_the_vae_branch_learns_at_its_own_rate_and_everything_else_as_before(tmp_path):
    """subject.vae_branch_lr_scale: Adam's first step moves each weight by about its group's lr,
    so the branch moves 10x as far at scale 10; the rest of the model takes the same step."""
    base, fixed = dummy_base(), batch()
    after = {}
    for scale in (1.0, 10.0):
        pipe = DreamPosePipeline.from_base(copy.deepcopy(base), n_poses=5)
        objective = DreamPoseObjective(pipe, vae_branch_lr_scale=scale)
        groups = objective.param_groups(1e-3)
        assert [g["lr"] for g in groups] == ([1e-3] if scale == 1 else [1e-3, 1e-2])
        train(objective, lambda idx: fixed, LoopConfig(steps=1, lr=1e-3, batch_size=4, desc="s"),
              tmp_path / str(scale), progress=False)
        after[scale] = pipe
    branch = [p.weight for p in (after[1.0].adapter.vae_patch, after[10.0].adapter.vae_patch)]  # from zero
    moved = branch[0] != 0
    assert moved.any() and torch.allclose(branch[1][moved], 10 * branch[0][moved], rtol=1e-3)
    assert all(torch.equal(v, after[10.0].unet.state_dict()[k]) for k, v in after[1.0].unet.state_dict().items())
    assert torch.equal(after[1.0].adapter.proj.weight, after[10.0].adapter.proj.weight)


def test_a_clip_only_adapter_has_one_group_and_a_bad_scale_is_named():
    pipe = DreamPosePipeline.from_base(dummy_base(), n_poses=5, image_encoder_mode="clip")
    assert len(DreamPoseObjective(pipe, vae_branch_lr_scale=10.0).param_groups(1e-3)) == 1
    with pytest.raises(ValueError, match="subject.vae_branch_lr_scale"):
        DreamPoseObjective(pipe, vae_branch_lr_scale=0.0)
