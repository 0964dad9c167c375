"""The measurements of ``python -m benchmarks.gpu``, on the paper's models with random weights.

Each function takes a ``Setting`` (device, frame size, step counts; the paper's or the toy one of
``--tiny``) and returns plain dicts, one per table row.

    sampling  seconds per frame of ``DreamPosePipeline.__call__`` (encode, denoise, decode), all
              frames in one call (``frames_per_batch`` = frames), three guidance branches
              (s_I 8, s_p 3), after a one-step warm-up call; per sampler and dtype.
    training  peak allocated memory and seconds of one optimizer step of ``train.loop.train`` on
              stage 1, subject or decoder finetuning, the profile's mixed precision ("auto").
    launch    ``launched_stage1``: one stage-1 step at the paper's batch 4 x 4 accumulation, run by
              ``benchmarks.gpu`` in a subprocess under ``accelerate launch --num_processes 1``.
"""
from __future__ import annotations

import gc
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import torch

from .paper_models import paper_pipeline

SCALES = (8.0, 3.0)  # s_I, s_p: the authors' demo, three branches per step
DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class Setting:
    device: str
    tiny: bool
    size: tuple[int, int]  # (height, width) of the frames
    frames: int  # frames rendered in one call
    steps: dict  # sampler -> steps
    micro_batch: int = 4
    grad_accum: int = 2


def setting(device: str, tiny: bool) -> Setting:
    from dreampose.pipeline import RECOMMENDED_SAMPLER as R

    if tiny:  # the paper's structure at reduced widths, 80 x 64 frames (10 x 8 latents), 2 steps
        return Setting(device, True, (80, 64), 2, {"pndm": 2, R["scheduler"]: 2})
    return Setting(device, False, (640, 512), 4, {"pndm": 100, R["scheduler"]: R["num_inference_steps"]})


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def reset_peak(device: str) -> None:
    """Free what the previous row left and restart the peak count (CUDA; a CPU keeps no count)."""
    if device.startswith("cuda"):
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_gb(device: str) -> float | None:
    """torch.cuda.max_memory_allocated in GB since the last reset; None on a CPU (no allocator stats)."""
    return torch.cuda.max_memory_allocated() / 1e9 if device.startswith("cuda") else None


def _image(video) -> torch.Tensor:
    from dreampose.data.images import video_to_tensor

    return video_to_tensor(video.frames[0])


def _video(s: Setting, n: int = 6, seed: int = 0):
    from dreampose.data.video import Video

    rng = np.random.default_rng(seed)
    h, w = s.size
    iuv = np.concatenate([rng.integers(0, 25, (n, h, w, 1)), rng.integers(0, 256, (n, h, w, 2))], -1)
    return Video("random", rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8), iuv.astype(np.uint8), 30)


def sampling(s: Setting) -> list[dict]:
    from dreampose.pipeline import make_scheduler

    video = _video(s)
    image = _image(video)
    pipe = paper_pipeline(tiny=s.tiny, device=s.device)
    frames = list(range(s.frames))
    rows = []
    for dtype_name, dtype in DTYPES.items():
        pipe.to(dtype=dtype)
        for name, steps in s.steps.items():
            pipe.scheduler = make_scheduler(name, pipe.scheduler.config)

            def call(n_steps: int, subset: list[int]):
                return pipe(image, video.iuv, frames=subset, num_inference_steps=n_steps,
                            image_guidance_scale=SCALES[0], pose_guidance_scale=SCALES[1],
                            frames_per_batch=len(subset), height=s.size[0], width=s.size[1], output_type="np",
                            generator=torch.Generator().manual_seed(0))

            call(1, frames[:1])  # warm-up: kernels, autotuning, lazy initialisation
            reset_peak(s.device)
            sync(s.device)
            t = time.perf_counter()
            out = call(steps, frames)
            sync(s.device)
            wall = time.perf_counter() - t
            scheduler = make_scheduler(name, pipe.scheduler.config)
            scheduler.set_timesteps(steps)
            rows.append({"sampler": f"{name} {steps}", "dtype": dtype_name, "frames": len(frames),
                         "unet_evals_per_frame": 3 * len(scheduler.timesteps), "s_per_frame": wall / len(frames),
                         "peak_gb": peak_gb(s.device), "finite": bool(np.isfinite(out.frames).all())})
    return rows


