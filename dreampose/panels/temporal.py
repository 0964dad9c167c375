"""Flicker: frame-to-frame change, temporal error and x-t slices (the temporal-consistency figures)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..figures import apply_style
from ._common import GARMENT_PARTS, _show, _suptitle


def temporal_curves(truth: np.ndarray, methods: dict[str, np.ndarray],
                    frames: list[int] | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Per consecutive pair: frame change of each method and of the truth, and the temporal error
    |(x'_{t+1} - x'_t) - (x_{t+1} - x_t)| (its nan-mean is the ``temporal L1`` metric). With the
    frame indices ``frames``, a pair that jumps from one run of targets to the next is nan."""
    jump = np.diff(frames) != 1 if frames is not None else np.zeros(len(truth) - 1, bool)
    d_gt = np.diff(truth.astype(np.float32) / 255.0, axis=0)
    out = {}
    for label, images in {"ground truth": truth, **methods}.items():
        d = np.diff(images.astype(np.float32) / 255.0, axis=0)
        out[label] = {k: np.where(jump, np.nan, v) for k, v in (("change", np.abs(d).mean(axis=(1, 2, 3))),
                                                                 ("error", np.abs(d - d_gt).mean(axis=(1, 2, 3))))}
    return out


def xt_slice(frames: np.ndarray, row: int) -> np.ndarray:
    """One image row of every frame stacked over time, (T, W, 3): flicker shows as breaks."""
    return frames[:, row]


def body_row(iuv: np.ndarray, parts=GARMENT_PARTS) -> int:
    """The image row that crosses the most garment pixels over the whole sequence."""
    mask = np.isin(iuv[..., 0], parts).sum(axis=(0, 2))
    return int(mask.argmax()) if mask.any() else iuv.shape[1] // 2


def temporal_panel(truth: np.ndarray, methods: dict[str, np.ndarray], iuv: np.ndarray | None = None,
                   frames: list[int] | None = None, title: str = ""):
    """Flicker, seen two ways: curves of frame-to-frame change and of temporal error per frame
    pair (left), and x-t slices through the garment for the ground truth and each method (right;
    a white line where the targets jump to their next run)."""
    apply_style()
    curves = temporal_curves(truth, methods, frames)
    row = body_row(iuv) if iuv is not None else truth.shape[1] // 2
    n = len(curves)
    fig = plt.figure(figsize=(3.4 + 1.2 * n, 3.2), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[3.4, 1.2 * n])
    ax_change, ax_err = left.subplots(2, 1, sharex=True)
    x = np.arange(len(truth) - 1) if frames is None else np.asarray(frames[:-1])
    for label, c in curves.items():
        style = dict(color="black", lw=1.6) if label == "ground truth" else dict(lw=1.1, marker=".", ms=3)
        ax_change.plot(x, c["change"], label=label, **style)
        if label != "ground truth":
            ax_err.plot(x, c["error"], label=f"{label} (mean {np.nanmean(c['error']):.4f})", **style)
    ax_change.set_ylabel("mean |x(t+1) - x(t)|")
    ax_err.set(ylabel="temporal error", xlabel="frame" if frames is not None else "t")
    ax_err.xaxis.get_major_locator().set_params(integer=True)
    for ax in (ax_change, ax_err):
        ax.legend(fontsize=6, frameon=False)
    axes = right.subplots(1, n, squeeze=False)[0]
    for ax, (label, images) in zip(axes, [("ground truth", truth)] + list(methods.items())):
        _show(ax, xt_slice(images, row), label, aspect="auto")
        for t in np.flatnonzero(np.diff(frames) != 1) if frames is not None else ():
            ax.axhline(t + 0.5, color="white", lw=1.2)  # a jump to the next run of targets
    axes[0].set_ylabel(f"time ↓ (row {row})", fontsize=7)
    _suptitle(fig, title)
    return fig
