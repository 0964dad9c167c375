"""A DensePose error model: the estimated IUV that real poses are, made from the world's exact one.

UBC Fashion's poses are DensePose estimates (densepose_rcnn_R_50_FPN_s1x), and the paper's
5-pose window is there to absorb their noise (4.2.2). ``estimate`` turns the synthetic
world's exact IUV into such an estimate, one video at a time:

* missing parts: a hand, a foot, or a lower arm with its hand drops to background for a run
  of frames;
* box jitter: the whole estimate shifts and scales a little in every frame;
* boundary noise: part and silhouette edges move by a smooth random displacement of about a
  pixel, so pixels near an edge take their neighbour's label (background included: the
  silhouette erodes and dilates in ragged runs, never in isolated pixels) and pixels away
  from every edge keep theirs;
* UV jitter: smooth, low-frequency errors on U and V;
* flicker: every random field is drawn afresh each frame, correlated with the previous
  frame's by ``frame_correlation`` only, as DensePose sees each frame alone.

Lengths are in cm of a 170 cm body, turned into pixels by the body's height in the exact IUV
(tiny world: about 53 px, 3.2 cm per pixel). Values and sources (reasoning: docs/pose_errors.md;
"R_50" is detectron2's densepose_rcnn_R_50_FPN_s1x, the model the DreamPose authors ran):

    boundary_cm         1.5   chosen for a silhouette IoU near 0.9: R_50's GPSm AP 65.3 >=
                              its GPS AP 63.7, and GPSm = sqrt(GPS * mask IoU)
    boundary_length_cm  15    chosen, no published figure (DensePose's masks are smooth blobs)
    uv_error            0.05  chosen; about 0.15 of the per-part GPS scale kappa (11-35 cm, the
                              DensePose COCO evaluation), small beside COCO's errors
    uv_length_cm        25    chosen, no published figure
    box_offset          0.01  chosen; R_50's box AP 61.2 does not say how much of a box
    box_scale           0.01  error reaches the IUV
    missing_share       0.03  chosen, no published figure
    missing_frames      8     chosen, no published figure
    frame_correlation   0.5   chosen; DensePose-RCNN sees one frame at a time, no published figure
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from .video import DataError

BODY_CM = 170.0  # the body height the lengths are measured against
MISSABLE = ((3,), (4,), (5,), (6,), (20, 22, 3), (19, 21, 4))  # hands, feet, lower arms with their hand
DISPLACEMENT_CLIP = 2.0  # the edge displacement is clipped at this many stds (boundary_cm), per axis


@dataclass(frozen=True)
class PoseErrors:
    """Sizes of DensePose's errors; 0 switches one off."""

    boundary_cm: float = 1.5  # std of the edge displacement (each axis)
    boundary_length_cm: float = 15.0  # correlation length of that displacement along an edge
    uv_error: float = 0.05  # mean |dU| = mean |dV| in chart units (U, V in [0, 1])
    uv_length_cm: float = 25.0  # correlation length of the UV error
    box_offset: float = 0.01  # std of the per-frame shift (x and y), in body heights
    box_scale: float = 0.01  # std of the per-frame log scale
    missing_share: float = 0.03  # share of frames in which each MISSABLE part is missing
    missing_frames: float = 8.0  # mean length of a run of frames with the part missing
    frame_correlation: float = 0.5  # correlation of every error between consecutive frames


def flip_share(sigma_px: float) -> float:
    """Share of the pixels along a straight edge that take the other side's label, for an edge
    displacement of std ``sigma_px``: the displacement across the edge must pass half a pixel."""
    return NormalDist().cdf(-0.5 / sigma_px) if sigma_px > 0 else 0.0


def body_height_px(iuv: np.ndarray) -> float:
    """The body's height in pixels: the median over frames of the silhouette's row extent."""
    rows = (iuv[..., 0] > 0).any(axis=2)
    seen = rows.any(axis=1)
    if not seen.any():
        return 0.0
    first = rows[seen].argmax(axis=1)
    last = rows.shape[1] - 1 - rows[seen][:, ::-1].argmax(axis=1)
    return float(np.median(last - first + 1))


def estimate(iuv: np.ndarray, rng: np.random.Generator, errors: PoseErrors = PoseErrors()) -> np.ndarray:
    """A DensePose-like estimate of the exact IUV video ``iuv`` (T, H, W, 3) uint8: same shape."""
    if iuv.ndim != 4 or iuv.shape[-1] != 3 or iuv.dtype != np.uint8:
        raise DataError(f"IUV must be (T, H, W, 3) uint8, got {iuv.shape} {iuv.dtype}")
    height = body_height_px(iuv)
    if height == 0:
        return iuv.copy()
    px = height / BODY_CM  # pixels per cm
    rho, shape = errors.frame_correlation, (2, *iuv.shape[:3])
    r_missing, r_box, r_edge, r_uv = rng.spawn(4)  # a stream each: one error's size leaves the others' draws
    missing = _missing(r_missing, len(iuv), errors)
    box = _ar1(r_box.standard_normal((len(iuv), 3)), rho)
    edge = errors.boundary_cm * px * _smooth_noise(r_edge, shape, errors.boundary_length_cm * px, rho)
    sigma_uv = errors.uv_error * math.sqrt(math.pi / 2)  # mean |x| of N(0, s^2) is s * sqrt(2 / pi)
    duv = sigma_uv * _smooth_noise(r_uv, shape, errors.uv_length_cm * px, rho)
    warped = _warp(_drop_parts(iuv, missing), iuv, box, edge, errors.box_offset * height, errors.box_scale,
                   DISPLACEMENT_CLIP * errors.boundary_cm * px)
    return _jitter_uv(warped, duv)


