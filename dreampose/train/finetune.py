"""DreamPose's finetuning stages (paper 4.2.3, 5.1), each a cached, resumable artifact.

    stage1   UNet + adapter on random (input, target) pairs of all training videos, with
             conditioning dropout (5% image, 5% pose in the paper).
    subject  UNet + adapter on the input image(s) of one test subject, no dropout, joint
             random-crop augmentation of image and pose (switchable).
    decoder  the VAE decoder alone on the subject image(s), encoder frozen.

Each artifact folder holds ``pipeline/`` (a DreamPosePipeline saved with save_pretrained)
and ``loss.csv``. Run under ``accelerate launch`` the same functions train on several
processes (the world and the base model must be cached beforehand); only the main process
finalises the artifact.
"""
from __future__ import annotations

import math
import shutil
from pathlib import Path

import torch

from ..cache import Artifact, Cache
from ..config import Profile
from .loop import LoopConfig, TrainingError, train
from .objectives import DecoderObjective, DreamPoseObjective

PIPELINE_DIR = "pipeline"


def latent_size(profile: Profile) -> tuple[int, int]:
    f = profile.base.latent_downsample
    return profile.data.height // f, profile.data.width // f


def collate(dataset):
    """make_batch for the loop: stack the tensors of dataset items at the given indices."""

    def make_batch(indices: list[int]) -> dict:
        items = [dataset[i % len(dataset)] for i in indices]
        return {k: torch.stack([it[k] for it in items]) for k in ("image", "target", "pose")}

    return make_batch


def _finish(summary: dict, pipe, work: Path, train_dir: Path) -> dict:
    """Save the trained pipeline and the loss curve; drop the checkpoints (main process only)."""
    if summary["is_main_process"]:
        pipe.save_pretrained(work / PIPELINE_DIR, safe_serialization=True)
        shutil.copy(train_dir / "loss.csv", work / "loss.csv")
        shutil.rmtree(train_dir, ignore_errors=True)
    return {k: summary[k] for k in ("final_loss", "steps", "resumed_from", "train_seconds", "processes")}


def load_pipeline(artifact: Artifact):
    from ..pipeline import DreamPosePipeline

    return DreamPosePipeline.from_pretrained(artifact.path / PIPELINE_DIR)


def stage1(profile: Profile, cache: Cache | None = None, progress: bool = True) -> Artifact:
    """Stage 1: finetune UNet + adapter on all training videos (cached)."""
    from ..data.pairs import PairDataset
    from ..data.world import load_world
    from ..models.base import load_base
    from ..pipeline import DreamPosePipeline

    cache = cache or Cache()
    s1 = profile.stage1

    def build(work: Path) -> dict:
        world = load_world(profile, cache, progress=progress)
        if not world.train:
            raise TrainingError("stage 1 needs training videos, the training split is empty; check data settings")
        base = load_base(profile, cache, progress=progress)
        pipe = DreamPosePipeline.from_base(
            base, n_poses=profile.model.n_poses, image_encoder_mode=profile.model.image_encoder
        )
        steps = s1.steps
        if s1.epochs > 0:  # paper profile: epochs over all training frames
            frames = sum(len(v) for v in world.train)
            steps = max(1, math.ceil(s1.epochs * frames / (s1.batch_size * s1.grad_accum)))
        data = PairDataset(world.train, profile.model.n_poses, latent_size(profile),
                           length=steps * s1.grad_accum * s1.batch_size, seed=profile.seed)
        objective = DreamPoseObjective(pipe, s1.image_dropout, s1.pose_dropout, s1.both_dropout)
        if s1.gradient_checkpointing:
            pipe.unet.enable_gradient_checkpointing()
        cfg = LoopConfig(steps=steps, lr=s1.lr, batch_size=s1.batch_size, grad_accum=s1.grad_accum,
                         checkpoint_every=s1.checkpoint_every, seed=profile.seed,
                         mixed_precision=s1.mixed_precision, use_8bit_adam=s1.use_8bit_adam, desc="stage 1")
        summary = train(objective, collate(data), cfg, work / "train", progress=progress)
        return _finish(summary, pipe, work, work / "train")

    return cache.artifact(profile, "stage1", build, collective=True)


