"""Profiles (smoke | tiny | paper): typed settings, `key=value` overrides, stage hashes.

A profile is a YAML file in ``dreampose/profiles``; it fills the nested dataclasses below.
Every setting has a type; an override with an unknown key or a value of the wrong type is
a ``ConfigError`` naming the key and what is allowed. Each stage's cache key hashes only
the sections that stage depends on (``STAGE_SECTIONS``), so changing the guidance scale
does not retrain anything.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from .settings import ConfigError, set_value, validate

PROFILE_DIR = Path(__file__).parent / "profiles"
PROFILES = ("smoke", "tiny", "paper")


@dataclass
class DataConfig:
    source: Literal["synthetic", "ubc"] = "synthetic"
    root: str = ""  # UBC Fashion root (layout: docs/ubc_fashion.md)
    fit: Literal["error", "center_crop", "pad"] = "error"  # UBC frames of another aspect ratio (data/fit.py)
    width: int = 64
    height: int = 64
    fps: int = 30
    n_train_videos: int = 64
    n_test_videos: int = 8
    min_seconds: float = 2.0
    max_seconds: float = 4.0
    pose_estimate: Literal["exact", "densepose"] = "exact"  # synthetic IUV: exact, or with DensePose's errors


@dataclass
class BaseConfig:
    """The pretrained base: trained here (tiny, smoke) or loaded from the hub (paper)."""

    source: Literal["train", "hub"] = "train"
    pretrained: str = ""  # hub id or folder of an SD-layout checkpoint (source=hub)
    revision: str = ""  # branch, tag or commit of ``pretrained`` on the hub ("" = its default branch)
    image_encoder: str = ""  # hub id or folder of the CLIP image tower ("" = <pretrained>/image_encoder)
    latent_downsample: int = 4  # SD: 8
    latent_channels: int = 4
    vae_channels: list[int] = field(default_factory=lambda: [32, 64, 64])
    clip_width: int = 64
    clip_layers: int = 2
    clip_patch: int = 8
    clip_image_size: int = 64
    text_max_length: int = 24
    unet_channels: list[int] = field(default_factory=lambda: [32, 64])
    cross_attention_dim: int = 64
    vae_steps: int = 1500
    clip_steps: int = 800
    unet_steps: int = 2000
    batch_size: int = 16
    lr: float = 1e-3
    lr_decay: float = 0.2  # the last lr_decay_share of each part's steps run at lr * lr_decay (1 = constant)
    lr_decay_share: float = 0.33
    caption_dropout: float = 0.1
    corpus_subjects: int = 0  # extra synthetic subjects for pretraining (SD's LAION beside UBC); see train/base_data.py
    corpus_frames: int = 8  # frames per corpus subject


@dataclass
class ModelConfig:
    """DreamPose's modifications of the base (paper 4.2)."""

    image_encoder: Literal["clip+vae", "clip"] = "clip+vae"
    n_poses: Literal[1, 5] = 5


@dataclass
class Stage1Config:
    """Finetuning on all training videos (paper 4.2.3, stage 1)."""

    steps: int = 1000  # optimizer steps; paper: 5 epochs
    epochs: float = 0.0  # if > 0, overrides steps by dataset size (paper profile)
    lr: float = 5e-6
    batch_size: int = 4
    grad_accum: int = 4
    image_dropout: float = 0.05  # marginal rate: image dropped (alone or with the pose)
    pose_dropout: float = 0.05  # marginal rate: pose dropped (alone or with the image)
    both_dropout: float = 0.02  # share of samples that drop both (trains eps(∅, ∅))
    checkpoint_every: int = 250
    mixed_precision: Literal["auto", "no", "fp16", "bf16"] = "auto"
    gradient_checkpointing: bool = False
    use_8bit_adam: bool = False
    vae_branch_lr_scale: float = 1.0  # the adapter's VAE branch learns at lr x this (1: the paper, one lr)


@dataclass
class SubjectConfig:
    """Subject-specific finetuning of UNet + adapter (paper 4.2.3, stage 2)."""

    steps: int = 500
    lr: float = 1e-5
    batch_size: int = 4
    n_images: int = 1
    random_crop: bool = True
    crop_scale: float = 0.8  # smallest crop side as a fraction of the frame
    checkpoint_every: int = 250
    seed: int | None = None  # training seed of the subject and decoder stages (None: the profile's seed)
    vae_branch_lr_scale: float = 1.0  # the adapter's VAE branch learns at lr x this (1: the paper, one lr)


@dataclass
class DecoderConfig:
    """VAE decoder finetuning on the subject image(s) (paper 4.2.3)."""

    enabled: bool = True
    steps: int = 1500
    lr: float = 5e-5
    batch_size: int = 4
    checkpoint_every: int = 500


@dataclass
class SampleConfig:
    """Inference (paper 4.4): scheduler, steps and the two guidance weights."""

    scheduler: Literal["pndm", "ddim", "dpm++", "euler"] = "pndm"
    steps: int = 100
    image_guidance_scale: float = 8.0
    pose_guidance_scale: float = 3.0
    frames_per_batch: int = 8
    seed: int | None = None  # seed of the sampling noise (None: the profile's seed); see stages.sample_seed


@dataclass
class EvalConfig:
    """The paper's protocol (section 6): per test video, frames far from the input frame."""

    resolution: int = 256  # comparison size in pixels (paper 256); 0 = model resolution
    n_frames: int = 50
    min_distance: int = 50
    n_videos: int = 0  # 0 = every test video
    n_runs: int = 1  # the n_frames targets come in this many runs of consecutive frames, spread over the video


