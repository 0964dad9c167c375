"""Result panels: generated frames beside the truth (Fig. 6-8, 10, 12, 13), metric bars, the guidance sweep."""
from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from ..figures import apply_style, iuv_to_rgb
from ._common import GARMENT_PARTS, _columns, _show, _suptitle


def comparison_panel(input_image, truth: np.ndarray, methods: dict[str, np.ndarray],
                     iuv: np.ndarray | None = None, frames: list[int] | None = None, n_cols: int = 6,
                     title: str = "", scale: float = 1.0):
    """Fig. 7/8 style: the input image(s) in the first column, then rows target pose | ground
    truth | each method over frames. ``input_image``: one frame or a list (several input images
    fill the first column from the top). ``frames`` labels the columns (the videos' frame
    numbers); ``n_cols`` columns are picked evenly."""
    apply_style()
    inputs = list(input_image) if isinstance(input_image, (list, tuple)) else [input_image]
    cols = _columns(len(truth), n_cols)
    rows = ([("target pose", iuv_to_rgb(iuv))] if iuv is not None else []) + [("ground truth", truth)]
    rows += list(methods.items())
    n_rows = max(len(rows), len(inputs))
    fig, axes = plt.subplots(n_rows, len(cols) + 1, squeeze=False,
                             figsize=(scale * (len(cols) + 1.2), scale * 1.05 * n_rows))
    for ax in axes.ravel():
        ax.axis("off")
    for r, (label, images) in enumerate(rows):
        for c, k in enumerate(cols):
            top = (f"frame {frames[k]}" if frames is not None else f"t={k}") if r == 0 else ""
            _show(axes[r, c + 1], images[k], top)
        axes[r, 1].set_ylabel(textwrap.fill(label, 12, break_long_words=False), fontsize=6.5)  # at most ~12 characters a line fit a row
    for r, image in enumerate(inputs):
        _show(axes[r, 0], image, "" if r else ("input x0" if len(inputs) == 1 else f"{len(inputs)} input images"))
    _suptitle(fig, title)
    fig.tight_layout()
    return fig


def garment_box(iuv_frame: np.ndarray, parts=GARMENT_PARTS, pad: float = 0.1, min_size: int = 8):
    """(top, left, height, width) in pixels around the given DensePose parts of one IUV frame
    (the garment), padded by ``pad`` of its size; the whole body or frame if the parts are absent."""
    h, w = iuv_frame.shape[:2]
    mask = np.isin(iuv_frame[..., 0], parts)
    if not mask.any():
        mask = iuv_frame[..., 0] > 0
    if not mask.any():
        return 0, 0, h, w
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    py, px = int(np.ceil(pad * (y1 - y0))), int(np.ceil(pad * (x1 - x0)))
    y0, x0 = max(0, y0 - py), max(0, x0 - px)
    y1, x1 = min(h, max(y1 + py, y0 + min_size)), min(w, max(x1 + px, x0 + min_size))
    return int(y0), int(x0), int(y1 - y0), int(x1 - x0)


def crops_panel(truth: np.ndarray, versions: dict[str, np.ndarray], boxes: list, frames: list[int] | None = None,
                scale: float = 1.3):
    """Fig. 6 style: per row a frame with its crop box, then the crop in the ground truth and in
    each version (e.g. before / after decoder finetuning), enlarged."""
    apply_style()
    names = ["frame", "ground truth"] + list(versions)
    fig, axes = plt.subplots(len(boxes), len(names), squeeze=False,
                             figsize=(scale * len(names), scale * 1.05 * len(boxes)))
    for r, box in enumerate(boxes):
        top, left, height, width = box
        images = [truth[r]] + [v[r][top:top + height, left:left + width] for v in [truth, *versions.values()]]
        for c, (name, image) in enumerate(zip(names, images)):
            _show(axes[r, c], image, name if r == 0 else "")
        axes[r, 0].add_patch(Rectangle((left - 0.5, top - 0.5), width, height, fill=False, lw=1.2, ec="yellow"))
        if frames is not None:
            axes[r, 0].set_ylabel(f"frame {frames[r]}", fontsize=7)
    fig.tight_layout()
    return fig


