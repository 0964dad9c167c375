"""`dreampose animate`: a person's image(s) + a pose sequence -> a video (paper 4.2.3, Fig. 5, 4.4).

    dreampose animate --image IMG [--image IMG2 ...] --poses POSES --out OUT.mp4 [--out OUT.gif]
                      [--image-poses POSE|N ...] [--no-finetune | --model DIR] [--fit pad|center_crop]
                      [--pose-fps F] [--frames 0-15,20] [--side-by-side] [--seed N]
                      [--steps N] [--image-guidance S_I] [--pose-guidance S_P] [--scheduler NAME]
                      [--frames-per-batch N] [--fps F] [--profile tiny] [--set key=value ...]

By default the whole procedure of the paper runs for that person (``dreampose.animate``): subject
finetuning of the profile's stage-1 model on the image(s) and their poses, decoder finetuning,
then sampling with dual guidance. Unset sampling options come from the profile's ``sample``
section. Every input is checked before anything slow starts.
"""
from __future__ import annotations

import argparse
import os
import warnings
from pathlib import Path

from .config import PROFILES, load_profile
from .data.fit import FITS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `dreampose animate`."""
    a = parser.add_argument
    a("--image", action="append", required=True, metavar="IMG",
      help="a picture of the person, any size (repeat for several views, paper 6.3)")
    a("--poses", required=True, metavar="POSES", help="folder of DensePose IUV pngs, or a .npy/.npz/.png pose file")
    a("--out", action="append", required=True, metavar="FILE", help="output video, .mp4 (H.264) or .gif (repeatable)")
    a("--image-poses", action="append", default=[], metavar="POSE|N",
      help="the pose of each --image, in order: its DensePose IUV png/.npy, or N if the image is frame N of --poses")
    a("--no-finetune", action="store_true",
      help="skip subject and decoder finetuning: sample the stage-1 model (fast; identity suffers)")
    a("--model", default=None, metavar="DIR", help="use this saved pipeline as it is (no finetuning)")
    a("--fit", default="pad", choices=FITS[1:],
      help="fit pictures and poses of another aspect ratio: pad (keep the whole person) or center_crop")
    a("--pose-fps", type=float, default=None, metavar="F",
      help="frame rate of --poses if it differs from the profile's (the poses are resampled)")
    a("--frames", default=None, metavar="LIST", help="render only these poses, e.g. 0-15,20 (same frames as a full render)")
    a("--side-by-side", action="store_true", help="write pose | input | output beside each other")
    a("--seed", type=int, default=0, help="seed of the initial noise (default 0)")
    a("--steps", type=int, default=None, help="denoising steps (default: the profile's sample.steps)")
    a("--image-guidance", type=float, default=None, metavar="S_I", help="image guidance weight s_I (paper 4.4)")
    a("--pose-guidance", type=float, default=None, metavar="S_P", help="pose guidance weight s_p (paper 4.4)")
    a("--scheduler", default=None, choices=["pndm", "ddim", "dpm++", "euler"], help="sampler (paper: pndm)")
    a("--frames-per-batch", type=int, default=None, metavar="N", help="frames per UNet call")
    a("--fps", type=float, default=None, help="frame rate of the video (default: the profile's data.fps)")
    a("--profile", default="tiny", help=f"one of {', '.join(PROFILES)} or a .yaml path (default tiny)")
    a("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
      help="override a profile setting, e.g. --set subject.steps=200 (repeatable)")


def parse_frames(spec: str) -> list[int]:
    """'0-3,7' -> [0, 1, 2, 3, 7]."""
    out = []
    for part in spec.split(","):
        lo, dash, hi = part.strip().partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()):
            raise ValueError(f"--frames {spec!r}: give pose numbers and ranges like 0-15,20")
        out += list(range(int(lo), int(hi) + 1)) if dash else [int(lo)]
    return out


def _check_outputs(outs: list[str]) -> list[Path]:
    from .video_io import VIDEO_SUFFIXES

    paths = [Path(o) for o in outs]
    for out in paths:
        if out.suffix.lower() not in VIDEO_SUFFIXES:
            raise ValueError(f"--out {out}: name the video .mp4 or .gif")
        if not out.parent.is_dir() or not os.access(out.parent, os.W_OK):
            state = "does not exist" if not out.parent.is_dir() else "is not writable"
            raise ValueError(f"--out {out}: the folder {out.parent} {state}; create it or choose another --out")
    return paths


def _sample_overrides(args, profile) -> dict:
    from .guidance import check_scale

    given = {"steps": args.steps, "frames_per_batch": args.frames_per_batch, "scheduler": args.scheduler,
             "image_guidance_scale": args.image_guidance, "pose_guidance_scale": args.pose_guidance}
    for flag, key in (("--steps", "steps"), ("--frames-per-batch", "frames_per_batch")):
        if given[key] is not None and not given[key] > 0:
            raise ValueError(f"{flag} must be positive, got {given[key]}; leave it out to use the profile's value")
    for flag, key in (("--image-guidance", "image_guidance_scale"), ("--pose-guidance", "pose_guidance_scale")):
        if given[key] is not None:
            check_scale(flag, given[key])
    return {k: v for k, v in given.items() if v is not None}


def run(args: argparse.Namespace) -> list[Path]:
    """Check the inputs, animate the person (finetuning first, unless told not to), write the video(s)."""
    from .animate import animate_person, fit_pictures, target_poses
    from .video_io import side_by_side, write_video

    profile = load_profile(args.profile, args.overrides)
    outs = _check_outputs(args.out)  # fail before the (slow) finetuning and sampling
    sample = _sample_overrides(args, profile)
    fps = profile.data.fps if args.fps is None else args.fps
    if not fps > 0:
        raise ValueError(f"--fps must be positive, got {fps}; leave it out to use the profile's value")
    frames = parse_frames(args.frames) if args.frames else None
    image_poses = [int(p) if p.isdigit() else p for p in args.image_poses] or None
    out = animate_person(args.image, args.poses, profile=profile, image_poses=image_poses,
                         finetune=not args.no_finetune, model=args.model, frames=frames, seed=args.seed,
                         fit=args.fit, pose_fps=args.pose_fps, sample=sample)
    if args.side_by_side:
        from .figures import iuv_to_rgb

        with warnings.catch_warnings():  # the same inputs again: their warnings were shown
            warnings.simplefilter("ignore")
            iuv = target_poses(args.poses, profile, args.fit, args.pose_fps)[frames or slice(None)]
            picture = fit_pictures(args.image[:1], profile, args.fit, quiet=True)[0][0]
        out = side_by_side(iuv_to_rgb(iuv), picture, out)
    for path in outs:
        print(f"wrote {len(out)} frames to {write_video(out, path, fps=fps).resolve()}")
    return outs
