"""The seven effects of DESIGN.md ("Effects the tiny run must show"), measured on this run.

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
"""
from __future__ import annotations

import itertools

import numpy as np
import torch

from ..cache import Cache
from ..config import Profile
from .baselines import background_colour
from .experiments import CLIP, FULL, NO_VAE_FT, ONE_POSE, STAGE1_ONLY, DreamPoseMethod, targets_of
from .protocol import Result
from .tables import Effect, compare

MORE_IMAGES = 3


def zero_init_gap(profile: Profile, cache: Cache | None = None, seed: int = 0) -> dict[str, float]:
    """Effect 1: the freshly modified model against the base, on random inputs (max abs diffs)."""
    from ..models.base import load_base
    from ..pipeline import DreamPosePipeline

    base = load_base(profile, cache, progress=False)
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


def guidance_sweep(profile: Profile, videos, cache: Cache | None = None, scales=(1.0, 3.0, 6.0),
                   n_videos: int = 2, n_frames: int = 8, suite=None, progress: bool = True) -> dict:
    """Effect 6: Ours_Full sampled over an s_I x s_p grid on the first test videos.

    Returns {"scales", "iou": (len, len) array [s_I, s_p], "appearance": same, "frames": {(s_I, s_p): frames
    of the first video}, "ground_truth": its target frames}.
    """
    from tqdm.auto import tqdm

    from .experiments import metric_suite

    cache = cache or Cache()
    features = (suite or metric_suite(profile, cache)).features
    videos = list(videos)[:n_videos]
    iou = np.zeros((len(scales), len(scales)))
    appearance = np.zeros_like(iou)
    frames = {}
    grid = list(itertools.product(enumerate(scales), enumerate(scales)))
    for (a, s_i), (b, s_p) in tqdm(grid, desc="guidance grid", disable=not progress):
        method = DreamPoseMethod(profile, cache, sample={"image_guidance_scale": s_i, "pose_guidance_scale": s_p})
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
