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


def evaluate_stage(profile: Profile, figures_dir: str | Path = "figures", cache: Cache | None = None, world=None,
                   imported: dict[str, str] | None = None, command: str = "dreampose reproduce") -> dict:
    """Train and score every DreamPose variant, the baselines and imported methods; write Tables 1
    and 2 and the seven effects (``effects.md``) into ``figures_dir``. Every step is cached."""
    from .data.world import load_world
    from .evaluate import ablations, effects
    from .evaluate.experiments import FULL, DreamPoseMethod, evaluate, evaluated_videos, metric_suite, variant
    from .evaluate.tables import report_effects

    cache = cache or Cache()
    world = world or load_world(profile, cache)
    videos = evaluated_videos(profile, world)
    suite = metric_suite(profile, cache)  # built once: it loads the base model's CLIP tower
    start = time.perf_counter()
    table2 = ablations.run_ablations(profile, videos, cache, suite)
    _say("evaluate", "Table 2 -> " + ", ".join(map(str, ablations.write_table2(table2, profile, figures_dir, command))))
    table1 = ablations.run_comparisons(profile, videos, cache, imported, full=table2[FULL], suite=suite)
    _say("evaluate", "Table 1 -> " + ", ".join(map(str, ablations.write_table1(table1, profile, figures_dir, command))))
    more = variant(profile, f"subject.n_images={effects.MORE_IMAGES}")
    label = f"{FULL}, {effects.MORE_IMAGES} input images"
    more_images = evaluate(DreamPoseMethod(more, cache), label, more, videos, cache, suite)
    sweep = effects.guidance_sweep(profile, videos, cache, suite=suite)
    found = effects.measure_effects(table2, effects.zero_init_gap(profile, cache), sweep, more_images)
    text = (f"Effects of the paper measured on profile {profile.name}, seed {profile.seed}. Made by `{command}`.\n\n"
            + report_effects(found))
    out = Path(figures_dir) / "effects.md"
    tmp = out.with_name(".effects.md.tmp")
    tmp.write_text(text)
    tmp.replace(out)  # atomic: a reader never sees half a table
    _say("evaluate", f"{sum(e.holds for e in found)} of {len(found)} effects hold ({time.perf_counter() - start:.0f} s) "
                     f"-> {out}")
    return {"table1": table1, "table2": table2, "more_images": more_images, "sweep": sweep, "effects": found}


def run(profile: Profile, figures_dir: str | Path = "figures", imported: dict[str, str] | None = None) -> None:
    """Every stage in order: data, base, finetuning + evaluation (tables and effects)."""
    cache = Cache()
    _say("reproduce", f"profile {profile.name}, cache {cache.root}, figures {figures_dir}")
    world = data_stage(profile, figures_dir, cache)
    if profile.base.source == "train":
        base_stage(profile, figures_dir, cache, world)
    evaluate_stage(profile, figures_dir, cache, world, imported)
