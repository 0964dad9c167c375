"""The notebooks' side studies on the smoke profile: training prefixes, the model at init,
guidance-branch losses, texture sticking, decoder reconstructions and timings."""
import numpy as np
import pytest

from dreampose import stages
from dreampose.cache import Cache
from dreampose.config import load_profile
from dreampose.evaluate.effects import Effect, verdict
from dreampose.evaluate.experiments import FULL, targets_of
from dreampose.evaluate.protocol import protocol_subject
from dreampose.evaluate.studies import subject as subject_study
from dreampose.evaluate.studies import training
from dreampose.evaluate.studies.decoder import decoder_reconstruction
from dreampose.evaluate.studies.timings import timings
from dreampose.panels import read_loss
from dreampose.reproduce import trained


@pytest.fixture(scope="module")
def smoke():
    run = stages.Run(load_profile("smoke"), Cache(), progress=False)
    return run, stages.data(run)


def test_a_short_stage1_run_is_the_start_of_the_long_one(smoke):
    run, _ = smoke
    short = training.stage1_at(run, 2)
    assert short.profile.stage1.steps == 2 and short.profile.stage_hash("stage1") != run.profile.stage_hash("stage1")
    _, loss_short = read_loss(stages.stage1(short).path / "loss.csv")
    _, loss_full = read_loss(stages.stage1(run).path / "loss.csv")
    assert np.allclose(loss_short, loss_full[:2], rtol=1e-5)


def test_the_model_at_init_ignores_the_pose(smoke):
    run, world = smoke
    video = world.test[0]
    i, targets = targets_of(run.profile, video)
    method = training.init_method(run, {video.name: protocol_subject(run.profile, video, 1)})
    out = method(video, i, targets)
    assert out.shape == (len(targets), *video.size, 3) and out.dtype == np.uint8
    stage1_only = trained(run, "stage 1", [video], finetune=False)
    assert method.models[video.name].key != stage1_only.models[video.name].key
    other = type(video)(video.name, video.frames, np.roll(video.iuv, 5, axis=2), meta=video.meta)
    assert np.array_equal(method(other, i, targets), out)  # zero-init pose channels: same frames


def test_branch_losses_at_init_do_not_depend_on_the_pose(smoke):
    run, world = smoke
    from dreampose.pipeline import DreamPosePipeline

    pipe = DreamPosePipeline.from_base(stages.base(run), n_poses=run.profile.model.n_poses)
    losses = training.branch_losses(pipe, world.test, run.profile, n_pairs=4, batch=2)
    assert list(losses) == list(training.BRANCHES)
    assert losses["image + pose"] == pytest.approx(losses["image only (pose ∅)"], rel=1e-5)
    assert losses["pose only (image ∅)"] == pytest.approx(losses["none (∅, ∅)"], rel=1e-5)


def test_sticking_of_a_copied_input(smoke):
    run, world = smoke
    video = world.test[0]
    i, targets = targets_of(run.profile, video)
    copied = np.repeat(video.frames[i][None], len(targets), 0)
    s = subject_study.sticking(copied, video, i, targets)
    assert s["L1 to input frame"] == 0.0 and s["IoU of the input pose"] > 0.75
    assert s["IoU of the input pose"] >= s["IoU with target pose"]


def test_decoder_reconstruction_and_timings(smoke):
    run, world = smoke
    video = world.test[0]
    full = trained(run, FULL, world.test)
    arts, person = full.artifacts[video.name], full.subjects[video.name]
    rec = decoder_reconstruction(arts["subject"], arts["decoder"], video, list(person.frames),
                                 targets_of(run.profile, video)[1])
    assert rec["images"][0] == 0 and set(rec["psnr"]) == {(v, s) for v in ("before", "after")
                                                           for s in ("subject", "targets")}
    assert rec["after"]["targets"].shape == video.frames[rec["targets"]].shape
    assert rec["after"]["subject"].shape == person.images.shape
    rows = timings(full, world.test, n_frames=2)
    names = [r["step"] for r in rows]
    assert names[-1] == "sampling, per frame" and "VAE decoder finetuning" in names
    assert all(r["ours (s)"] > 0 for r in rows)
    assert all("torch" in r["note"] for r in rows)  # each names the machine its time was measured on


