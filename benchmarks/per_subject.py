"""Cost of one subject's finetuning stages, at one torch thread (as a `--workers` process runs them).

    python -m benchmarks.per_subject [--profile tiny] [--repeats 2] [--breakdown]

On one validation subject, with the profile's own budgets and its stage-1 model (shipped or
cached), times, interleaved ``--repeats`` times:

* the subject stage encoding its conditioning photo every step, and once per distinct batch
  (``DreamPoseObjective(fixed_images=True)``, what the stage runs: the same weights);
* the decoder stage (from the base VAE);
* all the subject and decoder stages one test subject needs over every variant of the evaluation
  (``reproduce.VARIANTS``), in a worker's order, with the process's ``PosteriorMemo`` of the frozen
  encoder's passes and without it (the same weights: tested).

With ``--breakdown``, one more subject stage runs under cProfile and the shares of its time
spent encoding latents with the VAE, in the UNet's forward pass, in the backward pass and in
the optimizer are printed (cProfile slows Python-heavy code more than torch kernels, so the
shares are approximate).

The decoder stage is keyed by the images alone, so the variants that differ only in the UNet or
adapter share one.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    import torch

    from dreampose import reproduce, stages
    from dreampose.config import load_profile
    from dreampose.data.world import validation_videos
    from dreampose.evaluate.protocol import protocol_subject
    from dreampose.progress import quiet_libraries
    from dreampose.train import finetune

    from .common import interleaved, machine

    parser = argparse.ArgumentParser(prog="python -m benchmarks.per_subject", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="tiny")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--breakdown", action="store_true", help="profile one subject stage (cProfile)")
    args = parser.parse_args(argv)
    quiet_libraries()
    torch.set_num_threads(1)
    run = stages.Run(load_profile(args.profile), progress=False)
    video = validation_videos(run.profile, 1)[0]
    person = protocol_subject(run.profile, video)
    s1 = stages.stage1(run)

    def subject_stage(fixed: bool):
        def go() -> float:  # train_subject with its objective's fixed_images switched
            pipe = stages.load_pipeline(s1)
            original = finetune.DreamPoseObjective
            finetune.DreamPoseObjective = lambda p, **_: original(p, fixed_images=fixed)
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    return float(finetune.train_subject(run.profile, pipe, person, Path(tmp), False)["train_seconds"])
            finally:
                finetune.DreamPoseObjective = original
        return go

    def decoder_stage() -> float:
        finetune.POSTERIORS.clear()  # no encoder pass remembered from another timed run
        with tempfile.TemporaryDirectory() as tmp:
            vae = stages.base_vae(run)
            return float(finetune.train_decoder(run.profile, vae, person, Path(tmp), False)["train_seconds"])

    jobs, keys = [], set()  # (stage, variant run, subject) of each distinct artifact, in VARIANTS order
    for switch in reproduce.VARIANTS.values():
        r = run.variant(*switch)
        p = protocol_subject(r.profile, video)
        for stage, inputs in (("subject", stages.subject_inputs(stages.stage1(r), p)),
                              ("decoder", stages.decoder_inputs(p) if r.profile.decoder.enabled else None)):
            key = inputs is not None and (stage, r.profile.stage_hash(stage, **inputs))
            if key and key not in keys:
                keys.add(key)
                jobs.append((stage, r, p))

    def one_test_subject(memo: bool):
        def go() -> float:  # every job of one worker's test subject, the memo on or off
            original = finetune.POSTERIORS
            original.clear()
            finetune.POSTERIORS = original if memo else None
            start = time.perf_counter()
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    for k, (stage, r, p) in enumerate(jobs):
                        if stage == "subject":
                            finetune.train_subject(r.profile, stages.load_pipeline(stages.stage1(r)), p, Path(tmp) / str(k),
                                                   False)
                        else:
                            finetune.train_decoder(r.profile, stages.base_vae(r), p, Path(tmp) / str(k), False)
            finally:
                finetune.POSTERIORS = original
            if memo:
                counts.update(hits=original.hits, misses=original.misses)
            return time.perf_counter() - start
        return go

    counts = {}
    times = interleaved({"subject, photo encoded every step": subject_stage(False),
                         "subject, photo encoded once (fixed_images)": subject_stage(True),
                         "decoder": decoder_stage,
                         "one test subject, every variant's stages, no memo": one_test_subject(False),
                         "one test subject, every variant's stages, PosteriorMemo": one_test_subject(True)},
                        repeats=args.repeats, warmup=False)
    n = {stage: sum(job[0] == stage for job in jobs) for stage in ("subject", "decoder")}
    print(machine())
    print(f"profile {args.profile}, subject {run.profile.subject.steps} steps, decoder {run.profile.decoder.steps} "
          f"steps, 1 thread, validation subject {video.name}:")
    for name, t in times.items():
        print(f"  {name}: {t['median']:.1f} s  (runs {t['runs']})")
    base, fixed, _, off, on = (t["median"] for t in times.values())
    print(f"  fixed_images: {base / fixed:.2f}x faster")
    print(f"  one test subject ({n['subject']} subject and {n['decoder']} decoder stages, wall time with loading and "
          f"saving): PosteriorMemo speed-up {off / on:.2f}x; {counts['hits']} of {counts['hits'] + counts['misses']} "
          f"encoder passes remembered")
    if args.breakdown:
        print("one subject stage (fixed_images) under cProfile, share of its time:")
        for part, share in breakdown(lambda: subject_stage(True)()).items():
            print(f"  {part}: {share:.0%}")
    return 0


PARTS = {  # part: (file name ending, function name) of the profiled call that covers it
    "VAE encoding (the target crops; the photo once)": ("dreampose/pipeline.py", "encode_latents"),
    "UNet forward": ("unet_2d_condition.py", "forward"),
    "backward": ("~", "<method 'run_backward' of 'torch._C._EngineBase' objects>"),
    "optimizer (Adam)": ("torch/optim/adam.py", "adam"),
}


def breakdown(call) -> dict[str, float]:
    """{part: share of ``call``'s profiled time} for the parts of ``PARTS``."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(call)
    stats = pstats.Stats(profiler).stats  # {(file, line, function): (calls, ..., tottime, cumtime, callers)}
    total = max(entry[3] for entry in stats.values())
    return {part: sum(entry[3] for (file, _, func), entry in stats.items() if file.endswith(suffix) and func == name)
            / total for part, (suffix, name) in PARTS.items()}


if __name__ == "__main__":
    raise SystemExit(main())
