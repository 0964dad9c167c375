"""The fidelity diagnosis at a glance: each study's L1 gap to copying the input frame.

Every panel plots ``L1 gap to copy`` (a method's L1 minus copying the input frame's, paired
per validation subject, ± 2 standard errors): below zero the method beats the floor a working
method must clear; the VAE-branch panels instead plot each learning-rate scale's paired L1 gap
to Ours_CLIP (the comparison effect 2 makes), with the branch's share of the tokens' norm on each
bar, and the input-images panel the gap of several images to 1 (effect 7). The rows come from
``dreampose.evaluate.studies.fidelity``.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..figures import apply_style

GAP, SE = "L1 gap to copy", "SE"
TITLES = {"subject": "subject finetuning", "budget": "subject, decoder steps", "sampling": "sampler",
          "capacity": "UNet width", "vae_branch": "VAE branch lr in the subject stage",
          "vae_branch_stage1": "VAE branch lr in stage 1 and subject stage"}


def _floor(ax) -> None:
    ax.axhline(0, color="grey", lw=1, ls="--")
    ax.text(0.0, 0, " copy the input frame", transform=ax.get_yaxis_transform(), ha="left", va="top",
            fontsize=6, color="grey")


def _bars(ax, rows: list[dict], title: str) -> None:
    x = np.arange(len(rows))
    ax.bar(x, [r[GAP] for r in rows], yerr=[2 * r[SE] for r in rows], color="C0", alpha=0.8, capsize=2)
    ax.set_xticks(x, [r["setting"] for r in rows], rotation=30, ha="right", fontsize=6)
    ax.set(title=title, ylabel="L1 gap to copy (± 2 SE)")
    _floor(ax)


def paired_bars(ax, rows: list[dict], gap: str, se: str, reference: str, ticks: list[str], title: str,
                notes: list[str] | None = None) -> None:
    """Bars of the paired L1 gap ``gap`` (± 2 ``se``) of each row against ``reference`` (the dashed
    zero line), ``notes`` written on top of the bars."""
    x = np.arange(len(rows))
    gaps, errs = [r[gap] for r in rows], [2 * r[se] for r in rows]
    ax.bar(x, gaps, yerr=errs, color="C2", alpha=0.8, capsize=2)
    for i, note in enumerate(notes or []):
        ax.text(i, max(gaps[i] + errs[i], 0), note, ha="center", va="bottom", fontsize=6)
    if notes:  # room above the tallest bar for its note
        low, high = ax.get_ylim()
        ax.set_ylim(low, high + 0.2 * (high - low))
    ax.set_xticks(x, ticks, fontsize=6)
    ax.axhline(0, color="grey", lw=1, ls="--")
    ax.text(1.0, 0, reference + " ", transform=ax.get_yaxis_transform(), ha="right", va="bottom", fontsize=6,
            color="grey")
    ax.set(title=title, ylabel=f"L1 gap to {reference} (± 2 SE)")


def vae_branch_bars(ax, rows: list[dict], title: str) -> None:
    """The paired L1 gap of Ours_Full to Ours_CLIP at each VAE-branch lr scale, its share on top."""
    rows = [r for r in rows if "L1 gap to CLIP" in r]
    paired_bars(ax, rows, "L1 gap to CLIP", "CLIP SE", "Ours_CLIP", [f"x {r['scale']:g}" for r in rows], title,
                [f"{r['VAE share']:.0%}" for r in rows])
    ax.set_xlabel("branch lr scale (its share of c_I on top)")


def images_bars(ax, rows: list[dict]) -> None:
    """The paired L1 gap of several input images to 1, at each subject-stage length; the paired
    SSIM gap (positive: several help) on top."""
    rows = [r for r in rows if "L1 gap to 1 image" in r]
    notes = [f"SSIM {r['SSIM gap to 1 image']:+.3f}\n± {r['SSIM SE']:.3f}" if "SSIM SE" in r else "" for r in rows]
    paired_bars(ax, rows, "L1 gap to 1 image", "1-image SE", "1 image",
                [f"{r['images']} images, {r['steps']} steps" for r in rows], "more input images", notes)
    ax.set_xlabel("subject finetuning (paired SSIM gap on top)")


def guidance_heatmap(ax, rows: list[dict]) -> None:
    """L1 gap over the (s_I, s_p) grid, the paper's demo (8, 3) outlined."""
    s_i = sorted({r["image_guidance_scale"] for r in rows})
    s_p = sorted({r["pose_guidance_scale"] for r in rows})
    grid = np.full((len(s_i), len(s_p)), np.nan)
    for r in rows:
        grid[s_i.index(r["image_guidance_scale"]), s_p.index(r["pose_guidance_scale"])] = r[GAP]
    lim = np.nanmax(np.abs(grid))
    im = ax.imshow(grid, cmap="RdBu_r", vmin=-lim, vmax=lim, origin="lower")
    for (a, b), v in np.ndenumerate(grid):
        ax.text(b, a, f"{v:+.3f}", ha="center", va="center", fontsize=5.5)
    if 8.0 in s_i and 3.0 in s_p:
        ax.add_patch(plt.Rectangle((s_p.index(3.0) - 0.5, s_i.index(8.0) - 0.5), 1, 1, fill=False, lw=1.5))
    ax.set_xticks(range(len(s_p)), [f"{v:g}" for v in s_p])
    ax.set_yticks(range(len(s_i)), [f"{v:g}" for v in s_i])
    ax.set(xlabel="pose guidance s_p", ylabel="image guidance s_I", title="guidance (L1 gap; paper demo boxed)")
    plt.colorbar(im, ax=ax, shrink=0.8)


def diagnosis_panel(results: dict):
    """One panel per study present in ``results`` ({part: {"rows": [...]}}, as benchmarks.fidelity writes)."""
    from matplotlib.ticker import FixedLocator, NullLocator

    apply_style()
    order = ("stage1", "subject", "budget", "vae_branch", "vae_branch_stage1", "images", "capacity", "sampling",
             "guidance")
    parts = [p for p in order if p in results]
    cols = min(3, max(1, len(parts)))
    rows_n = -(-max(1, len(parts)) // cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(3.3 * cols, 3.0 * rows_n), layout="constrained", squeeze=False)
    for ax, part in zip(axes.flat, parts):
        rows = results[part]["rows"]
        if part == "stage1":
            steps = [r["steps"] for r in rows]
            ax.errorbar(steps, [r[GAP] for r in rows], yerr=[2 * r[SE] for r in rows], marker="o", capsize=2)
            ax.set(xscale="log", xlabel="stage-1 optimizer steps", ylabel="L1 gap to copy (± 2 SE)",
                   title="stage 1 along training")
            ax.xaxis.set_major_locator(FixedLocator(steps))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xticklabels([str(n) for n in steps])
            _floor(ax)
        elif part == "guidance":
            guidance_heatmap(ax, rows)
        elif part in ("vae_branch", "vae_branch_stage1"):
            vae_branch_bars(ax, rows, TITLES[part])
        elif part == "images":
            images_bars(ax, rows)
        else:
            _bars(ax, rows, TITLES[part])
    for ax in list(axes.flat)[len(parts):]:
        ax.axis("off")
    vae = results.get("vae", {}).get("rows")
    if vae:
        v = vae[0]
        fig.suptitle(f"VAE ceiling D(E(x)) vs x: {v['vae_psnr_db']:.1f} dB, L1 {v['vae_l1']:.3f}, garment L1 "
                     f"{v['vae_garment_l1']:.3f}", fontsize=8)
    return fig
