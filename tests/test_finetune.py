"""The finetuning stages end to end at the smoke profile: cached, resumable, trainable ablations."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dreampose import stages
from dreampose.cache import Cache
from dreampose.config import load_profile
from dreampose.stages import Run, Subject
from dreampose.train import finetune
from dreampose.train.loop import TrainingError


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return Cache(tmp_path_factory.mktemp("ft-cache"))


def smoke_run(cache, *overrides) -> Run:
    return Run(load_profile("smoke", list(overrides)), cache, progress=False)


def test_stages_chain_and_are_cached(cache):
    run = smoke_run(cache)
    s1 = stages.stage1(run)
    assert (s1.path / "pipeline" / "model_index.json").is_file() and (s1.path / "loss.csv").is_file()
    assert not s1.loaded and s1.manifest["steps"] == run.profile.stage1.steps and s1.manifest["wall_time_s"] > 0
    assert not list(s1.path.glob("checkpoint-*")) and not (s1.path / "train").exists()
    assert stages.stage1(run).loaded
    video = stages.data(run).test[0]
    person = Subject.from_video(video, [0], run.profile.model.n_poses)
    sub_art = stages.subject(run, s1, person)
    dec = stages.decoder(run, person)
    assert stages.subject(run, s1, person).loaded and stages.decoder(run, person).loaded
    assert sub_art.manifest["images"] == 1 and sub_art.manifest["subject"] == video.name
    assert (dec.path / "vae" / "config.json").is_file() and not (dec.path / "pipeline").exists()  # the VAE alone
    pipe, sub = stages.load_pipeline(sub_art, dec), stages.load_pipeline(sub_art)
    # decoder finetuning changed the decoder and nothing else
    assert not torch.equal(pipe.vae.decoder.conv_out.weight, sub.vae.decoder.conv_out.weight)
    assert torch.equal(pipe.vae.encoder.conv_in.weight, sub.vae.encoder.conv_in.weight)
    assert torch.equal(pipe.unet.conv_in.weight, sub.unet.conv_in.weight)
    frames = pipe(video.frames[0], video.iuv[:2], num_inference_steps=2, output_type="np").frames
    assert frames.shape == (2, *video.size, 3) and np.isfinite(frames).all()


def test_subject_stage_is_keyed_by_the_images_and_poses_not_the_name(cache):
    run = smoke_run(cache)
    video = stages.data(run).test[0]
    person = Subject.from_video(video, [0], run.profile.model.n_poses)
    renamed = Subject("someone", person.images, person.pose_windows)
    assert renamed.key == person.key
    other_pose = Subject(video.name, person.images, person.pose_windows[:, ::-1].copy())
    other_image = Subject(video.name, 255 - person.images, person.pose_windows)
    assert len({person.key, other_pose.key, other_image.key}) == 3


def test_subject_windows_are_the_pose_windows_of_the_video(cache):
    """c_p of a subject image built from its IUV window equals the window of the whole sequence."""
    from dreampose.data.pose import pose_maps, pose_window

    run = smoke_run(cache)
    video = stages.data(run).test[0]
    frames, n = [0, 5, len(video) - 1], run.profile.model.n_poses
    got = finetune.subject_windows(run.profile, Subject.from_video(video, frames, n))
    uv = pose_maps(video.iuv, finetune.latent_size(run.profile))
    for k, i in enumerate(frames):
        assert torch.equal(got[k], pose_window(uv, i, n))


@pytest.mark.parametrize("overrides, check", [
    (["model.n_poses=1"], lambda pipe: pipe.n_poses == 1),
    (["model.image_encoder=clip"], lambda pipe: pipe.adapter.config.mode == "clip"),
])
def test_ablation_variants_train(cache, overrides, check):
    assert check(stages.load_pipeline(stages.stage1(smoke_run(cache, *overrides))))


def test_no_decoder_finetuning_samples_the_subject_artifact(cache):
    run = smoke_run(cache, "decoder.enabled=false")
    video = stages.data(run).test[0]
    person = Subject.from_video(video, [0], run.profile.model.n_poses)
    sub = stages.subject(run, stages.stage1(run), person)
    assert stages.decoder(run, person) is None
    assert stages.finetuned(run, stages.stage1(run), person).key == f"subject/{sub.key}"


def test_variants_that_differ_in_the_unet_share_one_decoder_trained_from_the_base_vae(cache):
    """The decoder stage reads the base VAE and the images only; other images, another decoder."""
    runs = [smoke_run(cache, *switch) for switch in ((), ("model.image_encoder=clip",), ("model.n_poses=1",))]
    video = stages.data(runs[0]).test[0]
    people = [Subject.from_video(video, [0], r.profile.model.n_poses) for r in runs]
    assert people[0].key != people[2].key and people[0].images_key == people[2].images_key
    decoders = [stages.decoder(r, p) for r, p in zip(runs, people)]
    assert len({d.key for d in decoders}) == 1 and all(d.loaded for d in decoders[1:])
    models = [stages.finetuned(r, stages.stage1(r), p) for r, p in zip(runs, people)]
    assert len({m.key for m in models}) == 3  # the UNet + adapter still differ
    base_vae = stages.base_vae(runs[0]).state_dict()
    pipe = stages.load_pipeline(stages.subject(runs[0], stages.stage1(runs[0]), people[0]))
    assert all(torch.equal(v, pipe.vae.state_dict()[k]) for k, v in base_vae.items())  # stages 1 and 2 keep it
    other = stages.decoder(runs[0], Subject.from_video(video, [1], runs[0].profile.model.n_poses))
    assert other.key != decoders[0].key


def test_empty_training_split_is_a_clear_error(tmp_path):
    with pytest.raises(TrainingError, match="training split is empty"):
        stages.stage1(smoke_run(Cache(tmp_path), "data.n_train_videos=0"))


def test_stage1_epochs_count_the_samples_of_every_process(monkeypatch):
    """5 epochs stay 5 epochs on 2 GPUs: each optimizer step reads batch x accum x processes samples."""
    from types import SimpleNamespace

    profile = load_profile("paper")
    world = SimpleNamespace(train=[range(300)] * 10)  # 3000 training frames
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert finetune.stage1_steps(profile, world) == 938  # ceil(5 * 3000 / 16)
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert finetune.stage1_steps(profile, world) == 469  # ceil(5 * 3000 / 32)
    assert finetune.stage1_steps(load_profile("smoke"), world) == load_profile("smoke").stage1.steps


SCRIPT = """
import sys
from dreampose import stages
from dreampose.cache import Cache
from dreampose.config import load_profile
run = stages.Run(load_profile("smoke", ["stage1.steps=2"]), Cache(sys.argv[1]), progress=False)
print("PROCESSES", stages.stage1(run).manifest.get("processes"))
"""


def test_two_process_accelerate_run(tmp_path):
    """`accelerate launch` with 2 CPU processes (gloo) trains stage 1 and rank 0 finalises it."""
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    cache = tmp_path / "cache"
    run = smoke_run(Cache(cache), "stage1.steps=2")
    stages.data(run)  # upstream artifacts first, in one process
    stages.base(run)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_port", "29517", str(script), str(cache)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "PROCESSES 2" in out.stdout
    assert len(list(Path(cache, "stage1").glob("*/pipeline/model_index.json"))) == 1
