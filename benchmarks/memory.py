"""Peak memory (max RSS) of each stage, each in its own process: `python -m benchmarks.memory STAGE`.

Stages: stage1 / subject / decoder run a few optimizer steps of `train.loop.train` with the
profile's settings on the cached stage-1 model; sample renders ``eval.n_frames`` frames with
the profile's sampling settings. Prints one JSON line: the peak RSS after loading the models
and at the end (MB).
"""
from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile

STAGES = ("stage1", "subject", "decoder", "sample")


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def measure(stage: str, cache_root: str | None, profile_name: str = "tiny", steps: int = 3) -> dict:
    import torch

    from dreampose.data.world import load_world
    from dreampose.train.finetune import collate, latent_size
    from dreampose.train.loop import LoopConfig, train
    from dreampose.train.objectives import DecoderObjective, DreamPoseObjective

    from .common import profile_and_cache, stage1_pipeline

    profile, cache = profile_and_cache(profile_name, cache_root)
    pipe = stage1_pipeline(profile, cache)
    world = load_world(profile, cache, progress=False)
    loaded = _maxrss_mb()
    video = world.test[0]
    if stage == "sample":
        from .schedulers import compare

        s = profile.sample
        compare(pipe, world, profile, n_videos=1, candidates=[(s.scheduler, s.steps)])
    else:
        from dreampose.data.images import video_to_tensor
        from dreampose.data.pairs import PairDataset, SubjectDataset
        from dreampose.data.pose import pose_maps, pose_window

        cfg_of = getattr(profile, stage)
        bsz, accum = cfg_of.batch_size, getattr(cfg_of, "grad_accum", 1)
        if stage == "stage1":
            data = PairDataset(world.train, profile.model.n_poses, latent_size(profile), steps * accum * bsz,
                               profile.seed)
            objective = DreamPoseObjective(pipe, cfg_of.image_dropout, cfg_of.pose_dropout, cfg_of.both_dropout)
        else:
            frames = list(video_to_tensor(video.frames[[0]]))
            if stage == "subject":
                uv = pose_maps(video.iuv, latent_size(profile))
                poses = [pose_window(uv, 0, profile.model.n_poses)]
                objective = DreamPoseObjective(pipe)
            else:
                poses = [torch.zeros(2, 1, 1)]
                objective = DecoderObjective(pipe.vae)
            data = SubjectDataset(frames, poses, steps * bsz, profile.seed, profile.subject.random_crop,
                                  profile.subject.crop_scale)
        cfg = LoopConfig(steps=steps, lr=cfg_of.lr, batch_size=bsz, grad_accum=accum, seed=profile.seed,
                         mixed_precision="no", desc=f"bench {stage}")
        with tempfile.TemporaryDirectory() as work:
            train(objective, collate(data), cfg, work, progress=False)
    return {"stage": stage, "after_load_mb": round(loaded, 1), "peak_mb": round(_maxrss_mb(), 1)}


def in_subprocess(stage: str, cache_root: str | None, profile_name: str = "tiny") -> dict:
    cmd = [sys.executable, "-m", "benchmarks.memory", stage, "--profile", profile_name]
    if cache_root:
        cmd += ["--cache", str(cache_root)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("stage", choices=STAGES)
    ap.add_argument("--cache", default=None)
    ap.add_argument("--profile", default="tiny")
    args = ap.parse_args(argv)
    print(json.dumps(measure(args.stage, args.cache, args.profile)))


if __name__ == "__main__":
    main()
