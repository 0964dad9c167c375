"""Animating a new person the paper's way (4.2.3, Fig. 5): ``animate_person`` and `dreampose animate`.

    stage-1 model                          the profile's, from the stage graph (``stages.stage1``)
      -> subject finetuning                UNet + adapter on the person's image(s) and their poses,
                                           random crops on (``subject`` settings of the profile)
      -> decoder finetuning                the VAE decoder on the same image(s) (``decoder``)
      -> sampling with dual guidance       one frame per target pose (4.4, ``sample``)

Both finetuned models are cached by a hash of the image and pose bytes and of the settings
(``stages.Subject.key``), so animating the same person again, with other poses, only samples.
``finetune=False`` samples the stage-1 model directly (identity suffers); ``model=DIR`` uses any
saved DreamPosePipeline as it is.

The subject stage needs the pose of every input image: an IUV png / .npy of that image, or the
index of the frame of the target pose sequence the image is (a frame of the driving video).
There is no guessing: without it the call fails and says how to get one.

Every picture and pose is fitted to the profile's frame size the same way (``data.fit``):
``pad`` (default; the whole person stays, the margin takes the border colour) or ``center_crop``.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from .config import Profile, load_profile
from .data.fit import describe_fit, fit_box, fit_frame, fit_iuv, same_aspect
from .data.video import DataError

PIPELINE_DIR = "pipeline"


class ModelNotFoundError(FileNotFoundError):
    """No saved DreamPose pipeline where one was expected; the message says how to get one."""


def say(message: str) -> None:
    print(f"[animate] {message}", flush=True)


def resolve_model_dir(path: str | Path) -> Path:
    """A saved pipeline folder, or an artifact folder holding ``pipeline/``."""
    path = Path(path)
    for candidate in (path, path / PIPELINE_DIR):
        if (candidate / "model_index.json").is_file():
            return candidate
    raise ModelNotFoundError(f"--model {path} is not a saved DreamPose pipeline (no model_index.json in it or in "
                             f"{path / PIPELINE_DIR}); give a folder written by DreamPosePipeline.save_pretrained")


# -- the person and the poses, fitted to the model's frame --------------------------------------
def _label(source, i: int) -> str:
    return str(source) if isinstance(source, (str, Path)) else f"image {i}"


def target_poses(poses, profile: Profile, fit: str = "pad", pose_fps: float | None = None) -> np.ndarray:
    """The driving poses p_1..p_N as IUV (N, H, W, 3) at the profile's size and frame rate.

    ``poses``: a pose folder or file (``read_pose_sequence``), IUV uint8 or UV float arrays.
    A sequence at another frame rate (``pose_fps``) or resolution is resampled, with a warning:
    the 5-pose window spans neighbouring frames at the rate the model was trained with.
    """
    from .data.pose import as_iuv, read_pose_sequence, resample_fps

    iuv = as_iuv(read_pose_sequence(poses) if isinstance(poses, (str, Path)) else poses)
    fps, size = profile.data.fps, (profile.data.height, profile.data.width)
    if pose_fps is not None and abs(pose_fps - fps) > 1e-6:
        keep = resample_fps(len(iuv), pose_fps, fps)
        warnings.warn(f"the poses are at {pose_fps:g} fps, the model's pose window at {fps:g} fps: {len(iuv)} poses "
                      f"resampled to {len(keep)} (nearest frame, same duration)", stacklevel=2)
        iuv = iuv[keep]
    if iuv.shape[1:3] != size:
        box = fit_box(iuv.shape[1:3], size, fit, "the poses")
        warnings.warn(f"the poses are resampled from {describe_fit(iuv.shape[1:3], size, box)} (nearest "
                      "neighbour)", stacklevel=2)
        iuv = fit_iuv(iuv, box, size)
    return iuv


def at_model_fps(index: int, pose_fps: float | None, profile: Profile) -> int:
    """Frame ``index`` of a pose sequence at ``pose_fps``, numbered at the profile's frame rate."""
    return index if pose_fps is None else round(index * profile.data.fps / pose_fps)