def test_frame_scores_average_over_videos(smoke):
    run, world = smoke
    from dreampose.evaluate.baselines import copy_input

    scores = subject_study.frame_scores(copy_input, run.profile, world.test)
    assert scores["L1 to input frame"] == 0.0 and np.isfinite(scores["PSNR"])
    one = subject_study.frame_scores(copy_input, run.profile, world.test[:1])
    two = subject_study.frame_scores(copy_input, run.profile, world.test[1:2])
    assert scores["L1 to ground truth"] == pytest.approx((one["L1 to ground truth"] + two["L1 to ground truth"]) / 2)


def test_verdict_says_when_an_effect_fails_or_is_within_noise():
    assert "does NOT hold" in verdict(Effect("2. x", "c", "L1", holds=False, detail="d"))
    assert "within noise" in verdict(Effect("2. x", "c", "L1", holds=True, beyond_noise=False))
    assert verdict(Effect("2. x", "c", "L1", holds=True, beyond_noise=True)).startswith("2. x: holds, beyond")


def test_stage1_at_overrides_an_epoch_budget():
    paper_like = stages.Run(load_profile("smoke", ["stage1.epochs=2"]))
    short = training.stage1_at(paper_like, 3).profile
    assert short.stage1.epochs == 0 and short.stage1.steps == 3
    smoke = stages.Run(load_profile("smoke"))
    assert training.stage1_at(smoke, smoke.profile.stage1.steps).profile.stage_hash("stage1") == \
        smoke.profile.stage_hash("stage1")


# -- fidelity diagnosis (validation subjects) ---------------------------------------------------------
def test_validation_subjects_are_new_people_and_leave_the_world_unchanged(smoke):
    from dreampose.data.world import validation_videos

    run, world = smoke
    val = validation_videos(run.profile, 2)
    assert [v.name for v in val] == ["val_000", "val_001"] and all(v.meta["split"] == "val" for v in val)
    seen = {v.frames[0].tobytes() for v in world.train + world.test}
    assert not {v.frames[0].tobytes() for v in val} & seen
    assert np.array_equal(validation_videos(run.profile, 1)[0].frames, val[0].frames)  # deterministic


def test_stage1_snapshots_are_the_shorter_runs(smoke):
    """A snapshot after n steps of a longer run samples like stage 1 trained for n steps."""
    from dreampose.evaluate.studies import fidelity

    run, world = smoke
    longer = run.variant("stage1.steps=4")
    kept = stages.stage1(longer, snapshots=[2])
    assert kept.key != stages.stage1(longer).key  # another artifact, the same final weights
    snap, short = stages.stage1_snapshot(kept, 2), stages.stage1(training.stage1_at(run, 2))
    a = stages.load_pipeline(snap).unet.state_dict()
    b = stages.load_pipeline(short).unet.state_dict()
    assert all(torch_allclose(a[k], b[k]) for k in a)
    with pytest.raises(FileNotFoundError, match="kept snapshots after \\[2\\] steps, not 3"):
        stages.stage1_snapshot(kept, 3)
    rows = fidelity.stage1_curve(run, world.test[:1], [2, 4])
    assert [r["steps"] for r in rows] == [2, 4] and all(np.isfinite(r["L1 gap to copy"]) for r in rows)


def torch_allclose(a, b):
    import torch

    return torch.allclose(a, b, rtol=1e-4, atol=1e-6)


def test_diagnosis_rows_put_each_setting_beside_copying_the_input(smoke):
    from dreampose.data.world import validation_videos
    from dreampose.evaluate.studies import fidelity

    run, _ = smoke
    val = validation_videos(run.profile, 2)
    floor = fidelity.floor(run, val)
    assert fidelity.paired_gap(floor, floor) == (0.0, 0.0)
    rows = fidelity.subject_grid(run, val, [(1e-5, 2)])
    assert rows[0]["setting"] == "stage 1 only" and rows[1]["lr"] == 1e-5 and rows[1]["steps"] == 2
    assert rows[0]["L1"] != rows[1]["L1"]  # finetuning on the subject changes the frames
    assert fidelity.vae_ceiling(stages.base(run), val, 2)["vae_psnr_db"] > 5
    table = fidelity.markdown(rows)
    assert table.splitlines()[0].startswith("| setting | lr | steps | L1 |") and "1e-05" in table