def subject_images(video, input_index: int, n_images: int, exclude=()) -> list[int]:
    """Frame indices of the subject's input images (paper 6.3): the input frame, then
    ``n_images - 1`` frames spread evenly over the rest of the video (other views of the
    turning subject), none of them in ``exclude`` (e.g. the evaluation targets)."""
    if n_images == 1:
        return [input_index]
    banned = set(exclude) | {input_index}
    pool = [i for i in range(len(video)) if i not in banned]
    if len(pool) < n_images - 1:
        raise TrainingError(f"video {video.name!r} has too few frames outside the evaluation window for "
                            f"subject.n_images={n_images}; lower it")
    return [input_index] + [pool[int((k + 0.5) * len(pool) / (n_images - 1))] for k in range(n_images - 1)]


def _check_images(idx: list[int], video, input_index: int, n_images: int) -> list[int]:
    idx = [int(i) for i in idx]
    if len(idx) != n_images or idx[0] != input_index or not all(0 <= i < len(video) for i in idx):
        raise TrainingError(f"subject images {idx} must be {n_images} frame indices of video {video.name!r} "
                            f"({len(video)} frames), the input frame {input_index} first (subject.n_images)")
    return idx


def subject(profile: Profile, video, input_index: int = 0, cache: Cache | None = None,
            progress: bool = True, images: list[int] | None = None) -> Artifact:
    """Stage 2: finetune the stage-1 UNet + adapter on the subject's input image(s) (cached).

    ``images``: frame indices of the subject images (default ``subject_images``), input frame first.
    """
    from ..data.images import video_to_tensor
    from ..data.pairs import SubjectDataset
    from ..data.pose import pose_maps, pose_window

    cache = cache or Cache()
    sub = profile.subject
    base_art = stage1(profile, cache, progress)
    idx = _check_images(images or subject_images(video, input_index, sub.n_images), video, input_index, sub.n_images)

    def build(work: Path) -> dict:
        pipe = load_pipeline(base_art)
        frames = video_to_tensor(video.frames[idx])
        uv = pose_maps(video.iuv, latent_size(profile))
        windows = [pose_window(uv, i, profile.model.n_poses) for i in idx]
        data = SubjectDataset(list(frames), windows, length=sub.steps * sub.batch_size,
                              seed=profile.seed, random_crop=sub.random_crop, crop_scale=sub.crop_scale)
        objective = DreamPoseObjective(pipe)  # no dropout in subject finetuning
        cfg = LoopConfig(steps=sub.steps, lr=sub.lr, batch_size=sub.batch_size,
                         checkpoint_every=sub.checkpoint_every, seed=profile.seed, desc=f"subject {video.name}")
        summary = train(objective, collate(data), cfg, work / "train", progress=progress)
        return {**_finish(summary, pipe, work, work / "train"), "video": video.name, "images": idx}

    return cache.artifact(profile, "subject", build, collective=True, video=video.name, images=idx)


def decoder(profile: Profile, video, input_index: int = 0, cache: Cache | None = None,
            progress: bool = True, images: list[int] | None = None) -> Artifact:
    """VAE decoder finetuning on the subject image(s) after stage 2 (cached).

    With ``decoder.enabled = false`` (the Ours_No-VAE-FT ablation) this is the subject artifact.
    """
    from ..data.images import video_to_tensor
    from ..data.pairs import SubjectDataset

    cache = cache or Cache()
    subject_art = subject(profile, video, input_index, cache, progress, images)
    if not profile.decoder.enabled:
        return subject_art
    dec = profile.decoder
    idx = subject_art.manifest["images"]

    def build(work: Path) -> dict:
        pipe = load_pipeline(subject_art)
        frames = list(video_to_tensor(video.frames[idx]))
        dummy_pose = [torch.zeros(2, 1, 1) for _ in idx]  # the decoder sees images only
        data = SubjectDataset(frames, dummy_pose, length=dec.steps * dec.batch_size, seed=profile.seed,
                              random_crop=profile.subject.random_crop, crop_scale=profile.subject.crop_scale)
        objective = DecoderObjective(pipe.vae)
        cfg = LoopConfig(steps=dec.steps, lr=dec.lr, batch_size=dec.batch_size,
                         checkpoint_every=dec.checkpoint_every, seed=profile.seed, desc=f"decoder {video.name}")
        summary = train(objective, collate(data), cfg, work / "train", progress=progress)
        return {**_finish(summary, pipe, work, work / "train"), "video": video.name, "images": idx}

    return cache.artifact(profile, "decoder", build, collective=True, video=video.name, images=idx)