def _training_parts(stage: str, s: Setting, checkpointing: bool, attention: str):
    """(objective, make_batch) of one finetuning stage on a fresh paper-shaped pipeline."""
    from diffusers.models.attention_processor import AttnProcessor

    from dreampose.config import load_profile
    from dreampose.data.pairs import PairDataset, SubjectDataset
    from dreampose.data.pose import pose_maps, pose_window
    from dreampose.train.finetune import collate
    from dreampose.train.objectives import DecoderObjective, DreamPoseObjective

    s1 = load_profile("paper").stage1
    pipe = paper_pipeline(tiny=s.tiny, device=s.device)
    if attention == "explicit":
        pipe.unet.set_attn_processor(AttnProcessor())
    video, f = _video(s), pipe.latent_factor
    latent = (s.size[0] // f, s.size[1] // f)
    n = s.micro_batch * s.grad_accum
    if stage == "stage1":
        data = PairDataset([video], pipe.n_poses, latent, length=n, seed=0)
        objective = DreamPoseObjective(pipe, s1.image_dropout, s1.pose_dropout, s1.both_dropout)
    else:
        pose = (pose_window(pose_maps(video.iuv, latent), 0, pipe.n_poses) if stage == "subject"
                else torch.zeros(2, 1, 1))  # the decoder sees no pose
        data = SubjectDataset([_image(video)], [pose], length=n, seed=0)
        objective = DreamPoseObjective(pipe) if stage == "subject" else DecoderObjective(pipe.vae)
    if checkpointing:
        (pipe.unet if stage != "decoder" else pipe.vae).enable_gradient_checkpointing()
    return objective, collate(data)


def training_step(stage: str, s: Setting, checkpointing: bool = False, optimizer: str = "AdamW",
                  attention: str = "sdpa", grad_accum: int | None = None) -> dict:
    """Peak memory and time of one optimizer step of ``train()`` (micro_batch x grad_accum samples)."""
    from dreampose.train.loop import LoopConfig, resolve_mixed_precision, train

    row = {"stage": stage, "gradient_checkpointing": checkpointing, "optimizer": optimizer, "attention": attention,
           "micro_batch": s.micro_batch, "grad_accum": grad_accum or s.grad_accum,
           "mixed_precision": resolve_mixed_precision("auto")}
    if optimizer == "8-bit Adam":
        try:
            import bitsandbytes  # noqa: F401
        except ImportError:
            return {**row, "skipped": "bitsandbytes is not importable (optional extra: pip install -e '.[gpu]')"}
    objective, make_batch = _training_parts(stage, s, checkpointing, attention)
    cfg = LoopConfig(steps=1, lr=1e-5, batch_size=s.micro_batch, grad_accum=row["grad_accum"], mixed_precision="auto",
                     use_8bit_adam=optimizer == "8-bit Adam", save_final=False, desc=f"gpu-check {stage}")
    reset_peak(s.device)
    with tempfile.TemporaryDirectory() as work:
        summary = train(objective, make_batch, cfg, work, progress=False)
    sync(s.device)
    row.update(peak_gb=peak_gb(s.device), step_s=summary["train_seconds"], loss=summary["final_loss"],
               processes=summary["processes"])
    del objective, make_batch, summary
    reset_peak(s.device)
    return row


def training(s: Setting) -> list[dict]:
    rows = [training_step(stage, s, ckpt, opt)
            for stage in ("stage1", "subject", "decoder") for ckpt in (False, True) for opt in ("AdamW", "8-bit Adam")]
    rows.append(training_step("stage1", s, attention="explicit"))  # what SDPA saves
    return rows


def launched_stage1(s: Setting) -> dict:
    """The child of the launch check: one stage-1 step at the paper's 4 x 4 (batch x accumulation)."""
    return training_step("stage1", s, grad_accum=4)
