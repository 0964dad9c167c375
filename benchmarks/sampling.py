"""Sampling speed: the authors' loop vs our pipeline, and the pipeline's overhead over bare UNet calls.

baseline   the structure of the authors' sampler: one frame at a time, the image condition
           encoded per frame, three separate UNet calls per step (uncond, image, full), PNDM.
batched    DreamPosePipeline: the guidance branches in one UNet call (`guidance.guided_eps`),
           ``frames_per_batch`` frames per call, c_I encoded once per call.

Speeds are seconds per frame per denoising step, measured interleaved at a few PNDM steps;
a whole frame costs that times the scheduler's number of UNet evaluations (PNDM 100 -> 101).
"""
from __future__ import annotations

import copy

import torch

from dreampose.data.images import as_image_batch
from dreampose.data.pose import as_pose_windows
from dreampose.guidance import combine
from dreampose.pipeline import make_scheduler

from .common import interleaved

PAPER_SCALES = (8.0, 3.0)  # s_I, s_p of the paper's demo: all three guidance branches are needed


def test_inputs(world, profile, n_frames: int):
    """(input image, IUV poses, target frame indices) of the first test video."""
    from dreampose.evaluate.experiments import targets_of

    video = world.test[0]
    _, targets = targets_of(profile, video)
    return video.frames[0], video.iuv, targets[:n_frames]


@torch.no_grad()
def authors_loop(pipe, image, poses, frames, steps: int, s_image: float, s_pose: float, seed: int = 0):
    """The reference: per frame, c_I, then per step three UNet calls and the paper's equation."""
    h, w = pipe.image_size
    f = pipe.latent_factor
    windows = as_pose_windows(poses, (h // f, w // f), pipe.n_poses)
    c_p = windows[list(frames)]
    g = torch.Generator().manual_seed(seed)  # noise per pose index, as the pipeline draws it
    latents = torch.randn((len(windows), pipe.vae.config.latent_channels, h // f, w // f), generator=g)[list(frames)]
    out = []
    for i in range(len(frames)):
        c_image = pipe.encode_image_condition(as_image_batch(image, (h, w)))  # per frame, as the authors do
        null = torch.zeros_like(c_image)
        scheduler = make_scheduler("pndm", pipe.scheduler.config)
        scheduler.set_timesteps(steps)
        z = latents[i:i + 1] * scheduler.init_noise_sigma
        pose, no_pose = c_p[i:i + 1], torch.zeros_like(c_p[i:i + 1])
        for t in scheduler.timesteps:
            zin = scheduler.scale_model_input(z, t)
            e_u = pipe.unet(torch.cat([zin, no_pose], 1), t, encoder_hidden_states=null).sample
            e_i = pipe.unet(torch.cat([zin, no_pose], 1), t, encoder_hidden_states=c_image).sample
            e_f = pipe.unet(torch.cat([zin, pose], 1), t, encoder_hidden_states=c_image).sample
            z = scheduler.step(combine(e_u, e_i, e_f, s_image, s_pose), t, z).prev_sample
        out.append(pipe.vae.decode(z / pipe.vae.config.scaling_factor).sample)
    return torch.cat(out)


def run_pipe(pipe, image, poses, frames, steps, scales, fpb, scheduler="pndm"):
    p = copy.copy(pipe)
    p.scheduler = make_scheduler(scheduler, pipe.scheduler.config)
    return p(image, poses, frames=list(frames), num_inference_steps=steps, image_guidance_scale=scales[0],
             pose_guidance_scale=scales[1], frames_per_batch=fpb, output_type="pt",
             generator=torch.Generator().manual_seed(0)).frames


@torch.no_grad()
def bare_unet(pipe, n_frames: int, n_calls: int, n_branches: int, fpb: int, tokens: int):
    """Only the UNet calls the pipeline makes: same batch shapes, same number of calls."""
    h, w = pipe.image_size
    f = pipe.latent_factor
    u = pipe.unet
    batches = [min(fpb, n_frames - s) for s in range(0, n_frames, fpb)]
    xs = {b: torch.randn(b * n_branches, u.config.in_channels, h // f, w // f) for b in set(batches)}
    cs = {b: torch.randn(b * n_branches, tokens, u.config.cross_attention_dim) for b in set(batches)}
    for b in batches:
        for _ in range(n_calls):
            u(xs[b], 500, encoder_hidden_states=cs[b])


def speed(pipe, world, profile, n_frames: int = 8, steps: int = 5, repeats: int = 3) -> dict:
    """Seconds per frame per step of the authors' loop and of the pipeline at frames_per_batch 1/4/8."""
    image, poses, frames = test_inputs(world, profile, n_frames)
    evals = steps + 1  # PNDM with skip_prk_steps: steps + 1 UNet evaluations
    variants = {"authors loop (3 calls, 1 frame)": lambda: authors_loop(pipe, image, poses, frames, steps, *PAPER_SCALES)}
    for fpb in (1, 4, 8):
        variants[f"pipeline, frames_per_batch={fpb}"] = (
            lambda fpb=fpb: run_pipe(pipe, image, poses, frames, steps, PAPER_SCALES, fpb))
    pipe.unet(torch.randn(1, pipe.unet.config.in_channels, 16, 16), 1,
              encoder_hidden_states=torch.zeros(1, 1, pipe.unet.config.cross_attention_dim))  # warm up
    res = interleaved(variants, repeats=repeats, warmup=False)
    base = res["authors loop (3 calls, 1 frame)"]["median"]
    rows = {name: {"s_per_frame_step": r["median"] / (n_frames * evals), "speedup_vs_authors": base / r["median"],
                   "runs_s": r["runs"]} for name, r in res.items()}
    return {"setting": f"{n_frames} frames of test video 0, PNDM {steps} steps ({evals} UNet evaluations), "
                       f"s_I={PAPER_SCALES[0]}, s_p={PAPER_SCALES[1]} (three branches), medians of {repeats} "
                       "interleaved runs", "variants": rows}


def overhead(pipe, world, profile, n_frames: int = 8, steps: int = 20, repeats: int = 3) -> dict:
    """Pipeline wall time over the bare UNet calls it makes (same shapes, same count)."""
    from dreampose.guidance import branch_weights

    s = profile.sample
    scales = (s.image_guidance_scale, s.pose_guidance_scale)
    image, poses, frames = test_inputs(world, profile, n_frames)
    n_branches = len(branch_weights(*scales))
    sched = make_scheduler(s.scheduler, pipe.scheduler.config)
    sched.set_timesteps(steps)
    n_calls = len(sched.timesteps)
    with torch.no_grad():
        tokens = pipe.encode_image_condition(as_image_batch(image, pipe.image_size)).shape[1]
    fpb = min(s.frames_per_batch, n_frames)
    res = interleaved({
        "pipeline": lambda: run_pipe(pipe, image, poses, frames, steps, scales, fpb, s.scheduler),
        "bare UNet calls": lambda: bare_unet(pipe, n_frames, n_calls, n_branches, fpb, tokens),
    }, repeats=repeats)
    ratio = res["pipeline"]["median"] / res["bare UNet calls"]["median"]
    return {"setting": f"{n_frames} frames, {s.scheduler} {steps} steps ({n_calls} calls of batch "
                       f"{fpb}x{n_branches} branches), s_I={scales[0]}, s_p={scales[1]}, medians of {repeats} interleaved runs",
            "pipeline_s": res["pipeline"]["median"], "bare_s": res["bare UNet calls"]["median"],
            "overhead": ratio - 1, "goal": "<= 10%", "met": ratio - 1 <= 0.10,
            "runs": {k: v["runs"] for k, v in res.items()}}
