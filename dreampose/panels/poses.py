"""Poses: the world's exact IUV beside its DensePose-like estimate (``data.pose_errors``)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

from ..figures import apply_style, iuv_to_rgb
from ._common import _columns, _show, _suptitle

LABEL_CHANGES = {  # colour of a pixel whose part index the estimate changed
    "other part": (0.9, 0.15, 0.15), "body gained": (1.0, 0.65, 0.0), "body lost": (0.2, 0.45, 1.0),
}
UV_FULL_SCALE = 0.5  # |dU| + |dV| drawn white


def iuv_difference(exact: np.ndarray, estimated: np.ndarray) -> np.ndarray:
    """(..., 3) float RGB of the per-pixel difference: label changes in LABEL_CHANGES colours,
    elsewhere grey from |dU| + |dV| (white at UV_FULL_SCALE), background black."""
    i0, i1 = exact[..., 0], estimated[..., 0]
    duv = np.abs(exact[..., 1:].astype(np.float32) - estimated[..., 1:]).sum(-1) / 255.0
    rgb = np.repeat(np.clip(duv / UV_FULL_SCALE, 0, 1)[..., None], 3, -1) * (i0 > 0)[..., None]
    kinds = {"other part": (i0 > 0) & (i1 > 0) & (i0 != i1), "body gained": (i0 == 0) & (i1 > 0),
             "body lost": (i0 > 0) & (i1 == 0)}
    for kind, mask in kinds.items():
        rgb[mask] = LABEL_CHANGES[kind]
    return rgb


def pose_errors_panel(exact: np.ndarray, estimated: np.ndarray, frames: list[int] | None = None, n_cols: int = 6,
                      title: str = "", scale: float = 1.1):
    """Rows exact IUV | estimated IUV | their difference over ``n_cols`` frames spread evenly;
    ``frames`` labels the columns with the video's frame numbers."""
    apply_style()
    cols = _columns(len(exact), n_cols)
    rows = {"exact IUV": iuv_to_rgb(exact[cols]), "estimated IUV": iuv_to_rgb(estimated[cols]),
            "difference": iuv_difference(exact[cols], estimated[cols])}
    fig, axes = plt.subplots(len(rows), len(cols), squeeze=False, figsize=(scale * len(cols), scale * 1.1 * len(rows)))
    for r, (label, images) in enumerate(rows.items()):
        for c, k in enumerate(cols):
            _show(axes[r, c], images[c], (f"frame {frames[k]}" if frames is not None else f"t={k}") if r == 0 else "")
        axes[r, 0].set_ylabel(label, fontsize=7)
    handles = [Patch(fc=colour, label=kind) for kind, colour in LABEL_CHANGES.items()]
    handles.append(Patch(fc="#bbbbbb", label=f"|dU| + |dV| (white: {UV_FULL_SCALE})"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=6, frameon=False,
               bbox_to_anchor=(0.5, -0.02))
    _suptitle(fig, title)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig
