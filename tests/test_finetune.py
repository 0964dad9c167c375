"""The finetuning stages end to end at the smoke profile: cached, resumable, trainable ablations."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dreampose.cache import Cache
from dreampose.config import load_profile
from dreampose.data.world import load_world
from dreampose.models.base import load_base
from dreampose.train import finetune
from dreampose.train.loop import TrainingError


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return Cache(tmp_path_factory.mktemp("ft-cache"))


def test_stages_chain_and_are_cached(cache):
    p = load_profile("smoke")
    world = load_world(p, cache, progress=False)
    s1 = finetune.stage1(p, cache, progress=False)
    assert (s1.path / "pipeline" / "model_index.json").is_file() and (s1.path / "loss.csv").is_file()
    assert not s1.loaded and s1.manifest["steps"] == p.stage1.steps and s1.manifest["wall_time_s"] > 0
    assert not list(s1.path.glob("checkpoint-*")) and not (s1.path / "train").exists()
    assert finetune.stage1(p, cache, progress=False).loaded
    video = world.test[0]
    dec = finetune.decoder(p, video, 0, cache, progress=False)
    pipe = finetune.load_pipeline(dec)
    sub = finetune.load_pipeline(finetune.subject(p, video, 0, cache, progress=False))
    # decoder finetuning changed the decoder and nothing else
    assert not torch.equal(pipe.vae.decoder.conv_out.weight, sub.vae.decoder.conv_out.weight)
    assert torch.equal(pipe.vae.encoder.conv_in.weight, sub.vae.encoder.conv_in.weight)
    assert torch.equal(pipe.unet.conv_in.weight, sub.unet.conv_in.weight)
    frames = pipe(video.frames[0], video.iuv[:2], num_inference_steps=2, output_type="np").frames
    assert frames.shape == (2, *video.size, 3) and np.isfinite(frames).all()


@pytest.mark.parametrize("overrides, check", [
    (["model.n_poses=1"], lambda pipe: pipe.n_poses == 1),
    (["model.image_encoder=clip"], lambda pipe: pipe.adapter.config.mode == "clip"),
])
def test_ablation_variants_train(cache, overrides, check):
    p = load_profile("smoke", overrides)
    assert check(finetune.load_pipeline(finetune.stage1(p, cache, progress=False)))


def test_no_decoder_finetuning_is_the_subject_artifact(cache):
    p = load_profile("smoke", ["decoder.enabled=false"])
    video = load_world(p, cache, progress=False).test[0]
    assert finetune.decoder(p, video, 0, cache, progress=False).stage == "subject"


def test_empty_training_split_is_a_clear_error(tmp_path):
    p = load_profile("smoke", ["data.n_train_videos=0"])
    with pytest.raises(TrainingError, match="training split is empty"):
        finetune.stage1(p, Cache(tmp_path), progress=False)


SCRIPT = """
import sys
from dreampose.cache import Cache
from dreampose.config import load_profile
from dreampose.train import finetune
art = finetune.stage1(load_profile("smoke", ["stage1.steps=2"]), Cache(sys.argv[1]), progress=False)
print("PROCESSES", art.manifest.get("processes"))
"""


def test_two_process_accelerate_run(tmp_path):
    """`accelerate launch` with 2 CPU processes (gloo) trains stage 1 and rank 0 finalises it."""
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    cache = tmp_path / "cache"
    profile = load_profile("smoke", ["stage1.steps=2"])
    load_world(profile, Cache(cache), progress=False)  # upstream artifacts first, in one process
    load_base(profile, Cache(cache), progress=False)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_port", "29517", str(script), str(cache)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "PROCESSES 2" in out.stdout
    assert len(list(Path(cache, "stage1").glob("*/pipeline/model_index.json"))) == 1
