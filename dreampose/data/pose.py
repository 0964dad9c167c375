"""Poses in one place: reading, checking and converting DensePose IUV (paper 4.1, 4.2.2).

Reading: ``read_pose_sequence`` takes the pose input of `dreampose animate` (p_1..p_N): a folder
of IUV pngs in natural order (f2 before f10), one png, or a .npy / .npz holding IUV
(T, H, W, 3) uint8 or UV maps (T, 2, H, W) float in [-1, 1]; ``read_iuv_png`` reads one IUV
png (a pose file of that folder, or a frame of a UBC video's DensePose folder).

Checking: ``check_iuv`` for IUV images, ``check_pose_maps`` for UV maps.

Converting: one normalisation for training and inference (the authors' code used two),
``uv = 2 * (IUV[..., 1:3] / 255) - 1``, so U, V in [0, 1] map to [-1, 1] and background
(U = V = 0) maps to -1; the map is resized to the latent resolution. c_p for target frame i
is {p(i-2), p(i-1), p(i), p(i+1), p(i+2)} stacked on the channel axis (10 channels for 5
poses); a neighbour beyond either end of the sequence is replaced by frame i itself.
``as_pose_windows`` does all of it for the pipeline. The null pose of guidance is all zeros.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .video import DataError

POSE_CHANNELS = 2  # U and V per frame (the part index I is not used, as in the paper)
MAX_PART = 24  # DensePose's part indices: 0 = background, 1..24 = body parts


# -- reading ------------------------------------------------------------------------------------
def natural_key(path: Path) -> list:
    """Sort key putting frame_2.png before frame_10.png."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def read_iuv_png(path: Path, fix: str = "is it a complete png?") -> np.ndarray:
    """One DensePose IUV png -> (H, W, 3) uint8; ``fix`` ends the message of an unreadable file."""
    try:
        with Image.open(path) as img:
            img.load()
            mode, arr = img.mode, np.asarray(img)
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(f"cannot read pose file {path} ({err}); {fix}") from None
    if mode != "RGB":
        raise DataError(f"pose file {path} has mode {mode} ({arr.shape[-1] if arr.ndim == 3 else 1} channels), "
                        "but a DensePose IUV image is 8-bit RGB: I (part index), U, V")
    return arr


def read_pose_sequence(path: str | Path) -> np.ndarray:
    """IUV uint8 (T, H, W, 3) or UV float32 (T, 2, H, W) from a png folder, a png, .npy or .npz."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"pose input {path} does not exist; give a folder of DensePose IUV pngs or a .npy/.npz file")
    if path.is_dir():
        return _read_png_folder(path)
    suffix = path.suffix.lower()
    if suffix == ".png":
        return check_iuv(read_iuv_png(path)[None], f"pose file {path}")
    if suffix not in (".npy", ".npz"):
        raise DataError(f"cannot read poses from {path}: give a folder of IUV pngs, a png, a .npy or a .npz")
    return _read_array_file(path)


def _read_png_folder(path: Path) -> np.ndarray:
    files = sorted(path.glob("*.png"), key=natural_key)
    if not files:
        other = sorted(p.name for p in path.iterdir() if p.is_file())[:3]
        hint = f" (found {', '.join(other)}; IUV must be lossless png, not jpg)" if other else ""
        raise DataError(f"the pose folder {path} holds no png files{hint}; put one DensePose IUV png per frame")
    _check_numbering(path, files)
    frames = [read_iuv_png(f) for f in files]
    sizes = {f.shape for f in frames}
    if len(sizes) > 1:
        raise DataError(f"the IUV pngs in {path} differ in size ({sorted(sizes)}); all frames need one size")
    return check_iuv(np.stack(frames), f"pose pngs in {path}")


def _check_numbering(folder: Path, files: list[Path]) -> None:
    """Numbered frames (f0.png, f1.png, ... or 00000.png, ...) must not skip a number: a missing
    pose would silently speed up the motion."""
    parts = [re.fullmatch(r"(.*?)(\d+)", f.stem) for f in files]
    if not all(parts) or len({m.group(1) for m in parts}) != 1:
        return  # not one numbered series: natural order is all we can use
    numbers = [int(m.group(2)) for m in parts]
    for a, b, m in zip(numbers, numbers[1:], parts):
        if b != a + 1:
            digits = len(m.group(2)) if m.group(2).startswith("0") else 0
            missing = folder / f"{m.group(1)}{a + 1:0{digits}d}.png"
            raise DataError(f"the pose folder {folder} skips {missing.name} (after {files[numbers.index(a)].name}): "
                            "one DensePose IUV png per frame, numbered without gaps; re-run DensePose for the "
                            "missing frames or renumber the files")


def _read_array_file(path: Path) -> np.ndarray:
    """The pose array of a .npy / .npz file: IUV uint8 or UV float32, checked."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read {path} ({err}); save poses with numpy.save / numpy.savez") from None
    if path.suffix.lower() == ".npz":
        with data:
            keys = list(data.keys())
            key = next((k for k in ("iuv", "uv", "poses") if k in keys), keys[0] if len(keys) == 1 else None)
            if key is None:
                raise DataError(f"{path} holds {keys}; name the pose array 'iuv' or 'uv' (or store only one)")
            data = data[key]
    if data.dtype == np.uint8:
        return check_iuv(data, f"poses in {path}")
    if data.dtype.kind != "f":
        raise DataError(f"poses in {path} are {data.dtype}; give IUV as uint8 (T, H, W, 3) or UV maps as float "
                        "(T, 2, H, W) in [-1, 1]")
    check_pose_maps(torch.from_numpy(data), f"UV poses in {path}")
    return data.astype(np.float32)


