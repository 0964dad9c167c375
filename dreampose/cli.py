"""The `dreampose` command: reproduce, data, base, evaluate, animate, config.

Every subcommand takes ``--profile smoke|tiny|paper`` and any number of ``--set key=value``
overrides (e.g. ``--set stage1.lr=1e-5``). Errors the user can fix are printed as one line
with the fix, not as a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

from .config import PROFILES, default_figures, load_profile
from .progress import quiet_libraries


def _profile_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="tiny", help=f"one of {', '.join(PROFILES)} or a .yaml path (default tiny)")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a setting, e.g. --set stage1.lr=1e-5 (repeatable)",
    )


def _profile(args):
    return load_profile(args.profile, args.overrides)


def cmd_config(args) -> None:
    """Print the resolved profile and each stage's cache key."""
    import yaml

    from .config import STAGE_SECTIONS

    profile = _profile(args)
    print(yaml.safe_dump(profile.to_dict(), sort_keys=False).rstrip())
    print("# stage cache keys: " + ", ".join(f"{s}={profile.stage_hash(s)}" for s in STAGE_SECTIONS))


def _run(args):
    from .reproduce import default_workers
    from .stages import Run

    workers = getattr(args, "workers", 1)
    if workers is not None and workers < 1:
        raise ValueError(f"--workers {workers}: give at least 1 (1 finetunes the subjects one after another)")
    return Run(_profile(args), workers=default_workers() if workers is None else workers)


def cmd_data(args) -> None:
    """Build (or load) the data of a profile and write the preview figure."""
    from . import reproduce

    reproduce.data_stage(_run(args), args.figures)


def cmd_base(args) -> None:
    """Pretrain (or load) the base model and print its quality figures."""
    from . import reproduce

    run = _run(args)
    reproduce.base_stage(run, args.figures, reproduce.stages.data(run))


