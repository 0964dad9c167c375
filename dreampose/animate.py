"""`dreampose animate`: input image(s) + a pose sequence -> a video file (paper 4.1, Fig. 1).

    dreampose animate --image IMG [--image IMG ...] --poses POSE_DIR_OR_FILE --out out.mp4
                      [--model DIR] [--steps N] [--image-guidance S] [--pose-guidance S]
                      [--scheduler NAME] [--seed N] [--frames-per-batch N] [--fps F]
                      [--height H --width W] [--profile tiny] [--set key=value ...]

Unset sampling options come from the profile's ``sample`` section (scheduler, steps, s_I, s_p,
frames per batch), the output size and fps from its ``data`` section.

Where the model comes from (the contract with the training stages): every finished artifact
of the stages ``decoder``, ``subject`` and ``stage1`` is a folder
``<cache root>/<stage>/<key>/`` holding ``manifest.json`` (written last) and ``pipeline/``, a
DreamPosePipeline saved with ``save_pretrained``. Without ``--model``, the newest such
artifact of the chosen profile is used (`default_model_dir`). ``--model`` takes any saved
pipeline folder, or an artifact folder that contains ``pipeline/``.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from .cache import MANIFEST, Cache
from .config import PROFILES, Profile, load_profile

MODEL_STAGES = ("decoder", "subject", "stage1")
PIPELINE_DIR = "pipeline"


class ModelNotFoundError(FileNotFoundError):
    """No trained DreamPose pipeline where one was expected; the message says how to get one."""


def _artifact_matches(profile: Profile, stage: str, folder: Path, manifest_path: Path) -> bool:
    """Was this artifact built with ``profile``? Its folder name is the stage hash of its settings."""
    try:
        settings = json.loads(manifest_path.read_text()).get("settings", {})
    except (OSError, ValueError):
        return False  # a damaged manifest is not a finished model
    own = profile.stage_settings(stage)
    extra = {k: v for k, v in settings.items() if k not in own}  # e.g. video, input_index
    return profile.stage_hash(stage, **extra) == folder.name


def default_model_dir(profile: Profile, cache: Cache | None = None) -> Path:
    """``pipeline/`` of the newest finished decoder/subject/stage1 artifact of ``profile``."""
    root = (cache or Cache()).root
    found = []
    for stage in MODEL_STAGES:
        folder = root / stage
        for art in sorted(folder.iterdir()) if folder.is_dir() else []:
            manifest = art / MANIFEST
            if (manifest.is_file() and (art / PIPELINE_DIR / "model_index.json").is_file()
                    and _artifact_matches(profile, stage, art, manifest)):
                found.append((manifest.stat().st_mtime, art / PIPELINE_DIR))
    if not found:
        raise ModelNotFoundError(
            f"no trained DreamPose model for profile {profile.name!r} in the cache {root} (looked for finished "
            f"{', '.join(MODEL_STAGES)} artifacts with a {PIPELINE_DIR}/ folder); train one with `make reproduce` "
            f"(or `dreampose reproduce --profile {profile.name}`), or pass --model DIR, a folder saved with "
            "DreamPosePipeline.save_pretrained")
    return max(found)[1]


def resolve_model_dir(path: str | Path) -> Path:
    """A saved pipeline folder, or an artifact folder holding ``pipeline/``."""
    path = Path(path)
    for candidate in (path, path / PIPELINE_DIR):
        if (candidate / "model_index.json").is_file():
            return candidate
    raise ModelNotFoundError(f"--model {path} is not a saved DreamPose pipeline (no model_index.json in it or in "
                             f"{path / PIPELINE_DIR}); give a folder written by DreamPosePipeline.save_pretrained")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `dreampose animate`."""
    a = parser.add_argument
    a("--image", action="append", required=True, metavar="IMG",
      help="input image of the person (repeat for several views, paper 6.3)")
    a("--poses", required=True, metavar="POSES", help="folder of DensePose IUV pngs, or a .npy/.npz/.png pose file")
    a("--out", required=True, metavar="FILE", help="output video, .mp4 or .gif")
    a("--model", default=None, metavar="DIR",
      help="saved pipeline folder (default: the newest trained model of the profile in the cache)")
    a("--steps", type=int, default=None, help="denoising steps (default: the profile's sample.steps)")
    a("--image-guidance", type=float, default=None, metavar="S_I", help="image guidance weight s_I (paper 4.4)")
    a("--pose-guidance", type=float, default=None, metavar="S_P", help="pose guidance weight s_p (paper 4.4)")
    a("--scheduler", default=None, choices=["pndm", "ddim", "dpm++", "euler"], help="sampler (paper: pndm)")
    a("--seed", type=int, default=0, help="seed of the initial noise (default 0)")
    a("--frames-per-batch", type=int, default=None, metavar="N", help="frames per UNet call")
    a("--fps", type=float, default=None, help="frames per second of the video (default: the profile's data.fps)")
    a("--height", type=int, default=None, help="output height (default: the profile's data.height)")
    a("--width", type=int, default=None, help="output width (default: the profile's data.width)")
    a("--profile", default="tiny", help=f"one of {', '.join(PROFILES)} or a .yaml path (default tiny)")
    a("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
      help="override a profile setting, e.g. --set sample.steps=50 (repeatable)")