def test_budget_rows_price_subject_and_decoder_steps(smoke):
    from dreampose.data.world import validation_videos
    from dreampose.evaluate.studies import fidelity

    run, _ = smoke
    val = validation_videos(run.profile, 2)
    rows = fidelity.budget_grid(run, val, [(2, 0), (2, 2)])
    assert [(r["subject_steps"], r["decoder_steps"]) for r in rows] == [(0, 0), (2, 0), (2, 2)]
    assert rows[0]["setting"] == "stage 1 only" and rows[0]["L1"] != rows[1]["L1"]
    assert rows[1]["PSNR"] != rows[2]["PSNR"]  # the decoder stage changes the frames the subject stage made
    assert all(np.isfinite(r["garment gap"]) for r in rows)


def test_vae_branch_rows_pair_each_scale_with_clip_only_and_measure_the_branch(smoke):
    from dreampose.data.world import validation_videos
    from dreampose.evaluate.studies import fidelity

    run, _ = smoke
    val = validation_videos(run.profile, 2)
    rows = fidelity.vae_branch_grid(run, val, [1.0, 100.0])
    assert [r["scale"] for r in rows] == [0.0, 1.0, 100.0] and rows[0]["setting"] == "Ours_CLIP"
    assert "VAE share" not in rows[0] and all(np.isfinite(r["L1 gap to CLIP"]) for r in rows[1:])
    assert rows[2]["VAE share"] > rows[1]["VAE share"]  # a faster branch grows further in the same steps
    both = fidelity.vae_branch_grid(run, val, [100.0], stage="stage1")  # its own stage-1 model
    assert both[1]["setting"].startswith("VAE branch lr x 100, stage 1") and both[1]["L1"] != rows[2]["L1"]
    with pytest.raises(ValueError, match="'subject' or 'stage1'"):
        fidelity.vae_branch_grid(run, val, [1.0], stage="decoder")


def test_images_rows_pair_several_input_images_with_one_at_each_length(smoke):
    from dreampose.data.world import validation_videos
    from dreampose.evaluate.studies import fidelity

    run, _ = smoke
    val = validation_videos(run.profile, 2)
    rows = fidelity.images_grid(run, val, 2, [2, 4])
    assert [(r["images"], r["steps"]) for r in rows] == [(1, 2), (2, 2), (1, 4), (2, 4)]
    assert "L1 gap to 1 image" not in rows[0] and all(np.isfinite(r["L1 gap to 1 image"]) for r in rows[1::2])
    assert rows[0]["L1"] != rows[1]["L1"]  # another image in the subject stage changes the frames
    assert np.isclose(rows[1]["L1 gap to 1 image"], rows[1]["L1"] - rows[0]["L1"])  # paired mean = mean gap


def test_garment_l1_is_measured_on_the_target_garment_pixels_only(smoke):
    import numpy as np

    from dreampose.data.world import validation_videos
    from dreampose.evaluate.base_quality import GARMENT_PARTS
    from dreampose.evaluate.baselines import copy_input
    from dreampose.evaluate.studies import fidelity

    run, _ = smoke
    val = validation_videos(run.profile, 2)
    floor = fidelity.floor(run, val)
    truth = lambda v, i, targets: v.frames[targets]  # noqa: E731
    assert (fidelity.garment_l1(truth, val, floor) == 0).all()
    v = val[0]
    i, t = floor.frames[v.name]["input"], list(floor.frames[v.name]["targets"])
    garment = np.isin(v.iuv[t][..., 0], GARMENT_PARTS)
    by_hand = (np.abs(v.frames[[i]].astype(float) - v.frames[t]) / 255)[garment].mean()
    assert np.isclose(fidelity.garment_l1(copy_input, val, floor)[0], by_hand)
    cols = fidelity.garment_columns(np.array([0.2, 0.4]), np.array([0.1, 0.1]))
    assert np.isclose(cols["garment gap"], 0.2) and np.isclose(cols["garment SE"], 0.1)


def test_a_subject_setting_gives_the_same_person_another_finetuned_model(smoke):
    """subject.random_crop=false (the texture-sticking study) must train its own subject and decoder models."""
    from dreampose.evaluate.studies.subject import NO_RANDOM_CROP

    run, world = smoke
    video = world.test[0]
    crops, no_crops = trained(run, FULL, [video]), trained(run.variant(*NO_RANDOM_CROP), "no crop", [video])
    assert crops.subjects[video.name].key == no_crops.subjects[video.name].key  # the same person
    for stage in ("subject", "decoder"):
        assert crops.artifacts[video.name][stage].key != no_crops.artifacts[video.name][stage].key
