"""Plotting helpers with one house style; every figure of the notebooks is drawn here."""
from __future__ import annotations

import colorsys
import os
from pathlib import Path

import matplotlib

if "MPLBACKEND" not in os.environ and not os.environ.get("DISPLAY") and "ipykernel" not in os.sys.modules:
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "image.interpolation": "nearest",
}


def apply_style() -> None:
    plt.rcParams.update(STYLE)


def save(fig, path: str | Path) -> Path:
    """Write a figure atomically (temporary file, then rename) and close it."""
    path = _write(fig, path)
    plt.close(fig)
    return path


def _write(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, bbox_inches="tight")
    os.replace(tmp, path)
    return path


_PART_HUES = np.array([colorsys.hsv_to_rgb(h, 0.8, 1.0) for h in np.linspace(0, 1, 24, endpoint=False)])


def iuv_to_rgb(iuv: np.ndarray) -> np.ndarray:
    """Visualise IUV (..., 3) uint8: hue from the part index, brightness from U, saturation from V."""
    part = iuv[..., 0].astype(int)
    u = iuv[..., 1:2] / 255.0
    v = iuv[..., 2:3] / 255.0
    hue = _PART_HUES[np.clip(part - 1, 0, 23)]
    rgb = hue * (0.45 + 0.55 * u) * (0.75 + 0.25 * v) + (1 - (0.75 + 0.25 * v)) * 0.5
    rgb = np.where((part > 0)[..., None], rgb, 0.0)
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def preview_world(videos, path: str | Path | None = None, n_videos: int = 4, n_frames: int = 6):
    """Rows of frames beside their IUV, spanning each video; titled with the caption.

    Shows one video per garment type first (when ``meta`` names it), so a few rows show the
    world's variety; with ``path`` the figure is also saved there (it stays open).
    """
    apply_style()
    videos = _varied(list(videos))[:n_videos]
    fig = plt.figure(figsize=(1.15 * n_frames, 2.7 * len(videos)), layout="constrained")
    for sub, video in zip(np.atleast_1d(fig.subfigures(len(videos), 1)), videos):
        sub.suptitle(video.caption, fontsize=8, weight="bold")
        axes = sub.subplots(2, n_frames, squeeze=False)
        idx = np.linspace(0, len(video) - 1, n_frames).round().astype(int)
        for col, i in enumerate(idx):
            ax, bx = axes[0, col], axes[1, col]
            ax.imshow(video.frames[i])
            bx.imshow(iuv_to_rgb(video.iuv[i]))
            yaw = video.meta.get("yaw")
            ax.set_title(f"t={i}" + (f", yaw {np.degrees(yaw[i]) % 360:.0f}°" if yaw else ""), fontsize=7)
            for a in (ax, bx):
                a.set_xticks([])
                a.set_yticks([])
        axes[0, 0].set_ylabel("frame", fontsize=7)
        axes[1, 0].set_ylabel("IUV", fontsize=7)
    if path is not None:
        _write(fig, path)
    return fig


def _varied(videos: list) -> list:
    """The videos reordered so the first of each garment type comes first (order kept otherwise)."""
    seen, first, rest = set(), [], []
    for v in videos:
        key = v.meta.get("garment")
        (rest if key in seen else first).append(v)
        seen.add(key)
    return first + rest


def image_grid(rows: dict[str, list], titles: list[str] | None = None, scale: float = 1.15):
    """A grid of images: one labelled row per entry of ``rows`` (uint8 arrays or PIL images)."""
    apply_style()
    n_cols = max(len(r) for r in rows.values())
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(scale * n_cols, scale * 1.1 * len(rows)), squeeze=False)
    for r, (label, images) in enumerate(rows.items()):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(images):
                ax.imshow(np.asarray(images[c]))
            else:
                ax.axis("off")
            if r == 0 and titles and c < len(titles):
                ax.set_title(titles[c], fontsize=6, wrap=True)
        axes[r, 0].set_ylabel(label, fontsize=7)
    fig.tight_layout()
    return fig
