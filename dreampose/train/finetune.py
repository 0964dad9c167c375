"""DreamPose's finetuning (paper 4.2.3, 5.1): the training behind the stage1, subject and
decoder stages (``dreampose.stages`` caches them; each trainer writes into a work folder).

    stage1   UNet + adapter on random (input, target) pairs of all training videos, with
             conditioning dropout (5% image, 5% pose in the paper).
    subject  UNet + adapter on the input image(s) of one test subject, no dropout, joint
             random-crop augmentation of image and pose (switchable).
    decoder  the base VAE's decoder alone on the subject image(s), encoder frozen.

Each trainer leaves ``pipeline/`` (a DreamPosePipeline saved with save_pretrained; the decoder
stage: ``vae/``, the AutoencoderKL alone) and ``loss.csv`` in its work folder. Run under
``accelerate launch`` the same functions train on several processes (the world and the base
model must be cached beforehand); only the main process finalises the artifact.
"""
from __future__ import annotations

import math
import shutil
from pathlib import Path

import torch

from ..cache import world_size
from ..config import Profile, subject_seed
from ..files import atomic_path
from .loop import LoopConfig, TrainingError, train
from .objectives import POSTERIORS, DecoderObjective, DreamPoseObjective

PIPELINE_DIR = "pipeline"  # the names dreampose.stages reads back
VAE_DIR = "vae"
SNAPSHOT_DIR = "snapshots"  # snapshots/step-000250/pipeline/, ...: the pipeline after that many steps


def stage1_steps(profile: Profile, world) -> int:
    """Optimizer steps of stage 1: ``stage1.steps``, or ``stage1.epochs`` over all training frames
    at batch_size x grad_accum x processes samples per step (paper profile)."""
    s1 = profile.stage1
    if s1.epochs <= 0:
        return s1.steps
    frames = sum(len(v) for v in world.train)
    return max(1, math.ceil(s1.epochs * frames / (s1.batch_size * s1.grad_accum * world_size())))


def latent_size(profile: Profile) -> tuple[int, int]:
    f = profile.base.latent_downsample
    return profile.data.height // f, profile.data.width // f


def collate(dataset):
    """make_batch for the loop: stack the tensors of dataset items at the given indices."""

    def make_batch(indices: list[int]) -> dict:
        items = [dataset[i % len(dataset)] for i in indices]
        return {k: torch.stack([it[k] for it in items]) for k in ("image", "target", "pose")}

    return make_batch


def _finish(summary: dict, model, work: Path, train_dir: Path, folder: str = PIPELINE_DIR) -> dict:
    """Save the trained ``model`` (a pipeline, or the VAE) as ``folder`` and the loss curve; drop
    the checkpoints (main process only)."""
    if summary["is_main_process"]:
        model.save_pretrained(work / folder, safe_serialization=True)
        shutil.copy(train_dir / "loss.csv", work / "loss.csv")
        shutil.rmtree(train_dir, ignore_errors=True)
    return {k: summary[k] for k in ("final_loss", "steps", "resumed_from", "train_seconds", "processes")}


def snapshot_dir(folder: Path, step: int) -> Path:
    return Path(folder) / SNAPSHOT_DIR / f"step-{step:06d}"


def _keep_snapshots(pipe, work: Path, steps):
    """on_step for the loop: save the pipeline after each of ``steps`` (once; a resumed run keeps it)."""
    wanted = set(steps)

    def on_step(step: int) -> None:
        target = snapshot_dir(work, step)
        if step in wanted and not target.is_dir():
            with atomic_path(target) as tmp:
                pipe.save_pretrained(tmp / PIPELINE_DIR, safe_serialization=True)

    return on_step


