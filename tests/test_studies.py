"""The notebooks' side studies on the smoke profile: training prefixes, the model at init,
guidance-branch losses, texture sticking, decoder reconstructions and timings."""
import numpy as np
import pytest

from dreampose.cache import Cache
from dreampose.config import load_profile
from dreampose.data.world import load_world
from dreampose.evaluate import studies
from dreampose.evaluate.experiments import DreamPoseMethod, targets_of
from dreampose.panels import read_loss
from dreampose.train import finetune


@pytest.fixture(scope="module")
def smoke():
    profile = load_profile("smoke")
    cache = Cache()
    return profile, cache, load_world(profile, cache, progress=False)


def test_a_short_stage1_run_is_the_start_of_the_long_one(smoke):
    profile, cache, _ = smoke
    short = studies.stage1_at(profile, 2)
    assert short.stage1.steps == 2 and short.stage_hash("stage1") != profile.stage_hash("stage1")
    _, loss_short = read_loss(finetune.stage1(short, cache, progress=False).path / "loss.csv")
    _, loss_full = read_loss(finetune.stage1(profile, cache, progress=False).path / "loss.csv")
    assert np.allclose(loss_short, loss_full[:2], rtol=1e-5)


def test_the_model_at_init_ignores_the_pose(smoke):
    profile, cache, world = smoke
    video = world.test[0]
    i, targets = targets_of(profile, video)
    method = studies.InitMethod(profile, cache)
    out = method(video, i, targets)
    assert out.shape == (len(targets), *video.size, 3) and out.dtype == np.uint8
    assert method.frames_path(video, i, targets) != DreamPoseMethod(profile, cache, finetune=False).frames_path(
        video, i, targets)
    other = type(video)(video.name, video.frames, np.roll(video.iuv, 5, axis=2), meta=video.meta)
    fresh = studies.InitMethod(profile, Cache(cache.root / "other"))
    fresh._stage1 = method._stage1
    assert np.array_equal(fresh(other, i, targets), out)  # zero-init pose channels: same frames


def test_branch_losses_at_init_do_not_depend_on_the_pose(smoke):
    profile, cache, world = smoke
    from dreampose.models.base import load_base
    from dreampose.pipeline import DreamPosePipeline

    pipe = DreamPosePipeline.from_base(load_base(profile, cache, progress=False), n_poses=profile.model.n_poses)
    losses = studies.branch_losses(pipe, world.test, profile, n_pairs=4, batch=2)
    assert list(losses) == list(studies.BRANCHES)
    assert losses["image + pose"] == pytest.approx(losses["image only (pose ∅)"], rel=1e-5)
    assert losses["pose only (image ∅)"] == pytest.approx(losses["none (∅, ∅)"], rel=1e-5)


def test_sticking_of_a_copied_input(smoke):
    profile, _, world = smoke
    video = world.test[0]
    i, targets = targets_of(profile, video)
    copied = np.repeat(video.frames[i][None], len(targets), 0)
    s = studies.sticking(copied, video, i, targets)
    assert s["L1 to input frame"] == 0.0 and s["IoU of the input pose"] > 0.75
    assert s["IoU of the input pose"] >= s["IoU with target pose"]


def test_decoder_reconstruction_and_timings(smoke):
    profile, cache, world = smoke
    video = world.test[0]
    rec = studies.decoder_reconstruction(profile, video, cache)
    assert rec["images"][0] == 0 and set(rec["psnr"]) == {(v, s) for v in ("before", "after")
                                                           for s in ("subject", "targets")}
    assert rec["after"]["targets"].shape == video.frames[rec["targets"]].shape
    rows = studies.timings(profile, world.test, cache, n_frames=2)
    names = [r["step"] for r in rows]
    assert names[-1] == "sampling, per frame" and "VAE decoder finetuning" in names
    assert all(r["ours (s)"] > 0 for r in rows)


def test_frame_scores_average_over_videos(smoke):
    profile, _, world = smoke
    from dreampose.evaluate.baselines import copy_input

    scores = studies.frame_scores(copy_input, profile, world.test)
    assert scores["L1 to input frame"] == 0.0 and np.isfinite(scores["PSNR"])
    one = studies.frame_scores(copy_input, profile, world.test[:1])
    two = studies.frame_scores(copy_input, profile, world.test[1:2])
    assert scores["L1 to ground truth"] == pytest.approx((one["L1 to ground truth"] + two["L1 to ground truth"]) / 2)


def test_verdict_says_when_an_effect_fails_or_is_within_noise():
    from dreampose.evaluate.tables import Effect

    assert "does NOT hold" in studies.verdict(Effect("2. x", "c", "L1", holds=False, detail="d"))
    assert "within noise" in studies.verdict(Effect("2. x", "c", "L1", holds=True, beyond_noise=False))
    assert studies.verdict(Effect("2. x", "c", "L1", holds=True, beyond_noise=True)).startswith("2. x: holds, beyond")


def test_stage1_at_overrides_an_epoch_budget():
    paper_like = load_profile("smoke", ["stage1.epochs=2"])
    short = studies.stage1_at(paper_like, 3)
    assert short.stage1.epochs == 0 and short.stage1.steps == 3
    smoke = load_profile("smoke")
    assert studies.stage1_at(smoke, smoke.stage1.steps).stage_hash("stage1") == smoke.stage_hash("stage1")
