"""Fitting pictures and their poses to the model's frame size, one way for every source.

A source frame of another aspect ratio than the model's (H, W) is first cut to a *box* of the
model's aspect ratio, then resized:

    center_crop  the largest centred box inside the frame (the edges are lost)
    pad          the smallest centred box around the frame (the whole person is kept; the new
                 margin takes the frame's border colour, and background in the IUV)
    error        refuse, with a message naming the fix (the UBC reader's default)

The picture is resized bicubically, its IUV by nearest neighbour (I, U and V of a pixel always
come from one source pixel, never blended), so a picture and its pose stay aligned.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from .video import DataError

FITS = ("error", "center_crop", "pad")


def same_aspect(src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> bool:
    """Aspect ratios equal within 1% (then the whole frame is simply resized)."""
    (h, w), (height, width) = src_hw, dst_hw
    return abs(w * height / (h * width) - 1.0) <= 0.01


def fit_box(src_hw: tuple[int, int], dst_hw: tuple[int, int], fit: str, path) -> tuple[int, int, int, int]:
    """Region (top, left, height, width) of a source frame that is resized to ``dst_hw``; with
    ``fit="pad"`` it reaches beyond the frame (negative top or left)."""
    (h, w), (height, width) = src_hw, dst_hw
    if fit not in FITS:
        raise DataError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    if same_aspect(src_hw, dst_hw):
        return 0, 0, h, w
    if fit == "error":
        raise DataError(
            f"{path} is {w}x{h} (aspect {w / h:.3f}) but the profile wants {width}x{height} (aspect "
            f"{width / height:.3f}); set data.width/data.height to the videos' aspect ratio, crop the videos "
            "before running DensePose, or read them with read_ubc(..., fit='center_crop' or 'pad')"
        )
    too_wide = w * height > h * width
    if too_wide == (fit == "center_crop"):  # keep the full height: crop or pad the width
        cw = round(h * width / height)
        return 0, (w - cw) // 2, h, cw
    ch = round(w * height / width)
    return (h - ch) // 2, 0, ch, w


def describe_fit(src_hw: tuple[int, int], dst_hw: tuple[int, int], box) -> str:
    """What ``fit_frame`` does with ``box``, in words (for the user's log)."""
    (h, w), (ch, cw) = src_hw, box[2:]
    if tuple(src_hw) == tuple(dst_hw):
        return f"{w}x{h}, the model's frame size"
    how = "resized"
    if (ch, cw) != (h, w):
        sides = "top and bottom" if ch != h else "left and right"
        how = f"{'padded' if ch > h or cw > w else 'cropped'} at the {sides} to {cw}x{ch}, then resized"
    return f"{w}x{h} {how} to {dst_hw[1]}x{dst_hw[0]}"


def border_colour(frame: np.ndarray) -> np.ndarray:
    """The median colour of a frame's outermost pixels: its background in a studio photo."""
    edge = np.concatenate([frame[0], frame[-1], frame[:, 0], frame[:, -1]])
    return np.median(edge, axis=0).round().astype(frame.dtype)


def fit_frame(frame: np.ndarray, box, size: tuple[int, int]) -> np.ndarray:
    """(h, w, 3) uint8 -> the ``box`` region resized to ``size`` (bicubic); padding takes the border colour."""
    top, left, ch, cw = box
    h, w = frame.shape[:2]
    pad = ((max(0, -top), max(0, top + ch - h)), (max(0, -left), max(0, left + cw - w)))
    if any(sum(p) for p in pad):
        colour = border_colour(frame)
        frame = np.stack([np.pad(frame[..., c], pad, constant_values=colour[c]) for c in range(frame.shape[-1])], -1)
        top, left = top + pad[0][0], left + pad[1][0]
    crop = frame[top:top + ch, left:left + cw]
    if crop.shape[:2] == tuple(size):
        return np.ascontiguousarray(crop)
    return np.asarray(Image.fromarray(np.ascontiguousarray(crop)).resize((size[1], size[0]), Image.BICUBIC))


def fit_iuv(iuv: np.ndarray, box, size: tuple[int, int]) -> np.ndarray:
    """(..., h, w, 3) IUV -> the ``box`` region at ``size``, nearest neighbour; outside the frame is background."""
    top, left, ch, cw = box
    h, w = iuv.shape[-3:-1]
    ys = top + np.floor((np.arange(size[0]) + 0.5) * ch / size[0]).astype(int)
    xs = left + np.floor((np.arange(size[1]) + 0.5) * cw / size[1]).astype(int)
    out = iuv[..., ys.clip(0, h - 1)[:, None], xs.clip(0, w - 1)[None, :], :]
    inside = ((ys >= 0) & (ys < h))[:, None] & ((xs >= 0) & (xs < w))[None, :]
    return np.where(inside[..., None], out, 0).astype(iuv.dtype)
