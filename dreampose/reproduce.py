"""End-to-end reproduction of a profile, stage by stage (each stage cached, so reruns resume)."""
from __future__ import annotations

import time
from pathlib import Path

from .cache import Cache
from .config import Profile


def _say(stage: str, message: str) -> None:
    print(f"[{stage}] {message}", flush=True)


def data_stage(profile: Profile, figures_dir: str | Path = "figures", cache: Cache | None = None):
    """Build or load the world (synthetic or UBC) and write ``world_preview.png``."""
    from .data.world import load_world
    from .figures import preview_world, save

    start = time.perf_counter()
    world = load_world(profile, cache)
    frames = sum(len(v) for v in world.train + world.test)
    _say("data", f"{len(world.train)} train + {len(world.test)} test videos, {frames} frames "
                 f"({time.perf_counter() - start:.1f} s; {world.path})")
    out = Path(figures_dir) / "world_preview.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    save(preview_world(world.test), out)
    _say("data", f"preview -> {out}")
    return world


def base_stage(profile: Profile, figures_dir: str | Path = "figures", cache: Cache | None = None, world=None):
    """Pretrain or load the base model; print its quality figures and write base_samples.png."""
    import textwrap

    from .data.world import load_world
    from .evaluate.base_quality import base_quality, format_quality
    from .figures import image_grid, save
    from .models.base import load_base

    world = world or load_world(profile, cache)
    start = time.perf_counter()
    base = load_base(profile, cache)
    _say("base", f"base model ready ({time.perf_counter() - start:.1f} s; {base.path})")
    quality = base_quality(base, world)
    _say("base", "quality on held-out subjects:\n" + format_quality(quality))
    real = [v.frames[0] for v in world.test][: len(quality["samples"])]
    fig = image_grid({"text-to-image": list(quality["samples"]), "real frame": real},
                     titles=[textwrap.fill(p.replace("a person in ", ""), 18) for p in quality["prompts"]])
    out = save(fig, Path(figures_dir) / "base_samples.png")
    _say("base", f"samples -> {out}")
    return base, quality


def run(profile: Profile, figures_dir: str | Path = "figures") -> None:
    """Every stage that exists so far, in order."""
    cache = Cache()
    _say("reproduce", f"profile {profile.name}, cache {cache.root}, figures {figures_dir}")
    world = data_stage(profile, figures_dir, cache)
    if profile.base.source == "train":
        base_stage(profile, figures_dir, cache, world)
