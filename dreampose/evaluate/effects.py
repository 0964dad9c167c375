"""The paper's seven claims as effects measured on this run: measure, compare, verdict, report.

Each effect compares two measured values on one metric fixed in advance (never chosen
after looking at the numbers) and says whether the paper's claim holds here, and whether the
paired per-video difference is beyond noise (more than two standard errors):

1. zero-init surgery     max |UNet'(z ⊕ c_p) - UNet(z)| and |A(c_CLIP, c_VAE) - A_CLIP(c_CLIP)| at init
2. CLIP+VAE vs CLIP      L1 of Ours_Full vs Ours_CLIP
3. decoder finetuning    PSNR of Ours_Full vs Ours_No-VAE-FT
4. 5 poses vs 1 pose     temporal L1 of Ours_Full vs Ours_1-pose
5. subject finetuning    L1 of Ours_Full vs Stage 1 only
6. s_I and s_p           pose alignment (foreground IoU) rises with s_p; appearance distance
                         (CLIP-tiny feature distance to the ground truth) falls with s_I
7. more input images     L1 of Ours_Full with subject.n_images = 3 vs 1

Beside them, the floor a working method must clear (``baseline_effects``): Ours_Full against
copying the input frame and against DensePose texture transfer, on L1, SSIM and PSNR each.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from ..config import Profile
from ..progress import shown
from .baselines import background_colour
from .experiments import CLIP, COPY, FULL, NO_VAE_FT, ONE_POSE, STAGE1_ONLY, TEXTURE, targets_of
from .metrics import METRICS
from .protocol import Result
from .tables import format_cell

MORE_IMAGES = 3


@dataclass
class Effect:
    """One of the paper's claims, measured: does ``holds`` and by how much (``detail``)."""

    name: str
    claim: str
    metric: str
    values: dict[str, object] = field(default_factory=dict)  # label -> float, (mean, std) or n/a string
    holds: bool = False
    detail: str = ""
    beyond_noise: bool | None = None  # paired difference over videos > 2 standard errors (None: not tested)


def _mean(value) -> float | None:
    if isinstance(value, str) or value is None:
        return None
    mean = float(value[0] if isinstance(value, (tuple, list)) else value)
    return mean if not math.isnan(mean) else None


def compare(name: str, claim: str, a_label: str, a_value, b_label: str, b_value, higher_is_better: bool,
            metric: str = "", paired: Sequence[float] | None = None) -> Effect:
    """The claim "``a`` beats ``b`` on ``metric``" checked on two values (floats or (mean, std)).

    ``paired``: per-video differences a - b (same videos); the effect is ``beyond_noise`` when
    their mean exceeds two standard errors, so a tiny difference is not sold as an effect.
    """
    a, b = _mean(a_value), _mean(b_value)
    values = {a_label: a_value, b_label: b_value}
    if a is None or b is None:
        return Effect(name, claim, metric, values, False, "not measurable: a value is unavailable")
    holds = a > b if higher_is_better else a < b
    word = "higher" if higher_is_better else "lower"
    detail = (f"{a_label} {format_cell(metric, a_value)} vs {b_label} {format_cell(metric, b_value)} "
              f"({word} is better; difference {a - b:+.4g})")
    beyond = None
    diffs = [d for d in (paired or []) if math.isfinite(d)]
    if len(diffs) >= 2:
        mean = sum(diffs) / len(diffs)
        se = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1) / len(diffs))
        beyond = abs(mean) > 2 * se
        detail += f"; paired over {len(diffs)} videos {mean:+.4g} ± {se:.2g} (SE)"
    return Effect(name, claim, metric, values, holds, detail, beyond)


NOISE_CELL = {True: "yes", False: "no (within noise)", None: "n/a"}


