"""The one video object every data source returns (synthetic world and UBC Fashion alike).

IUV follows DensePose's IUV image convention: channel 0 is the part index I (0 =
background, 1..24 = DensePose's 24 parts), channels 1 and 2 are U and V in [0, 1] stored
as round(255 * u), uint8.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..files import atomic_path


class DataError(ValueError):
    """Input data that cannot be used; the message names the file or value and the fix."""


@dataclass
class Video:
    name: str
    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    iuv: np.ndarray  # (T, H, W, 3) uint8: I, 255*U, 255*V
    fps: int = 30
    caption: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        f, p = self.frames, self.iuv
        if f.ndim != 4 or f.shape[-1] != 3 or f.dtype != np.uint8:
            raise DataError(f"video {self.name!r}: frames must be (T, H, W, 3) uint8, got {f.shape} {f.dtype}")
        if p.shape != f.shape or p.dtype != np.uint8:
            raise DataError(
                f"video {self.name!r}: IUV must match the frames, (T, H, W, 3) uint8 = {f.shape}; "
                f"got {p.shape} {p.dtype}"
            )

    def __len__(self) -> int:
        return self.frames.shape[0]

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return self.frames.shape[1], self.frames.shape[2]

    def save(self, path: str | Path) -> None:
        """Write one compressed ``.npz`` (frames, iuv, metadata)."""
        header = json.dumps({"name": self.name, "fps": self.fps, "caption": self.caption, "meta": self.meta})
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:  # a file object: numpy adds no ".npz"
            np.savez_compressed(fh, frames=self.frames, iuv=self.iuv, header=np.array(header))

    @classmethod
    def load(cls, path: str | Path) -> "Video":
        try:
            with np.load(path) as data:
                header = json.loads(str(data["header"]))
                return cls(frames=data["frames"], iuv=data["iuv"], **header)
        except (OSError, KeyError, ValueError) as err:
            raise DataError(f"cannot read video file {path} ({err}); delete it to regenerate") from None
