"""Baselines that run anywhere, as protocol methods ``(video, input_index, targets) -> frames``.

* ``copy_input``: every target frame is the input frame x0 (a model that ignores the pose).
* ``texture_transfer``: the classical DensePose warp. Each target pixel of body part I with
  surface coordinates (U, V) takes the colour of the input-frame pixel of the same part with
  the nearest (U, V) (Euclidean, in DensePose's 0..255 units; several input pixels on one
  (I, U, V) cell are averaged). Where the target's part is not visible in the input at all
  (e.g. the back of the torso when x0 faces the camera) the nearest (U, V) over *all* visible
  parts is used: UV charts of different parts are unrelated, so this is only a plausible
  person colour instead of a hole. Background pixels (I = 0) take the input frame's
  background colour, the per-channel median of its I = 0 pixels (of the whole frame if it has
  none); a frame with no visible body part in the input gives background everywhere.

Nearest-UV lookup is exact and cheap: the unique (I, U, V) cells requested by all target
frames are matched against the input's cells with a sorted search; only unmatched cells go
through ``torch.cdist`` against the input cells of their part.
"""
from __future__ import annotations

import numpy as np
import torch

from ..data.video import DataError, Video


def copy_input(video: Video, input_index: int, target_indices: list[int]) -> np.ndarray:
    """The input frame repeated once per target index."""
    return np.repeat(video.frames[input_index][None], len(target_indices), axis=0)


def background_colour(frame: np.ndarray, iuv: np.ndarray) -> np.ndarray:
    """Per-channel median of the I = 0 pixels (of the whole frame if none), uint8 (3,)."""
    bg = frame[iuv[..., 0] == 0]
    return np.median(bg if len(bg) else frame.reshape(-1, 3), axis=0).round().astype(np.uint8)


def _keys(iuv: np.ndarray) -> np.ndarray:
    return (iuv[..., 0].astype(np.int64) << 16) | (iuv[..., 1].astype(np.int64) << 8) | iuv[..., 2]


def _nearest(queries: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Index into ``cells`` of the nearest (U, V) for each query key (chunked cdist)."""
    q = torch.from_numpy(np.stack([(queries >> 8) & 255, queries & 255], 1)).float()
    c = torch.from_numpy(np.stack([(cells >> 8) & 255, cells & 255], 1)).float()
    return torch.cat([torch.cdist(chunk, c).argmin(1) for chunk in q.split(4096)]).numpy()


def texture_transfer_frames(frame: np.ndarray, iuv: np.ndarray, target_iuv: np.ndarray) -> np.ndarray:
    """Warp ``frame`` (H, W, 3) with pose ``iuv`` onto each target IUV (N, h, w, 3) -> (N, h, w, 3) uint8."""
    if frame.shape != iuv.shape or target_iuv.ndim != 4 or target_iuv.shape[-1] != 3:
        raise DataError(f"texture transfer needs a frame and IUV of equal shape (H, W, 3) and target IUV "
                        f"(N, h, w, 3); got {frame.shape}, {iuv.shape}, {target_iuv.shape}")
    out = np.empty(target_iuv.shape, np.uint8)
    out[:] = background_colour(frame, iuv)
    fg_in = iuv[..., 0] > 0
    fg_t = target_iuv[..., 0] > 0
    if not fg_in.any() or not fg_t.any():
        return out
    in_keys = _keys(iuv[fg_in])
    cells, inverse = np.unique(in_keys, return_inverse=True)
    count = np.bincount(inverse, minlength=len(cells))
    colours = np.stack([np.bincount(inverse, frame[fg_in][:, c].astype(np.float64), len(cells)) for c in range(3)],
                       1) / count[:, None]
    queries, q_inverse = np.unique(_keys(target_iuv[fg_t]), return_inverse=True)
    pos = np.minimum(np.searchsorted(cells, queries), len(cells) - 1)
    source = np.where(cells[pos] == queries, pos, -1)
    cell_part, query_part = cells >> 16, queries >> 16
    for part in np.unique(query_part[source < 0]):
        todo = np.flatnonzero((source < 0) & (query_part == part))
        pool = np.flatnonzero(cell_part == part)
        if len(pool) == 0:  # part not visible in the input: any visible part
            pool = np.arange(len(cells))
        source[todo] = pool[_nearest(queries[todo], cells[pool])]
    out[fg_t] = colours[source].round().astype(np.uint8)[q_inverse.ravel()]
    return out


def texture_transfer(video: Video, input_index: int, target_indices: list[int]) -> np.ndarray:
    """DensePose texture transfer from the input frame onto the target frames' poses."""
    return texture_transfer_frames(video.frames[input_index], video.iuv[input_index], video.iuv[target_indices])
