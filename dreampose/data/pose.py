"""Pose conditioning (paper 4.2.2): IUV -> 2-channel UV map -> window of n_poses frames.

One normalisation for training and inference (the authors' code used two):
``uv = 2 * (IUV[..., 1:3] / 255) - 1``, so U, V in [0, 1] map to [-1, 1] and background
(U = V = 0 in an IUV image) maps to -1. The map is resized to the latent resolution.

c_p for target frame i is {p(i-2), p(i-1), p(i), p(i+1), p(i+2)} stacked on the channel
axis (10 channels for 5 poses); a neighbour beyond either end of the sequence is replaced
by frame i itself. The null pose of classifier-free guidance is all zeros.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .video import DataError

POSE_CHANNELS = 2  # U and V per frame (the part index I is not used, as in the paper)


def window_indices(i: int, length: int, n_poses: int) -> list[int]:
    """Frame indices of the pose window centred on ``i``; out-of-range ones become ``i``."""
    if n_poses < 1 or n_poses % 2 == 0:
        raise ValueError(f"n_poses must be odd and positive (1 or 5), got {n_poses}")
    if not 0 <= i < length:
        raise IndexError(f"frame {i} is outside a sequence of {length} poses")
    half = n_poses // 2
    return [j if 0 <= j < length else i for j in range(i - half, i + half + 1)]


def iuv_to_uv(iuv: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(..., H, W, 3) uint8 IUV -> (..., 2, H, W) float UV map in [-1, 1]."""
    iuv = torch.as_tensor(np.asarray(iuv))
    if iuv.dtype != torch.uint8 or iuv.shape[-1] != 3:
        raise DataError(f"IUV must be (..., H, W, 3) uint8 (DensePose IUV image), got {tuple(iuv.shape)} {iuv.dtype}")
    uv = iuv[..., 1:3].float() / 255.0 * 2.0 - 1.0
    return uv.movedim(-1, -3).contiguous()


def resize_uv(uv: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize (..., 2, H, W) UV maps to ``size`` = (h, w) with anti-aliasing."""
    if tuple(uv.shape[-2:]) == tuple(size):
        return uv
    lead = uv.shape[:-3]
    flat = uv.reshape(-1, *uv.shape[-3:])
    out = F.interpolate(flat, size=size, mode="bilinear", antialias=True, align_corners=False)
    return out.reshape(*lead, *out.shape[-3:])


def pose_maps(iuv: np.ndarray | torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
    """IUV sequence (T, H, W, 3) -> UV maps (T, 2, h, w), resized to ``size`` if given."""
    uv = iuv_to_uv(iuv)
    return resize_uv(uv, size) if size is not None else uv


def pose_window(uv_seq: torch.Tensor, i: int, n_poses: int) -> torch.Tensor:
    """c_p for frame i: (T, 2, h, w) -> (2 * n_poses, h, w)."""
    idx = window_indices(i, uv_seq.shape[0], n_poses)
    return uv_seq[idx].reshape(-1, *uv_seq.shape[-2:])


def pose_windows(uv_seq: torch.Tensor, n_poses: int) -> torch.Tensor:
    """c_p for every frame: (T, 2, h, w) -> (T, 2 * n_poses, h, w)."""
    return torch.stack([pose_window(uv_seq, i, n_poses) for i in range(uv_seq.shape[0])])


def check_pose_maps(uv: torch.Tensor, what: str = "pose maps") -> torch.Tensor:
    """Validate user-supplied UV maps (T, 2, H, W) float in [-1, 1]; clear errors otherwise."""
    if not isinstance(uv, torch.Tensor):
        raise DataError(f"{what} must be a torch tensor of shape (T, 2, H, W), got {type(uv).__name__}")
    if uv.ndim != 4 or uv.shape[1] != POSE_CHANNELS:
        raise DataError(
            f"{what} must have shape (T, 2, H, W) (U and V per frame), got {tuple(uv.shape)}; "
            "convert DensePose IUV images with dreampose.data.pose.pose_maps"
        )
    if uv.shape[0] == 0:
        raise DataError(f"{what} are empty: give at least one pose")
    if not uv.is_floating_point():
        raise DataError(f"{what} must be floating point in [-1, 1], got {uv.dtype}; use pose_maps() on IUV uint8")
    if not torch.isfinite(uv).all() or uv.min() < -1.0001 or uv.max() > 1.0001:
        raise DataError(
            f"{what} must lie in [-1, 1] (U, V normalised as 2u - 1), got range "
            f"[{uv.min().item():.3g}, {uv.max().item():.3g}]"
        )
    return uv
