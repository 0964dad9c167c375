"""The stage graph in the paper's order (Fig. 2 and Fig. 5), one cached function per stage.

    data     (run)                      -> World     the synthetic world, or UBC Fashion (5.2)
    base     (run)                      -> Base      the tiny base trained here, or SD + CLIP from the hub
    stage1   (run)                      -> Artifact  UNet + adapter on all training videos (4.2.3)
    subject  (run, stage1, Subject)     -> Artifact  UNet + adapter on one person's image(s) and poses
    decoder  (run, Subject)             -> Artifact  the base VAE's decoder on the same image(s)
    frames   (run, model, Subject, poses, targets, sample) -> frames   dual-guided samples (4.4)

A ``Model`` to sample is a stage-1 or subject artifact's UNet + adapter, with the decoder
artifact's VAE where there is one (``finetuned``). The decoder stage starts from the base VAE,
which stage 1 and the subject stage leave frozen, and reads only the images, so the variants that
differ in the UNet or adapter (Ours_Full, Ours_CLIP, Ours_1-pose) share one decoder per person.

A variant (Ours_CLIP, Ours_1-pose, ...) is another ``Run`` (``run.variant(...)``). Each stage
writes one artifact under its name and the hash of the settings it depends on (``cache``);
interrupted, it resumes from its last checkpoint. The subject and decoder stages take a
``Subject`` (images and their poses), never a test-video index, so a user's photo goes through
the same code as the evaluation protocol. Scoring lives in ``dreampose.evaluate``; it receives
trained models and never trains.
"""
from __future__ import annotations

import copy
import hashlib
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from .cache import Artifact, Cache
from .config import Profile
from .files import atomic_path
from .progress import shown


@dataclass(frozen=True)
class Run:
    """What every stage needs: the profile, the artifact cache, whether to draw progress bars, and
    how many processes (one torch thread each) finetune many subjects at once (``workers``)."""

    profile: Profile
    cache: Cache = field(default_factory=Cache)
    progress: bool = True
    workers: int = 1

    def variant(self, *overrides: str) -> "Run":
        """The same run with ``section.key=value`` overrides on a copy of the profile."""
        return replace(self, profile=copy.deepcopy(self.profile).override(*overrides))

    def quiet(self) -> "Run":
        return replace(self, progress=False)


@dataclass(frozen=True, eq=False)
class Subject:
    """One person (paper 4.2.3): input image(s) x0 and the DensePose IUV window of each.

    images: (K, H, W, 3) uint8; pose_windows: (K, n_poses, H, W, 3) uint8 IUV, the window of
    poses around each image (a still photo repeats its one pose). ``key`` hashes both, so a
    finetuned model is found again for the same person whatever the name.
    """

    name: str
    images: np.ndarray
    pose_windows: np.ndarray
    frames: tuple[int, ...] = ()  # where the images come from in their video, if they do (not hashed)

    @classmethod
    def from_video(cls, video, frames: list[int], n_poses: int) -> "Subject":
        """Frames ``frames`` of ``video`` as the input images, each with its window of neighbours."""
        from .data.pose import window_indices

        windows = [video.iuv[window_indices(i, len(video), n_poses)] for i in frames]
        return cls(video.name, video.frames[list(frames)], np.stack(windows), tuple(int(i) for i in frames))

    @cached_property
    def key(self) -> str:
        return _digest(self.images, self.pose_windows)

    @cached_property
    def images_key(self) -> str:
        """Hash of the images alone: what the decoder stage reads."""
        return _digest(self.images)


