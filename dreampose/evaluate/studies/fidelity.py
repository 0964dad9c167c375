"""Where a profile's error comes from, measured on validation subjects (never the test split).

    vae_ceiling      D(E(x)) against x: no sample is better than its decoder allows
    stage1_curve     stage-1 quality against optimizer steps (snapshots of one run)
    subject_grid     subject-finetuning learning rate x steps on the stage-1 model
    budget_grid      subject-finetuning steps x decoder-finetuning steps (the per-subject cost)
    vae_branch_grid  the adapter's VAE branch at lr x scale in subject finetuning (or in stage 1
                     and subject finetuning), against CLIP only
    images_grid      1 input image against several (paper 6.3), at several subject-finetuning lengths
    sampling_grid    sampler and guidance weights (s_I, s_p) for one trained method
    unet_capacity    the UNet's width (base pretraining and stage 1 for each width)

Every row scores the protocol's frames (L1, SSIM, PSNR on the validation subjects) beside the
floor a working method must clear: copying the input frame. ``gap`` is the paired per-subject
difference to that floor in L1 (negative: better than copying) with its standard error.
``sampling_grid`` adds the L1 on the target's garment pixels (IUV torso and upper legs), paired
in the same way: whole-frame L1 is mostly background and rewards a dim, average person, while
the garment's colour and pattern are what tell the subject apart.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from ... import stages
from ...data.video import Video
from ..baselines import copy_input
from ..base_quality import GARMENT_PARTS, vae_reconstruction
from ..method import DreamPoseMethod
from ..metrics import MetricSuite
from ..protocol import Result, evaluate_method

METRICS = ("L1", "SSIM", "PSNR")
SHORT = {"scheduler": "", "steps": "", "image_guidance_scale": "s_I ", "pose_guidance_scale": "s_p ",
         "frames_per_batch": "batch "}  # row labels: "pndm 100", "s_I 8 s_p 3"


def score(method, run: stages.Run, videos: list[Video], label: str) -> Result:
    """The protocol on ``videos`` (all of them), uncached, without the perceptual metrics."""
    eval_cfg = dataclasses.replace(run.profile.eval, n_videos=0)
    return evaluate_method(method, videos, eval_cfg, run.profile.seed, label=label,
                           suite=MetricSuite(perceptual=False), progress=False)


def mean_se(d: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of per-video differences ``d``."""
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else float("nan")


def paired_gap(a: Result, b: Result, metric: str = "L1") -> tuple[float, float]:
    """Mean and standard error of the per-video difference a - b."""
    return mean_se(a.values(metric) - b.values(metric))


def row(label: str, result: Result, floor: Result, **extra) -> dict:
    """One line of a diagnosis table: the means, and the paired L1 gap to the floor."""
    gap, se = paired_gap(result, floor)
    return {"setting": label, **extra, **{m: float(result.values(m).mean()) for m in METRICS},
            "L1 gap to copy": gap, "SE": se}


def garment_l1(method, videos: list[Video], result: Result) -> np.ndarray:
    """Per video: mean |generated - truth| on [0, 1] over the garment pixels of the target frames
    (the frames ``result`` scored, rendered again from the frame cache)."""
    values = []
    for v in videos:
        i, targets = result.frames[v.name]["input"], list(result.frames[v.name]["targets"])
        err = np.abs(method(v, i, targets).astype(float) - v.frames[targets].astype(float)) / 255
        values.append(float(err[np.isin(v.iuv[targets][..., 0], GARMENT_PARTS)].mean()))
    return np.asarray(values)


def garment_columns(values: np.ndarray, floor_values: np.ndarray) -> dict:
    gap, se = mean_se(values - floor_values)
    return {"garment L1": float(values.mean()), "garment gap": gap, "garment SE": se}


def floor(run: stages.Run, videos: list[Video]) -> Result:
    return score(copy_input, run, videos, "copy the input frame")


def vae_ceiling(base, videos: list[Video], frames_per_video: int = 8) -> dict:
    """D(E(x)) against x on frames spread over each validation video."""
    picks = [(v, int(i)) for v in videos for i in np.linspace(0, len(v) - 1, frames_per_video).round()]
    return vae_reconstruction(base.vae, np.stack([v.frames[i] for v, i in picks]),
                              np.stack([v.iuv[i] for v, i in picks]))


