"""Training throughput of stage 1: `train.loop.train` with the real objective vs bare loops.

    train()             dreampose.train.loop.train + DreamPoseObjective (dropout, frozen VAE
                        and CLIP encoders), the stage-1 settings (batch x grad_accum), on the
                        stage-1 model; steady state read from its loss.csv (startup and the
                        final checkpoint are reported apart).
    bare loop           the same objective module, batches built beforehand: forward,
                        backward, AdamW; no accelerate, no logging, no gradient clipping.
    bare UNet+adapter   only what is trained: the frozen encoders' outputs precomputed, then
                        adapter + UNet forward, MSE, backward, AdamW.

train()/bare loop is the loop's overhead (goal <= 15%); bare loop/bare UNet+adapter is what
the frozen encoders cost per step (what caching their outputs would save).
"""
from __future__ import annotations

import csv
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from dreampose.data.pairs import PairDataset
from dreampose.train.finetune import collate, latent_size
from dreampose.train.loop import LoopConfig, train
from dreampose.train.objectives import DreamPoseObjective

from .common import interleaved


def _batches(make_batch, n: int, bsz: int, offset: int = 0):
    return [make_batch(list(range(offset + i * bsz, offset + (i + 1) * bsz))) for i in range(n)]


def throughput(pipe, world, profile, steps: int = 6, repeats: int = 3) -> dict:
    s1 = profile.stage1
    bsz, accum = s1.batch_size, s1.grad_accum
    data = PairDataset(world.train, profile.model.n_poses, latent_size(profile),
                       length=10_000 * bsz, seed=profile.seed)
    make_batch = collate(data)
    objective = DreamPoseObjective(pipe, s1.image_dropout, s1.pose_dropout, s1.both_dropout)
    params = [p for p in objective.parameters() if p.requires_grad]
    extra = {}

    def run_train() -> float:
        work = Path(tempfile.mkdtemp(prefix="dreampose-bench-"))
        try:
            cfg = LoopConfig(steps=steps, lr=s1.lr, batch_size=bsz, grad_accum=accum, checkpoint_every=0,
                             seed=profile.seed, mixed_precision="no", desc="bench stage 1")
            t = time.perf_counter()
            summary = train(objective, make_batch, cfg, work, progress=False)
            extra.setdefault("whole_call_s", []).append(time.perf_counter() - t)
            with open(work / "loss.csv") as fh:
                sec = [float(r["seconds"]) for r in csv.DictReader(fh)]
            extra.setdefault("final_checkpoint_s", []).append(summary["train_seconds"] - sec[-1])
            return (sec[-1] - sec[0]) / (len(sec) - 1)  # steady state: steps 2..n
        finally:
            shutil.rmtree(work, ignore_errors=True)

    opt = torch.optim.AdamW(params, lr=s1.lr)
    batches = _batches(make_batch, steps * accum, bsz)

    def run_bare() -> float:
        objective.train()
        times = []
        for step in range(steps):
            t = time.perf_counter()
            for micro in range(accum):
                g = torch.Generator().manual_seed(step * accum + micro)
                (objective(batches[step * accum + micro], g) / accum).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            times.append(time.perf_counter() - t)
        return statistics.mean(times[1:])

    with torch.no_grad():  # the frozen encoders' outputs, once
        pre = []
        for i, b in enumerate(batches):
            g = torch.Generator().manual_seed(i)
            z = pipe.encode_latents(b["target"], generator=g)
            c_clip, c_vae = pipe.encode_image_features(b["image"])
            noise = torch.randn(z.shape, generator=g)
            t = torch.randint(0, 1000, (len(z),), generator=g)
            pre.append((objective.noise_scheduler.add_noise(z, noise, t), b["pose"], t, c_clip, c_vae, noise))

    def run_unet() -> float:
        objective.train()
        times = []
        for step in range(steps):
            t0 = time.perf_counter()
            for micro in range(accum):
                z_t, pose, t, c_clip, c_vae, noise = pre[step * accum + micro]
                eps = pipe.unet(torch.cat([z_t, pose], 1), t, encoder_hidden_states=pipe.adapter(c_clip, c_vae)).sample
                (F.mse_loss(eps, noise) / accum).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            times.append(time.perf_counter() - t0)
        return statistics.mean(times[1:])

    res = interleaved({"train()": run_train, "bare loop": run_bare, "bare UNet+adapter": run_unet},
                      repeats=repeats, warmup=False)
    samples = bsz * accum
    rows = {k: {"s_per_step": v["median"], "samples_per_s": samples / v["median"], "runs_s_per_step": v["runs"]}
            for k, v in res.items()}
    loop_overhead = res["train()"]["median"] / res["bare loop"]["median"] - 1
    return {"setting": f"stage-1 model, batch {bsz} x grad_accum {accum} = {samples} samples per optimizer step, "
                       f"64 px, {steps} steps per run (first step excluded), medians of {repeats} interleaved runs",
            "variants": rows, "loop_overhead": loop_overhead, "goal": "<= 15%", "met": loop_overhead <= 0.15,
            "frozen_encoder_share": 1 - res["bare UNet+adapter"]["median"] / res["bare loop"]["median"],
            "train_overhead_vs_bare_unet": res["train()"]["median"] / res["bare UNet+adapter"]["median"] - 1,
            "train_call_fixed_s": {"whole_call_median_s": statistics.median(extra["whole_call_s"]),
                                   "final_checkpoint_median_s": statistics.median(extra["final_checkpoint_s"])}}
