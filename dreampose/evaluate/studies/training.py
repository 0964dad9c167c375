"""Stage-1 studies (notebook 03): samples along training, DreamPose at initialisation, dropout.

``stage1_at``: stage 1 stopped after n steps. Training randomness is a function of the
optimizer step and the learning rate is constant, so a run of n steps is the first n steps of
a longer run (up to floating-point rounding): samples "along training" without checkpoints.
"""
from __future__ import annotations

import numpy as np
import torch

from ... import stages
from ..method import DreamPoseMethod

NO_DROPOUT = ("stage1.image_dropout=0", "stage1.pose_dropout=0", "stage1.both_dropout=0")
BRANCHES = {  # (image, pose, both) dropout rates that put every sample in one guidance branch
    "image + pose": (0.0, 0.0, 0.0),
    "image only (pose ∅)": (0.0, 1.0, 0.0),
    "pose only (image ∅)": (1.0, 0.0, 0.0),
    "none (∅, ∅)": (1.0, 1.0, 1.0),
}


def stage1_at(run: stages.Run, steps: int) -> stages.Run:
    """The run with stage 1 stopped after ``steps`` optimizer steps (module doc)."""
    return run.variant("stage1.epochs=0", f"stage1.steps={max(1, int(steps))}")


def early_steps(steps: int) -> int:
    """The "early" stage 1 of notebook 03: a fifth of the full run's ``steps``."""
    return max(1, int(steps) // 5)


def dropout_runs(run: stages.Run, steps: int) -> dict[str, stages.Run]:
    """The two stage-1 runs of the dropout study: the early stage 1 of a ``steps``-step run, with
    the profile's conditioning dropout and with none (same data, noise and timesteps)."""
    short = stage1_at(run, early_steps(steps))
    return {"with dropout": short, "no dropout": short.variant(*NO_DROPOUT)}


def init_method(run: stages.Run, subjects: dict[str, stages.Subject]) -> DreamPoseMethod:
    """DreamPose right after the surgery (base UNet + zero-init conv_in and adapter), before any
    finetuning, sampled like the stage-1 model: it ignores the pose, sees the image through CLIP only."""
    from ...pipeline import DreamPosePipeline

    m = run.profile.model

    def load():
        return DreamPosePipeline.from_base(stages.base(run.quiet()), n_poses=m.n_poses,
                                           image_encoder_mode=m.image_encoder)

    model = stages.Model(f"init/{run.profile.stage_hash('base')}/{m.image_encoder}/{m.n_poses}", load)
    return DreamPoseMethod("init", run, {name: model for name in subjects}, subjects, stages.sample_settings(run))


@torch.no_grad()
def branch_losses(pipe, videos, profile, n_pairs: int = 32, batch: int = 8, seed: int = 0) -> dict[str, float]:
    """Noise-prediction MSE of each guidance branch on ``n_pairs`` (input, target) pairs of
    ``videos``; every branch sees the same pairs, noise and timesteps."""
    from ...data.pairs import PairDataset
    from ...train.finetune import collate, latent_size
    from ...train.objectives import DreamPoseObjective

    data = PairDataset(videos, profile.model.n_poses, latent_size(profile), n_pairs, seed)
    make = collate(data)
    out = {}
    for name, rates in BRANCHES.items():
        objective = DreamPoseObjective(pipe, *rates).eval()
        losses = [float(objective(make(list(range(s, min(s + batch, n_pairs)))),
                                  torch.Generator().manual_seed(seed * 7919 + s)))
                  for s in range(0, n_pairs, batch)]
        out[name] = float(np.mean(losses))
    return out
