"""The tiny base's pretraining data: the world's training videos plus a pretraining corpus.

SD was pretrained on LAION, far broader than UBC Fashion; the tiny base likewise sees, beside
the training videos, ``base.corpus_subjects`` extra subjects of the synthetic world with
``base.corpus_frames`` frames each. They come from their own seed stream (``CORPUS_STREAM``),
so they never repeat a training or test subject of the world. Captions name the garments
and the view of the frame ("a person in a red striped dress, back view").
"""
from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from ..config import ConfigError, Profile
from ..data.garments import Outfit, Texture
from ..data.video import Video
from ..progress import shown

CORPUS_STREAM = 1000  # the world's splits use streams 0 (train) and 1 (test)
HELDOUT_STREAM = 1001  # extra held-out subjects for quality figures, never trained on
CORPUS_FPS = 30
CHUNK = 64  # subjects per rendering job
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


def frame_caption(video: Video, i: int) -> str:
    """The video's caption plus the view of frame i ("..., back view"): the base's prompts."""
    from ..data.world import view_of

    yaw = video.meta.get("yaw")
    return f"{video.caption}, {view_of(yaw[i])} view" if yaw else video.caption


def caption_with(meta: dict, **top) -> str:
    """The subject's caption with fields of the front top texture replaced (colour=..., kind=...)."""
    bottom = Texture(**meta["bottom_front"])
    texture = Texture(**{**meta["top_front"], **top})
    if meta["garment"] == "dress":
        bottom = texture
    return Outfit(meta["garment"], texture, texture, bottom, bottom, meta["sleeves"], 0.0).caption()


def corpus_subject(seed: int, index: int, n_frames: int, width: int, height: int,
                   stream: int = CORPUS_STREAM) -> Video:
    """One corpus subject: ``n_frames`` frames spread over ~2 s of a random motion."""
    from ..data.synthetic import random_motion, random_subject, render_video

    rng = np.random.default_rng([seed, stream, index])
    subject = random_subject(rng)
    stride = 8
    motion = random_motion(rng, n_frames * stride, CORPUS_FPS)  # cloth dynamics at the true frame rate
    motion = type(motion)(**{f.name: getattr(motion, f.name)[::stride] for f in dataclasses.fields(motion)})
    frames, iuv = render_video(subject, motion, width, height)
    meta = {**subject.meta(), "yaw": [round(float(y), 4) for y in motion.yaw], "split": f"stream{stream}"}
    return Video(f"stream{stream}_{index:05d}", frames, iuv, CORPUS_FPS, subject.outfit.caption(), meta)


def _render_chunk(args) -> list[Video]:
    seed, start, stop, n_frames, width, height = args
    return [corpus_subject(seed, i, n_frames, width, height) for i in range(start, stop)]


def render_corpus(profile: Profile, progress: bool = True) -> list[Video]:
    """The pretraining corpus of the profile (empty if base.corpus_subjects = 0)."""
    from tqdm.auto import tqdm

    b, d = profile.base, profile.data
    n = b.corpus_subjects
    if n < 0 or (n and b.corpus_frames < 1):
        raise ConfigError(f"base.corpus_subjects must be >= 0 and base.corpus_frames >= 1, got {n} and "
                          f"{b.corpus_frames} (e.g. base.corpus_subjects=1024 base.corpus_frames=8)")
    jobs = [(profile.seed, s, min(s + CHUNK, n), b.corpus_frames, d.width, d.height) for s in range(0, n, CHUNK)]
    videos: list[Video] = []
    with tqdm(total=n, desc="rendering the pretraining corpus", disable=not shown(progress) or not n) as bar:
        workers = min(len(jobs), os.cpu_count() or 1)
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                for chunk in pool.map(_render_chunk, jobs):
                    videos += chunk
                    bar.update(len(chunk))
        else:
            for job in jobs:
                videos += _render_chunk(job)
                bar.update(job[2] - job[1])
    return videos


def training_frames(videos: list[Video]) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """All frames (N, 3, H, W) uint8 of ``videos``, their foreground masks (N, H, W), captions."""
    frames = torch.from_numpy(np.concatenate([v.frames for v in videos])).permute(0, 3, 1, 2).contiguous()
    foreground = torch.from_numpy(np.concatenate([v.iuv[..., 0] for v in videos]) > 0)
    captions = [frame_caption(v, i) for v in videos for i in range(len(v))]
    return frames, foreground, captions


def person_crops(frames: torch.Tensor, foreground: torch.Tensor, rows: list[int], size: int, align: int,
                 seed: int) -> torch.Tensor:
    """Square crops centred on a random foreground pixel of each frame (the VAE trains where
    the garments are: at 64 px most of a frame is plain background)."""
    rng = np.random.default_rng([seed, *rows[:2]])
    height, width = frames.shape[-2:]
    out = []
    for r in rows:
        ys, xs = np.nonzero(foreground[r].numpy())
        k = rng.integers(len(ys)) if len(ys) else None
        cy, cx = (int(ys[k]), int(xs[k])) if k is not None else (height // 2, width // 2)
        top = min(max(cy - size // 2, 0), height - size) // align * align
        left = min(max(cx - size // 2, 0), width - size) // align * align
        out.append(frames[r, :, top:top + size, left:left + size])
    return torch.stack(out)


@lru_cache(maxsize=4)
def _permutation(seed: int, epoch: int, n: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n)


def rows_of(indices, n: int, seed: int) -> list[int]:
    """Sample index -> training frame: a fresh random permutation of the frames per epoch."""
    return [int(_permutation(seed, i // n, n)[i % n]) for i in indices]


def clip_pixels(frames_u8: torch.Tensor, size: int) -> torch.Tensor:
    """CLIP preprocessing in torch: resize to the tower's size, normalise with CLIP's mean/std."""
    x = frames_u8.float() / 255.0
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)
    mean, std = torch.tensor(CLIP_MEAN)[:, None, None], torch.tensor(CLIP_STD)[:, None, None]
    return (x - mean) / std
