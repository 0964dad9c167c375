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


def run(profile: Profile, figures_dir: str | Path = "figures") -> None:
    """Every stage that exists so far, in order."""
    cache = Cache()
    _say("reproduce", f"profile {profile.name}, cache {cache.root}, figures {figures_dir}")
    data_stage(profile, figures_dir, cache)