def _pose_window(spec, picture_hw, label: str, poses: np.ndarray | None, fit: str, size, n_poses: int) -> np.ndarray:
    """c_p of one input image, (n_poses, H, W, 3) IUV: its neighbours in ``poses`` when ``spec`` is the
    frame index the image has there, else its own pose (a file or an array) repeated."""
    from .data.pose import as_iuv, read_pose_sequence, window_indices

    if isinstance(spec, (int, np.integer)):
        if poses is None or not 0 <= spec < len(poses):
            n = "no poses" if poses is None else f"{len(poses)} poses"
            raise DataError(f"{label}: image pose {spec} is not a frame of the pose sequence ({n}); give the index "
                            "of the frame this image is, or an IUV png of the image")
        return poses[window_indices(int(spec), len(poses), n_poses)]
    if isinstance(spec, (str, Path)):
        iuv = read_pose_sequence(spec)
    else:
        arr = np.asarray(spec)
        iuv = arr[None] if arr.ndim == 3 else arr  # one (H, W, 3) IUV or (2, H, W) UV map
    iuv = as_iuv(iuv)
    if len(iuv) != 1:
        raise DataError(f"{label}: its pose {spec} holds {len(iuv)} poses; give the one IUV image of this picture")
    if not same_aspect(iuv.shape[1:3], picture_hw):
        raise DataError(f"{label} is {picture_hw[1]}x{picture_hw[0]} but its pose is {iuv.shape[2]}x{iuv.shape[1]}; "
                        "run DensePose on this very image (docs/ubc_fashion.md)")
    return np.stack([fit_iuv(iuv[0], fit_box(iuv.shape[1:3], size, fit, label), size)] * n_poses)


def fit_pictures(images, profile: Profile, fit: str = "pad", quiet: bool = False):
    """The person's image(s) at the profile's frame size: (K, H, W, 3) uint8, and each source's (h, w)."""
    from .data.images import load_rgb8

    images = list(images) if isinstance(images, (list, tuple)) else [images]
    if not images:
        raise DataError("no input image: give at least one picture of the person")
    size = (profile.data.height, profile.data.width)
    pictures, sources = [], []
    for i, source in enumerate(images):
        rgb = load_rgb8(source)
        box = fit_box(rgb.shape[:2], size, fit, _label(source, i))
        pictures.append(fit_frame(rgb, box, size))
        sources.append(rgb.shape[:2])
        if not quiet:
            say(f"{_label(source, i)}: {describe_fit(rgb.shape[:2], size, box)}")
    return np.stack(pictures), sources


def person(images, profile: Profile, image_poses, poses: np.ndarray | None = None, fit: str = "pad",
           name: str | None = None, quiet: bool = False):
    """A ``stages.Subject``: the image(s) fitted to the profile's frame, each with its pose window.

    ``image_poses`` has one entry per image: an IUV png / .npy / array of that image, or the
    index of the frame of ``poses`` (the fitted target poses) that the image is. A photo's
    window repeats its one pose; a video frame's window is its neighbours in ``poses``.
    """
    from .stages import Subject

    images = list(images) if isinstance(images, (list, tuple)) else [images]
    specs = [] if image_poses is None else list(image_poses) if isinstance(image_poses, (list, tuple)) else [image_poses]
    if len(specs) != len(images):
        raise DataError(
            "subject finetuning (paper 4.2.3) trains on each input image with its own DensePose pose: "
            f"{len(images)} image(s) but {len(specs)} image pose(s). Give --image-poses POSE (an IUV png of the image; "
            "docs/ubc_fashion.md has the DensePose recipe) or the frame number of --poses the image is, once per "
            "--image; or --no-finetune to sample the stage-1 model (identity suffers)")
    pictures, sources = fit_pictures(images, profile, fit, quiet)
    windows = [_pose_window(spec, src_hw, _label(images[i], i), poses, fit, pictures.shape[1:3], profile.model.n_poses)
               for i, (spec, src_hw) in enumerate(zip(specs, sources))]
    name = name or (Path(images[0]).stem if isinstance(images[0], (str, Path)) else "person")
    return Subject(name, pictures, np.stack(windows))


# -- the procedure ------------------------------------------------------------------------------
def _stage_line(run, stage: str, what: str, settings, **extra) -> None:
    found = run.cache.lookup(run.profile, stage, **extra)
    state = "cached" if found else f"{settings.steps} steps at lr {settings.lr:g}, batch {settings.batch_size}"
    say(f"{what}: {state}")