def _missing(rng: np.random.Generator, n_frames: int, errors: PoseErrors) -> np.ndarray:
    """(T, len(MISSABLE)) bool: a two-state Markov chain per part, missing ``missing_share`` of
    the frames in runs of ``missing_frames`` on average."""
    share = errors.missing_share
    draws = rng.random((n_frames, len(MISSABLE)))
    if share <= 0 or share >= 1:
        return np.full(draws.shape, share >= 1)
    end = 1.0 / max(errors.missing_frames, 1.0)
    start = end * share / (1 - share)  # keeps the chain's stationary share at ``share``
    state = np.empty(draws.shape, bool)
    state[0] = draws[0] < share
    for t in range(1, n_frames):
        state[t] = np.where(state[t - 1], draws[t] >= end, draws[t] < start)
    return state


def _drop_parts(iuv: np.ndarray, missing: np.ndarray) -> np.ndarray:
    out = iuv.copy()
    for k, parts in enumerate(MISSABLE):
        out[np.isin(iuv[..., 0], parts) & missing[:, k, None, None]] = 0
    return out


def _warp(iuv: np.ndarray, exact: np.ndarray, box: np.ndarray, edge: np.ndarray, offset_px: float,
          log_scale: float, limit_px: float) -> np.ndarray:
    """Resample every frame (nearest pixel) on a grid shifted by ``offset_px * box[:, 1:]`` and
    scaled by ``exp(log_scale * box[:, 0])`` about the exact silhouette's centre, plus the edge
    displacement ``edge`` (2, T, H, W) in pixels, clipped to +-``limit_px``."""
    t, h, w = iuv.shape[:3]
    fg = exact[..., 0] > 0
    seen = fg.any(axis=(1, 2))
    area = np.maximum(fg.sum(axis=(1, 2)), 1)
    ys, xs = np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32)
    cy = np.where(seen, (fg.sum(axis=2) * ys).sum(axis=1) / area, (h - 1) / 2)[:, None, None]
    cx = np.where(seen, (fg.sum(axis=1) * xs).sum(axis=1) / area, (w - 1) / 2)[:, None, None]
    scale = np.exp(log_scale * box[:, 0])[:, None, None]
    oy, ox = (offset_px * box[:, 1:].T)[..., None, None]
    dy, dx = np.clip(edge, -limit_px, limit_px)
    iy = np.clip(np.rint(cy + (ys[:, None] - cy - oy) / scale + dy), 0, h - 1).astype(np.intp)
    ix = np.clip(np.rint(cx + (xs[None, :] - cx - ox) / scale + dx), 0, w - 1).astype(np.intp)
    return iuv[np.arange(t)[:, None, None], iy, ix]


def _jitter_uv(iuv: np.ndarray, duv: np.ndarray) -> np.ndarray:
    """Add the UV error ``duv`` (2, T, H, W) on the body; background keeps U = V = 0."""
    out = iuv.copy()
    body = iuv[..., 0] > 0
    for c in (1, 2):
        moved = np.clip(np.rint(iuv[..., c] + 255.0 * duv[c - 1]), 0, 255)
        out[..., c] = np.where(body, moved, 0).astype(np.uint8)
    return out


def _ar1(white: np.ndarray, rho: float) -> np.ndarray:
    """Correlate unit-variance noise along axis 0 (frames): x_t = rho x_(t-1) + sqrt(1 - rho^2) e_t."""
    out = white.copy()
    for t in range(1, len(out)):
        out[t] = rho * out[t - 1] + math.sqrt(1 - rho * rho) * white[t]
    return out


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], length_px: float, rho: float) -> np.ndarray:
    """Unit-variance Gaussian noise (..., T, H, W), blurred in space by a Gaussian of std
    ``length_px`` (periodic, through the FFT) and correlated over frames by ``rho``."""
    white = np.moveaxis(_ar1(np.moveaxis(rng.standard_normal(shape, dtype=np.float32), -3, 0), rho), 0, -3)
    if length_px <= 0:
        return white
    h, w = shape[-2:]
    k2 = np.fft.fftfreq(h)[:, None] ** 2 + np.fft.fftfreq(w)[None, :] ** 2
    gain = np.exp(-2 * math.pi ** 2 * length_px ** 2 * k2)
    r = w // 2 + 1  # rfft keeps the non-negative x frequencies
    smooth = np.fft.irfft2(np.fft.rfft2(white) * gain[:, :r], s=(h, w))
    return (smooth / np.sqrt((gain ** 2).mean())).astype(np.float32)
