"""Typed settings: ``set_value`` of a dotted key with type checks, and the range checks of a
whole profile (``validate``) that types alone cannot express."""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .config import Profile


class ConfigError(ValueError):
    """A profile or override that does not fit the schema."""


def _optional(tp: Any) -> Any:
    """``X`` of an ``X | None`` annotation, else None."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0]
    return None


def _describe(tp: Any) -> str:
    if _optional(tp) is not None:
        return f"{_describe(_optional(tp))} or null"
    if typing.get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if typing.get_origin(tp) is list:
        return f"a list of {typing.get_args(tp)[0].__name__}"
    return getattr(tp, "__name__", str(tp))


def _coerce(key: str, tp: Any, value: Any) -> Any:
    """Check ``value`` against the annotation ``tp``; int -> float is the only conversion."""
    inner = _optional(tp)
    if inner is not None:  # X | None: null, or a value of X
        if value is None:
            return None
        try:
            return _coerce(key, inner, value)
        except ConfigError:
            raise ConfigError(f"{key} must be {_describe(tp)}, got {value!r}") from None
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


def nearest_sizes(a: int, b: int, multiple: int) -> str:
    """The sizes nearest to ``a x b`` whose sides are positive multiples of ``multiple``, rounded
    down and up: nearest_sizes(500, 640, 8) = '496x640 or 504x640'."""
    def down(v: int) -> int:
        return max(multiple, v // multiple * multiple)

    def up(v: int) -> int:
        return max(multiple, -(-v // multiple) * multiple)

    return " or ".join(dict.fromkeys([f"{down(a)}x{down(b)}", f"{up(a)}x{up(b)}"]))


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
    for key, value in (("subject.seed", p.subject.seed), ("sample.seed", p.sample.seed)):
        if value is not None and value < 0:
            raise ConfigError(f"{key} must be >= 0 or null (the profile's seed), got {value}; e.g. --set {key}=1")
    f, w, h = p.base.latent_downsample, p.data.width, p.data.height
    if f > 0 and (w % f or h % f):
        raise ConfigError(f"data.width and data.height must be multiples of base.latent_downsample={f} (the VAE's "
                          f"downsampling), got {w}x{h} (width x height); the nearest valid sizes are "
                          f"{nearest_sizes(w, h, f)}")
    if p.data.min_seconds > p.data.max_seconds:
        raise ConfigError("data.min_seconds must be <= data.max_seconds")
    if not 0.0 < p.subject.crop_scale <= 1.0:
        raise ConfigError(f"subject.crop_scale must be in (0, 1], got {p.subject.crop_scale}")
    if p.data.source == "ubc" and p.data.pose_estimate != "exact":
        raise ConfigError("data.pose_estimate applies to the synthetic world; UBC Fashion's poses are DensePose "
                          "estimates already (leave data.pose_estimate=exact)")
    if p.data.source == "ubc" and not p.data.root:
        raise ConfigError("data.source=ubc needs data.root=<folder of UBC Fashion> (see docs/ubc_fashion.md)")
    if p.base.source == "hub" and not p.base.pretrained:
        raise ConfigError("base.source=hub needs base.pretrained=<hub id or folder>")
