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
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

PROFILE_DIR = Path(__file__).parent / "profiles"
PROFILES = ("smoke", "tiny", "paper")


class ConfigError(ValueError):
    """A profile or override that does not fit the schema."""


@dataclass
class DataConfig:
    source: Literal["synthetic", "ubc"] = "synthetic"
    root: str = ""  # UBC Fashion root (layout: docs/ubc_fashion.md)
    fit: Literal["error", "center_crop"] = "error"  # UBC frames of another aspect ratio
    width: int = 64
    height: int = 64
    fps: int = 30
    n_train_videos: int = 64
    n_test_videos: int = 8
    min_seconds: float = 2.0
    max_seconds: float = 4.0


@dataclass
class BaseConfig:
    """The pretrained base: trained here (tiny, smoke) or loaded from the hub (paper)."""

    source: Literal["train", "hub"] = "train"
    pretrained: str = ""  # hub id or folder of an SD-layout checkpoint (source=hub)
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


@dataclass
class EvalConfig:
    """The paper's protocol (section 6): per test video, frames far from the input frame."""

    resolution: int = 256  # comparison size in pixels (paper 256); 0 = model resolution
    n_frames: int = 50
    min_distance: int = 50
    n_videos: int = 0  # 0 = every test video


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
        """The settings a stage depends on: the sections of ``STAGE_SECTIONS[stage]``."""
        if stage not in STAGE_SECTIONS:
            raise ConfigError(f"unknown stage {stage!r}; valid stages: {', '.join(STAGE_SECTIONS)}")
        full = self.to_dict()
        return {key: full[key] for key in STAGE_SECTIONS[stage]}

    def stage_hash(self, stage: str, **extra: Any) -> str:
        """Stable 12-hex-digit hash of a stage's settings (and ``extra``, e.g. a subject id)."""
        payload = {"stage": stage, **self.stage_settings(stage), **extra}
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


# Sections each stage's artifact depends on (the cache key hashes exactly these).
def default_figures(profile: str) -> str:
    """figures/ holds the tiny profile's results (in git); other profiles write beside them."""
    return "figures" if profile == "tiny" else f"figures/{Path(profile).stem}"


STAGE_SECTIONS: dict[str, tuple[str, ...]] = {
    "data": ("seed", "data"),
    "base": ("seed", "data", "base"),
    "stage1": ("seed", "data", "base", "model", "stage1"),
    "subject": ("seed", "data", "base", "model", "stage1", "subject"),
    "decoder": ("seed", "data", "base", "model", "stage1", "subject", "decoder"),
    "evaluate": ("seed", "data", "base", "model", "stage1", "subject", "decoder", "sample", "eval"),
}


def _describe(tp: Any) -> str:
    if typing.get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if typing.get_origin(tp) is list:
        return f"a list of {typing.get_args(tp)[0].__name__}"
    return getattr(tp, "__name__", str(tp))


def _coerce(key: str, tp: Any, value: Any) -> Any:
    """Check ``value`` against the annotation ``tp``; int -> float is the only conversion."""
    origin = typing.get_origin(tp)
    ok: bool
    if origin is Literal:
        ok = value in typing.get_args(tp) and type(value) in {type(a) for a in typing.get_args(tp)}
    elif origin is list:
        item = typing.get_args(tp)[0]
        ok = isinstance(value, list) and all(
            isinstance(v, item) and not isinstance(v, bool) for v in value
        )
    elif tp is float:
        if isinstance(value, str):  # YAML reads "1e-5" (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is str:
        ok = isinstance(value, str)
        if not ok and value is None:
            value, ok = "", True
    else:
        ok = isinstance(value, tp)
    if not ok:
        raise ConfigError(f"{key} must be {_describe(tp)}, got {value!r}")
    return value


def set_value(profile: Profile, key: str, value: Any) -> None:
    """Set a dotted key (``stage1.lr``) with type checking; unknown keys list the valid ones."""
    obj: Any = profile
    parts = key.split(".")
    for depth, part in enumerate(parts):
        hints = typing.get_type_hints(type(obj))
        if part not in hints:
            prefix = ".".join(parts[:depth])
            valid = ", ".join((f"{prefix}.{k}" if prefix else k) for k in hints)
            raise ConfigError(f"unknown setting {key!r}; valid keys here: {valid}")
        tp = hints[part]
        last = depth == len(parts) - 1
        if dataclasses.is_dataclass(tp):
            if last:
                if not isinstance(value, dict):
                    raise ConfigError(f"{key} is a section; set its keys, e.g. {key}.<key>=value")
                for sub, v in value.items():
                    set_value(profile, f"{key}.{sub}", v)
                return
            obj = getattr(obj, part)
        elif not last:
            raise ConfigError(f"{'.'.join(parts[: depth + 1])} is a setting, not a section")
        else:
            setattr(obj, part, _coerce(key, tp, value))


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


