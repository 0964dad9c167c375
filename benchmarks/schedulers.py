"""Steps and schedulers: quality against ground truth and wall time on the tiny test set.

Every candidate samples the same target frames of the profile's evaluation protocol (input
frame 0, ``eval.n_frames`` consecutive targets per video, ``eval.n_videos`` test videos) from
the SAME initial noise (the protocol's per-video seed), with the stage-1 model and the
profile's guidance scales; candidates run interleaved video by video, so their wall-time
ratios share the machine's load. Metrics: L1 and SSIM per frame, temporal L1 per video,
against the ground-truth frames; plus L1 to the PNDM-100 frames (how far a sampler lands
from the paper's).

The recommended default is the candidate with the fewest UNet evaluations per frame that
needs at least 4x fewer evaluations than the paper (100 PNDM steps x 3 branches = 303, counting
all three guidance branches whatever the scales) and whose three metrics all lie within 1% of
PNDM 100's.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from dreampose.evaluate import metrics
from dreampose.evaluate.experiments import targets_of
from dreampose.pipeline import make_scheduler
from dreampose.stages import sample_seed, sampling_seed

REFERENCE = ("pndm", 100)
CANDIDATES = [REFERENCE, ("ddim", 50), ("dpm++", 50), ("dpm++", 25), ("ddim", 25), ("dpm++", 15)]
PAPER_EVALS = 101 * 3  # PNDM 100 with skip_prk_steps: 101 UNet evaluations, 3 guidance branches each


def evaluations(pipe, scheduler: str, steps: int) -> int:
    s = make_scheduler(scheduler, pipe.scheduler.config)
    s.set_timesteps(steps)
    return len(s.timesteps)


def label(c) -> str:
    return f"{c[0]} {c[1]}"


@torch.no_grad()
def compare(pipe, world, profile, n_frames: int | None = None, n_videos: int | None = None,
            candidates=CANDIDATES) -> dict:
    s = profile.sample
    videos = world.test[: n_videos or profile.eval.n_videos]
    frames = {label(c): [] for c in candidates}
    gts, seconds = [], {label(c): 0.0 for c in candidates}
    for video in videos:
        input_index, targets = targets_of(profile, video)
        targets = targets[: n_frames or len(targets)]
        gts.append(video.frames[targets])
        for c in candidates:  # interleaved per video
            pipe.scheduler = make_scheduler(c[0], pipe.scheduler.config)
            t = time.perf_counter()
            out = pipe([video.frames[input_index]], video.iuv, frames=targets, num_inference_steps=c[1],
                       image_guidance_scale=s.image_guidance_scale, pose_guidance_scale=s.pose_guidance_scale,
                       frames_per_batch=s.frames_per_batch, output_type="np",
                       generator=torch.Generator().manual_seed(sampling_seed(sample_seed(profile), video.name)),
                       height=video.size[0], width=video.size[1])
            seconds[label(c)] += time.perf_counter() - t
            frames[label(c)].append((out.frames * 255).round().astype(np.uint8))
    from dreampose.guidance import branch_weights

    branches = len(branch_weights(s.image_guidance_scale, s.pose_guidance_scale))
    ref = label(REFERENCE) if REFERENCE in candidates else label(candidates[0])
    rows = {}
    for c in candidates:
        name = label(c)
        gen = frames[name]
        ev = evaluations(pipe, *c)
        rows[name] = {
            "scheduler": c[0], "steps": c[1], "unet_evals_per_frame_3_branches": ev * 3,
            f"unet_evals_per_frame_{branches}_branches": ev * branches,
            "fewer_evals_than_paper": PAPER_EVALS / (ev * 3),
            "l1": float(np.mean(np.concatenate([metrics.l1(g, t) for g, t in zip(gen, gts)]))),
            "ssim": float(np.mean(np.concatenate([metrics.ssim(g, t) for g, t in zip(gen, gts)]))),
            "temporal_l1": float(np.mean([metrics.temporal_l1(g, t) for g, t in zip(gen, gts)])),
            "l1_to_pndm100": float(np.mean(np.concatenate([metrics.l1(g, r) for g, r in zip(gen, frames[ref])]))),
            "seconds": seconds[name], "speedup_vs_pndm100": seconds[ref] / seconds[name],
        }
    r0 = rows[ref]
    for row in rows.values():
        row["within_1pct"] = bool(row["l1"] <= 1.01 * r0["l1"] and row["ssim"] >= 0.99 * r0["ssim"]
                                  and row["temporal_l1"] <= 1.01 * r0["temporal_l1"])
        row["meets_goal"] = row["within_1pct"] and row["fewer_evals_than_paper"] >= 4
    passing = [n for n, r in rows.items() if r["meets_goal"]]
    best = min(passing, key=lambda n: (rows[n]["unet_evals_per_frame_3_branches"], rows[n]["l1"])) if passing else None
    n_total = sum(len(g) for g in gts)
    return {"setting": f"stage-1 model, {len(videos)} test videos x {n_total // len(videos)} frames, "
                       f"s_I={s.image_guidance_scale}, s_p={s.pose_guidance_scale} ({branches} branches evaluated), "
                       f"frames_per_batch={s.frames_per_batch}, same initial noise for every candidate",
            "frames": n_total, "candidates": rows, "recommended": best}
