"""The house style and the drawing primitives; the paper's figures are drawn in `dreampose.panels`.

Here: the style (``apply_style``), the one writer of figure files (``write`` / ``save``: atomic,
with a grey footer naming the machine), image grids, block diagrams, the colourings of poses
(``iuv_to_rgb`` for DensePose IUV, ``uv_to_rgb`` for the UV maps the model reads) and the
preview of the synthetic world.
"""
from __future__ import annotations

import colorsys
import os
from pathlib import Path

import matplotlib

if "MPLBACKEND" not in os.environ and not os.environ.get("DISPLAY") and "ipykernel" not in os.sys.modules:
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .files import atomic_path  # noqa: E402

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "image.interpolation": "nearest",
}
FOOTER_GID = "dreampose-machine-footer"  # the footer's artist id, so it is stamped once


def apply_style() -> None:
    plt.rcParams.update(STYLE)


def save(fig, path: str | Path) -> Path:
    """Write a figure (as ``write``) and close it."""
    path = write(fig, path)
    plt.close(fig)
    return path


def write(fig, path: str | Path) -> Path:
    """Stamp the machine footer on ``fig`` and write it to ``path`` atomically; it stays open."""
    stamp_machine(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, bbox_inches="tight")
    return Path(path)


def stamp_machine(fig):
    """A small grey line under everything drawn, right-aligned: the machine the figure was made on
    (``provenance.machine_line``). Stamping again replaces it; returns the text artist."""
    from .provenance import machine_line

    for old in [t for t in fig.texts if t.get_gid() == FOOTER_GID]:
        old.remove()
    fig.draw_without_rendering()  # lay the figure out (constrained / tight layouts) before measuring it
    drawn = fig.get_tightbbox().transformed(fig.dpi_scale_trans).transformed(fig.transFigure.inverted())
    gap = 2 / 72 / fig.get_figheight()  # 2 points, in figure units
    return fig.text(drawn.x1, drawn.y0 - gap, f"made on {machine_line()}", ha="right", va="top", fontsize=5.5,
                    color="#999999", gid=FOOTER_GID)


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


def uv_to_rgb(uv) -> np.ndarray:
    """A pose UV map (2, h, w) in [-1, 1] as an RGB image: U red, V green, background black."""
    uv = (np.asarray(uv, np.float32) + 1) / 2
    return (np.stack([uv[0], uv[1], np.zeros_like(uv[0])], -1) * 255).round().clip(0, 255).astype(np.uint8)


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
        write(fig, path)
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


DIAGRAM_KINDS = {  # box colour by role in a block diagram
    "data": "#f2f2f2", "frozen": "#dbe9f6", "trained": "#fde2c8", "new": "#d9f2d0", "op": "#ffffff",
}


def block_diagram(boxes: dict, arrows: list, size: tuple[float, float] = (9.0, 3.2), title: str = "",
                  legend: dict[str, str] | None = None):
    """A flow diagram: ``boxes`` name -> (x, y, label, kind) in axes units (0..1), joined by
    ``arrows`` (from, to) or (from, to, label); ``kind`` picks the colour from DIAGRAM_KINDS;
    ``legend`` maps the kinds shown to their meaning."""
    apply_style()
    fig, ax = plt.subplots(figsize=size)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    artists = {}
    for name, (x, y, label, kind) in boxes.items():
        artists[name] = ax.text(x, y, label, ha="center", va="center", fontsize=7, zorder=3,
                                bbox=dict(boxstyle="round,pad=0.4", fc=DIAGRAM_KINDS.get(kind, "#ffffff"),
                                          ec="#555555", lw=0.8))
    fig.canvas.draw()  # box sizes are known only after a draw
    renderer, inverse = fig.canvas.get_renderer(), ax.transData.inverted()
    extent = {k: t.get_bbox_patch().get_window_extent(renderer).transformed(inverse) for k, t in artists.items()}

    def edge(name: str, towards: np.ndarray) -> np.ndarray:
        box = extent[name]
        centre = np.array([(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2])
        d = towards - centre
        scale = min(box.width / 2 / abs(d[0]) if d[0] else np.inf, box.height / 2 / abs(d[1]) if d[1] else np.inf)
        return centre + d * min(scale * 1.04, 1.0)

    for arrow in arrows:
        a, b, label = (*arrow, "")[:3]
        ca = np.array([(extent[a].x0 + extent[a].x1) / 2, (extent[a].y0 + extent[a].y1) / 2])
        cb = np.array([(extent[b].x0 + extent[b].x1) / 2, (extent[b].y0 + extent[b].y1) / 2])
        start, end = edge(a, cb), edge(b, ca)
        ax.annotate("", xy=tuple(end), xytext=tuple(start), zorder=2,
                    arrowprops=dict(arrowstyle="-|>", color="#444444", lw=0.9, shrinkA=0, shrinkB=0,
                                    mutation_scale=9))
        if label:
            mid = (start + end) / 2
            ax.text(mid[0], mid[1] + 0.02, label, ha="center", va="bottom", fontsize=6, color="#333333", zorder=4,
                    bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none", alpha=0.8))
    if legend:
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(fc=DIAGRAM_KINDS[k], ec="#555555", label=v) for k, v in legend.items()],
                  loc="lower center", bbox_to_anchor=(0.5, -0.08), ncol=len(legend), fontsize=6, frameon=False)
    if title:
        ax.set_title(title, fontsize=9)
    return fig
