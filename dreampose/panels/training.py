"""Training curves: ``loss.csv`` read back, smoothed and plotted."""
from __future__ import annotations

import csv
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ..figures import apply_style


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
