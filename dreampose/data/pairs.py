"""Training datasets of the two finetuning stages (paper 4.2.3).

PairDataset (stage 1): random (input frame, target frame) pairs from the same training
video, with the target's pose window c_p. SubjectDataset (stage 2): the subject's input
image(s) with their poses, and a joint random crop of target image and pose (the paper's
remedy for texture sticking when finetuning on a single image-pose pair).

Items are deterministic functions of (seed, index), which makes training resumable.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from .images import video_to_tensor
from .pose import pose_maps, pose_window, window_indices
from .video import DataError

_POSE_CHUNK = 64  # frames converted at a time: full-resolution float UV of a whole UBC video is ~1 GB


class _SeededDataset(Dataset):
    """``length`` items, item i a function of a generator seeded with (seed, i); ``kind`` names it."""

    kind = "dataset"

    def __init__(self, length: int, seed: int):
        if length < 1:
            raise DataError(f"the {self.kind} needs length >= 1 items, got {length}")
        self.length, self.seed = length, seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict:
        if not 0 <= i < self.length:
            raise IndexError(f"item {i} of a {self.kind} of length {self.length}")
        return self.item(np.random.default_rng([self.seed, i]))

    def item(self, rng: np.random.Generator) -> dict:
        raise NotImplementedError


class PairDataset(_SeededDataset):
    """Random (input, target) frame pairs from one video; a video is drawn with probability
    proportional to its length, so the target is a uniformly random training frame. Input and
    target are drawn independently (they coincide with probability 1 / len(video))."""

    kind = "pair dataset"

    def __init__(self, videos, n_poses: int, latent_size: tuple[int, int], length: int, seed: int):
        if not videos:
            raise DataError("no training videos: the pair dataset needs at least one video")
        window_indices(0, 1, n_poses)  # n_poses must be odd and positive
        super().__init__(length, seed)
        self.videos, self.n_poses = list(videos), n_poses
        self.uv = [  # once, at latent resolution
            torch.cat([pose_maps(v.iuv[s:s + _POSE_CHUNK], latent_size) for s in range(0, len(v), _POSE_CHUNK)])
            for v in self.videos
        ]
        lengths = np.array([len(v) for v in self.videos], float)
        self.weights = lengths / lengths.sum()

    def item(self, rng: np.random.Generator) -> dict:
        k = int(rng.choice(len(self.videos), p=self.weights))
        video = self.videos[k]
        src, tgt = (int(x) for x in rng.integers(0, len(video), size=2))
        return {
            "image": video_to_tensor(video.frames[src]),
            "target": video_to_tensor(video.frames[tgt]),
            "pose": pose_window(self.uv[k], tgt, self.n_poses),
            "video": video.name,
            "input_index": src,
            "target_index": tgt,
        }


def crop_box(rng: np.random.Generator, scale: float) -> tuple[float, float, float, float]:
    """A random box (top, left, height, width) as fractions of the frame, each side in [scale, 1]."""
    if not 0.0 < scale <= 1.0:
        raise ValueError(f"crop scale must be in (0, 1] (fraction of each side kept), got {scale}")
    h, w = rng.uniform(scale, 1.0, size=2)
    top, left = rng.uniform(0.0, 1.0 - h), rng.uniform(0.0, 1.0 - w)
    return float(top), float(left), float(h), float(w)


def apply_crop(x: torch.Tensor, box: tuple[float, float, float, float]) -> torch.Tensor:
    """Crop (C, H, W) to the relative ``box`` and resize back to (H, W), bilinearly.

    The box is in relative coordinates, so the same box applied to an image and to its pose
    map at latent resolution keeps them aligned. Resampling with an affine grid is exact in
    continuous coordinates at any resolution (no rounding of the box to whole pixels). The crop
    is enlarged to full size, so no anti-aliasing is needed.
    """
    top, left, h, w = box
    theta = torch.tensor([[w, 0.0, 2 * left + w - 1], [0.0, h, 2 * top + h - 1]], dtype=x.dtype)
    grid = F.affine_grid(theta[None], [1, *x.shape], align_corners=False)
    return F.grid_sample(x[None], grid, mode="bilinear", padding_mode="border", align_corners=False)[0]


class SubjectDataset(_SeededDataset):
    """The subject's image(s) and pose window(s); item = (conditioning image, augmented target,
    identically augmented pose). With ``random_crop=False`` the target is the image itself."""

    kind = "subject dataset"

    def __init__(self, images, poses, length: int, seed: int, random_crop: bool = True, crop_scale: float = 0.8):
        if len(images) == 0:
            raise DataError("no images of the subject: give at least one input image")
        if len(images) != len(poses):
            raise DataError(f"{len(images)} subject images but {len(poses)} pose windows: give one pose per image")
        super().__init__(length, seed)
        for name, items, first in (("image", images, 3), ("pose window", poses, None)):
            shape = tuple(items[0].shape)
            if len(shape) != 3 or (first is not None and shape[0] != first):
                raise DataError(f"each subject {name} must be a (C, H, W) tensor{' with 3 channels' if first else ''}, "
                                f"got shape {shape}")
            if any(tuple(x.shape) != shape for x in items):
                raise DataError(f"all subject {name}s must have the same shape {shape}; resize them to one size, "
                                f"got {sorted({tuple(x.shape) for x in items})}")
        crop_box(np.random.default_rng(0), crop_scale)  # validates crop_scale
        self.images, self.poses = list(images), list(poses)
        self.random_crop, self.crop_scale = random_crop, crop_scale

    def item(self, rng: np.random.Generator) -> dict:
        k = int(rng.integers(len(self.images)))
        image, pose = self.images[k], self.poses[k]
        target = image
        if self.random_crop:
            box = crop_box(rng, self.crop_scale)
            target, pose = apply_crop(image, box), apply_crop(pose, box)
        return {"image": image, "target": target, "pose": pose}