def _imported(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        label, sep, folder = item.partition("=")
        if not sep or not label or not folder:
            raise ValueError(f"--import {item!r} must be LABEL=FOLDER, e.g. --import TPSMM=results/tpsmm")
        out[label] = folder
    return out


def cmd_evaluate(args) -> None:
    """Finetune and score the DreamPose variants, baselines and imported methods (all cached)."""
    from . import reproduce

    run = _run(args)
    if args.seeds is None:
        reproduce.evaluate_stage(run, args.figures, _imported(args.imports), command="dreampose evaluate")
        return
    seeds = reproduce.parse_seeds(args.seeds, run.profile.seed)  # before any work: a typo fails at once
    reproduce.evaluate_seeds(run, seeds, args.figures, _imported(args.imports),
                             command=f"dreampose evaluate --seeds {','.join(map(str, seeds))}")


def cmd_reproduce(args) -> None:
    from . import reproduce

    if args.from_scratch:  # read by every Cache, the notebooks' kernels included
        os.environ["DREAMPOSE_FROM_SCRATCH"] = "1"

    reproduce.run(_run(args), figures_dir=args.figures, imported=_imported(args.imports))
    if args.compare:
        from .evaluate.compare import compare_runs
        from .files import atomic_write

        report, changed = compare_runs(args.compare, args.figures)
        print(report + f"(written to {atomic_write(Path(args.figures) / 'comparison.md', report)})")
        if changed:
            raise SystemExit(2)
        return
    if not args.no_notebooks:  # the notebooks draw every figure from the cached stages
        from .run_notebooks import NotebookError, run_all

        try:
            run_all(args.profile, args.figures, overrides=args.overrides)
        except NotebookError as err:
            raise RuntimeError(str(err)) from None


def cmd_notebooks(args) -> None:
    """Execute notebooks/NN_*.py headless with papermill (up-to-date ones are skipped)."""
    from .run_notebooks import NotebookError, run_all

    try:
        run_all(args.profile, args.figures, args.only, args.seed, args.device, args.overrides, force=args.force,
                log_output=args.log, threads=args.threads)
    except NotebookError as err:
        raise RuntimeError(str(err)) from None


def cmd_ship(args) -> None:
    """Train the models a profile starts from and put them in weights/<profile>/ (the shipped weights)."""
    from .shipped import ROOT, ship, size_mb

    profile = _profile(args)
    for path in ship(profile, train=not args.cached_only):
        print(f"[ship] {path}")
    print(f"[ship] {size_mb(ROOT, profile.name):.1f} MB in {ROOT / profile.name} (identical files counted once)")


def cmd_doctor(args) -> None:
    """Check the environment (python, torch, threads, cache, base model, ffmpeg) and print what to fix."""
    from .doctor import run_checks

    code = run_checks(args.profile)
    if code:
        raise SystemExit(code)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dreampose", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    for name, func, help_ in [
        ("reproduce", cmd_reproduce, "run every stage of a profile end to end (default: tiny)"),
        ("data", cmd_data, "build or load the data set and write its preview figure"),
        ("base", cmd_base, "pretrain or load the base model and report its quality"),
        ("evaluate", cmd_evaluate, "finetune and score DreamPose, its ablations and the baselines; write the tables"),
        ("config", cmd_config, "print the resolved profile and the stage cache keys"),
        ("doctor", cmd_doctor, "check the environment (torch, threads, cache, base model, ffmpeg) and print fixes"),
        ("notebooks", cmd_notebooks, "execute the notebooks headless with papermill (up-to-date ones are skipped)"),
        ("ship", cmd_ship, "train the base and stage-1 models of a profile and put them in weights/<profile>/"),
    ]:
        p = sub.add_parser(name, help=help_, description=help_)
        _profile_args(p)
        if name not in ("config", "doctor", "ship"):
            p.add_argument("--figures", default=None,
                           help="folder for figures and tables (default figures/ for tiny, figures/<profile>/ otherwise, "
                                "so a smoke run never overwrites the tiny results)")
        if name == "reproduce":
            p.add_argument("--no-notebooks", action="store_true", help="run the stages only, not the notebooks")
            p.add_argument("--from-scratch", action="store_true",
                           help="train the base and stage-1 models here instead of starting from the shipped "
                                "weights (weights/<profile>/); make reproduce-from-scratch")
            p.add_argument("--compare", nargs="?", const="figures", default=None, metavar="REFERENCE",
                           help="score this run against a reference folder of tables (default the committed "
                                "figures/), differences in standard errors; the run writes into figures/fresh/ "
                                "unless --figures is given, skips the notebooks, and exits 2 if a verdict changed")
        if name in ("reproduce", "evaluate"):
            p.add_argument("--workers", type=int, default=None, metavar="N",
                           help="processes finetuning the test subjects at once, one torch thread each (default: "
                                "one per CPU core without a GPU, 1 with one)")
            p.add_argument("--import", dest="imports", action="append", default=[], metavar="LABEL=FOLDER",
                           help="score another method's frames (<FOLDER>/<video>/<frame:05d>.png) as a Table 1 row")
        if name == "evaluate":
            p.add_argument("--seeds", default=None, metavar="S0,S1,...",
                           help="also train the per-subject stages (subject, decoder) and sample with each of these "
                                "seeds, the base and stage 1 fixed, and add a column to effects.md: the verdict at "
                                "each seed (e.g. --seeds 0,1,2; it must include the profile's seed; the other seeds' "
                                "tables go to <figures>/seeds/<seed>/)")
        if name == "ship":
            p.add_argument("--cached-only", action="store_true",
                           help="ship only the models already in the cache; train none")
        if name == "notebooks":
            p.add_argument("--only", action="append", default=[], metavar="NN",
                           help="run only this notebook, by number or name (repeatable), e.g. --only 03")
            p.add_argument("--seed", type=int, default=0)
            p.add_argument("--device", default="cpu")
            p.add_argument("--force", action="store_true", help="execute even the notebooks that are up to date")
            p.add_argument("--log", action="store_true", help="stream the notebooks' output")
            p.add_argument("--threads", type=int, default=None, help="torch threads per kernel (e.g. 1)")
        p.set_defaults(func=func)

    from . import animate_cli

    p = sub.add_parser("animate", help="animate a person's image(s) with a pose sequence, finetuning on them first",
                       description=animate_cli.__doc__.splitlines()[0])
    animate_cli.add_arguments(p)
    p.set_defaults(func=animate_cli.run)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line the user can act on, without the source line that raised it."""
    print(f"dreampose: warning: {message}", file=file or sys.stderr)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    warnings.showwarning = _show_warning
    args = build_parser().parse_args(argv)
    if getattr(args, "figures", "") is None:
        args.figures = "figures/fresh" if getattr(args, "compare", None) else default_figures(args.profile)
    start = time.perf_counter()
    try:
        quiet_libraries()
        args.func(args)
    except KeyboardInterrupt:
        print("\ninterrupted: finished artifacts are kept; rerun the same command to resume", file=sys.stderr)
        return 130
    except (ValueError, RuntimeError, OSError) as err:
        if os.environ.get("DREAMPOSE_DEBUG"):
            raise
        print(f"dreampose {args.command}: error: {err}", file=sys.stderr)
        print("(set DREAMPOSE_DEBUG=1 for the full traceback)", file=sys.stderr)
        return 1
    if args.command == "reproduce":
        print(f"done in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
