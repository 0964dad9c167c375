"""Turning user inputs into DreamPose's conditions: images -> c_CLIP, c_VAE; poses -> c_p.

Shared by the pipeline (inference) and the finetuning stages (training), so both see the same
preprocessing: one CLIP normalisation, one pose normalisation (the null conditions of
guidance and dropout live in `dreampose.guidance`).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F

from .data.images import load_image
from .data.pose import check_pose_maps, pose_maps, pose_windows, resize_uv
from .data.video import DataError


def clip_preprocess(images: torch.Tensor, feature_extractor) -> torch.Tensor:
    """CLIPImageProcessor's steps in torch, batched: [-1, 1] images (B, 3, H, W) -> pixel_values.

    Resize the shortest edge to ``size["shortest_edge"]`` (bicubic, antialiased, one axis at a
    time like PIL), centre-crop to
    ``crop_size``, normalise by CLIP's mean and std. (The PIL processor is slow, and torchvision,
    its fast backend, is not used in this project.)
    """
    crop = feature_extractor.crop_size
    ch, cw = crop["height"], crop["width"]
    shortest = (getattr(feature_extractor, "size", None) or {}).get("shortest_edge", max(ch, cw))
    x = (images.float() + 1.0) / 2.0
    h, w = x.shape[-2:]
    short = max(shortest, ch, cw)  # the long edge is truncated, as transformers does
    size = (short, int(short * w / h)) if h <= w else (int(short * h / w), short)
    for step in ((h, size[1]), size):  # width, then height, clipped in between, as PIL resamples
        if step != tuple(x.shape[-2:]):
            x = F.interpolate(x, size=step, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)
    top, left = (size[0] - ch) // 2, (size[1] - cw) // 2
    x = x[..., top:top + ch, left:left + cw]
    mean = torch.tensor(feature_extractor.image_mean, dtype=x.dtype, device=x.device)[:, None, None]
    std = torch.tensor(feature_extractor.image_std, dtype=x.dtype, device=x.device)[:, None, None]
    return (x - mean) / std


def as_image_batch(image, size: tuple[int, int]) -> torch.Tensor:
    """One or several images (path, PIL, uint8 array, or [-1, 1] tensor) -> (K, 3, H, W)."""
    if isinstance(image, torch.Tensor) and image.ndim == 4:  # (K, 3, H, W): K views
        image = list(image)
    items = image if isinstance(image, (list, tuple)) else [image]
    if not items:
        raise DataError("no input image: give at least one image of the person")
    out = []
    for item in items:
        if isinstance(item, torch.Tensor):
            x = item
            if x.ndim != 3 or x.shape[0] != 3 or not x.is_floating_point():
                raise DataError(f"an image tensor must be float (3, H, W) in [-1, 1], got shape {tuple(item.shape)} "
                                f"{item.dtype}; give uint8 pictures as (H, W, 3) numpy arrays or PIL images")
            if not torch.isfinite(x).all() or x.min() < -1.001 or x.max() > 1.001:
                raise DataError("an image tensor must lie in [-1, 1]; convert with x * 2 - 1 from [0, 1]")
            if tuple(x.shape[-2:]) != tuple(size):
                x = F.interpolate(x[None].float(), size=size, mode="bilinear", antialias=True)[0]
            out.append(x.float())
        else:
            out.append(load_image(item, size=size))
    return torch.stack(out)


def check_iuv(iuv: np.ndarray, what: str = "IUV poses") -> np.ndarray:
    """Validate DensePose IUV images (T, H, W, 3) uint8: part index I in 0..24, U and V 0..255."""
    if iuv.dtype != np.uint8 or iuv.ndim != 4 or iuv.shape[-1] != 3:
        raise DataError(f"{what} must be DensePose IUV images (T, H, W, 3) uint8, got {iuv.shape} {iuv.dtype}; "
                        "UV maps are accepted as float (T, 2, H, W) in [-1, 1]")
    if len(iuv) == 0:
        raise DataError(f"{what}: the pose sequence is empty, give at least one pose")
    if 0 in iuv.shape[1:3]:
        raise DataError(f"{what} have no pixels (size {iuv.shape[2]}x{iuv.shape[1]}); give non-empty IUV images")
    if iuv[..., 0].max() > 24:
        raise DataError(f"{what} look like plain pictures, not DensePose IUV (channel 0, the part index, goes "
                        f"up to {iuv[..., 0].max()}, above 24); run DensePose on the driving video first "
                        "(docs/ubc_fashion.md)")
    return iuv


def as_pose_windows(poses, latent_size: tuple[int, int], n_poses: int) -> torch.Tensor:
    """A pose sequence -> c_p for every frame (T, 2 * n_poses, h, w) at latent resolution.

    ``poses``: IUV uint8 (T, H, W, 3) (DensePose IUV images) or UV maps (T, 2, H, W) in [-1, 1].
    Poses of another aspect ratio than the output are stretched, with a warning.
    """
    if isinstance(poses, torch.Tensor) and poses.dtype == torch.uint8:
        poses = poses.cpu().numpy()
    if isinstance(poses, np.ndarray) and poses.dtype == np.uint8:
        _warn_if_stretched(check_iuv(poses).shape[1:3], latent_size)
        uv = pose_maps(poses, latent_size)
    else:
        uv = torch.from_numpy(poses) if isinstance(poses, np.ndarray) else poses
        if isinstance(uv, torch.Tensor) and uv.ndim == 4 and len(uv) and 0 in uv.shape[-2:]:
            raise DataError(f"pose maps have no pixels (shape {tuple(uv.shape)}); give (T, 2, H, W) with H, W > 0")
        uv = check_pose_maps(uv)
        _warn_if_stretched(tuple(uv.shape[-2:]), latent_size)
        uv = resize_uv(uv.float(), latent_size)
    if len(uv) < n_poses:
        warnings.warn(f"only {len(uv)} poses for a window of {n_poses}: the window of every frame repeats the "
                      "nearest pose at the sequence ends (as at the start and end of any video); give at least "
                      f"{n_poses} poses for full pose windows", stacklevel=2)
    return pose_windows(uv, n_poses)


def _warn_if_stretched(hw: tuple[int, int], latent_size: tuple[int, int]) -> None:
    (h, w), (lh, lw) = hw, latent_size
    if abs(w * lh / (h * lw) - 1) > 0.01:
        warnings.warn(f"the poses are {w}x{h} (width x height) but the output's aspect ratio is {lw}:{lh}; they "
                      "are stretched. Crop the poses (or set height/width) to the same aspect ratio", stacklevel=3)
