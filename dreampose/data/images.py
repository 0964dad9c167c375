"""Images in one place: uint8 frames <-> [-1, 1] tensors, loading a user's image safely, and
turning images into the model's inputs (``as_image_batch`` for the VAE, ``clip_preprocess``
for the CLIP image encoder), shared by the pipeline and the finetuning stages.

``load_image`` accepts a path, a PIL image or an array, converts what can be converted
(grayscale, RGBA, 16-bit, another size) with a warning that says what was done, turns a
camera photo upright (EXIF orientation), and turns what cannot be read into a ``DataError``
that names the file.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from .video import DataError


def to_minus1_1(x: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1] (the VAE's range), any shape."""
    return x.float() / 127.5 - 1.0


def video_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) or (H, W, 3) uint8 -> (T, 3, H, W) or (3, H, W) float in [-1, 1]."""
    return to_minus1_1(torch.tensor(np.asarray(frames))).movedim(-1, -3)


def tensor_to_uint8(x: torch.Tensor) -> np.ndarray:
    """(…, 3, H, W) float in [-1, 1] -> (…, H, W, 3) uint8."""
    x = ((x.detach().float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return x.movedim(-3, -1).cpu().numpy()


def _is_16bit(img: Image.Image) -> bool:
    """16 bits per channel; Pillow opens 16-bit RGB(A) PNGs as 8-bit modes, seen only in the tile."""
    raw = [t[3] for t in getattr(img, "tile", None) or [] if len(t) > 3 and isinstance(t[3], str)]
    return img.mode.startswith("I;16") or any(";16" in r for r in raw)


def _to_rgb8(img: Image.Image, name: str) -> np.ndarray:
    sixteen = _is_16bit(img)  # before load(), which clears the tile
    img.load()
    img = ImageOps.exif_transpose(img)  # camera photos: upright as any viewer shows them
    if sixteen or img.mode == "I":
        warnings.warn(f"{name}: 16-bit image converted to 8 bits per channel", stacklevel=3)
    if img.mode.startswith("I"):  # 16-bit (or 32-bit integer) grayscale: 0..65535 -> 0..255
        arr = np.clip(np.asarray(img, dtype=np.float64), 0, 65535) / 257.0
        return np.repeat(arr.round().astype(np.uint8)[..., None], 3, axis=-1)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        warnings.warn(f"{name}: transparency flattened onto a white background", stacklevel=3)
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    if img.mode in ("L", "1"):
        warnings.warn(f"{name}: grayscale image converted to RGB", stacklevel=3)
    elif img.mode not in ("RGB", "P"):  # a palette converts losslessly: no note
        warnings.warn(f"{name}: {img.mode} image converted to RGB", stacklevel=3)
    return np.asarray(img.convert("RGB"))


def load_rgb8(source) -> np.ndarray:
    """A path, PIL image or array -> (H, W, 3) uint8 RGB at its own size (conversions warned)."""
    name = _name(source)
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise DataError(f"image {path} does not exist; check the path")
        try:
            with Image.open(path) as img:
                arr = _to_rgb8(img, name)
        except (UnidentifiedImageError, OSError, SyntaxError) as err:
            raise DataError(f"cannot read image {path} ({err}); is it a complete PNG/JPEG file?") from None
    elif isinstance(source, Image.Image):
        arr = _to_rgb8(source, name)
    elif isinstance(source, np.ndarray):
        arr = source
        if arr.dtype == np.uint16:
            warnings.warn(f"{name}: 16-bit array converted to 8 bits per channel", stacklevel=2)
            arr = (arr / 257.0).round().astype(np.uint8)
        if arr.dtype != np.uint8:
            raise DataError(f"an image array must be uint8 (0..255), got {arr.dtype}; "
                            "convert with (x * 255).round().astype(np.uint8)")
        if arr.ndim == 3 and arr.shape[-1] == 1:
            arr = arr[..., 0]
        if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] == 4):  # grayscale / RGBA: as for files
            arr = _to_rgb8(Image.fromarray(arr), name)
        elif arr.ndim != 3 or arr.shape[-1] != 3:
            raise DataError(f"an image array must be (H, W, 3) uint8 RGB, got shape {arr.shape}")
    else:
        raise DataError(f"cannot use {type(source).__name__} as an image: "
                        "give a path, a PIL image or an (H, W, 3) uint8 array")
    if 0 in arr.shape[:2]:
        raise DataError(f"{name}: the image has no pixels ({arr.shape[1]}x{arr.shape[0]}); give a picture of the person")
    return arr


def _name(source) -> str:
    return str(source) if isinstance(source, (str, Path)) else type(source).__name__


def load_image(source, size: tuple[int, int] | None = None) -> torch.Tensor:
    """A path, PIL image or array -> (3, H, W) float in [-1, 1], resized to ``size`` = (H, W)."""
    name = _name(source)
    x = video_to_tensor(load_rgb8(source))
    if size is not None and tuple(x.shape[-2:]) != tuple(size):
        (h, w), (th, tw) = x.shape[-2:], size
        same_aspect = abs(w * th / (h * tw) - 1) <= 0.01
        stretch = "" if same_aspect else "; the aspect ratio changed, crop it first to avoid stretching"
        warnings.warn(f"{name}: resized from {h}x{w} to {th}x{tw} (height x width){stretch}", stacklevel=2)
        x = F.interpolate(x[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]
    return x


def clip_preprocess(images: torch.Tensor, feature_extractor) -> torch.Tensor:
    """CLIPImageProcessor's steps in torch, batched: [-1, 1] images (B, 3, H, W) -> pixel_values.

    Resize the shortest edge to ``size["shortest_edge"]`` (bicubic, antialiased, one axis at a
    time like PIL), centre-crop to ``crop_size``, normalise by CLIP's mean and std. (The PIL
    processor is slow, and torchvision, its fast backend, is not used in this project.)
    """
    crop = feature_extractor.crop_size
    ch, cw = crop["height"], crop["width"]
    shortest = (getattr(feature_extractor, "size", None) or {}).get("shortest_edge", max(ch, cw))
    x = (images.float() + 1.0) / 2.0
    h, w = x.shape[-2:]
    short = max(shortest, ch, cw)  # the long edge is truncated, as transformers does
    size = (short, int(short * w / h)) if h <= w else (int(short * h / w), short)
    for step in ((h, size[1]), size):  # width, then height, clipped in between, as PIL resamples
        if step != tuple(x.shape[-2:]):
            x = F.interpolate(x, size=step, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)
    top, left = (size[0] - ch) // 2, (size[1] - cw) // 2
    x = x[..., top:top + ch, left:left + cw]
    mean = torch.tensor(feature_extractor.image_mean, dtype=x.dtype, device=x.device)[:, None, None]
    std = torch.tensor(feature_extractor.image_std, dtype=x.dtype, device=x.device)[:, None, None]
    return (x - mean) / std


def as_image_batch(image, size: tuple[int, int]) -> torch.Tensor:
    """One or several images (path, PIL, uint8 array, or [-1, 1] tensor) -> (K, 3, H, W)."""
    if isinstance(image, torch.Tensor) and image.ndim == 4:  # (K, 3, H, W): K views
        image = list(image)
    items = image if isinstance(image, (list, tuple)) else [image]
    if not items:
        raise DataError("no input image: give at least one image of the person")
    out = []
    for item in items:
        if isinstance(item, torch.Tensor):
            x = item
            if x.ndim != 3 or x.shape[0] != 3 or not x.is_floating_point():
                raise DataError(f"an image tensor must be float (3, H, W) in [-1, 1], got shape {tuple(item.shape)} "
                                f"{item.dtype}; give uint8 pictures as (H, W, 3) numpy arrays or PIL images")
            if not torch.isfinite(x).all() or x.min() < -1.001 or x.max() > 1.001:
                raise DataError("an image tensor must lie in [-1, 1]; convert with x * 2 - 1 from [0, 1]")
            if tuple(x.shape[-2:]) != tuple(size):
                x = F.interpolate(x[None].float(), size=size, mode="bilinear", antialias=True)[0]
            out.append(x.float())
        else:
            out.append(load_image(item, size=size))
    return torch.stack(out)
