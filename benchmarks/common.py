"""Shared helpers: the cached tiny artifacts, interleaved timing, machine facts.

Every speed in the benchmarks is a RATIO measured inside one run: the variants being compared
run interleaved (A B C A B C ...), each several times, and the median of each is taken, so
load from other jobs on the machine hits all of them alike.
"""
from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path
from typing import Callable

import torch

MISSING = ("the tiny {what} is not in the cache {root}. Build the tiny artifacts first with "
           "`make reproduce` (about 20 minutes on 2 cores), or point --cache / $DREAMPOSE_CACHE at a cache "
           "that holds them.")


class MissingArtifact(RuntimeError):
    pass


def profile_and_cache(profile_name: str = "tiny", cache_root: str | None = None):
    from dreampose.cache import Cache
    from dreampose.config import load_profile

    return load_profile(profile_name), Cache(cache_root)


def require(profile, cache, stage: str, **extra):
    """The cached artifact of ``stage`` or MissingArtifact (never trains anything)."""
    from dreampose.data.world import WORLD_VERSION

    if stage == "data":
        extra = {"world_version": WORLD_VERSION, **extra}
    found = cache.lookup(profile, stage, **extra)  # shipped (weights/) or cached
    if found is None:
        raise MissingArtifact(MISSING.format(what=f"{stage} artifact ({profile.name} profile)", root=cache.root))
    return found


def stage1_pipeline(profile, cache):
    """The cached stage-1 DreamPosePipeline of ``profile`` (progress bars off)."""
    from dreampose.stages import load_pipeline

    require(profile, cache, "data")
    require(profile, cache, "base")
    pipe = load_pipeline(require(profile, cache, "stage1"))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def interleaved(variants: dict[str, Callable[[], float | None]], repeats: int = 3, warmup: bool = True) -> dict:
    """Median seconds of each variant, run interleaved ``repeats`` times.

    A variant returns its own measured seconds as a float, or anything else (its wall time is then measured here).
    Returns {name: {"median": s, "runs": [...]}}.
    """
    if warmup:
        for fn in variants.values():
            fn()
    runs = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            t = time.perf_counter()
            own = fn()
            runs[name].append(own if isinstance(own, float) else time.perf_counter() - t)
    return {name: {"median": statistics.median(r), "runs": [round(x, 4) for x in r]} for name, r in runs.items()}


def machine() -> dict:
    info = {"python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform(),
            "processor": platform.machine(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    try:
        import diffusers

        info["diffusers"] = diffusers.__version__
    except ImportError:
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
        info["ram_gb"] = round(int(mem) / 2**20, 1)
    except OSError:
        pass
    return info


def fmt(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}g}" if abs(x) < 1000 else f"{x:,.0f}"


def random_weights(profile):
    """(stage-1-shaped DreamPosePipeline with random weights, a World of one synthetic test video).

    For speed ratios without the cached artifacts: the time of a forward pass does not depend on
    the weights' values, only on the shapes (the profile's ``base`` and ``model`` settings).
    """
    from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    from dreampose.data.world import World, synthetic_video
    from dreampose.models.base import Base, component_configs
    from dreampose.pipeline import DreamPosePipeline

    b, d = profile.base, profile.data
    cfg = component_configs(b, d.height, vocab_size=1)
    torch.manual_seed(profile.seed)
    size = {"height": b.clip_image_size, "width": b.clip_image_size}
    base = Base(vae=AutoencoderKL(**cfg["vae"]), unet=UNet2DConditionModel(**cfg["unet"]), text_encoder=None,
                tokenizer=None, scheduler=PNDMScheduler.from_config(cfg["scheduler"]),
                image_encoder=CLIPVisionModelWithProjection(CLIPVisionConfig(**cfg["vision"])),
                feature_extractor=CLIPImageProcessor(size={"shortest_edge": b.clip_image_size}, crop_size=size),
                path="random")
    pipe = DreamPosePipeline.from_base(base, profile.model.n_poses, profile.model.image_encoder)
    for m in (pipe.vae, pipe.unet, pipe.image_encoder, pipe.adapter):
        m.eval()
    pipe.set_progress_bar_config(disable=True)
    video = synthetic_video(profile.seed, "test", 0, d.width, d.height, d.fps, d.min_seconds, d.max_seconds)
    return pipe, World(train=[], test=[video])
