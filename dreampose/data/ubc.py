"""UBC Fashion reader for the paper profile (layout and DensePose recipe: docs/ubc_fashion.md).

    <root>/<split>/<video_id>.mp4                        the video (split = train | test)
    <root>/<split>/<video_id>.txt                        optional caption (one line)
    <root>/<split>_densepose/<video_id>/<frame:05d>.png  DensePose IUV image per frame:
                                                         channel 0 = part 0..24, 1 = 255*U, 2 = 255*V

IUV is stored as lossless PNG (never in the lossy mp4). Returns the same `Video` objects as
the synthetic world.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .video import DataError, Video

DEFAULT_CAPTION = "a person in a garment"


def _read_mp4(path: Path) -> np.ndarray:
    import imageio.v2 as imageio

    try:
        with imageio.get_reader(path, format="FFMPEG") as reader:
            frames = [np.asarray(f)[..., :3] for f in reader]
    except Exception as err:  # imageio/ffmpeg raise many types for a broken file
        raise DataError(f"cannot read video {path} ({type(err).__name__}: {err}); re-encode it as H.264 mp4") from None
    if not frames:
        raise DataError(f"video {path} has no frames")
    return np.stack(frames)


def _read_iuv_dir(folder: Path, n_frames: int, video_path: Path) -> np.ndarray:
    if not folder.is_dir():
        raise DataError(f"no DensePose folder {folder} for {video_path}; run the DensePose step of docs/ubc_fashion.md")
    n_files = len(list(folder.glob("*.png")))
    if n_files > n_frames:
        raise DataError(f"{video_path} has {n_frames} frames but {folder} has {n_files} IUV files; "
                        "every frame needs exactly one IUV png")
    out = []
    for i in range(n_frames):
        f = folder / f"{i:05d}.png"
        if not f.is_file():
            raise DataError(f"missing pose file {f} ({video_path} has {n_frames} frames, one IUV png each)")
        arr = np.asarray(Image.open(f))
        if arr.ndim != 3 or arr.shape[-1] != 3 or arr.dtype != np.uint8 or arr[..., 0].max() > 24:
            raise DataError(f"{f} is not a DensePose IUV image (uint8, 3 channels, part index <= 24)")
        out.append(arr)
    return np.stack(out)


def _resize(frames: np.ndarray, iuv: np.ndarray, height: int, width: int, path: Path):
    h, w = frames.shape[1:3]
    if (h, w) == (height, width):
        return frames, iuv
    if abs(h / w - height / width) > 0.01:
        raise DataError(f"{path} is {w}x{h} (aspect {w / h:.3f}) but the profile wants {width}x{height} "
                        f"(aspect {width / height:.3f}); crop the videos or set data.width/data.height to match")
    frames = np.stack([np.asarray(Image.fromarray(f).resize((width, height), Image.BICUBIC)) for f in frames])
    ys = ((np.arange(height) + 0.5) * h / height).astype(int)  # nearest: part indices never blend
    xs = ((np.arange(width) + 0.5) * w / width).astype(int)
    return frames, iuv[:, ys][:, :, xs]


def read_ubc_video(root: str | Path, split: str, video_id: str, width: int, height: int, fps: int = 30) -> Video:
    root = Path(root)
    path = root / split / f"{video_id}.mp4"
    frames = _read_mp4(path)
    iuv = _read_iuv_dir(root / f"{split}_densepose" / video_id, len(frames), path)
    if iuv.shape[1:3] != frames.shape[1:3]:
        raise DataError(f"IUV of {path} is {iuv.shape[2]}x{iuv.shape[1]} but the video is "
                        f"{frames.shape[2]}x{frames.shape[1]}; paste DensePose results into full frames")
    frames, iuv = _resize(frames, iuv, height, width, path)
    caption_file = path.with_suffix(".txt")
    caption = caption_file.read_text().strip() if caption_file.exists() else DEFAULT_CAPTION
    return Video(video_id, frames, iuv, fps, caption, {"split": split, "source": str(path)})


def read_ubc(root, split: str, width: int, height: int, fps: int = 30, max_videos: int = 0) -> list[Video]:
    """All videos of a split (the first ``max_videos`` in name order if > 0)."""
    if split not in ("train", "test"):
        raise DataError(f"split must be 'train' or 'test', got {split!r}")
    folder = Path(root) / split
    if not folder.is_dir():
        raise DataError(f"no UBC Fashion folder {folder}; see docs/ubc_fashion.md for the layout "
                        "(or use the synthetic world: --profile tiny)")
    ids = sorted(p.stem for p in folder.glob("*.mp4"))
    if not ids:
        raise DataError(f"no .mp4 videos in {folder}")
    if max_videos > 0:
        ids = ids[:max_videos]
    return [read_ubc_video(root, split, i, width, height, fps) for i in ids]


def write_ubc_video(root: str | Path, split: str, video: Video) -> Path:
    """Write a `Video` in the layout above (mp4 + IUV pngs + caption); returns the mp4 path."""
    import imageio.v2 as imageio

    root = Path(root)
    (root / split).mkdir(parents=True, exist_ok=True)
    path = root / split / f"{video.name}.mp4"
    tmp = path.with_name(f".{video.name}.tmp.mp4")
    with imageio.get_writer(tmp, format="FFMPEG", fps=video.fps, codec="libx264", quality=9,
                            macro_block_size=1, ffmpeg_log_level="error") as writer:
        for frame in video.frames:
            writer.append_data(frame)
    tmp.replace(path)
    iuv_dir = root / f"{split}_densepose" / video.name
    iuv_dir.mkdir(parents=True, exist_ok=True)
    for i, iuv in enumerate(video.iuv):
        Image.fromarray(iuv).save(iuv_dir / f"{i:05d}.png")
    path.with_suffix(".txt").write_text(video.caption + "\n")
    return path


def iuv_from_densepose_result(labels: np.ndarray, uv: np.ndarray, box_xyxy, frame_hw) -> np.ndarray:
    """Paste one person's DensePose output into a full-frame IUV image (H, W, 3) uint8.

    ``labels`` (h, w) part indices and ``uv`` (2, h, w) in [0, 1] cover the person box
    ``box_xyxy`` = (x0, y0, x1, y1) in frame pixels, as detectron2's DensePose chart result
    gives them; pixels outside the box are background (0).
    """
    height, width = frame_hw
    labels, uv = np.asarray(labels), np.asarray(uv)
    if uv.shape != (2, *labels.shape):
        raise DataError(f"uv must be (2, h, w) matching labels {labels.shape}, got {uv.shape}")
    x0, y0 = int(round(box_xyxy[0])), int(round(box_xyxy[1]))
    out = np.zeros((height, width, 3), np.uint8)
    h, w = labels.shape
    ys, xs = slice(max(y0, 0), min(y0 + h, height)), slice(max(x0, 0), min(x0 + w, width))
    sy, sx = slice(ys.start - y0, ys.stop - y0), slice(xs.start - x0, xs.stop - x0)
    lab = labels[sy, sx].astype(np.uint8)
    fg = lab > 0
    out[ys, xs, 0] = lab
    out[ys, xs, 1] = np.where(fg, np.clip(np.round(uv[0][sy, sx] * 255), 0, 255), 0)
    out[ys, xs, 2] = np.where(fg, np.clip(np.round(uv[1][sy, sx] * 255), 0, 255), 0)
    return out