def metric_bars(results: dict, metrics: list[str], title: str = ""):
    """One bar chart per metric: mean ± std over videos of each ``{label: Result}`` (n/a skipped)."""
    from ..evaluate.metrics import metric_info
    from ..evaluate.tables import ARROWS

    apply_style()
    metrics = [m for m in metrics if not isinstance(next(iter(results.values())).summary(m), str)]
    fig, axes = plt.subplots(1, len(metrics), squeeze=False, figsize=(2.3 * len(metrics), 2.6), layout="constrained")
    labels = list(results)
    for ax, metric in zip(axes[0], metrics):
        stats = [results[label].summary(metric) for label in labels]
        means = [s[0] for s in stats]
        stds = [0.0 if not np.isfinite(s[1]) else s[1] for s in stats]
        ax.bar(range(len(labels)), means, yerr=stds, color=[f"C{i}" for i in range(len(labels))], capsize=2)
        ax.set_xticks(range(len(labels)), labels, rotation=40, ha="right", fontsize=6)
        ax.set_title(f"{metric} {ARROWS[metric_info(metric).better]}")
        lo, hi = min(m - s for m, s in zip(means, stds)), max(m + s for m, s in zip(means, stds))
        if metric_info(metric).better != "zero" and lo > 0:  # zoom in on the differences
            ax.set_ylim(max(0.0, lo - 0.15 * (hi - lo)), hi + 0.15 * (hi - lo) + 1e-9)
    _suptitle(fig, title)
    return fig


def guidance_panel(sweep: dict, frame: int = 0):
    """The s_I x s_p sweep: one generated frame per cell (rows s_I, columns s_p), the ground
    truth, and heat maps of pose alignment (IoU) and appearance distance per cell."""
    apply_style()
    s = sweep["scales"]
    maps = [("foreground IoU ↑", sweep["iou"])]
    if sweep.get("appearance") is not None:
        maps.append(("appearance distance ↓", sweep["appearance"]))
    n = len(s)
    fig = plt.figure(figsize=(1.1 * (n + 1) + 2.4 * len(maps), 1.1 * n + 0.6), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[1.1 * (n + 1), 2.4 * len(maps)])
    axes = left.subplots(n, n + 1, squeeze=False)
    for a, s_i in enumerate(s):
        axes[a, 0].axis("off")
        for b, s_p in enumerate(s):
            _show(axes[a, b + 1], sweep["frames"][(s_i, s_p)][frame], f"s_p = {s_p:g}" if a == 0 else "")
        axes[a, 1].set_ylabel(f"s_I = {s_i:g}", fontsize=7)
    _show(axes[0, 0], sweep["ground_truth"][frame], "ground truth")
    for ax, (name, values) in zip(right.subplots(1, len(maps), squeeze=False)[0], maps):
        norm = ax.imshow(values, cmap="viridis").norm
        ax.set(xticks=range(n), xticklabels=[f"{v:g}" for v in s], yticks=range(n), yticklabels=[f"{v:g}" for v in s],
               xlabel="s_p", ylabel="s_I", title=name)
        for (i, j), v in np.ndenumerate(values):  # dark text on the light (yellow) end, white on the dark end
            ax.text(j, i, f"{v:.3f}", ha="center", va="center", fontsize=8,
                    color="black" if norm(v) > 0.55 else "white")
    return fig


def error_map(generated: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-pixel mean |x' - x| over channels, on the [0, 1] scale."""
    return np.abs(generated.astype(np.float32) - truth.astype(np.float32)).mean(-1) / 255.0


def failure_panel(cases: list, scale: float = 1.2, title: str = ""):
    """Fig. 13 style: one row per failure case (``failures.FrameCase``): input | target pose |
    ground truth | generated | error map, labelled with why the case was picked."""
    apply_style()
    names = ["input x0", "target pose", "ground truth", "generated", "|error|"]
    fig, axes = plt.subplots(len(cases), len(names), squeeze=False,
                             figsize=(scale * len(names), scale * 1.1 * len(cases)))
    for r, case in enumerate(cases):
        images = [case.input_image, iuv_to_rgb(case.iuv), case.truth, case.generated]
        for c, image in enumerate(images):
            _show(axes[r, c], image, names[c] if r == 0 else "")
        _show(axes[r, 4], error_map(case.generated, case.truth), names[4] if r == 0 else "", cmap="magma", vmin=0,
              vmax=0.5)
        axes[r, 0].set_ylabel(f"{case.video} f{case.frame}\n" + textwrap.fill(case.reason, 24), fontsize=6)
    _suptitle(fig, title)
    fig.tight_layout()
    return fig


def group_bars(groups: dict[str, np.ndarray], ylabel: str, title: str = ""):
    """Mean ± std of the values in each group, with the points themselves (e.g. error by view)."""
    apply_style()
    fig, ax = plt.subplots(figsize=(0.9 * len(groups) + 1.4, 2.6), layout="constrained")
    for k, (label, values) in enumerate(groups.items()):
        values = np.asarray(values, float)
        if len(values):
            ax.bar(k, values.mean(), yerr=values.std() if len(values) > 1 else 0, color=f"C{k}", alpha=0.6,
                   capsize=2)
            jitter = (np.arange(len(values)) - (len(values) - 1) / 2) * 0.3 / max(len(values), 1)
            ax.plot(k + jitter, values, "k.", ms=3)
    ax.set_xticks(range(len(groups)), [f"{g}\n(n={len(v)})" for g, v in groups.items()], fontsize=7)
    ax.set(ylabel=ylabel, title=title)
    return fig
