"""Image conversions: uint8 frames <-> [-1, 1] tensors, and loading a user's image safely.

``load_image`` accepts a path, a PIL image or an array, converts what can be converted
(grayscale, RGBA, 16-bit, another size) with a warning that says what was done, and turns
what cannot be read into a ``DataError`` that names the file.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from .video import DataError


def video_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) or (H, W, 3) uint8 -> (T, 3, H, W) or (3, H, W) float in [-1, 1]."""
    x = torch.tensor(np.asarray(frames)).float() / 127.5 - 1.0
    return x.movedim(-1, -3)


def tensor_to_uint8(x: torch.Tensor) -> np.ndarray:
    """(…, 3, H, W) float in [-1, 1] -> (…, H, W, 3) uint8."""
    x = ((x.detach().float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return x.movedim(-3, -1).cpu().numpy()


def _to_rgb8(img: Image.Image, name: str) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        warnings.warn(f"{name}: 16-bit image converted to 8-bit RGB", stacklevel=3)
        arr = np.asarray(img).astype(np.float64)
        arr = (arr / max(arr.max(), 1.0) * 255.0) if arr.max() > 255 else arr
        return np.repeat(arr.round().astype(np.uint8)[..., None], 3, axis=-1)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        warnings.warn(f"{name}: transparency flattened onto a white background", stacklevel=3)
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    if img.mode in ("L", "1"):
        warnings.warn(f"{name}: grayscale image converted to RGB", stacklevel=3)
    elif img.mode != "RGB":
        warnings.warn(f"{name}: {img.mode} image converted to RGB", stacklevel=3)
    return np.asarray(img.convert("RGB"))


def load_image(source, size: tuple[int, int] | None = None) -> torch.Tensor:
    """A path, PIL image or array -> (3, H, W) float in [-1, 1], resized to ``size`` = (H, W)."""
    name = str(source) if isinstance(source, (str, Path)) else type(source).__name__
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise DataError(f"image {path} does not exist; check the path")
        try:
            with Image.open(path) as img:
                img.load()
                arr = _to_rgb8(img, name)
        except (UnidentifiedImageError, OSError, SyntaxError) as err:
            raise DataError(f"cannot read image {path} ({err}); is it a complete PNG/JPEG file?") from None
    elif isinstance(source, Image.Image):
        arr = _to_rgb8(source, name)
    elif isinstance(source, np.ndarray):
        arr = source
        if arr.ndim == 2:
            warnings.warn("grayscale array converted to RGB", stacklevel=2)
            arr = np.repeat(arr[..., None], 3, axis=-1)
        if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
            raise DataError(f"an image array must be (H, W, 3) uint8, got shape {arr.shape}")
        if arr.shape[-1] == 4:
            warnings.warn("RGBA array: alpha channel dropped", stacklevel=2)
            arr = arr[..., :3]
        if arr.dtype != np.uint8:
            if arr.dtype == np.uint16:
                warnings.warn("16-bit array converted to 8-bit", stacklevel=2)
                arr = (arr / 257.0).round().astype(np.uint8)
            else:
                raise DataError(f"an image array must be uint8 (0..255), got {arr.dtype}; convert with (x * 255).astype(np.uint8)")
    else:
        raise DataError(f"cannot use {type(source).__name__} as an image: give a path, a PIL image or an (H, W, 3) uint8 array")
    x = video_to_tensor(arr)
    if size is not None and tuple(x.shape[-2:]) != tuple(size):
        warnings.warn(f"{name}: resized from {tuple(x.shape[-2:])} to {tuple(size)} (height, width)", stacklevel=2)
        x = F.interpolate(x[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]
    return x
