"""Figure panels of the results (notebooks 03-08), in the house style of `dreampose.figures`.

Every function takes plain arrays (frames are (T, H, W, 3) uint8, IUV the same shape) and
returns a matplotlib figure; the notebooks save and draw it with ``notebook.show``. Nothing
here trains or samples, so each panel can be tested on synthetic arrays.
"""
from __future__ import annotations

import csv
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from .figures import apply_style, iuv_to_rgb, uv_to_rgb  # noqa: F401  (uv_to_rgb: panels.uv_to_rgb)

GARMENT_PARTS = (1, 2, 7, 8, 9, 10)  # DensePose torso back/front and upper legs (a skirt is labelled so)


def _show(ax, image, title: str = "", **kw) -> None:
    """An image without ticks (the frame stays, so a y label can name the row)."""
    ax.axis("on")
    ax.imshow(image, **kw)
    ax.set(xticks=[], yticks=[])
    if title:
        ax.set_title(title, fontsize=7)


def _suptitle(fig, title: str) -> None:
    if title:
        fig.suptitle(title, fontsize=8)


def _columns(n: int, k: int) -> np.ndarray:
    """``k`` indices spread over ``n`` frames (all of them if n <= k)."""
    return np.arange(n) if n <= k else np.linspace(0, n - 1, k).round().astype(int)


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
        axes[r, 1].set_ylabel(textwrap.fill(label, 18), fontsize=7)
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


def temporal_curves(truth: np.ndarray, methods: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """Per consecutive pair: frame change of each method and of the truth, and the temporal error
    |(x'_{t+1} - x'_t) - (x_{t+1} - x_t)| (its mean is the ``temporal L1`` metric)."""
    d_gt = np.diff(truth.astype(np.float32) / 255.0, axis=0)
    out = {}
    for label, frames in {"ground truth": truth, **methods}.items():
        d = np.diff(frames.astype(np.float32) / 255.0, axis=0)
        out[label] = {"change": np.abs(d).mean(axis=(1, 2, 3)), "error": np.abs(d - d_gt).mean(axis=(1, 2, 3))}
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
    pair (left), and x-t slices through the garment for the ground truth and each method (right)."""
    apply_style()
    curves = temporal_curves(truth, methods)
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
            ax_err.plot(x, c["error"], label=f"{label} (mean {c['error'].mean():.4f})", **style)
    ax_change.set_ylabel("mean |x(t+1) - x(t)|")
    ax_err.set(ylabel="temporal error", xlabel="frame" if frames is not None else "t")
    ax_err.xaxis.get_major_locator().set_params(integer=True)
    for ax in (ax_change, ax_err):
        ax.legend(fontsize=6, frameon=False)
    axes = right.subplots(1, n, squeeze=False)[0]
    for ax, (label, images) in zip(axes, [("ground truth", truth)] + list(methods.items())):
        _show(ax, xt_slice(images, row), label, aspect="auto")
    axes[0].set_ylabel(f"time ↓ (row {row})", fontsize=7)
    _suptitle(fig, title)
    return fig


def read_loss(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(steps, losses) from a training ``loss.csv``."""
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    return np.array([int(r["step"]) for r in rows]), np.array([float(r["loss"]) for r in rows])


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average (the first points average what exists so far)."""
    values = np.asarray(values, float)
    c, idx = np.cumsum(np.insert(values, 0, 0.0)), np.arange(1, len(values) + 1)
    lo = np.maximum(0, idx - max(1, window))
    return (c[idx] - c[lo]) / (idx - lo)


def loss_curves(curves: dict[str, tuple[np.ndarray, np.ndarray]], window: int = 0, title: str = "",
                log: bool = True, marks: dict[str, float] | None = None):
    """Training loss per step (faint) and its moving average, one line per entry; ``marks``
    draws labelled vertical lines (e.g. the steps at which samples were taken)."""
    apply_style()
    fig, ax = plt.subplots(figsize=(5.0, 2.8), layout="constrained")
    for k, (label, (steps, loss)) in enumerate(curves.items()):
        w = window or max(1, len(loss) // 20)
        ax.plot(steps, loss, color=f"C{k}", alpha=0.25, lw=0.8)
        ax.plot(steps, smooth(loss, w), color=f"C{k}", lw=1.5, label=f"{label} (avg of {w})")
    for label, step in (marks or {}).items():
        ax.axvline(step, color="grey", ls=":", lw=1)
        ax.text(step, 1.0, f" {label}", transform=ax.get_xaxis_transform(), fontsize=6, va="top", color="grey")
    ax.set(yscale="log" if log else "linear", xlabel="optimizer step", ylabel="training loss", title=title)
    ax.legend(fontsize=6, frameon=False)
    return fig


def metric_bars(results: dict, metrics: list[str], title: str = ""):
    """One bar chart per metric: mean ± std over videos of each ``{label: Result}`` (n/a skipped)."""
    from .evaluate.metrics import metric_info
    from .evaluate.tables import ARROWS

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
        ax.imshow(values, cmap="Greys", vmin=values.min() - 0.5 * np.ptp(values), vmax=values.max())
        ax.set(xticks=range(n), xticklabels=[f"{v:g}" for v in s], yticks=range(n), yticklabels=[f"{v:g}" for v in s],
               xlabel="s_p", ylabel="s_I", title=name)
        for (i, j), v in np.ndenumerate(values):
            ax.text(j, i, f"{v:.3f}", ha="center", va="center", fontsize=6, color="tab:red")
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