def validate(p: Profile) -> None:
    """Range checks that types alone cannot express."""
    positive = {
        "data.width": p.data.width, "data.height": p.data.height, "data.fps": p.data.fps,
        "stage1.lr": p.stage1.lr, "stage1.batch_size": p.stage1.batch_size,
        "stage1.grad_accum": p.stage1.grad_accum, "subject.lr": p.subject.lr,
        "subject.steps": p.subject.steps, "subject.batch_size": p.subject.batch_size,
        "subject.n_images": p.subject.n_images, "decoder.lr": p.decoder.lr,
        "decoder.steps": p.decoder.steps, "decoder.batch_size": p.decoder.batch_size,
        "sample.steps": p.sample.steps, "sample.frames_per_batch": p.sample.frames_per_batch,
        "base.batch_size": p.base.batch_size, "base.lr": p.base.lr,
    }
    if p.stage1.epochs <= 0:  # steps count only when epochs does not set them
        positive["stage1.steps"] = p.stage1.steps
    for key, value in positive.items():
        if not (value > 0 and math.isfinite(value)):
            raise ConfigError(f"{key} must be > 0, got {value}; set a positive finite number (--set {key}=<value>)")
    non_negative = {
        "stage1.epochs": p.stage1.epochs, "stage1.checkpoint_every": p.stage1.checkpoint_every,
        "subject.checkpoint_every": p.subject.checkpoint_every,
        "decoder.checkpoint_every": p.decoder.checkpoint_every, "base.vae_steps": p.base.vae_steps,
        "base.clip_steps": p.base.clip_steps, "base.unet_steps": p.base.unet_steps,
    }
    for key, value in non_negative.items():
        if not value >= 0:
            raise ConfigError(f"{key} must be >= 0, got {value}; set 0 or more (--set {key}=<value>)")
    for key in ("stage1.image_dropout", "stage1.pose_dropout", "base.caption_dropout"):
        section, name = key.split(".")
        value = getattr(getattr(p, section), name)
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"{key} must be in [0, 1], got {value}")
    s1 = p.stage1
    if not 0.0 <= s1.both_dropout <= min(s1.image_dropout, s1.pose_dropout):
        raise ConfigError("stage1.both_dropout must be in [0, min(stage1.image_dropout, stage1.pose_dropout)]")
    if s1.image_dropout + s1.pose_dropout - s1.both_dropout > 1.0:
        raise ConfigError("stage1 dropout rates add up to more than 1 (image + pose - both)")
    for key in ("sample.image_guidance_scale", "sample.pose_guidance_scale"):
        value = getattr(p.sample, key.split(".")[1])
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"{key} must be a finite number, got {value}; e.g. --set {key}=3 (paper: s_I 8, s_p 3)")
    if p.seed < 0:
        raise ConfigError(f"seed must be >= 0 (numpy seeds are non-negative), got {p.seed}; e.g. --set seed=0")
    f = p.base.latent_downsample
    if f > 0 and (p.data.width % f or p.data.height % f):
        raise ConfigError(f"data.width and data.height must be multiples of base.latent_downsample={f} (the VAE's "
                          f"downsampling), got {p.data.width}x{p.data.height}; round them to a multiple of {f}")
    if p.data.min_seconds > p.data.max_seconds:
        raise ConfigError("data.min_seconds must be <= data.max_seconds")
    if not 0.0 < p.subject.crop_scale <= 1.0:
        raise ConfigError(f"subject.crop_scale must be in (0, 1], got {p.subject.crop_scale}")
    if p.data.source == "ubc" and not p.data.root:
        raise ConfigError("data.source=ubc needs data.root=<folder of UBC Fashion> (see docs/ubc_fashion.md)")
    if p.base.source == "hub" and not p.base.pretrained:
        raise ConfigError("base.source=hub needs base.pretrained=<hub id or folder>")
