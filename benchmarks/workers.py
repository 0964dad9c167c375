"""Per-subject stages in parallel: one process on every thread against one process per core.

    python -m benchmarks.workers [--videos 4] [--subject-steps 10] [--decoder-steps 5] [--repeats 2]

Times ``reproduce.train_variants`` (the subject and decoder stages of every variant, for
``--videos`` validation subjects; the stage-1 models shipped or cached) once with ``workers=1``
(this process, torch on all its threads) and once with the default of ``--workers``
(``reproduce.default_workers``: one process per core without a GPU, one thread each),
each into a fresh cache, interleaved ``--repeats`` times. Short finetuning keeps it quick; the
ratio is what `dreampose reproduce --workers` buys, worker start-up included.
"""
from __future__ import annotations

import argparse
import tempfile


def main(argv: list[str] | None = None) -> int:
    import torch

    from dreampose import reproduce, stages
    from dreampose.cache import Cache
    from dreampose.config import load_profile
    from dreampose.data.world import validation_videos

    from .common import interleaved, machine

    parser = argparse.ArgumentParser(prog="python -m benchmarks.workers", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="tiny")
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--subject-steps", type=int, default=10)
    parser.add_argument("--decoder-steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    profile = load_profile(args.profile, [f"subject.steps={args.subject_steps}", f"decoder.steps={args.decoder_steps}"])
    videos, cores = validation_videos(profile, args.videos), reproduce.default_workers()

    def timed(workers: int):
        def go() -> None:
            with tempfile.TemporaryDirectory() as tmp:
                reproduce.train_variants(stages.Run(profile, Cache(tmp), progress=False, workers=workers), videos)
        return go

    threads = torch.get_num_threads()
    times = interleaved({f"1 process x {threads} threads": timed(1), f"{cores} processes x 1 thread": timed(cores)},
                        repeats=args.repeats, warmup=False)
    (one, t1), (many, tn) = [(k, v["median"]) for k, v in times.items()]
    print(f"{machine()}\n{args.videos} subjects x {len(reproduce.VARIANTS)} variants, subject {args.subject_steps} "
          f"+ decoder {args.decoder_steps} steps:\n  {one}: {t1:.1f} s\n  {many}: {tn:.1f} s  ({t1 / tn:.2f}x faster)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