def finetuned_pipeline(run, subject=None):
    """Fig. 5: the pipeline of ``subject`` (subject stage on the stage-1 model, then the decoder
    stage), a fresh copy; with no subject, the stage-1 model itself."""
    from . import stages

    if not run.cache.lookup(run.profile, "stage1"):
        say(f"stage-1 model of profile {run.profile.name}: not in the cache {run.cache.root}; training it first "
            "(the base model too, if missing), once")
    s1 = stages.stage1(run)
    say(f"stage-1 model: {s1.path}")
    if subject is None:
        say("no finetuning: sampling the stage-1 model, which has never seen this person (identity will suffer)")
        return stages.load_pipeline(s1)
    crops = "random crops on" if run.profile.subject.random_crop else "random crops off"
    _stage_line(run, "subject", f"subject finetuning of UNet + adapter ({crops})", run.profile.subject,
                **stages.subject_inputs(s1, subject))
    sub = stages.subject(run, s1, subject)
    if run.profile.decoder.enabled:
        _stage_line(run, "decoder", "VAE decoder finetuning", run.profile.decoder, **stages.decoder_inputs(subject))
    return stages.load_pipeline(sub, stages.decoder(run, subject))


def animate_person(images, poses, *, profile: str | Profile = "tiny", image_poses=None, finetune: bool = True,
                   model: str | Path | None = None, frames: list[int] | None = None, seed: int = 0,
                   fit: str = "pad", pose_fps: float | None = None, sample: dict | None = None,
                   overrides=(), cache=None, progress: bool = True) -> np.ndarray:
    """Animate a person in ``poses`` the paper's way: (T, H, W, 3) uint8 frames, one per pose.

    images: path(s), PIL image(s) or uint8 array(s) of the person (several views: paper 6.3).
    poses: the driving pose sequence (folder, file, IUV uint8 or UV float array; ``target_poses``).
    image_poses: per image, its IUV (file or array) or its frame index in ``poses``; needed for
        the subject stage (``person``), not with ``finetune=False`` or ``model``.
    frames: indices of the poses to render (default all); identical to those frames of a full render.
    sample: overrides of the profile's ``sample`` section (scheduler, steps, image_guidance_scale, ...).
    """
    from . import stages
    from .cache import Cache

    prof = profile if isinstance(profile, Profile) else load_profile(profile, list(overrides))
    run = stages.Run(prof, cache or Cache(), progress)
    iuv = target_poses(poses, prof, fit, pose_fps)
    if isinstance(image_poses, (list, tuple)):  # frame numbers of the given sequence -> of the resampled one
        image_poses = [at_model_fps(p, pose_fps, prof) if isinstance(p, (int, np.integer)) else p for p in image_poses]
    targets = list(range(len(iuv))) if frames is None else [int(f) for f in frames]
    bad = [f for f in targets if not 0 <= f < len(iuv)]
    if bad or not targets:
        raise DataError(f"frames {bad or targets} are not poses of the sequence (0..{len(iuv) - 1})")
    who = person(images, prof, image_poses, iuv, fit) if finetune and model is None else None
    pictures = who.images if who else fit_pictures(images, prof, fit)[0]
    if model is not None:
        say(f"model {resolve_model_dir(model)} as it is (no finetuning)")
        pipe = _load(resolve_model_dir(model))
    else:
        pipe = finetuned_pipeline(run, who)
    _to_device(pipe, prof)
    settings = stages.sample_settings(run, **(sample or {}))
    say(f"sampling {len(targets)} frames: {settings['scheduler']} {settings['steps']} steps, s_I = "
        f"{settings['image_guidance_scale']:g}, s_p = {settings['pose_guidance_scale']:g} (dual guidance, 4.4)")
    return stages.sample_frames(pipe, pictures, iuv, targets, settings, seed, iuv.shape[1:3], progress=progress)


def _load(folder: Path):
    from .pipeline import DreamPosePipeline

    return DreamPosePipeline.from_pretrained(folder)


def _to_device(pipe, profile: Profile) -> None:
    import torch

    if profile.device != "auto":
        pipe.to(profile.device)
    elif torch.cuda.is_available():
        pipe.to("cuda")
