"""Rasteriser of the synthetic world: tapered 3-D capsules seen by an orthographic camera.

Every body part or garment piece is a capsule between two joints (screen points a, b with
depths) with radius r0 at a and r1 at b. For a sample p inside it, the closest axis
parameter is t in [0, 1]; the signed lateral offset s gives the visible surface angle
phi = asin(s / r) and, with the body yaw, the azimuth around the part in the body frame
psi = phi - yaw (psi = 0 is the body's front). Texture and DensePose coordinates are
functions of (psi, t), so a point on the garment keeps its UV as the body moves.

Anti-aliasing: colours are rendered on an S x S supersampling grid per pixel (S odd) and
box-filtered; IUV is read at the centre sample, which lies exactly on the pixel centre, so
part indices are never blended. Depth is resolved per sample with a z-buffer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

SUPERSAMPLE = 3


@dataclass
class Capsule:
    """One part over T frames: arrays of shape (T,) (or (T, 2) for points)."""

    a: np.ndarray  # (T, 2) screen position of the first joint (x right, y down; frame-height units)
    b: np.ndarray  # (T, 2)
    za: np.ndarray  # (T,) depth of a (larger = closer to the camera)
    zb: np.ndarray  # (T,)
    r0: np.ndarray  # (T,) radius at a
    r1: np.ndarray  # (T,) radius at b
    yaw: np.ndarray  # (T,) body yaw seen by this part
    shade: Callable  # shade(psi, t, frame_idx) -> (colour (n,3) float, part (n,) uint8, U (n,), V (n,))
    depth_bias: float = 0.0  # added to the depth (e.g. hair sits behind the head)
    caps: bool = True  # rounded ends (limbs); False = flat ends (a skirt's cone)


class Canvas:
    """Supersampled buffers for T frames of size (H, W)."""

    def __init__(self, n_frames: int, height: int, width: int, background: np.ndarray):
        s = SUPERSAMPLE
        self.t, self.h, self.w = n_frames, height, width
        self.hs, self.ws = height * s, width * s
        # sample centres in frame-height units: y in [0, 1], x in [0, W / H]
        self.ys = (np.arange(self.hs, dtype=np.float32) + 0.5) / self.hs
        self.xs = (np.arange(self.ws, dtype=np.float32) + 0.5) / self.hs
        self.color = np.broadcast_to(background.astype(np.float32), (n_frames, self.hs, self.ws, 3)).copy()
        self.depth = np.full((n_frames, self.hs, self.ws), -np.inf, np.float32)
        self.part = np.zeros((n_frames, self.hs, self.ws), np.uint8)
        self.uv = np.zeros((n_frames, self.hs, self.ws, 2), np.float32)

    def draw(self, cap: Capsule) -> None:
        """Rasterise one capsule into every frame, keeping the closest surface per sample."""
        rmax = np.maximum(cap.r0, cap.r1)
        lo = np.minimum(cap.a, cap.b) - rmax[:, None]
        hi = np.maximum(cap.a, cap.b) + rmax[:, None]
        # one bounding box over all frames keeps the arrays rectangular
        x0 = max(0, int(np.floor(lo[:, 0].min() * self.hs)))
        x1 = min(self.ws, int(np.ceil(hi[:, 0].max() * self.hs)) + 1)
        y0 = max(0, int(np.floor(lo[:, 1].min() * self.hs)))
        y1 = min(self.hs, int(np.ceil(hi[:, 1].max() * self.hs)) + 1)
        if x0 >= x1 or y0 >= y1:
            return
        px = self.xs[None, None, x0:x1]
        py = self.ys[None, y0:y1, None]
        a, b = cap.a[:, :, None, None].astype(np.float32), cap.b[:, :, None, None].astype(np.float32)
        ab = b - a
        length2 = np.maximum((ab ** 2).sum(1), 1e-12)
        dx, dy = px - a[:, 0], py - a[:, 1]
        t_raw = (dx * ab[:, 0] + dy * ab[:, 1]) / length2
        t = np.clip(t_raw, 0.0, 1.0)
        r = cap.r0[:, None, None] + (cap.r1 - cap.r0)[:, None, None] * t
        cx, cy = a[:, 0] + t * ab[:, 0], a[:, 1] + t * ab[:, 1]
        dist2 = (px - cx) ** 2 + (py - cy) ** 2
        length = np.sqrt(length2)
        lateral = (dx * ab[:, 1] - dy * ab[:, 0]) / length  # signed offset, + = screen right for a downward axis
        phi = np.arcsin(np.clip(lateral / np.maximum(r, 1e-6), -1.0, 1.0))
        z_axis = cap.za[:, None, None] + (cap.zb - cap.za)[:, None, None] * t
        z = z_axis + r * np.cos(phi) + cap.depth_bias
        region = self.depth[:, y0:y1, x0:x1]
        hit = (dist2 < r ** 2) & (z > region)
        if not cap.caps:
            hit &= (t_raw >= 0.0) & (t_raw <= 1.0)
        if not hit.any():
            return
        f_idx, yy, xx = np.nonzero(hit)
        psi = phi[hit] - cap.yaw[f_idx]
        psi = (psi + np.pi) % (2 * np.pi) - np.pi
        colour, part, u, v = cap.shade(psi, t[hit], f_idx)
        ys, xs = yy + y0, xx + x0
        self.depth[f_idx, ys, xs] = z[hit]
        self.color[f_idx, ys, xs] = colour * (0.72 + 0.28 * np.cos(phi[hit]))[:, None]
        self.part[f_idx, ys, xs] = part
        self.uv[f_idx, ys, xs, 0] = u
        self.uv[f_idx, ys, xs, 1] = v

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(frames (T,H,W,3) uint8, iuv (T,H,W,3) uint8) from the supersampled buffers."""
        s = SUPERSAMPLE
        col = self.color.reshape(self.t, self.h, s, self.w, s, 3).mean(axis=(2, 4))
        frames = np.clip(np.round(col * 255.0), 0, 255).astype(np.uint8)
        c = s // 2
        part = self.part[:, c::s, c::s]
        uv = self.uv[:, c::s, c::s]
        iuv = np.zeros((self.t, self.h, self.w, 3), np.uint8)
        iuv[..., 0] = part
        fg = part > 0
        iuv[..., 1] = np.where(fg, np.clip(np.round(uv[..., 0] * 255), 0, 255), 0)
        iuv[..., 2] = np.where(fg, np.clip(np.round(uv[..., 1] * 255), 0, 255), 0)
        return frames, iuv
