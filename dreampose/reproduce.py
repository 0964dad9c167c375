"""End-to-end reproduction of a profile: the stage graph of ``dreampose.stages`` in the paper's
order, then the paper's tables and effects (each stage cached, so a rerun resumes)."""
from __future__ import annotations

import json
import textwrap
import time
from dataclasses import dataclass, replace
from pathlib import Path

from . import stages
from .config import Profile
from .evaluate import effects as fx
from .evaluate import experiments as ex
from .evaluate.method import DreamPoseMethod
from .evaluate.protocol import Result, protocol_subject
from .files import atomic_write, write_json_atomic
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
            decoder = stages.decoder(run, person)  # shared by the variants with the same images
            if decoder is not None:
                artifacts[name]["decoder"] = decoder
    return DreamPoseMethod.from_artifacts(label, run, subjects, artifacts)


def _finetune_one(job: tuple[stages.Run, object]) -> str:
    """In a worker process: every variant's subject and decoder stages for one test video."""
    import torch

    from .progress import quiet_libraries

    quiet_libraries()  # a spawned worker does not run the CLI's main
    run, video = job
    torch.set_num_threads(1)
    for label, switch in VARIANTS.items():
        trained(run.variant(*switch), label, [video])
    return video.name


def default_workers() -> int:
    """Processes for the per-subject stages: one per CPU core on a CPU-only machine, else 1."""
    import os

    import torch

    return 1 if torch.cuda.is_available() else max(1, len(os.sched_getaffinity(0)))