def train_stage1(profile: Profile, world, base, work: Path, progress: bool = True, snapshots=()) -> dict:
    """Stage 1: DreamPose initialised from ``base`` (paper 4.2), finetuned on ``world.train``;
    the pipeline after each of ``snapshots`` steps is kept too (``snapshot_dir``)."""
    from ..data.pairs import PairDataset
    from ..pipeline import DreamPosePipeline

    s1 = profile.stage1
    if not world.train:
        raise TrainingError("stage 1 needs training videos, the training split is empty; check data settings")
    pipe = DreamPosePipeline.from_base(base, n_poses=profile.model.n_poses,
                                       image_encoder_mode=profile.model.image_encoder,
                                       size=(profile.data.height, profile.data.width))  # the default output size
    steps = stage1_steps(profile, world)
    data = PairDataset(world.train, profile.model.n_poses, latent_size(profile),
                       length=steps * s1.grad_accum * s1.batch_size * world_size(), seed=profile.seed)
    objective = DreamPoseObjective(pipe, s1.image_dropout, s1.pose_dropout, s1.both_dropout,
                                   vae_branch_lr_scale=s1.vae_branch_lr_scale)
    if s1.gradient_checkpointing:
        pipe.unet.enable_gradient_checkpointing()
    cfg = LoopConfig(steps=steps, lr=s1.lr, batch_size=s1.batch_size, grad_accum=s1.grad_accum,
                     checkpoint_every=s1.checkpoint_every, seed=profile.seed,
                     mixed_precision=s1.mixed_precision, use_8bit_adam=s1.use_8bit_adam, desc="stage 1")
    summary = train(objective, collate(data), cfg, work / "train", progress=progress,
                    on_step=_keep_snapshots(pipe, work, snapshots) if snapshots else None)
    return _finish(summary, pipe, work, work / "train")


def subject_windows(profile: Profile, person) -> list[torch.Tensor]:
    """c_p of each of ``person``'s images: its IUV window as (2 * n_poses, h, w) UV maps."""
    from ..data.pose import pose_maps

    k, n = person.pose_windows.shape[:2]
    uv = pose_maps(person.pose_windows.reshape(k * n, *person.pose_windows.shape[2:]), latent_size(profile))
    return list(uv.reshape(k, n * uv.shape[1], *uv.shape[2:]))


def train_subject(profile: Profile, pipe, person, work: Path, progress: bool = True) -> dict:
    """Stage 2: the stage-1 ``pipe``'s UNet + adapter on ``person``'s image(s) and poses, no
    dropout, joint random crops of image and pose (switchable: ``subject.random_crop``); seeded by
    ``subject.seed`` (null: the profile's seed)."""
    from ..data.images import video_to_tensor
    from ..data.pairs import SubjectDataset

    sub = profile.subject
    data = SubjectDataset(list(video_to_tensor(person.images)), subject_windows(profile, person),
                          length=sub.steps * sub.batch_size * world_size(), seed=subject_seed(profile),
                          random_crop=sub.random_crop,
                          crop_scale=sub.crop_scale)
    cfg = LoopConfig(steps=sub.steps, lr=sub.lr, batch_size=sub.batch_size,
                     checkpoint_every=sub.checkpoint_every, seed=subject_seed(profile), desc=f"subject {person.name}")
    objective = DreamPoseObjective(pipe, fixed_images=True, posteriors=POSTERIORS,
                                   vae_branch_lr_scale=sub.vae_branch_lr_scale)
    summary = train(objective, collate(data), cfg, work / "train", progress=progress)
    return {**_finish(summary, pipe, work, work / "train"), "subject": person.name, "images": len(person.images)}


def train_decoder(profile: Profile, vae, person, work: Path, progress: bool = True) -> dict:
    """The decoder of ``vae`` (the base model's, which the other stages leave frozen) on ``person``'s
    image(s), encoder frozen; seeded and cropped like the subject stage (``subject.seed``, ``random_crop``)."""
    from ..data.images import video_to_tensor
    from ..data.pairs import SubjectDataset

    dec = profile.decoder
    frames = list(video_to_tensor(person.images))
    no_pose = [torch.zeros(2, 1, 1) for _ in frames]  # the decoder sees images only
    data = SubjectDataset(frames, no_pose, length=dec.steps * dec.batch_size * world_size(), seed=subject_seed(profile),
                          random_crop=profile.subject.random_crop, crop_scale=profile.subject.crop_scale)
    cfg = LoopConfig(steps=dec.steps, lr=dec.lr, batch_size=dec.batch_size,
                     checkpoint_every=dec.checkpoint_every, seed=subject_seed(profile), desc=f"decoder {person.name}")
    summary = train(DecoderObjective(vae, POSTERIORS), collate(data), cfg, work / "train", progress=progress)
    return {**_finish(summary, vae, work, work / "train", VAE_DIR), "subject": person.name,
            "images": len(person.images)}
