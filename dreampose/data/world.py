"""The data of a profile: the synthetic world (cached) or UBC Fashion, as lists of `Video`.

Synthetic splits: subjects are drawn from independent seeded streams, train videos from
``(seed, "train", i)`` and test videos from ``(seed, "test", i)``, so train and test never
share a subject, and adding videos to one split does not change the other. A third stream,
``(seed, "val", i)``, gives validation subjects (``validation_videos``) for choosing budgets
and settings; they are never part of the world, never trained on and never in the tables.
"""
from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..cache import Cache
from ..config import Profile
from ..progress import shown
from .pose_errors import estimate
from .synthetic import random_motion, random_subject, render_video
from .video import Video

SPLITS = ("train", "test")
STREAMS = (*SPLITS, "val")  # seeded subject streams; "val" is rendered on demand only
WORLD_VERSION = 2  # bump when the renderer changes what a seed produces (part of the cache key)


@dataclass
class World:
    train: list[Video]
    test: list[Video]
    path: Path | None = None


def view_of(yaw: float) -> str:
    """'front', 'side' or 'back' view for a body yaw (0 = facing the camera)."""
    c = np.cos(yaw)
    return "front" if c > 0.5 else ("back" if c < -0.5 else "side")


def synthetic_video(seed: int, split: str, index: int, width: int, height: int, fps: int,
                    min_seconds: float, max_seconds: float, pose_estimate: str = "exact") -> Video:
    """One deterministic video of the synthetic world. With ``pose_estimate="densepose"`` its IUV
    is a DensePose-like estimate (`pose_errors.estimate`, drawn from a stream of its own, so the
    frames and the subject stay those of the exact video)."""
    stream = [seed, STREAMS.index(split), index]
    rng = np.random.default_rng(stream)
    subject = random_subject(rng)
    n_frames = int(round(rng.uniform(min_seconds, max_seconds) * fps))
    motion = random_motion(rng, max(n_frames, 1), fps)
    frames, iuv = render_video(subject, motion, width, height)
    if pose_estimate == "densepose":
        iuv = estimate(iuv, np.random.default_rng([*stream, 1]))
    meta = {**subject.meta(), "yaw": [round(float(y), 4) for y in motion.yaw], "split": split,
            "seed": seed, "index": index, "synthetic": True}
    return Video(f"{split}_{index:03d}", frames, iuv, fps, subject.outfit.caption(), meta)


def _render_job(args) -> Video:
    import torch

    torch.set_num_threads(1)
    return synthetic_video(*args)


def make_world(profile: Profile, progress: bool = True) -> World:
    """Render every video of the synthetic world (in parallel over the machine's cores)."""
    from tqdm.auto import tqdm

    d = profile.data
    jobs = [(profile.seed, split, i, d.width, d.height, d.fps, d.min_seconds, d.max_seconds, d.pose_estimate)
            for split, n in (("train", d.n_train_videos), ("test", d.n_test_videos)) for i in range(n)]
    workers = min(len(jobs), os.cpu_count() or 1)
    bar = tqdm(total=len(jobs), desc="rendering the synthetic world", disable=not shown(progress))
    videos: list[Video] = []
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            for video in pool.map(_render_job, jobs, chunksize=2):
                videos.append(video)
                bar.update()
    else:
        for job in jobs:
            videos.append(synthetic_video(*job))
            bar.update()
    bar.close()
    return World([v for v in videos if v.meta["split"] == "train"], [v for v in videos if v.meta["split"] == "test"])


def _save_world(world: World, folder: Path) -> None:
    index = {}
    for split in SPLITS:
        (folder / split).mkdir(parents=True, exist_ok=True)
        for video in getattr(world, split):
            video.save(folder / split / f"{video.name}.npz")
        index[split] = [v.name for v in getattr(world, split)]
    (folder / "index.json").write_text(json.dumps(index, indent=1))


def _load_world(folder: Path) -> World:
    index = json.loads((folder / "index.json").read_text())
    return World(*[[Video.load(folder / s / f"{n}.npz") for n in index[s]] for s in SPLITS], path=folder)


def load_world(profile: Profile, cache: Cache | None = None, progress: bool = True) -> World:
    """The profile's data: the synthetic world (rendered once, then loaded from the cache) or UBC."""
    d = profile.data
    if d.source == "ubc":
        from .ubc import read_ubc

        kw = dict(root=d.root, width=d.width, height=d.height, fps=d.fps, fit=d.fit, progress=progress)
        return World(read_ubc(split="train", max_videos=d.n_train_videos, **kw),
                     read_ubc(split="test", max_videos=d.n_test_videos, **kw), Path(d.root))
    cache = cache or Cache()

    def build(work: Path) -> dict:
        world = make_world(profile, progress)
        _save_world(world, work)
        return {"videos": {s: len(getattr(world, s)) for s in SPLITS},
                "frames": sum(len(v) for v in world.train + world.test)}

    artifact = cache.artifact(profile, "data", build, world_version=WORLD_VERSION)
    return _load_world(artifact.path)


def validation_videos(profile: Profile, n: int) -> list[Video]:
    """``n`` videos of new subjects from the validation stream (synthetic world only), rendered
    like the test split: for measuring curves and choosing settings, never for the tables."""
    from .video import DataError

    d = profile.data
    if d.source != "synthetic":
        raise DataError("validation subjects exist for the synthetic world only; on UBC Fashion hold out "
                        "training videos yourself (data.n_train_videos) to choose settings")
    return [synthetic_video(profile.seed, "val", i, d.width, d.height, d.fps, d.min_seconds, d.max_seconds,
                            d.pose_estimate) for i in range(n)]