def finetune_subjects(run: stages.Run, videos) -> None:
    """The per-subject stages of every variant for ``videos``, in ``run.workers`` processes of
    one torch thread each (small models use a second thread poorly: BENCHMARKS.md "Per-subject
    stages in parallel"). The stage-1 models are made first, here; each worker then finetunes
    whole videos, so no two build the same artifact, and everything lands in the shared cache."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    from tqdm.auto import tqdm

    from .progress import shown

    for switch in VARIANTS.values():
        stages.stage1(run.variant(*switch))
    quiet = replace(run.quiet(), workers=1)
    bar = tqdm(total=len(videos), desc=f"finetuning {len(videos)} subjects x {len(VARIANTS)} variants "
                                       f"({run.workers} workers)", disable=not shown(run.progress))
    with ProcessPoolExecutor(run.workers, mp_context=get_context("spawn")) as pool:
        for done in as_completed([pool.submit(_finetune_one, (quiet, v)) for v in videos]):
            bar.set_postfix_str(done.result(), refresh=False)
            bar.update()
    bar.close()


def train_variants(run: stages.Run, videos) -> dict[str, DreamPoseMethod]:
    """Every DreamPose variant the tables need, trained (Table 2's rows and 3 input images); with
    ``run.workers`` > 1 the per-subject stages run in that many processes first."""
    if run.workers > 1 and len(videos) > 1:
        finetune_subjects(run, videos)
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
    Tables 1 and 2, the seven effects and Ours_Full against the baselines (``effects.md``) into
    ``figures_dir``. Cached."""
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
    paper = fx.measure_effects(table2, fx.zero_init_gap(profile, base), sweep, more_images)
    found = paper + fx.baseline_effects(table1)
    out = write_effects(profile, found, figures_dir, command)
    floor = found[len(paper):]
    say("evaluate", f"effects of the paper: {shown(paper)}; Ours_Full against the baselines: {shown(floor)} "
                    f"({time.perf_counter() - start:.0f} s) -> {out}")
    return Results(methods, table1, table2, more_images, sweep, found, suite)


def shown(effects: list[fx.Effect]) -> str:
    """E.g. "3 of 5 shown beyond noise, 2 hold without a noise test": the verdicts of effects.md, counted."""
    tested = [e for e in effects if e.beyond_noise is not None]
    untested = [e for e in effects if e.beyond_noise is None]
    text = f"{sum(e.holds and e.beyond_noise for e in tested)} of {len(tested)} shown beyond noise"
    return text + (f", {sum(e.holds for e in untested)} of {len(untested)} hold without a noise test" if untested else "")


SEEDS_FILE = "effects_seeds.json"  # beside effects.md: the seeds column, kept by runs of one seed


def write_effects(profile: Profile, found: list[fx.Effect], figures_dir: str | Path, command: str,
                  per_seed: dict[int, list[fx.Effect]] | None = None) -> Path:
    """``effects.md``: the effects ``found`` on ``profile``; with ``per_seed`` ({seed: effects}) a
    column of their verdicts at each seed of the per-subject stages and sampling, also written to
    ``effects_seeds.json``. A later run of the profile's seed alone (``make reproduce``, a
    notebook) keeps that column while the settings and its own verdicts are those the seeds run
    measured; otherwise it drops the column and says so."""
    text = f"Effects of the paper measured on profile {profile.name}, seed {profile.seed}. Made by `{command}` on " \
           f"{machine_line()}.\n\n"
    sidecar = Path(figures_dir) / SEEDS_FILE
    own = {e.name: fx.table_verdict(e) for e in found}
    columns, kept = None, None
    if per_seed:
        header = fx.seeds_header(list(per_seed))
        columns = {header: fx.seed_robustness(per_seed)}
        write_json_atomic(sidecar, {"evaluate_key": profile.stage_hash("evaluate"), "command": command,
                                    "own_verdicts": own, "columns": columns})
    elif sidecar.is_file():
        kept = json.loads(sidecar.read_text())
        if kept.get("evaluate_key") == profile.stage_hash("evaluate") and kept.get("own_verdicts") == own:
            columns = kept["columns"]
        else:
            text += (f"The seeds column of `{kept.get('command')}` is left out: this run's settings or verdicts "
                     f"differ from those it measured (`{SEEDS_FILE}`); run it again.\n\n")
    if columns:
        header = next(iter(columns))
        source = f" (made by `{kept['command']}`; this run repeats its seed-{profile.seed} verdicts)" if kept else ""
        text += (f"Column \"{header}\"{source}: the verdict again with the subject and decoder finetuning and the "
                 f"sampling noise seeded by each of these seeds (`subject.seed`, `sample.seed`; the data, base model "
                 f"and stage 1 fixed at seed {profile.seed}); an effect counts only if it holds beyond noise at every "
                 f"seed (one without a noise test: if it holds at every seed). The other seeds' tables: "
                 f"`seeds/<seed>/`.\n\n")
    return atomic_write(Path(figures_dir) / "effects.md", text + fx.report_effects(found, columns))


def parse_seeds(text: str, profile_seed: int) -> list[int]:
    """``--seeds 0,1,2`` -> [0, 1, 2]: distinct non-negative integers that include the profile's seed."""
    example = f"e.g. --seeds {','.join(str(profile_seed + k) for k in range(3))}"
    try:
        seeds = [int(part) for part in str(text).split(",")]
    except ValueError:
        raise ValueError(f"--seeds {text!r} is not a comma-separated list of integers; {example}") from None
    if any(s < 0 for s in seeds):
        raise ValueError(f"--seeds {text!r} has a negative seed (seeds are >= 0); {example}")
    if len(set(seeds)) < len(seeds):
        raise ValueError(f"--seeds {text!r} names a seed twice; {example}")
    if profile_seed not in seeds:
        raise ValueError(f"--seeds {text!r} must include the profile's seed {profile_seed} (the run whose tables "
                         f"the others are checked against); {example}")
    return seeds


def seed_run(run: stages.Run, seed: int) -> stages.Run:
    """``run`` with its per-subject stages (subject, decoder finetuning) and its sampling seeded by
    ``seed``; data, base model and stage 1 stay those of the profile's seed. The profile's own
    seed is ``run`` itself (its settings stay null, so every cache key is the ordinary one)."""
    if seed == run.profile.seed:
        return run
    return run.variant(f"subject.seed={seed}", f"sample.seed={seed}")


def evaluate_seeds(run: stages.Run, seeds: list[int], figures_dir: str | Path = "figures",
                   imported: dict[str, str] | None = None, command: str = "dreampose evaluate") -> dict[int, Results]:
    """``evaluate_stage`` at each of ``seeds`` of the per-subject stages and sampling (``seed_run``),
    then ``effects.md`` of the profile's seed with a column of the verdicts at every seed. The
    profile's seed writes its tables into ``figures_dir`` as ``dreampose evaluate`` does; each
    other seed into ``figures_dir/seeds/<seed>/``. Every model and score is cached."""
    seeds = parse_seeds(",".join(str(s) for s in seeds), run.profile.seed)
    results = {}
    for k, seed in enumerate(seeds, 1):
        own = seed == run.profile.seed
        folder = Path(figures_dir) if own else Path(figures_dir) / "seeds" / str(seed)
        what = "the profile's own run" if own else f"subject.seed={seed}, sample.seed={seed}"
        say("evaluate", f"seed {seed} ({k} of {len(seeds)}): {what}; base and stage 1 fixed; tables -> {folder}")
        start = time.perf_counter()
        results[seed] = evaluate_stage(seed_run(run, seed), folder, imported if own else None, command)
        verdicts = "; ".join(f"{e.name.split('.')[0]} {fx.table_verdict(e)}" for e in results[seed].effects)
        say("evaluate", f"seed {seed} done ({time.perf_counter() - start:.0f} s): {verdicts}")
    per_seed = {seed: results[seed].effects for seed in seeds}
    out = write_effects(run.profile, results[run.profile.seed].effects, figures_dir, command, per_seed)
    robust = fx.seed_robustness(per_seed)
    for name, cell in robust.items():
        say("evaluate", f"{name}: {cell}")
    say("evaluate", f"seeds {','.join(map(str, seeds))} -> {out}")
    return results


def evaluate_stage(run: stages.Run, figures_dir: str | Path = "figures", imported: dict[str, str] | None = None,
                   command: str = "dreampose reproduce") -> Results:
    """Train every variant (cached) and score it: what ``dreampose evaluate`` and the notebooks run."""
    videos = ex.evaluated_videos(run.profile, stages.data(run))
    return score(run, train_variants(run, videos), videos, stages.base(run), figures_dir, imported, command)


def starting_models(profile: Profile) -> dict[str, tuple[Profile, str]]:
    """The models a reproduction starts from, as a profile may ship them ({label: (profile, stage)}):
    the base (when trained here), the stage-1 model of every variant that has its own, and the
    two short stage-1 models of notebook 03's dropout study (when stage 1 is set in steps, not in
    epochs of a data set only a run can count)."""
    from .evaluate.studies.training import dropout_runs

    run = stages.Run(profile)
    own = {}
    for label, switch in VARIANTS.items():
        variant = run.variant(*switch).profile
        own.setdefault(variant.stage_hash("stage1"), (f"stage 1 {label.split(',')[0]}", variant))
    models = {"base": (profile, "base")} if profile.base.source == "train" else {}
    models.update({label: (variant, "stage1") for label, variant in own.values()})
    if profile.stage1.epochs <= 0:
        for label, r in dropout_runs(run, profile.stage1.steps).items():
            models[f"stage 1 {ex.FULL}, {r.profile.stage1.steps} steps, {label} (notebook 03)"] = (r.profile, "stage1")
    return models


def run(r: stages.Run, figures_dir: str | Path = "figures", imported: dict[str, str] | None = None) -> Results:
    """Every stage in the paper's order (Fig. 2, then Fig. 5 per test subject)."""
    from . import shipped

    profile = r.profile
    say("reproduce", f"profile {profile.name}, cache {r.cache.root}, figures {figures_dir}, "
                     f"{r.workers} finetuning worker{'s' * (r.workers > 1)}")
    for line in shipped.report(r.cache, starting_models(profile)):
        say("weights", line)
    world = data_stage(r, figures_dir)                      # 5.2: training and test videos
    base = base_stage(r, figures_dir, world)                # 4.2: the pretrained base (SD's stand-in)
    videos = ex.evaluated_videos(profile, world)
    methods = train_variants(r, videos)                     # stage 1 per variant; subject + decoder per subject
    return score(r, methods, videos, base, figures_dir, imported)  # frames -> scores -> tables, effects
