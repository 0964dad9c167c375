"""Video files in and out: write generated frames as .mp4 / .gif; read a driving pose sequence.

``write_video`` is atomic: it writes a temporary file next to the target and renames it with
``os.replace``, so an interrupted run never leaves a truncated video under the final name.
MP4 is H.264 (yuv420p) through imageio-ffmpeg; GIF goes through Pillow (its encoder merges
identical consecutive frames into one longer frame, so the timing is kept but a reader may
count fewer frames).

``read_pose_sequence`` reads the pose input of `dreampose animate` (paper 4.1: p_1..p_N):
a folder of DensePose IUV pngs (sorted by the numbers in their names), one IUV png, or a
.npy / .npz file holding IUV (T, H, W, 3) uint8 or UV maps (T, 2, H, W) float in [-1, 1].
"""
from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .conditioning import check_iuv
from .data.pose import check_pose_maps
from .data.video import DataError

VIDEO_SUFFIXES = (".mp4", ".gif")


def _as_uint8_frames(frames) -> np.ndarray:
    """A list of PIL images / uint8 (H, W, 3) arrays, or a (T, H, W, 3) uint8 array -> (T, H, W, 3)."""
    if isinstance(frames, np.ndarray) and frames.ndim == 4:
        arr = frames
    else:
        if len(frames) == 0:
            raise DataError("no frames to write: the frame list is empty")
        arr = np.stack([np.asarray(f.convert("RGB") if isinstance(f, Image.Image) else f) for f in frames])
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] != 3:
        raise DataError(f"frames must be PIL images or uint8 (T, H, W, 3) RGB, got {arr.shape} {arr.dtype}; "
                        "use output_type='pil' or convert with (x * 255).round().astype(np.uint8)")
    if len(arr) == 0:
        raise DataError("no frames to write: the frame array is empty")
    return arr


def _even(arr: np.ndarray) -> np.ndarray:
    """H.264 with yuv420p needs an even height and width: repeat the last row / column if odd."""
    h, w = arr.shape[1:3]
    if h % 2 or w % 2:
        warnings.warn(f"frames are {w}x{h}; padded to an even size for H.264 by repeating the edge", stacklevel=3)
        arr = np.pad(arr, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return arr


def _write_mp4(arr: np.ndarray, path: Path, fps: float) -> None:
    import imageio.v2 as imageio

    with imageio.get_writer(path, format="FFMPEG", fps=fps, codec="libx264", quality=9, macro_block_size=1,
                            ffmpeg_log_level="error") as writer:
        for frame in _even(arr):
            writer.append_data(np.ascontiguousarray(frame))


def _write_gif(arr: np.ndarray, path: Path, fps: float) -> None:
    images = [Image.fromarray(np.ascontiguousarray(f)) for f in arr]
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)


def write_video(frames, path: str | Path, fps: float = 30) -> Path:
    """Write frames (list of PIL | uint8 (T, H, W, 3)) to ``path`` (.mp4 or .gif), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise DataError(f"cannot write {path}: unknown video type {path.suffix!r}; name it .mp4 or .gif")
    if not fps > 0:
        raise DataError(f"fps must be positive, got {fps}")
    arr = _as_uint8_frames(frames)
    folder = path.parent
    if not folder.is_dir():
        raise DataError(f"cannot write {path}: the folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK):
        raise DataError(f"cannot write {path}: the folder {folder} is not writable; choose another --out")
    tmp = folder / f".{path.stem}.{os.getpid()}.tmp{suffix}"
    try:
        (_write_mp4 if suffix == ".mp4" else _write_gif)(arr, tmp, fps)
        os.replace(tmp, path)
    except OSError as err:
        raise DataError(f"cannot write {path} ({err}); check the free space and permissions") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _natural_key(path: Path) -> list:
    """frame_2.png before frame_10.png."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def _read_iuv_png(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as img:
            img.load()
            mode, arr = img.mode, np.asarray(img)
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(f"cannot read pose file {path} ({err}); is it a complete png?") from None
    if mode != "RGB":
        raise DataError(f"pose file {path} has mode {mode} ({arr.shape[-1] if arr.ndim == 3 else 1} channels), "
                        "but a DensePose IUV image is 8-bit RGB: I (part index), U, V")
    return arr


def _from_array(arr: np.ndarray, path: Path) -> np.ndarray:
    """Validate an array of a .npy / .npz pose file: IUV uint8 or UV float."""
    if arr.dtype == np.uint8:
        return check_iuv(arr, f"poses in {path}")
    if arr.dtype.kind != "f":
        raise DataError(f"poses in {path} are {arr.dtype}; give IUV as uint8 (T, H, W, 3) or UV maps as float "
                        "(T, 2, H, W) in [-1, 1]")
    check_pose_maps(torch.from_numpy(arr), f"UV poses in {path}")
    return arr.astype(np.float32)


def read_pose_sequence(path: str | Path) -> np.ndarray:
    """IUV uint8 (T, H, W, 3) or UV float32 (T, 2, H, W) from a png folder, a png, .npy or .npz."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"pose input {path} does not exist; give a folder of DensePose IUV pngs or a .npy/.npz file")
    if path.is_dir():
        files = sorted(path.glob("*.png"), key=_natural_key)
        if not files:
            other = sorted(p.name for p in path.iterdir() if p.is_file())[:3]
            hint = f" (found {', '.join(other)}; IUV must be lossless png, not jpg)" if other else ""
            raise DataError(f"the pose folder {path} holds no png files{hint}; put one DensePose IUV png per frame")
        frames = [_read_iuv_png(f) for f in files]
        sizes = {f.shape for f in frames}
        if len(sizes) > 1:
            raise DataError(f"the IUV pngs in {path} differ in size ({sorted(sizes)}); all frames need one size")
        return check_iuv(np.stack(frames), f"pose pngs in {path}")
    suffix = path.suffix.lower()
    if suffix == ".png":
        return check_iuv(_read_iuv_png(path)[None], f"pose file {path}")
    if suffix not in (".npy", ".npz"):
        raise DataError(f"cannot read poses from {path}: give a folder of IUV pngs, a png, a .npy or a .npz")
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read {path} ({err}); save poses with numpy.save / numpy.savez") from None
    if suffix == ".npz":
        with data:
            keys = list(data.keys())
            key = next((k for k in ("iuv", "uv", "poses") if k in keys), keys[0] if len(keys) == 1 else None)
            if key is None:
                raise DataError(f"{path} holds {keys}; name the pose array 'iuv' or 'uv' (or store only one)")
            data = data[key]
    return _from_array(data, path)
