"""Writing videos: generated frames as .mp4 / .gif (reading poses lives in `dreampose.data.pose`).

``write_video`` is atomic (``dreampose.files.atomic_path``), so an interrupted run never leaves
a truncated video under the final name. MP4 is H.264 (yuv420p) through imageio-ffmpeg; GIF goes
through Pillow (its encoder merges identical consecutive frames into one longer frame, so the
timing is kept but a reader may count fewer frames).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from .data.video import DataError
from .files import atomic_path

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
    try:
        with atomic_path(path) as tmp:
            (_write_mp4 if suffix == ".mp4" else _write_gif)(arr, tmp, fps)
    except OSError as err:
        raise DataError(f"cannot write {path} ({err}); check the free space and permissions") from None
    return path


def side_by_side(*columns, gap: int = 2) -> np.ndarray:
    """Clips and stills beside each other, left to right, split by a white ``gap``: each column
    is (T, H, W, 3) or one (H, W, 3) image shown in every frame; all share H."""
    cols = [np.asarray(c) for c in columns]
    n = max(len(c) if c.ndim == 4 else 1 for c in cols)
    if len({c.shape[-3] for c in cols}) != 1:
        raise DataError(f"columns of a side-by-side clip need one height, got {[c.shape[-3] for c in cols]}")
    white = np.full((n, cols[0].shape[-3], gap, 3), 255, np.uint8)
    parts = []
    for c in cols:
        parts += [np.broadcast_to(c, (n, *c.shape[-3:])) if c.ndim == 3 else c, white]
    return np.concatenate(parts[:-1], axis=2)
