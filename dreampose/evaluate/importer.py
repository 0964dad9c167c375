"""Other methods' outputs as protocol methods, so MRAA, TPSMM or newer rows use our metric code.

Layout (one folder per test video, one RGB PNG per generated frame)::

    <root>/<video_name>/<frame_index:05d>.png     e.g. results/tpsmm/91-3003CN5S/00073.png

``video_name`` is ``Video.name`` of the test video (for UBC Fashion its file stem) and
``frame_index`` the index of the ground-truth frame the PNG stands for (0-based, in the test
video's own frame numbering). Run the method with the input frame ``input_index`` (frame 0
in this protocol) as its source image and the test video as its driving video, and save at
least the target frames that ``protocol.select_frames`` lists (saving every frame is
simplest). All frames must have one size: ``size`` (h, w) if given, else the test video's.
Frames are compared at ``eval.resolution`` like ours, so a 256 px output of a 512x640 video
is fine as long as the aspect ratio matches (pass ``size=(256, 320)``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..data.video import DataError, Video


class ImportedMethod:
    """``(video, input_index, target_indices) -> (N, H, W, 3) uint8`` read from ``root``."""

    def __init__(self, root: str | Path, size: tuple[int, int] | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"no folder {self.root}: expected <root>/<video_name>/<frame_index:05d>.png")
        self.size = tuple(size) if size is not None else None

    def frame_path(self, video_name: str, index: int) -> Path:
        return self.root / video_name / f"{index:05d}.png"

    def _read(self, path: Path, size: tuple[int, int]) -> np.ndarray:
        if not path.is_file():
            raise DataError(f"missing frame {path}: expected <root>/<video_name>/<frame_index:05d>.png "
                            "for every target frame (save all frames of the driving video)")
        try:
            with Image.open(path) as img:
                arr = np.asarray(img.convert("RGB"))
        except (OSError, UnidentifiedImageError) as err:
            raise DataError(f"cannot read {path} ({err}); re-save it as an RGB PNG") from None
        if arr.shape[:2] != size:
            raise DataError(f"{path} is {arr.shape[0]}x{arr.shape[1]} (h x w), expected {size[0]}x{size[1]}; "
                            "save every frame at one size (pass size=(h, w) for outputs not at the video's size)")
        return arr

    def __call__(self, video: Video, input_index: int, target_indices: list[int]) -> np.ndarray:
        folder = self.root / video.name
        if not folder.is_dir():
            raise DataError(f"no folder {folder} for test video {video.name!r}: expected "
                            f"<root>/<video_name>/<frame_index:05d>.png")
        size = self.size or video.size
        return np.stack([self._read(self.frame_path(video.name, i), size) for i in target_indices])


def import_method(root: str | Path, size: tuple[int, int] | None = None) -> ImportedMethod:
    """A protocol method reading another method's frames from ``root`` (layout: module doc)."""
    return ImportedMethod(root, size)