def _digest(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for arr in arrays:
        digest.update(repr((arr.shape, str(arr.dtype))).encode())
        digest.update(np.ascontiguousarray(arr).tobytes())
    return digest.hexdigest()[:16]


def data(run: Run):
    """The profile's world: rendered once into the cache (synthetic) or read from disk (UBC)."""
    from .data.world import load_world

    return load_world(run.profile, run.cache, progress=run.progress)


def _base_folder(run: Run) -> str | Path:
    """Where the base lives: the hub id (``base.source: hub``) or its cached artifact, trained if missing."""
    from .train.base import pretrain_base

    if run.profile.base.source == "hub":
        return run.profile.base.pretrained
    return run.cache.artifact(run.profile, "base",
                              lambda work: pretrain_base(run.profile, data(run), work, run.progress)).path


def base(run: Run):
    """The pretrained base: trained here and cached (``base.source: train``) or from the hub."""
    from .models.base import load_base_from

    b = run.profile.base
    if b.source == "hub":
        return load_base_from(b.pretrained, b.image_encoder, b.revision)
    return load_base_from(_base_folder(run))


def base_vae(run: Run):
    """The base's VAE alone (what the decoder stage starts from), without loading the other parts."""
    from diffusers import AutoencoderKL

    return AutoencoderKL.from_pretrained(_base_folder(run), subfolder="vae", revision=run.profile.base.revision or None)


def _pipeline_in(folder: Path, decoder_folder: Path | None = None):
    from diffusers import AutoencoderKL

    from .pipeline import DreamPosePipeline
    from .train.finetune import PIPELINE_DIR, VAE_DIR

    pipe = DreamPosePipeline.from_pretrained(folder / PIPELINE_DIR)
    if decoder_folder is not None:
        pipe.register_modules(vae=AutoencoderKL.from_pretrained(decoder_folder / VAE_DIR))
    return pipe


def load_pipeline(artifact: Artifact, decoder_model: Artifact | None = None):
    """The DreamPosePipeline saved in a stage1 / subject artifact, with the VAE of ``decoder_model``
    if given (a fresh copy, e.g. to train)."""
    return _pipeline_in(artifact.path, decoder_model.path if decoder_model else None)


def vae_path(artifact: Artifact) -> Path:
    """The folder of the VAE a stage1 / subject / decoder artifact holds (``AutoencoderKL.from_pretrained``)."""
    from .train.finetune import PIPELINE_DIR, VAE_DIR

    return artifact.path / (VAE_DIR if artifact.stage == "decoder" else f"{PIPELINE_DIR}/vae")


_shared_pipeline = lru_cache(maxsize=2)(_pipeline_in)  # sampling many videos with one model loads it once


def stage1(run: Run, snapshots: tuple[int, ...] = ()) -> Artifact:
    """Stage 1: UNet + adapter finetuned on all training videos, with conditioning dropout.
    With ``snapshots`` (optimizer steps) the artifact also keeps the model after each of them
    (``stage1_snapshot``): one run gives a whole training curve. The weights are the same."""
    from .train.finetune import train_stage1

    steps = tuple(sorted(set(int(n) for n in snapshots)))
    return run.cache.artifact(run.profile, "stage1",
                              lambda work: train_stage1(run.profile, data(run), base(run), work, run.progress, steps),
                              collective=True, **({"snapshots": list(steps)} if steps else {}))


def stage1_snapshot(stage1_model: Artifact, step: int) -> Artifact:
    """The stage-1 model after ``step`` optimizer steps, kept by ``stage1.snapshots``."""
    from .train.finetune import snapshot_dir

    folder = snapshot_dir(stage1_model.path, step)
    if not (folder / "pipeline" / "model_index.json").is_file():
        kept = stage1_model.manifest.get("settings", {}).get("snapshots", [])
        raise FileNotFoundError(f"stage 1 {stage1_model.path} kept snapshots after {kept} steps, not {step}; "
                                f"train it with stages.stage1(run, snapshots=[{step}])")
    return Artifact("stage1", f"{stage1_model.key}-step{step}", folder, stage1_model.manifest, True)


def subject(run: Run, stage1_model: Artifact, person: Subject) -> Artifact:
    """Stage 2: the stage-1 UNet + adapter finetuned on ``person``'s image(s) and poses."""
    from .train.finetune import train_subject

    def build(work: Path) -> dict:
        return train_subject(run.profile, load_pipeline(stage1_model), person, work, run.progress)

    return run.cache.artifact(run.profile, "subject", build, collective=True, **subject_inputs(stage1_model, person))


def subject_inputs(stage1_model: Artifact, person: Subject) -> dict[str, str]:
    """What the subject stage's cache key hashes besides the profile's settings."""
    return {"person": person.key, "stage1_model": stage1_model.key}


def decoder(run: Run, person: Subject) -> Artifact | None:
    """The base VAE's decoder finetuned on ``person``'s image(s), encoder frozen; None with
    ``decoder.enabled: false`` (Ours_No-VAE-FT). It depends on the images alone, not on the UNet
    or adapter, so one serves every variant that shares the images."""
    from .train.finetune import train_decoder

    if not run.profile.decoder.enabled:
        return None

    def build(work: Path) -> dict:
        return train_decoder(run.profile, base_vae(run), person, work, run.progress)

    return run.cache.artifact(run.profile, "decoder", build, collective=True, **decoder_inputs(person))


def decoder_inputs(person: Subject) -> dict[str, str]:
    """What the decoder stage's cache key hashes besides the profile's settings: the images alone."""
    return {"images": person.images_key}


def finetuned(run: Run, stage1_model: Artifact, person: Subject) -> "Model":
    """Fig. 5: the subject stage, then the decoder stage, for one person: the model to sample."""
    return Model.of(subject(run, stage1_model, person), decoder(run, person))


def sample_settings(run: Run, **overrides) -> dict:
    """The profile's ``sample`` section as a dict, with ``overrides`` (e.g. image_guidance_scale=5.0).
    Its ``seed`` is left out: the noise comes from ``sample_seed(run.profile)``, which the frame
    store's key holds on its own (so the keys of frames sampled before the setting existed stay)."""
    settings = asdict(run.profile.sample)
    settings.pop("seed")
    return {**settings, **overrides}


def sample_frames(pipe, images, iuv: np.ndarray, targets: list[int], sample: dict, seed: int,
                  size: tuple[int, int], progress: bool = False) -> np.ndarray:
    """Render poses ``targets`` of the IUV sequence ``iuv`` from ``images`` with dual guidance
    (paper 4.4): (len(targets), H, W, 3) uint8. The one sampling call of the package."""
    import torch

    from .pipeline import make_scheduler

    pipe.set_progress_bar_config(disable=not shown(progress), desc=f"sampling {len(targets)} frames")
    pipe.scheduler = make_scheduler(sample["scheduler"], pipe.scheduler.config)
    out = pipe(list(images), iuv, frames=list(targets), num_inference_steps=sample["steps"],
               image_guidance_scale=sample["image_guidance_scale"], pose_guidance_scale=sample["pose_guidance_scale"],
               frames_per_batch=sample["frames_per_batch"], output_type="np",
               generator=torch.Generator().manual_seed(seed), height=size[0], width=size[1])
    return (out.frames * 255).round().astype(np.uint8)


def sample_seed(profile: Profile) -> int:
    """The seed sampling draws its noise from: ``sample.seed``, or the profile's seed when it is
    null. The one home of that rule (the evaluation's frames, the explorer, the timings)."""
    return profile.seed if profile.sample.seed is None else profile.sample.seed


def sampling_seed(seed: int, name: str) -> int:
    """Sampling seed of one subject's video: independent of the order and number of videos."""
    return int.from_bytes(hashlib.sha256(f"sample/{seed}/{name}".encode()).digest()[:8], "little") >> 1


@dataclass(frozen=True)
class Model:
    """A DreamPose model to sample: a cache ``key`` naming its weights and ``load()`` -> pipeline."""

    key: str
    load: Callable[[], object]

    @classmethod
    def of(cls, artifact: Artifact, decoder_model: Artifact | None = None) -> "Model":
        """The UNet + adapter of a stage1 / subject ``artifact``, with the VAE of ``decoder_model`` if given."""
        if decoder_model is None:
            return cls(f"{artifact.stage}/{artifact.key}", lambda: _shared_pipeline(artifact.path))
        return cls(f"{artifact.stage}/{artifact.key}+decoder/{decoder_model.key}",
                   lambda: _shared_pipeline(artifact.path, decoder_model.path))


def frames(run: Run, model: Model, person: Subject, iuv: np.ndarray, targets: list[int], sample: dict) -> np.ndarray:
    """``sample_frames`` of ``person`` in poses ``targets`` of ``iuv``, cached: ``model.load()``
    runs only when these frames were never rendered with these settings."""
    from .pipeline import NOISE_DRAW

    seed = sample_seed(run.profile)
    key = hashlib.sha256(repr((model.key, sorted(sample.items()), person.key, list(targets), seed,
                               NOISE_DRAW)).encode()).hexdigest()[:16]
    path = run.cache.root / "frames" / f"{person.name}-{key}.npy"  # the name also picks the sampling seed
    if path.is_file():
        return np.load(path)
    out = sample_frames(model.load(), person.images, iuv, targets, sample, sampling_seed(seed, person.name),
                        person.images.shape[1:3])
    with atomic_path(path) as tmp:
        np.save(tmp, out)
    return out
