"""Diagnosis of fidelity: where the error of the tiny profile comes from, on validation subjects.

    python -m benchmarks.fidelity [--profile tiny] [--parts vae,stage1,subject,budget,vae_branch,vae_branch_stage1,
                                   images,sampling,guidance,capacity]
                                  [--videos 8] [--cache DIR]

Unlike the speed benchmarks this one trains (the variants it measures), through the stage cache,
so a rerun only scores again; each part can be run alone and the results accumulate in
``benchmarks/results/fidelity.json``, ``fidelity.md`` (each part: its command, machine, date,
wall time) and ``fidelity.png`` (``dreampose.panels.diagnosis_panel``). The subjects come from the world's validation stream, never from the test split.
"""
from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
PARTS = ("vae", "stage1", "subject", "budget", "vae_branch", "vae_branch_stage1", "images", "sampling", "guidance",
         "capacity")
STAGE1_STEPS = [125, 250, 500, 1000, 2000]
SUBJECT_GRID = [(1e-5, 100), (1e-5, 500), (1e-4, 100), (1e-4, 300)]  # paper: 500 steps at 1e-5; tiny: 100 at 1e-4
VAE_BRANCH_SCALES = [1.0, 10.0, 30.0, 100.0]  # subject.vae_branch_lr_scale; 1: the paper's one lr
VAE_BRANCH_STAGE1 = ([1.0, 30.0], 1000)  # the same in stage 1 and subject stage; stage-1 steps (each scale trains one)
IMAGES = (3, [100, 300])  # subject.n_images against 1, at these subject steps (the tiny profile: 100)
BUDGET = [(25, 0), (50, 0), (100, 0), (50, 20), (100, 20), (100, 60)]  # (subject, decoder) steps
SAMPLING = [{}, {"scheduler": "pndm", "steps": 100}, {"scheduler": "ddim", "steps": 50}, {"scheduler": "dpm++", "steps": 25}]
GUIDANCE = [{"image_guidance_scale": s_i, "pose_guidance_scale": s_p}
            for s_i in (0.0, 1.0, 3.0, 5.0, 8.0) for s_p in (1.0, 3.0, 5.0, 7.0, 9.0)]  # the paper's demo: s_I 8, s_p 3
UNET_WIDTHS = [[32, 64], [64, 128], [96, 192]]


def run_part(part: str, run, videos) -> dict:
    from dreampose import stages
    from dreampose.evaluate.experiments import FULL
    from dreampose.evaluate.studies import fidelity as fd
    from dreampose.reproduce import trained

    if part == "vae":
        return {"rows": [{"setting": "tiny base VAE", **fd.vae_ceiling(stages.base(run), videos)}]}
    if part == "stage1":
        return {"rows": fd.stage1_curve(run, videos, STAGE1_STEPS)}
    if part == "subject":
        return {"rows": fd.subject_grid(run, videos, SUBJECT_GRID)}
    if part == "budget":
        return {"rows": fd.budget_grid(run, videos, BUDGET)}
    if part == "vae_branch":
        return {"rows": fd.vae_branch_grid(run, videos, VAE_BRANCH_SCALES)}
    if part == "vae_branch_stage1":
        scales, steps = VAE_BRANCH_STAGE1
        shorter = run.variant("stage1.epochs=0", f"stage1.steps={steps}")
        return {"rows": fd.vae_branch_grid(shorter, videos, scales, stage="stage1"),
                "models": {"base": run.profile.stage_hash("base")}}  # its stage-1 models are its own
    if part == "images":
        return {"rows": fd.images_grid(run, videos, *IMAGES)}
    if part in ("sampling", "guidance"):
        grid = SAMPLING if part == "sampling" else GUIDANCE
        return {"rows": fd.sampling_grid(trained(run, FULL, videos), videos, grid)}
    return {"rows": fd.unet_capacity(run, videos, UNET_WIDTHS)}


def _models(part: dict) -> str:
    """"; base <key>; stage1 <key>": the models a part measured (parts run at different times)."""
    return "".join(f"; {stage} {key}" for stage, key in part.get("models", {}).items())


def write(results: dict, out: Path) -> Path:
    from dreampose.evaluate.studies.fidelity import markdown
    from dreampose.files import atomic_write, write_json_atomic

    from dreampose.figures import write as write_figure
    from dreampose.panels import diagnosis_panel

    write_json_atomic(out / "fidelity.json", results)
    write_figure(diagnosis_panel(results), out / "fidelity.png")
    parts = [f"## {name}\n\n`{r['command']}` on {r['machine']}, {r['date']}, {r['seconds']:.0f} s; "
             f"{r['videos']} validation subjects{_models(r)}.\n\n{markdown(r['rows'])}\n" for name, r in results.items()]
    return atomic_write(out / "fidelity.md", "# Fidelity diagnosis (validation subjects)\n\n" + "\n".join(parts))


def main(argv: list[str] | None = None) -> int:
    from dreampose import stages
    from dreampose.cache import Cache
    from dreampose.config import load_profile
    from dreampose.data.world import validation_videos
    from dreampose.provenance import machine_line

    parser = argparse.ArgumentParser(prog="python -m benchmarks.fidelity", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="tiny")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)} (default all)")
    parser.add_argument("--videos", type=int, default=8, help="validation subjects (default 8)")
    parser.add_argument("--cache", default=None, help="artifact cache (default $DREAMPOSE_CACHE or .cache/dreampose)")
    parser.add_argument("--out", default=str(RESULTS), help="folder of fidelity.json and fidelity.md")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts {unknown}; choose from {', '.join(PARTS)}")
    profile = load_profile(args.profile)
    run, videos = stages.Run(profile, Cache(args.cache)), validation_videos(profile, args.videos)
    out_dir = Path(args.out)
    path = out_dir / "fidelity.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    for part in parts:
        start = time.perf_counter()
        out = run_part(part, run, videos)
        results[part] = {"command": f"python -m benchmarks.fidelity --profile {args.profile} --parts {part} "
                                    f"--videos {args.videos}",
                         "machine": machine_line(), "date": str(date.today()), "videos": len(videos),
                         "models": {stage: profile.stage_hash(stage) for stage in ("base", "stage1")},
                         **out,
                         "seconds": time.perf_counter() - start}
        written = write(results, out_dir)
        print(f"[fidelity] {part}: {time.perf_counter() - start:.0f} s -> {written}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
