"""Run the benchmarks and write results.json + results.md: ``python -m benchmarks`` (``make bench``).

    python -m benchmarks [--cache DIR] [--only sampling,schedulers,training,memory,paper]
                         [--frames N] [--videos N] [--repeats N] [--out DIR]

Needs the tiny profile's cached artifacts (world, base, stage 1): run `make reproduce` first,
or pass --cache / set $DREAMPOSE_CACHE. Nothing is trained or written to the cache.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

SECTIONS = ("sampling", "schedulers", "training", "memory", "paper")


def pct(x: float) -> str:
    return f"{100 * x:+.1f}%"


def to_markdown(r: dict) -> str:
    out = [f"# Benchmark results ({r['date']})", "", f"Command: `{r['command']}`  ", f"Wall time: {r['wall_s']:.0f} s  ",
           "Machine: " + ", ".join(f"{k}={v}" for k, v in r["machine"].items()), ""]
    if "sampling" in r:
        sp = r["sampling"]["speed"]
        out += ["## Sampling speed", "", sp["setting"], "", "| variant | s per frame per step | speed-up vs authors' loop |",
                "|---|---|---|"]
        out += [f"| {k} | {v['s_per_frame_step']:.4f} | {v['speedup_vs_authors']:.2f}x |" for k, v in sp["variants"].items()]
        ov = r["sampling"]["overhead"]
        out += ["", f"Pipeline overhead over bare UNet calls: {pct(ov['overhead'])} (goal {ov['goal']}; "
                    f"{'met' if ov['met'] else 'MISSED'}). {ov['setting']}.", ""]
        if "end_to_end" in r["sampling"]:
            e = r["sampling"]["end_to_end"]
            out += [f"End to end per frame (extrapolated from the per-step medians above): {e['text']}", ""]
    if "schedulers" in r:
        sc = r["schedulers"]
        out += ["## Steps and schedulers", "", sc["setting"], "",
                "| sampler | UNet evals/frame (3 branches) | fewer than paper | L1 | SSIM | temporal L1 | L1 to PNDM 100 | wall time vs PNDM 100 | within 1% |",
                "|---|---|---|---|---|---|---|---|---|"]
        for k, v in sc["candidates"].items():
            out.append(f"| {k} | {v['unet_evals_per_frame_3_branches']} | {v['fewer_evals_than_paper']:.1f}x | "
                       f"{v['l1']:.4f} | {v['ssim']:.4f} | {v['temporal_l1']:.4f} | {v['l1_to_pndm100']:.4f} | "
                       f"{v['speedup_vs_pndm100']:.2f}x faster | {'yes' if v['within_1pct'] else 'no'} |")
        out += ["", f"Recommended (fewest evaluations meeting 4x fewer and within 1%): **{sc['recommended']}**", ""]
    if "training" in r:
        tr = r["training"]
        out += ["## Training (stage 1)", "", tr["setting"], "", "| variant | s per step | samples/s |", "|---|---|---|"]
        out += [f"| {k} | {v['s_per_step']:.3f} | {v['samples_per_s']:.1f} |" for k, v in tr["variants"].items()]
        out += ["", f"Loop overhead train() vs bare loop: {pct(tr['loop_overhead'])} (goal {tr['goal']}; "
                    f"{'met' if tr['met'] else 'MISSED'}). Frozen encoders' share of the bare loop: "
                    f"{100 * tr['frozen_encoder_share']:.0f}%. train() vs bare UNet+adapter: "
                    f"{pct(tr['train_overhead_vs_bare_unet'])}. Fixed cost per train() call: "
                    f"{tr['train_call_fixed_s']}.", ""]
    if "memory" in r:
        out += ["## Peak memory (max RSS, one process per stage)", "", "| stage | after loading (MB) | peak (MB) |",
                "|---|---|---|"]
        out += [f"| {m['stage']} | {m['after_load_mb']:.0f} | {m['peak_mb']:.0f} |" for m in r["memory"]]
        out.append("")
    if "paper" in r:
        p = r["paper"]
        out += ["## Paper scale (ESTIMATES)", "", "```", json.dumps(p, indent=1), "```", ""]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", default=None, help="cache folder (default: $DREAMPOSE_CACHE or .cache/dreampose)")
    ap.add_argument("--profile", default="tiny")
    ap.add_argument("--only", default=",".join(SECTIONS), help=f"comma list of {', '.join(SECTIONS)}")
    ap.add_argument("--frames", type=int, default=4, help="target frames per video for the scheduler "
                    "comparison (the protocol has 16: --frames 16 for the full set, ~4x longer)")
    ap.add_argument("--videos", type=int, default=None, help="test videos (default: eval.n_videos)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--random-weights", action="store_true", help="sampling speed on models of the profile's "
                    "shapes with random weights (no cache needed; speeds only, so only the sampling section)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    only = [s for s in args.only.split(",") if s]
    bad = set(only) - set(SECTIONS)
    if bad:
        ap.error(f"unknown sections {sorted(bad)}")
    if args.random_weights and only != ["sampling"]:
        ap.error("--random-weights measures speeds only: use it with --only sampling")

    from .common import MissingArtifact, machine, profile_and_cache, random_weights, stage1_pipeline

    t0 = time.perf_counter()
    r = {"date": dt.datetime.now().isoformat(timespec="seconds"), "machine": machine(),
         "command": "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:])}
    profile, cache = profile_and_cache(args.profile, args.cache)
    try:
        if args.random_weights:
            pipe, world = random_weights(profile)
        elif set(only) & {"sampling", "schedulers", "training"}:
            from dreampose.data.world import load_world

            pipe = stage1_pipeline(profile, cache)
            world = load_world(profile, cache, progress=False)
        if "memory" in only:  # first, while nothing else is loaded here
            from .memory import STAGES, in_subprocess

            stage1_pipeline(profile, cache)  # fail early and clearly if the artifacts are missing
            r["memory"] = []
            for stage in STAGES:
                r["memory"].append(in_subprocess(stage, args.cache, args.profile))
                print(f"[memory] {r['memory'][-1]}", flush=True)
        if "sampling" in only:
            from . import sampling

            r["sampling"] = {"speed": sampling.speed(pipe, world, profile, repeats=args.repeats)}
            print("[sampling] speed done", flush=True)
            r["sampling"]["overhead"] = sampling.overhead(pipe, world, profile, repeats=args.repeats)
            print(f"[sampling] overhead {r['sampling']['overhead']['overhead']:+.3f}", flush=True)
        if "schedulers" in only:
            from . import schedulers

            r["schedulers"] = schedulers.compare(pipe, world, profile, n_frames=args.frames, n_videos=args.videos)
            print(f"[schedulers] recommended {r['schedulers']['recommended']}", flush=True)
        if "training" in only:
            from . import training

            fresh = stage1_pipeline(profile, cache)  # training changes the weights: not the sampling model
            r["training"] = training.throughput(fresh, world, profile, repeats=args.repeats)
            print(f"[training] loop overhead {r['training']['loop_overhead']:+.3f}", flush=True)
    except MissingArtifact as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if "paper" in only:
        from . import paper_estimate
        from .schedulers import PAPER_EVALS

        rec = (r.get("schedulers") or {}).get("recommended")
        if rec:
            evals = r["schedulers"]["candidates"][rec]["unet_evals_per_frame_3_branches"]
        else:
            rec, evals = f"{profile.sample.scheduler} {profile.sample.steps}", None
            from diffusers import PNDMScheduler

            from dreampose.pipeline import make_scheduler

            s = make_scheduler(profile.sample.scheduler, PNDMScheduler().config)
            s.set_timesteps(profile.sample.steps)
            evals = 3 * len(s.timesteps)
        r["paper"] = paper_estimate.estimate(evals, f"{rec}, 3 guidance branches")
        print(f"[paper] {r['paper']['gflops_per_unet_call_512x640']:.0f} GFLOPs per UNet call; paper {PAPER_EVALS} "
              f"evals/frame, ours {evals}", flush=True)
    if "sampling" in r:
        sp = r["sampling"]["speed"]["variants"]
        authors = sp["authors loop (3 calls, 1 frame)"]["s_per_frame_step"] * 101
        rec = (r.get("schedulers") or {}).get("recommended") or f"{profile.sample.scheduler} {profile.sample.steps}"
        name, steps = rec.rsplit(" ", 1)
        from dreampose.pipeline import make_scheduler

        s = make_scheduler(name, pipe.scheduler.config)
        s.set_timesteps(int(steps))
        ours = sp["pipeline, frames_per_batch=8"]["s_per_frame_step"] * len(s.timesteps)
        r["sampling"]["end_to_end"] = {
            "authors_pndm100_s_per_frame": authors, "ours_s_per_frame": ours, "speedup": authors / ours,
            "text": f"authors' loop at PNDM 100: {authors:.2f} s/frame; pipeline at {rec}, frames_per_batch 8, "
                    f"three branches: {ours:.3f} s/frame; {authors / ours:.0f}x faster."}
    r["wall_s"] = time.perf_counter() - t0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(r, indent=1, default=str))
    (out / "results.md").write_text(to_markdown(r))
    print(to_markdown(r))
    print(f"wrote {out / 'results.json'} and {out / 'results.md'} in {r['wall_s']:.0f} s")
    return 0