@dataclass
class Profile:
    name: str = "tiny"
    seed: int = 0
    device: str = "auto"
    data: DataConfig = field(default_factory=DataConfig)
    base: BaseConfig = field(default_factory=BaseConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    stage1: Stage1Config = field(default_factory=Stage1Config)
    subject: SubjectConfig = field(default_factory=SubjectConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def stage_settings(self, stage: str) -> dict[str, Any]:
        """The settings a stage depends on: the sections of ``STAGE_SECTIONS[stage]``, less the
        settings in ``STAGE_IGNORES[stage]`` and the ``HASH_NEUTRAL`` ones that hold their neutral value."""
        if stage not in STAGE_SECTIONS:
            raise ConfigError(f"unknown stage {stage!r}; valid stages: {', '.join(STAGE_SECTIONS)}")
        full = self.to_dict()
        drop = [key for key, neutral in HASH_NEUTRAL.items() if _get(full, key) == neutral]
        for key in {*drop, *STAGE_IGNORES.get(stage, ())}:
            section, name = key.split(".")
            full[section].pop(name, None)
        return {key: full[key] for key in STAGE_SECTIONS[stage]}

    def stage_hash(self, stage: str, **extra: Any) -> str:
        """Stable 12-hex-digit hash of a stage's settings (and ``extra``, e.g. a subject id)."""
        settings = self.stage_settings(stage)
        clash = sorted(set(extra) & (set(settings) | {"stage"}))
        if clash:  # an extra named like a section would replace that section in the hash
            raise ValueError(f"stage_hash extras {clash} are named like settings sections; rename them")
        payload = {"stage": stage, **settings, **extra}
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def override(self, *assignments: str) -> "Profile":
        """Apply ``section.key=value`` strings (values parsed as YAML) in place; returns self."""
        for item in assignments:
            key, sep, raw = item.partition("=")
            if not sep:
                raise ConfigError(f"override {item!r} is not key=value, e.g. stage1.lr=1e-5")
            set_value(self, key.strip(), yaml.safe_load(raw) if raw.strip() else "")
        return self


def subject_seed(profile: Profile) -> int:
    """Training seed of the per-subject stages (subject and decoder finetuning): ``subject.seed``,
    or the profile's seed when it is null."""
    return profile.seed if profile.subject.seed is None else profile.subject.seed


def default_figures(profile: str) -> str:
    """figures/ holds the tiny profile's results (in git); other profiles write beside them."""
    return "figures" if profile == "tiny" else f"figures/{Path(profile).stem}"


# Sections each stage's artifact depends on (the cache key hashes exactly these).
STAGE_SECTIONS: dict[str, tuple[str, ...]] = {
    "data": ("seed", "data"),
    "base": ("seed", "data", "base"),
    "stage1": ("seed", "data", "base", "model", "stage1"),
    "subject": ("seed", "data", "base", "model", "stage1", "subject"),
    "decoder": ("seed", "data", "base", "subject", "decoder"),  # the base VAE: no model or stage-1 settings
    "evaluate": ("seed", "data", "base", "model", "stage1", "subject", "decoder", "sample", "eval"),
}


# Settings inside a stage's sections that its artifact does not depend on: the base and the
# finetuning stages train on training videos or one person, never on the rest of the test split,
# so a shipped base or stage-1 model stays valid when the evaluation grows. (The base does depend
# on data.pose_estimate: its VAE crops are centred on the IUV's foreground.) The decoder stage
# reads the subject section's seed and crops, not how the UNet is trained.
STAGE_IGNORES: dict[str, tuple[str, ...]] = {
    "base": ("data.n_test_videos",),
    "stage1": ("data.n_test_videos",),
    "subject": ("data.n_test_videos",),
    "decoder": ("data.n_test_videos", "subject.steps", "subject.lr", "subject.batch_size", "subject.checkpoint_every"),
}


def _get(settings: dict[str, Any], key: str) -> Any:
    section, name = key.split(".")
    return settings[section][name]


# Settings added after artifacts were cached: left out of the stage settings (and so of the cache
# keys and manifests) while they hold this value, so the artifacts of profiles that never set them
# keep their keys.
HASH_NEUTRAL: dict[str, Any] = {"base.revision": "", "data.pose_estimate": "exact",
                                "subject.seed": None, "sample.seed": None, "eval.n_runs": 1,
                                "stage1.vae_branch_lr_scale": 1.0, "subject.vae_branch_lr_scale": 1.0}


def load_profile(name: str = "tiny", overrides: list[str] | dict[str, Any] | None = None) -> Profile:
    """Load a profile by name (or a path to a YAML file) and apply overrides."""
    path = Path(name)
    if not (path.suffix in {".yaml", ".yml"} and path.exists()):
        if path.suffix in {".yaml", ".yml"}:
            raise ConfigError(f"profile file {path} does not exist; check the path, or use one of {', '.join(PROFILES)}")
        if name not in PROFILES:
            raise ConfigError(f"unknown profile {name!r}; valid profiles: {', '.join(PROFILES)} (or a .yaml path)")
        path = PROFILE_DIR / f"{name}.yaml"
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must be a YAML mapping of settings (section: {{key: value}}), got a "
                          f"{type(raw).__name__}; start from dreampose/profiles/tiny.yaml")
    profile = Profile()
    for key, value in raw.items():
        set_value(profile, key, value)
    if isinstance(overrides, dict):
        for key, value in overrides.items():
            set_value(profile, key, value)
    elif overrides:
        profile.override(*overrides)
    validate(profile)
    return profile
