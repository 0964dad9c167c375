"""End-to-end reproduction of a profile: the stage graph of ``dreampose.stages`` in the paper's
order, then the paper's tables and effects (each stage cached, so a rerun resumes)."""
from __future__ import annotations

import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from . import stages
from .config import Profile
from .evaluate import effects as fx
from .evaluate import experiments as ex
from .evaluate.method import DreamPoseMethod
from .evaluate.protocol import Result, protocol_subject
from .files import atomic_write
from .provenance import machine_line

MORE_IMAGES = f"{ex.FULL}, {fx.MORE_IMAGES} input images"  # paper 6.3
VARIANTS = {**ex.ABLATIONS, MORE_IMAGES: (f"subject.n_images={fx.MORE_IMAGES}",)}


def say(stage: str, message: str) -> None:
    print(f"[{stage}] {message}", flush=True)


@dataclass
class Results:
    """Everything the evaluation made: trained methods, Tables 1 and 2, the sweep and the effects."""

    methods: dict[str, DreamPoseMethod]
    table1: dict[str, Result]
    table2: dict[str, Result]
    more_images: Result
    sweep: dict
    effects: list[fx.Effect]
    suite: object

    def effect(self, number: int) -> fx.Effect:
        return next(e for e in self.effects if e.name.startswith(f"{number}."))


def trained(run: stages.Run, label: str, videos, finetune: bool = True) -> DreamPoseMethod:
    """Fig. 5 for every test video: stage 1 of ``run``, then (``finetune``) each subject's subject
    and decoder stages; the protocol picks each subject's image(s)."""
    s1 = stages.stage1(run)
    subjects = {v.name: protocol_subject(run.profile, v, None if finetune else 1) for v in videos}
    artifacts = {}
    for name, person in subjects.items():
        artifacts[name] = {"stage1": s1}
        if finetune:
            artifacts[name]["subject"] = stages.subject(run, s1, person)
            artifacts[name]["decoder"] = stages.decoder(run, artifacts[name]["subject"], person)
    return DreamPoseMethod.from_artifacts(label, run, subjects, artifacts)


def train_variants(run: stages.Run, videos) -> dict[str, DreamPoseMethod]:
    """Every DreamPose variant the tables need, trained (Table 2's rows and 3 input images)."""
    methods = {label: trained(run.variant(*switch), label, videos) for label, switch in VARIANTS.items()}
    methods[ex.STAGE1_ONLY] = trained(run, ex.STAGE1_ONLY, videos, finetune=False)
    return methods


def data_stage(run: stages.Run, figures_dir: str | Path):
    """The world (synthetic or UBC) and ``world_preview.png``."""
    from .figures import preview_world, save

    start = time.perf_counter()
    world = stages.data(run)
    frames = sum(len(v) for v in world.train + world.test)
    say("data", f"{len(world.train)} train + {len(world.test)} test videos, {frames} frames "
                f"({time.perf_counter() - start:.1f} s; {world.path})")
    say("data", f"preview -> {save(preview_world(world.test), Path(figures_dir) / 'world_preview.png')}")
    return world


def base_stage(run: stages.Run, figures_dir: str | Path, world):
    """The base model, its quality on held-out subjects and ``base_samples.png``."""
    from .evaluate.base_quality import base_quality, format_quality
    from .figures import image_grid, save

    start = time.perf_counter()
    base = stages.base(run)
    say("base", f"base model ready ({time.perf_counter() - start:.1f} s; {base.path})")
    if run.profile.base.source != "train":
        return base
    quality = base_quality(base, world)
    say("base", "quality on held-out subjects:\n" + format_quality(quality))
    real = [v.frames[0] for v in world.test][: len(quality["samples"])]
    fig = image_grid({"text-to-image": list(quality["samples"]), "real frame": real},
                     titles=[textwrap.fill(p.replace("a person in ", ""), 18) for p in quality["prompts"]])
    say("base", f"samples -> {save(fig, Path(figures_dir) / 'base_samples.png')}")
    return base


def score(run: stages.Run, methods: dict[str, DreamPoseMethod], videos, base, figures_dir: str | Path,
          imported: dict[str, str] | None = None, command: str = "dreampose reproduce") -> Results:
    """Sample and score the trained ``methods`` with the baselines and imported methods; write
    Tables 1 and 2 and the seven effects (``effects.md``) into ``figures_dir``. Cached."""
    profile = run.profile
    start = time.perf_counter()
    suite = ex.metric_suite(profile, base)  # built once: it holds the base model's CLIP tower
    table2 = ex.score_ablations({k: methods[k] for k in (*ex.ABLATIONS, ex.STAGE1_ONLY)}, videos, suite)
    written = ex.write_results_table(2, table2, profile, figures_dir, command)
    say("evaluate", "Table 2 -> " + ", ".join(map(str, written)))
    table1 = ex.score_comparisons(run, table2[ex.FULL], videos, suite, imported)
    say("evaluate", "Table 1 -> " + ", ".join(map(str, ex.write_results_table(1, table1, profile, figures_dir,
                                                                              command))))
    more = methods[MORE_IMAGES]
    more_images = ex.evaluate(more, MORE_IMAGES, more.run, videos, suite)
    sweep = fx.guidance_sweep(methods[ex.FULL], videos, suite)
    found = fx.measure_effects(table2, fx.zero_init_gap(profile, base), sweep, more_images)
    out = atomic_write(Path(figures_dir) / "effects.md",
                       f"Effects of the paper measured on profile {profile.name}, seed {profile.seed}. "
                       f"Made by `{command}` on {machine_line()}.\n\n" + fx.report_effects(found))
    say("evaluate", f"{sum(e.holds for e in found)} of {len(found)} effects hold ({time.perf_counter() - start:.0f} s) "
                    f"-> {out}")
    return Results(methods, table1, table2, more_images, sweep, found, suite)


def evaluate_stage(run: stages.Run, figures_dir: str | Path = "figures", imported: dict[str, str] | None = None,
                   command: str = "dreampose reproduce") -> Results:
    """Train every variant (cached) and score it: what ``dreampose evaluate`` and the notebooks run."""
    videos = ex.evaluated_videos(run.profile, stages.data(run))
    return score(run, train_variants(run, videos), videos, stages.base(run), figures_dir, imported, command)


def run(profile: Profile, figures_dir: str | Path = "figures", imported: dict[str, str] | None = None) -> Results:
    """Every stage in the paper's order (Fig. 2, then Fig. 5 per test subject)."""
    r = stages.Run(profile)
    say("reproduce", f"profile {profile.name}, cache {r.cache.root}, figures {figures_dir}")
    world = data_stage(r, figures_dir)                      # 5.2: training and test videos
    base = base_stage(r, figures_dir, world)                # 4.2: the pretrained base (SD's stand-in)
    videos = ex.evaluated_videos(profile, world)
    methods = train_variants(r, videos)                     # stage 1 per variant; subject + decoder per subject
    return score(r, methods, videos, base, figures_dir, imported)  # frames -> scores -> tables, effects