def _stage1_method(run: stages.Run, artifact, videos: list[Video], label: str) -> DreamPoseMethod:
    from ..protocol import protocol_subject

    subjects = {v.name: protocol_subject(run.profile, v, 1) for v in videos}
    return DreamPoseMethod.from_artifacts(label, run, subjects, {v.name: {"stage1": artifact} for v in videos})


def stage1_curve(run: stages.Run, videos: list[Video], steps: list[int]) -> list[dict]:
    """Stage 1 trained once to ``max(steps)`` with a snapshot at each of ``steps``; each snapshot
    sampled like the stage-1 model (no subject finetuning)."""
    last = max(steps)
    longer = run.variant("stage1.epochs=0", f"stage1.steps={last}")
    final, base_floor, rows = stages.stage1(longer, snapshots=tuple(set(steps) - {last})), floor(run, videos), []
    for n in sorted(set(steps)):
        art = final if n == last else stages.stage1_snapshot(final, n)
        method = _stage1_method(longer, art, videos, f"stage 1 after {n} steps")
        rows.append(row(f"{n} steps", score(method, longer, videos, method.label), base_floor, steps=n))
    return rows


def subject_grid(run: stages.Run, videos: list[Video], grid: list[tuple[float, int]]) -> list[dict]:
    """Subject + decoder finetuning at each (lr, steps) of ``grid`` on the profile's stage-1
    model, against the stage-1 model alone (the first row)."""
    from ...reproduce import trained

    base_floor = floor(run, videos)
    rows = [row("stage 1 only", score(trained(run, "stage 1", videos, finetune=False), run, videos, "stage 1"),
                base_floor, lr=0.0, steps=0)]
    for lr, n in grid:
        method = trained(run.variant(f"subject.lr={lr}", f"subject.steps={n}"), f"subject lr {lr:g}, {n} steps", videos)
        rows.append(row(method.label, score(method, method.run, videos, method.label), base_floor, lr=lr, steps=n))
    return rows


def budget_grid(run: stages.Run, videos: list[Video], grid: list[tuple[int, int]]) -> list[dict]:
    """Subject finetuning for ``s`` steps, then decoder finetuning for ``d`` steps (0: none), for
    each (s, d) of ``grid`` at the profile's learning rates; the first row is stage 1 alone
    (0, 0). Rows carry the garment L1 beside the whole-frame scores: the per-subject stages are
    most of a reproduction's cost, and these rows price each step against what it buys."""
    from ...reproduce import trained

    base_floor = floor(run, videos)
    floor_garment, rows = garment_l1(copy_input, videos, base_floor), []
    for s, d in [(0, 0), *grid]:
        if s == 0:
            method = trained(run, "stage 1 only", videos, finetune=False)
        else:
            switch = ("decoder.enabled=false",) if d == 0 else (f"decoder.steps={d}",)
            method = trained(run.variant(f"subject.steps={s}", *switch), f"subject {s}, decoder {d}", videos)
        result = score(method, method.run, videos, method.label)
        rows.append(row(method.label, result, base_floor, subject_steps=s, decoder_steps=d,
                        **garment_columns(garment_l1(method, videos, result), floor_garment)))
    return rows


def vae_branch_grid(run: stages.Run, videos: list[Video], scales: list[float], stage: str = "subject") -> list[dict]:
    """Ours_CLIP, then Ours_Full with the VAE branch learning at lr x ``scale`` in the subject
    stage (``subject.vae_branch_lr_scale``; ``stage="stage1"``: in stage 1 too, each scale its own
    stage-1 model), each paired with Ours_CLIP on L1 ("L1 gap to CLIP", negative: the VAE branch
    helps), and the branch's share of the tokens' norm after subject finetuning
    (``DreamPoseAdapter.vae_share`` on every subject's input image, mean over subjects)."""
    if stage not in ("subject", "stage1"):
        raise ValueError(f"stage must be 'subject' or 'stage1', got {stage!r}")
    import torch

    from ...data.images import video_to_tensor
    from ...reproduce import trained
    from ..experiments import ABLATIONS, CLIP

    base_floor = floor(run, videos)
    clip_only = trained(run.variant(*ABLATIONS[CLIP]), CLIP, videos)
    clip_result = score(clip_only, clip_only.run, videos, CLIP)
    sections = ("subject", "stage1") if stage == "stage1" else ("subject",)
    where = f", stage 1 ({run.profile.stage1.steps} steps)" if stage == "stage1" else ""
    rows = [row(CLIP + where, clip_result, base_floor, scale=0.0)]
    inputs = torch.cat([video_to_tensor(clip_only.subjects[v.name].images[:1]) for v in videos])
    for scale in scales:
        method = trained(run.variant(*(f"{s}.vae_branch_lr_scale={scale}" for s in sections)),
                         f"VAE branch lr x {scale:g}{where and where + ' and subject'}", videos)
        result = score(method, method.run, videos, method.label)
        gap, se = paired_gap(result, clip_result)
        shares = []
        for v in videos:
            pipe = stages.load_pipeline(method.artifacts[v.name]["subject"])
            with torch.no_grad():
                shares.append(pipe.adapter.vae_share(*pipe.encode_image_features(inputs))["tokens"])
        rows.append(row(method.label, result, base_floor, scale=scale, **{"VAE share": float(np.mean(shares)),
                                                                             "L1 gap to CLIP": gap, "CLIP SE": se}))
    return rows