# -- checking -----------------------------------------------------------------------------------
def check_iuv(iuv: np.ndarray, what: str = "IUV poses") -> np.ndarray:
    """Validate DensePose IUV images (T, H, W, 3) uint8: part index I in 0..24, U and V 0..255."""
    if iuv.dtype != np.uint8 or iuv.ndim != 4 or iuv.shape[-1] != 3:
        raise DataError(f"{what} must be DensePose IUV images (T, H, W, 3) uint8, got {iuv.shape} {iuv.dtype}; "
                        "UV maps are accepted as float (T, 2, H, W) in [-1, 1]")
    if len(iuv) == 0:
        raise DataError(f"{what}: the pose sequence is empty, give at least one pose")
    if 0 in iuv.shape[1:3]:
        raise DataError(f"{what} have no pixels (size {iuv.shape[2]}x{iuv.shape[1]}); give non-empty IUV images")
    if iuv[..., 0].max() > MAX_PART:
        raise DataError(f"{what} look like plain pictures, not DensePose IUV (channel 0, the part index, goes "
                        f"up to {iuv[..., 0].max()}, above {MAX_PART}); run DensePose on the driving video first "
                        "(docs/ubc_fashion.md)")
    return iuv


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


# -- converting ---------------------------------------------------------------------------------
def as_iuv(poses) -> np.ndarray:
    """Poses as DensePose IUV (T, H, W, 3) uint8: IUV is checked, UV maps (T, 2, H, W) in
    [-1, 1] are quantised to 8 bits (I = 1 on the body, 0 where U = V = -1, the background)."""
    if isinstance(poses, torch.Tensor):
        poses = poses.cpu().numpy()
    poses = np.asarray(poses)
    if poses.dtype == np.uint8:
        return check_iuv(poses)
    uv = check_pose_maps(torch.from_numpy(poses.astype(np.float32))).numpy()
    u8 = np.round((np.moveaxis(uv, 1, -1) + 1.0) / 2.0 * 255.0).clip(0, 255).astype(np.uint8)
    body = (u8 > 0).any(-1, keepdims=True).astype(np.uint8)
    return np.concatenate([body, u8], -1)


def resample_fps(length: int, src_fps: float, dst_fps: float) -> list[int]:
    """Indices of a ``length``-frame sequence at ``src_fps`` that show it at ``dst_fps``
    (nearest frame; the duration is kept)."""
    if not (src_fps > 0 and dst_fps > 0):
        raise DataError(f"frame rates must be positive, got {src_fps} and {dst_fps}")
    n = max(1, round(length * dst_fps / src_fps))
    return [min(length - 1, int(k * src_fps / dst_fps + 0.5)) for k in range(n)]


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
