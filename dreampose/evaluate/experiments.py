"""The paper's experiments (section 6) on a profile: DreamPose variants as protocol methods.

``DreamPoseMethod`` trains what a variant needs through the cache (stage 1, then per test
video the subject and decoder stages) and samples the protocol's target frames; generated
frames are cached too, so re-making a table or a figure is instant.

Ablations (Table 2) are profile switches on top of the profile being run::

    Ours_Full        as configured (CLIP + VAE adapter, 5 poses, decoder finetuning)
    Ours_CLIP        model.image_encoder=clip
    Ours_No-VAE-FT   decoder.enabled=false
    Ours_1-pose      model.n_poses=1
    Stage 1 only     no subject or decoder finetuning

Subject images never overlap the evaluation targets: the input frame is frame 0 (protocol)
and further images (subject.n_images > 1, paper 6.3) are spread over the frames outside the
target run and its pose windows.
"""
from __future__ import annotations

import copy
import hashlib
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..cache import Cache
from ..config import Profile
from ..data.video import Video
from ..pipeline import make_scheduler
from ..train import finetune
from .metrics import FeatureDistance, MetricSuite
from .protocol import Result, evaluate_method, select_frames

FULL, CLIP, NO_VAE_FT, ONE_POSE, STAGE1_ONLY = "Ours_Full", "Ours_CLIP", "Ours_No-VAE-FT", "Ours_1-pose", "Stage 1 only"
ABLATIONS = {
    FULL: (),
    CLIP: ("model.image_encoder=clip",),
    NO_VAE_FT: ("decoder.enabled=false",),
    ONE_POSE: ("model.n_poses=1",),
}


def variant(profile: Profile, *overrides: str) -> Profile:
    """A copy of ``profile`` with ``section.key=value`` overrides applied."""
    return copy.deepcopy(profile).override(*overrides)


def video_seed(seed: int, name: str) -> int:
    """Sampling seed of one test video: independent of the order and number of videos."""
    return int.from_bytes(hashlib.sha256(f"sample/{seed}/{name}".encode()).digest()[:8], "little") >> 1


def _save_frames(path: Path, frames: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npy")
    np.save(tmp, frames)
    os.replace(tmp, path)


class DreamPoseMethod:
    """``(video, input_index, targets) -> frames``: DreamPose trained (cached) and sampled.

    finetune: False samples the stage-1 model (no subject or decoder stage).
    sample: overrides of the profile's ``sample`` section, e.g. {"image_guidance_scale": 5.0}.
    """

    def __init__(self, profile: Profile, cache: Cache | None = None, finetune: bool = True,
                 sample: dict | None = None, progress: bool = False):
        self.profile, self.cache, self.finetune, self.progress = profile, cache or Cache(), finetune, progress
        self.sample = {**asdict(profile.sample), **(sample or {})}
        self._stage1 = None

    def subject_frames(self, video: Video, input_index: int, targets: list[int]) -> list[int]:
        window = self.profile.model.n_poses // 2
        exclude = range(targets[0] - window, targets[-1] + window + 1)
        return finetune.subject_images(video, input_index, self.profile.subject.n_images, exclude)

    def artifact(self, video: Video, input_index: int, targets: list[int]):
        if not self.finetune:
            return finetune.stage1(self.profile, self.cache, self.progress)
        images = self.subject_frames(video, input_index, targets)
        return finetune.decoder(self.profile, video, input_index, self.cache, self.progress, images)

    def pipeline(self, video: Video, input_index: int, targets: list[int]):
        if not self.finetune:  # one stage-1 model for every video
            if self._stage1 is None:
                self._stage1 = finetune.load_pipeline(self.artifact(video, input_index, targets))
            return self._stage1
        return finetune.load_pipeline(self.artifact(video, input_index, targets))

    def frames_path(self, video: Video, input_index: int, targets: list[int]) -> Path:
        stage = "decoder" if self.finetune else "stage1"
        key = hashlib.sha256(repr((self.profile.stage_hash(stage), sorted(self.sample.items()), video.name,
                                   input_index, targets, self.finetune)).encode()).hexdigest()[:16]
        return self.cache.root / "frames" / f"{video.name}-{key}.npy"

    def __call__(self, video: Video, input_index: int, targets: list[int]) -> np.ndarray:
        path = self.frames_path(video, input_index, targets)
        if path.is_file():
            return np.load(path)
        pipe = self.pipeline(video, input_index, targets)
        pipe.set_progress_bar_config(disable=True)
        pipe.scheduler = make_scheduler(self.sample["scheduler"], pipe.scheduler.config)
        images = [video.frames[i] for i in (self.subject_frames(video, input_index, targets)
                                            if self.finetune else [input_index])]
        out = pipe(images, video.iuv, frames=targets, num_inference_steps=self.sample["steps"],
                   image_guidance_scale=self.sample["image_guidance_scale"],
                   pose_guidance_scale=self.sample["pose_guidance_scale"],
                   frames_per_batch=self.sample["frames_per_batch"], output_type="np",
                   generator=torch.Generator().manual_seed(video_seed(self.profile.seed, video.name)),
                   height=video.size[0], width=video.size[1])
        frames = (out.frames * 255).round().astype(np.uint8)
        _save_frames(path, frames)
        return frames


def metric_suite(profile: Profile, cache: Cache | None = None) -> MetricSuite:
    """The paper's metrics, plus a feature distance on our own CLIP image tower when the base
    model is the tiny one trained here (named as such; it is not the paper's VGG or LPIPS)."""
    features = []
    if profile.base.source == "train":
        from ..models.base import load_base
        from .base_quality import image_embeds

        base = load_base(profile, cache, progress=False)
        features.append(FeatureDistance(lambda frames: image_embeds(base, frames)))
    return MetricSuite(features=features)


def evaluate(method, label: str, profile: Profile, videos: list[Video], cache: Cache | None = None,
             suite: MetricSuite | None = None, cached: bool = True, progress: bool = True) -> Result:
    """Score ``method`` on ``videos`` with the profile's protocol; cached under ``evaluate/``
    unless ``cached`` is False (e.g. frames imported from a folder that may change)."""
    cache = cache or Cache()
    slug = "".join(c if c.isalnum() else "_" for c in label)
    path = cache.root / "evaluate" / f"{slug}-{profile.stage_hash('evaluate', method=label)}.json" if cached else None
    return evaluate_method(method, videos, profile.eval, profile.seed, path, label=label,
                           suite=suite or metric_suite(profile, cache), progress=progress)


def evaluated_videos(profile: Profile, world) -> list[Video]:
    """The test videos the protocol scores: the first ``eval.n_videos`` (all if 0)."""
    return world.test[: profile.eval.n_videos or None]


def targets_of(profile: Profile, video: Video) -> tuple[int, list[int]]:
    return select_frames(video, profile.eval.n_frames, profile.eval.min_distance, profile.seed)