def report_effects(effects: Sequence[Effect], columns: dict[str, dict[str, str]] | None = None) -> str:
    """Markdown table of effects: claim, metric, values, holds (yes / **no**), beyond noise, detail.

    ``columns``: further columns {header: {effect name: cell}} (e.g. the seeds' verdicts of
    ``seed_robustness``), placed after "beyond noise" and before the detail, which stays last
    (``evaluate.compare`` reads the columns by their header)."""
    columns = columns or {}
    headers = ["effect", "claim", "metric", "values", "holds", "beyond noise", *columns, "detail"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for e in effects:
        vals = "; ".join(f"{k}: {format_cell(e.metric, v)}" for k, v in e.values.items())
        extra = "".join(f"{cells.get(e.name, '-')} | " for cells in columns.values())
        lines.append(f"| {e.name} | {e.claim} | {e.metric} | {vals} | {'yes' if e.holds else '**no**'} | "
                     f"{NOISE_CELL[e.beyond_noise]} | {extra}{e.detail} |")
    return "\n".join(lines) + "\n"


def table_verdict(effect: Effect) -> str:
    """The verdict a row of ``effects.md`` states (``evaluate.compare.verdict``): shown, contradicted,
    within noise, or holds / does not hold for an effect without a noise test."""
    from .compare import verdict as from_cells

    return from_cells("yes" if effect.holds else "no", NOISE_CELL[effect.beyond_noise])


def seeds_header(seeds: Sequence[int]) -> str:
    return "seeds " + ",".join(str(s) for s in seeds)


def seed_robustness(per_seed: dict[int, Sequence[Effect]]) -> dict[str, str]:
    """{effect name: cell} over the effects measured at each seed ({seed: effects}): how many
    seeds show it beyond noise ("holds beyond noise 2/3") and the verdict at each seed; an
    effect without a noise test counts the seeds where it holds ("holds 3/3, no noise test")."""
    seeds = list(per_seed)
    by_name = {s: {e.name: e for e in effects} for s, effects in per_seed.items()}
    cells = {}
    for name in by_name[seeds[0]]:
        found = {s: by_name[s].get(name) for s in seeds}
        words = {s: table_verdict(e) if e is not None else "not measured" for s, e in found.items()}
        tested = any(e is not None and e.beyond_noise is not None for e in found.values())
        if tested:
            count, what = sum(w == "shown" for w in words.values()), "holds beyond noise"
        else:
            count, what = sum(w == "holds" for w in words.values()), "holds"
        each = "; ".join(f"{s}: {w}" for s, w in words.items())
        cells[name] = f"{what} {count}/{len(seeds)}{'' if tested else ', no noise test'} ({each})"
    return cells


def verdict(effect: Effect) -> str:
    """One line on a measured effect for a notebook's closing cell."""
    if not effect.holds:
        word = "does NOT hold on this run"
    elif effect.beyond_noise is False:
        word = "holds, but within noise (paired difference under 2 standard errors)"
    else:
        word = "holds" + (", beyond noise" if effect.beyond_noise else "")
    return f"{effect.name}: {word}. {effect.detail}"


def zero_init_gap(profile: Profile, base, seed: int = 0) -> dict[str, float]:
    """Effect 1: the freshly modified model against ``base``, on random inputs (max abs diffs)."""
    from ..pipeline import DreamPosePipeline

    pipe = DreamPosePipeline.from_base(base, n_poses=profile.model.n_poses)
    clip_only = DreamPosePipeline.from_base(base, n_poses=profile.model.n_poses, image_encoder_mode="clip")
    g = torch.Generator().manual_seed(seed)
    h, w = profile.data.height, profile.data.width
    images = torch.rand(2, 3, h, w, generator=g) * 2 - 1
    f = pipe.latent_factor
    z = torch.randn(2, base.vae.config.latent_channels, h // f, w // f, generator=g)
    pose = torch.rand(2, 2 * pipe.n_poses, h // f, w // f, generator=g) * 2 - 1
    t = torch.tensor([500, 20])
    with torch.no_grad():
        c_full = pipe.encode_image_condition(images)
        c_clip = clip_only.encode_image_condition(images)
        ref = base.unet(z, t, encoder_hidden_states=c_clip).sample
        out = pipe.unet(torch.cat([z, pose], 1), t, encoder_hidden_states=c_full).sample
    return {"unet": float((out - ref).abs().max()), "adapter": float((c_full - c_clip).abs().max())}


def foreground_iou(frames: np.ndarray, target_iuv: np.ndarray, background: np.ndarray, threshold: int = 24) -> float:
    """IoU of the generated person (pixels away from the background colour) with the target's body (I > 0)."""
    fg = (np.abs(frames.astype(np.int16) - background.astype(np.int16)).max(-1) > threshold)
    body = target_iuv[..., 0] > 0
    union = (fg | body).sum()
    return float((fg & body).sum() / union) if union else 1.0


def guidance_sweep(full, videos, suite, scales=(1.0, 3.0, 8.0), n_videos: int = 2, n_frames: int = 8, *,
                   progress: bool = True) -> dict:
    """Effect 6: the trained Ours_Full method ``full`` sampled over an s_I x s_p grid on the first test videos.

    Returns {"scales", "iou": (len, len) array [s_I, s_p], "appearance": same, "frames": {(s_I, s_p): frames
    of the first video}, "ground_truth": its target frames}.
    """
    from tqdm.auto import tqdm

    profile, features = full.run.profile, suite.features
    videos = list(videos)[:n_videos]
    iou = np.zeros((len(scales), len(scales)))
    appearance = np.zeros_like(iou)
    frames = {}
    grid = list(itertools.product(enumerate(scales), enumerate(scales)))
    for (a, s_i), (b, s_p) in tqdm(grid, desc="guidance grid", disable=not shown(progress)):
        method = full.with_sample(image_guidance_scale=s_i, pose_guidance_scale=s_p)
        for k, video in enumerate(videos):
            i, targets = targets_of(profile, video)
            targets = targets[:n_frames]
            out = method(video, i, targets)
            bg = background_colour(video.frames[i], video.iuv[i])
            iou[a, b] += foreground_iou(out, video.iuv[targets], bg) / len(videos)
            if features:
                unit = [torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255 for x in (out, video.frames[targets])]
                appearance[a, b] += float(np.mean(features[0](*unit))) / len(videos)
            if k == 0:
                frames[(s_i, s_p)], truth = out, video.frames[targets]
    return {"scales": list(scales), "iou": iou, "appearance": appearance if features else None,
            "frames": frames, "ground_truth": truth}


def guidance_effect(sweep: dict) -> Effect:
    iou, app, s = sweep["iou"], sweep["appearance"], sweep["scales"]
    pose_gain = float(iou[:, -1].mean() - iou[:, 0].mean())  # s_p high vs low, averaged over s_I
    detail = f"foreground IoU at s_p={s[-1]} minus s_p={s[0]}: {pose_gain:+.3f}"
    holds = pose_gain > 0
    values = {f"IoU s_p={s[0]}": float(iou[:, 0].mean()), f"IoU s_p={s[-1]}": float(iou[:, -1].mean())}
    if app is not None:
        app_gain = float(app[0].mean() - app[-1].mean())  # distance at s_I low minus high: > 0 is better
        detail += f"; appearance distance at s_I={s[0]} minus s_I={s[-1]}: {app_gain:+.4f}"
        holds = holds and app_gain > 0
        values.update({f"appearance s_I={s[0]}": float(app[0].mean()), f"appearance s_I={s[-1]}": float(app[-1].mean())})
    return Effect("6. s_I and s_p", "s_p improves pose alignment, s_I appearance", "IoU / CLIP-tiny distance",
                  values, holds, detail)


def paired_differences(a: Result, b: Result, metric: str) -> list[float]:
    """Per-video a - b on the videos both results scored (a paired comparison removes the
    variation between videos, which dominates the std of each row)."""
    common = [v for v in a.per_video if v in b.per_video]
    vals = [(a.per_video[v][metric], b.per_video[v][metric]) for v in common]
    return [float(x) - float(y) for x, y in vals if not isinstance(x, str) and not isinstance(y, str)]


def measure_effects(ablations: dict[str, Result], zero_init: dict[str, float], sweep: dict | None = None,
                    more_images: Result | None = None) -> list[Effect]:
    """The seven effects from the ablation results, the zero-init check, the sweep and the n_images run."""
    gap = max(zero_init.values())
    effects = [Effect("1. zero-init surgery", "modified model = base model at initialisation", "max abs diff",
                      dict(zero_init), gap < 1e-5, f"max |difference| {gap:.2e} (tolerance 1e-5)")]

    def claim(name, text, a, b, metric, higher):
        effects.append(compare(name, text, a, ablations[a].summary(metric), b, ablations[b].summary(metric),
                               higher, metric, paired_differences(ablations[a], ablations[b], metric)))

    claim("2. CLIP+VAE vs CLIP", "the VAE branch improves fidelity", FULL, CLIP, "L1", False)
    claim("3. decoder finetuning", "finetuning the VAE decoder sharpens detail", FULL, NO_VAE_FT, "PSNR", True)
    claim("4. 5 poses vs 1", "a 5-pose window is temporally smoother", FULL, ONE_POSE, "temporal L1", False)
    claim("5. subject finetuning", "subject finetuning beats stage 1 alone", FULL, STAGE1_ONLY, "L1", False)
    if sweep is not None:
        effects.append(guidance_effect(sweep))
    if more_images is not None:
        effects.append(compare("7. more input images", "several input images help (6.3)",
                               f"{MORE_IMAGES} images", more_images.summary("L1"), "1 image",
                               ablations[FULL].summary("L1"), False, "L1",
                               paired_differences(more_images, ablations[FULL], "L1")))
    return effects


BASELINE_METRICS = ("L1", "SSIM", "PSNR")


def baseline_effects(comparisons: dict[str, Result]) -> list[Effect]:
    """Ours_Full against each runnable baseline of Table 1 (copy the input frame, DensePose texture
    transfer) on L1, SSIM and PSNR, paired per video like the paper's effects."""
    out = []
    for baseline, short in ((COPY, "copy"), (TEXTURE, "texture transfer")):
        if baseline not in comparisons:
            continue
        for metric in BASELINE_METRICS:
            a, b = comparisons[FULL], comparisons[baseline]
            out.append(compare(f"vs {short}: {metric}", f"Ours_Full beats {baseline[0].lower() + baseline[1:]}",
                               FULL, a.summary(metric), baseline, b.summary(metric),
                               METRICS[metric].better == "higher", metric, paired_differences(a, b, metric)))
    return out
