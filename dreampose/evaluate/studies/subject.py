"""Subject-stage studies (notebook 04): texture sticking without the joint random crop."""
from __future__ import annotations

import numpy as np
import torch

from ..baselines import background_colour
from ..effects import foreground_iou
from ..experiments import targets_of
from ..metrics import l1, psnr

NO_RANDOM_CROP = ("subject.random_crop=false",)


def sticking(frames: np.ndarray, video, input_index: int, targets: list[int]) -> dict[str, float]:
    """Does the output follow the target pose or stick to the input image?

    IoU of the generated person with the target's body (higher: follows the pose), L1 to the
    input frame (lower: copies it) and L1 to the ground truth."""
    bg = background_colour(video.frames[input_index], video.iuv[input_index])
    copy = np.repeat(video.frames[input_index][None], len(targets), 0)
    return {"IoU with target pose": foreground_iou(frames, video.iuv[targets], bg),
            "IoU of the input pose": foreground_iou(frames, video.iuv[[input_index] * len(targets)], bg),
            "L1 to input frame": float(l1(frames, copy).mean()),
            "L1 to ground truth": float(l1(frames, video.frames[targets]).mean())}


def frame_scores(method, profile, videos, features=()) -> dict[str, float]:
    """``sticking``, PSNR and each of ``features`` (``metrics.FeatureDistance``, e.g. the
    ``metric_suite``'s) of ``method``'s frames on the protocol targets, averaged over videos."""
    rows = []
    for video in videos:
        i, targets = targets_of(profile, video)
        frames, truth = method(video, i, targets), video.frames[targets]
        row = {**sticking(frames, video, i, targets), "PSNR": float(np.mean(psnr(frames, truth)))}
        for f in features:
            unit = [torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255 for x in (frames, truth)]
            row[f.name] = float(np.mean(f(*unit)))
        rows.append(row)
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
