"""What the panels share: borderless images, titles, evenly spread columns, the garment's parts."""
from __future__ import annotations

import numpy as np

GARMENT_PARTS = (1, 2, 7, 8, 9, 10)  # DensePose torso back/front and upper legs (a skirt is labelled so)


def _show(ax, image, title: str = "", **kw) -> None:
    """An image without ticks or spines (the axis stays on, so a y label can name the row)."""
    ax.axis("on")
    ax.imshow(image, **kw)
    ax.set(xticks=[], yticks=[])
    ax.spines[:].set_visible(False)
    if title:
        ax.set_title(title, fontsize=7)


def _suptitle(fig, title: str) -> None:
    if title:
        fig.suptitle(title, fontsize=8)


def _columns(n: int, k: int) -> np.ndarray:
    """``k`` indices spread over ``n`` frames (all of them if n <= k)."""
    return np.arange(n) if n <= k else np.linspace(0, n - 1, k).round().astype(int)