def pick(given, default):
    """A command-line value if given (even 0, which the pipeline then rejects), else the profile's."""
    return default if given is None else given


def run(args: argparse.Namespace) -> Path:
    """Load the model, animate the image(s) with the poses, write the video; returns its path."""
    import numpy as np
    import torch

    from .data.images import load_image
    from .data.pose import read_pose_sequence
    from .guidance import check_scale
    from .pipeline import DreamPosePipeline, make_scheduler
    from .video_io import VIDEO_SUFFIXES, write_video

    profile = load_profile(args.profile, args.overrides)
    sample = profile.sample
    s_image = check_scale("--image-guidance", pick(args.image_guidance, sample.image_guidance_scale))
    s_pose = check_scale("--pose-guidance", pick(args.pose_guidance, sample.pose_guidance_scale))
    out = Path(args.out)
    if out.suffix.lower() not in VIDEO_SUFFIXES:  # fail before the (slow) sampling
        raise ValueError(f"--out {out}: name the video .mp4 or .gif")
    if not out.parent.is_dir() or not os.access(out.parent, os.W_OK):
        state = "does not exist" if not out.parent.is_dir() else "is not writable"
        raise ValueError(f"--out {out}: the folder {out.parent} {state}; create it or choose another --out")
    for flag, value in (("--steps", pick(args.steps, sample.steps)), ("--fps", pick(args.fps, profile.data.fps)),
                        ("--frames-per-batch", pick(args.frames_per_batch, sample.frames_per_batch))):
        if not value > 0:
            raise ValueError(f"{flag} must be positive, got {value}; leave it out to use the profile's value")
    height, width = pick(args.height, profile.data.height), pick(args.width, profile.data.width)
    if height <= 0 or width <= 0:
        raise ValueError(f"--height and --width must be positive, got {height}x{width}")
    poses = read_pose_sequence(args.poses)
    images = [load_image(path, size=(height, width)) for path in args.image]  # bad images fail before the model
    model_dir = resolve_model_dir(args.model) if args.model else default_model_dir(profile)
    pipe = DreamPosePipeline.from_pretrained(model_dir)
    pipe.scheduler = make_scheduler(args.scheduler or sample.scheduler, pipe.scheduler.config)
    if profile.device != "auto":
        pipe.to(profile.device)
    elif torch.cuda.is_available():
        pipe.to("cuda")
    print(f"animating {len(images)} image(s) with {len(poses)} poses using {model_dir}", flush=True)
    frames = pipe(
        images, poses, num_inference_steps=pick(args.steps, sample.steps),
        image_guidance_scale=s_image, pose_guidance_scale=s_pose,
        generator=torch.Generator().manual_seed(args.seed),
        frames_per_batch=pick(args.frames_per_batch, sample.frames_per_batch),
        output_type="np", height=height, width=width,
    ).frames
    path = write_video((frames * 255).round().astype(np.uint8), out, fps=pick(args.fps, profile.data.fps))
    print(f"wrote {len(frames)} frames to {path.resolve()}")
    return path
