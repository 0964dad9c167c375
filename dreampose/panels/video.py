"""Clips for the paper's motion: titled columns side by side (Fig. 1, methods against the truth).

A column is a clip (T, H, W, 3) uint8 or one still (H, W, 3) shown in every frame; every
column gets a white title bar drawn into its pixels, so the title survives in a GIF. Frames
narrower than ``MIN_WIDTH`` are enlarged by whole pixels (nearest neighbour) so a title fits.
Writing goes through ``video_io.write_video``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..figures import iuv_to_rgb
from ..video_io import side_by_side, write_video

MIN_WIDTH = 64  # px per column; the title font is 9 px high
FONT_SIZE = 9


def _font():
    return ImageFont.load_default(size=FONT_SIZE)


def _lines(title: str, width: int) -> list[str]:
    """``title`` wrapped by words into lines that fit ``width`` pixels (a longer word overflows)."""
    font, lines = _font(), []
    for word in title.split():
        if lines and font.getlength(f"{lines[-1]} {word}") <= width - 2:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]


def title_bar(title: str, width: int, n_lines: int | None = None) -> np.ndarray:
    """A white (h, width, 3) uint8 bar with ``title`` centred in black, wrapped to the width;
    ``n_lines`` fixes its height (so bars of one row match)."""
    lines = _lines(title, width)
    n = max(n_lines or 0, len(lines))
    line_h = FONT_SIZE + 2
    bar = Image.new("RGB", (width, n * line_h + 3), "white")
    draw, font = ImageDraw.Draw(bar), _font()
    top = 2 + (n - len(lines)) * line_h // 2
    for k, line in enumerate(lines):
        draw.text((width / 2, top + k * line_h), line, fill="black", font=font, anchor="ma")
    return np.asarray(bar)


def _upscale(column: np.ndarray, factor: int) -> np.ndarray:
    return column if factor == 1 else column.repeat(factor, axis=-3).repeat(factor, axis=-2)


def clip_grid(columns: dict[str, np.ndarray], gap: int = 2) -> np.ndarray:
    """Titled columns side by side, left to right: (T, bar + H, total width, 3) uint8, T the
    longest clip's length (stills repeat). All columns share H and W."""
    cols = {title: np.asarray(c) for title, c in columns.items()}
    width = next(iter(cols.values())).shape[-2]
    factor = max(1, -(-MIN_WIDTH // width))
    cols = {title: _upscale(c, factor) for title, c in cols.items()}
    width *= factor
    n_lines = max(len(_lines(title, width)) for title in cols)
    n = max(len(c) if c.ndim == 4 else 1 for c in cols.values())
    titled = []
    for title, c in cols.items():
        bar = title_bar(title, width, n_lines)
        clip = np.broadcast_to(c, (n, *c.shape[-3:])) if c.ndim == 3 else c
        titled.append(np.concatenate([np.broadcast_to(bar, (len(clip), *bar.shape)), clip], axis=1))
    return side_by_side(*titled, gap=gap)


def teaser_clip(image: np.ndarray, iuv: np.ndarray, generated: np.ndarray, label: str = "DreamPose") -> np.ndarray:
    """Fig. 1: the input image (still) | the driving DensePose poses ``iuv`` (T, H, W, 3) |
    the ``generated`` clip (T, H, W, 3)."""
    return clip_grid({"input image": image, "pose": iuv_to_rgb(iuv), label: generated})


def write_clip(clip: np.ndarray, path: str | Path, fps: float) -> Path:
    """Write a clip (``clip_grid``) to ``path`` (.gif or .mp4), atomically."""
    return write_video(clip, path, fps=fps)