def images_grid(run: stages.Run, videos: list[Video], n_images: int, steps: list[int]) -> list[dict]:
    """Ours_Full finetuned on 1 input image and on ``n_images`` (``subject.n_images``), for each
    subject-stage length of ``steps``; the several-image row paired with the 1-image row of the
    same length on L1 ("L1 gap to 1 image", negative: more images help) and SSIM (positive: they
    help). Each image gets 1/n of the steps, so the paper's claim may need a longer stage to show."""
    from ...reproduce import trained

    base_floor, rows = floor(run, videos), []
    for n in steps:
        results = {}
        for k in (1, n_images):
            method = trained(run.variant(f"subject.steps={n}", f"subject.n_images={k}"),
                             f"{k} image{'s' * (k > 1)}, subject {n} steps", videos)
            results[k] = score(method, method.run, videos, method.label)
            extra = {}
            if k > 1:
                gap, se = paired_gap(results[k], results[1])
                ssim_gap, ssim_se = paired_gap(results[k], results[1], "SSIM")
                extra = {"L1 gap to 1 image": gap, "1-image SE": se, "SSIM gap to 1 image": ssim_gap,
                         "SSIM SE": ssim_se}
            rows.append(row(method.label, results[k], base_floor, images=k, steps=n, **extra))
    return rows


def sampling_grid(method: DreamPoseMethod, videos: list[Video], settings: list[dict]) -> list[dict]:
    """``method`` sampled with each dict of ``settings`` (overrides of the sample section)."""
    base_floor = floor(method.run, videos)
    floor_garment, rows = garment_l1(copy_input, videos, base_floor), []
    for overrides in settings:
        label = " ".join(f"{SHORT.get(k, k)}{v:g}" if isinstance(v, float) else f"{SHORT.get(k, k)}{v}"
                         for k, v in overrides.items()) or "profile's"
        variant = method.with_sample(**overrides)
        result = score(variant, method.run, videos, label)
        rows.append(row(label, result, base_floor, **overrides,
                        **garment_columns(garment_l1(variant, videos, result), floor_garment)))
    return rows


def unet_capacity(run: stages.Run, videos: list[Video], widths: list[list[int]]) -> list[dict]:
    """For each UNet width (``base.unet_channels``): pretrain the base, train stage 1, sample
    stage 1 only; the parameter count beside the scores."""
    base_floor, rows = floor(run, videos), []
    for channels in widths:
        variant = run.variant(f"base.unet_channels={channels}")
        unet = stages.base(variant).unet
        params = sum(p.numel() for p in unet.parameters())
        method = _stage1_method(variant, stages.stage1(variant), videos, f"UNet {channels}")
        rows.append(row(f"UNet {channels}", score(method, variant, videos, method.label), base_floor,
                        parameters=params))
    return rows


def markdown(rows: list[dict]) -> str:
    """A diagnosis table as Markdown (numbers to 4 significant digits)."""
    seen = list(dict.fromkeys(c for r in rows for c in r))  # JSON round trips sort the keys: restore the order
    last = [c for c in (*METRICS, "L1 gap to copy", "SE", "garment L1", "garment gap", "garment SE") if c in seen]
    cols = ["setting"] * ("setting" in seen) + [c for c in seen if c not in last and c != "setting"] + last
    cell = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    return "\n".join(lines + ["| " + " | ".join(cell(r.get(c, "")) for c in cols) + " |" for r in rows])
