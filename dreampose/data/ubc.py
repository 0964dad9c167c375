"""UBC Fashion reader for the paper profile (paper 5.2). Layout and DensePose recipe: docs/ubc_fashion.md.

    <root>/<split>/<video_id>.mp4                        the video (split = train | test)
    <root>/<split>/<video_id>.txt                        optional one-line caption
    <root>/<split>_densepose/<video_id>/<frame:05d>.png  DensePose IUV image per frame, same size as
                                                         the video: channel 0 = part index 0..24,
                                                         channel 1 = round(255 U), channel 2 = round(255 V)

IUV is stored as lossless PNG, never in the lossy mp4. Each video is decoded once, at the
profile's size, into ``.npy`` files under the artifact cache (``<cache>/ubc/``) and returned as
a memory-mapped `Video` (the same object as the synthetic world's; copy-on-write, so the
store is never modified): UBC Fashion at 512x640 is ~300 GB of frames + IUV, more than any RAM.
A changed source file is decoded again.
"""
from __future__ import annotations

import hashlib
import json
from contextlib import ExitStack, closing
from pathlib import Path

import numpy as np
from PIL import Image

from ..cache import CacheError, default_root
from ..files import atomic_path, write_json_atomic
from ..progress import shown
from .fit import FITS, fit_box, fit_frame, fit_iuv
from .pose import check_iuv, read_iuv_png
from .video import DataError, Video

SPLITS = ("train", "test")
DEFAULT_CAPTION = "a person in a garment"  # UBC Fashion has no captions
_STORE_VERSION = 1


def _iuv_files(folder: Path, video_path: Path) -> list[Path]:
    if not folder.is_dir():
        raise DataError(f"no DensePose folder {folder} for {video_path}; run the DensePose step of docs/ubc_fashion.md")
    stems = [p.stem for p in folder.glob("*.png")]
    if not stems:
        raise DataError(f"no IUV png files in {folder} (for {video_path}); "
                        "run the DensePose step of docs/ubc_fashion.md")
    odd = [s for s in stems if not (s.isdigit() and len(s) == 5)]
    if odd:
        raise DataError(f"{folder / odd[0]}.png is not named like a frame (00000.png, 00001.png, ...); "
                        "rename or move it")
    present = {int(s) for s in stems}
    gaps = sorted(set(range(max(present) + 1)) - present)
    if gaps:
        raise DataError(f"missing pose file {folder / f'{gaps[0]:05d}.png'}: {video_path} needs one IUV png per "
                        "frame, numbered 00000.png, 00001.png, ... without gaps")
    return [folder / f"{i:05d}.png" for i in range(len(present))]


def _read_frame_iuv(path: Path, src_hw: tuple[int, int], video_path: Path) -> np.ndarray:
    """The IUV png of one frame of ``video_path``: a DensePose IUV image of the frame's size."""
    arr = check_iuv(read_iuv_png(path, fix="re-run DensePose for this frame")[None], f"pose file {path}")[0]
    if arr.shape[:2] != tuple(src_hw):
        raise DataError(f"pose file {path} is {arr.shape[1]}x{arr.shape[0]} but the video {video_path} is "
                        f"{src_hw[1]}x{src_hw[0]}; paste DensePose boxes into full frames (iuv_from_densepose_result)")
    return arr


def _mp4_frames(path: Path):
    """Stream RGB frames of an mp4; any decoder failure becomes a DataError naming the file."""
    import imageio.v2 as imageio

    try:
        with imageio.get_reader(path, format="FFMPEG") as reader:
            for frame in reader:
                yield np.asarray(frame)[..., :3]
    except Exception as err:  # imageio/ffmpeg raise many types for a broken file
        msg = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise DataError(f"cannot read video {path} ({type(err).__name__}: {msg}); re-encode it as H.264 mp4") from None


def _decode(path: Path, iuv_files: list[Path], size, fit: str, alloc):
    """Stream the video and its IUV pngs into arrays from ``alloc(kind, shape)``, fitted to ``size``."""
    n, folder = len(iuv_files), iuv_files[0].parent
    frames = box = src_hw = None
    count = 0
    with closing(_mp4_frames(path)) as stream:
        for frame in stream:
            if box is None:
                src_hw = frame.shape[:2]
                box = fit_box(src_hw, size, fit, path)
                frames = alloc("frames", (n, *size, 3))
            if count < n:
                frames[count] = fit_frame(frame, box, size)
            count += 1
    if count == 0:
        raise DataError(f"video {path} has no frames; re-encode it as H.264 mp4")
    if count != n:
        hint = f"missing {folder / f'{n:05d}.png'} and on" if count > n else f"extra files from {count:05d}.png on"
        raise DataError(f"{path} has {count} frames but {folder} has {n} IUV files ({hint}); "
                        "every frame needs exactly one IUV png")
    iuv = alloc("iuv", (n, *size, 3))
    for i, f in enumerate(iuv_files):
        iuv[i] = fit_iuv(_read_frame_iuv(f, src_hw, path), box, size)
    return frames, iuv


def _stamp(files: list[Path]) -> str:
    stats = [(f.name, st.st_size, st.st_mtime_ns) for f, st in ((f, f.stat()) for f in files)]
    return hashlib.sha1(json.dumps(stats).encode()).hexdigest()


def _load_store(store: Path, video_id: str, stamp: str):
    try:
        if json.loads((store / f"{video_id}.json").read_text())["stamp"] != stamp:
            return None
        return tuple(np.load(store / f"{video_id}.{k}.npy", mmap_mode="c") for k in ("frames", "iuv"))
    except (OSError, ValueError, KeyError):
        return None


def _build_store(store: Path, video_id: str, stamp: str, decode):
    try:
        store.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CacheError(f"cannot write decoded videos to {store} ({err.strerror}); "
                         "set DREAMPOSE_CACHE to a writable folder") from None
    with ExitStack() as stack:  # each array replaces its .npy once all are decoded, or is removed

        def alloc(kind: str, shape) -> np.ndarray:
            tmp = stack.enter_context(atomic_path(store / f"{video_id}.{kind}.npy"))
            return np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)

        for array in decode(alloc):
            array.flush()
    write_json_atomic(store / f"{video_id}.json", {"stamp": stamp})
    return _load_store(store, video_id, stamp)


def read_ubc_video(root, split: str, video_id: str, width: int, height: int, fps: int = 30,
                   fit: str = "error") -> Video:
    """One video of the layout above, fitted to (height, width), memory-mapped from the decode store."""
    root = Path(root)
    path = root / split / f"{video_id}.mp4"
    if not path.is_file():
        raise DataError(f"no video {path}; see docs/ubc_fashion.md for the layout")
    iuv_files = _iuv_files(root / f"{split}_densepose" / video_id, path)
    key = hashlib.sha1(f"{root.resolve()}|{height}x{width}|{fit}|{_STORE_VERSION}".encode()).hexdigest()[:16]
    store = default_root() / "ubc" / key / split
    stamp = _stamp([path, *iuv_files])
    arrays = _load_store(store, video_id, stamp) or _build_store(
        store, video_id, stamp, lambda alloc: _decode(path, iuv_files, (height, width), fit, alloc))
    caption_file = path.with_suffix(".txt")
    caption = caption_file.read_text().strip() if caption_file.is_file() else ""
    return Video(video_id, *arrays, fps, caption or DEFAULT_CAPTION, {"split": split, "source": str(path)})


def read_ubc(root, split: str, width: int, height: int, fps: int = 30, max_videos: int = 0,
             fit: str = "error", progress: bool = False) -> list[Video]:
    """All videos of a split, in name order (the first ``max_videos`` if > 0)."""
    if split not in SPLITS:
        raise DataError(f"split must be 'train' or 'test', got {split!r}")
    if fit not in FITS:
        raise DataError(f"fit must be one of {FITS}, got {fit!r}")
    folder = Path(root) / split
    if not folder.is_dir():
        raise DataError(f"no UBC Fashion folder {folder}; see docs/ubc_fashion.md for the layout "
                        "(or use the synthetic world: --profile tiny)")
    ids = sorted(p.stem for p in folder.glob("*.mp4") if not p.name.startswith("."))
    if not ids:
        raise DataError(f"no .mp4 videos in {folder}; see docs/ubc_fashion.md for the layout")
    if max_videos > 0:
        ids = ids[:max_videos]
    from tqdm.auto import tqdm

    return [read_ubc_video(root, split, i, width, height, fps, fit)
            for i in tqdm(ids, desc=f"UBC Fashion {split}", disable=not shown(progress))]


def write_ubc_video(root, split: str, video: Video) -> Path:
    """Write a `Video` in the layout above (H.264 mp4, IUV pngs, caption); returns the mp4 path."""
    from ..video_io import write_video

    if split not in SPLITS:
        raise DataError(f"split must be 'train' or 'test', got {split!r}")
    h, w = video.size
    if h % 2 or w % 2:
        raise DataError(f"video {video.name!r} is {w}x{h}, but H.264 mp4 needs an even width and height; "
                        "crop or pad it by one pixel")
    root = Path(root)
    (root / split).mkdir(parents=True, exist_ok=True)
    path = write_video(video.frames, root / split / f"{video.name}.mp4", fps=video.fps)
    iuv_dir = root / f"{split}_densepose" / video.name
    iuv_dir.mkdir(parents=True, exist_ok=True)
    for stale in iuv_dir.glob("*.png"):
        stale.unlink()
    for i, iuv in enumerate(video.iuv):
        Image.fromarray(np.ascontiguousarray(iuv)).save(iuv_dir / f"{i:05d}.png")
    if video.caption:
        path.with_suffix(".txt").write_text(video.caption + "\n")
    return path


def iuv_from_densepose_result(labels, uv, box_xyxy, frame_hw) -> np.ndarray:
    """Paste one person's DensePose chart result into a full-frame IUV image (H, W, 3) uint8.

    ``labels`` (h, w) part indices 0..24 and ``uv`` (2, h, w) in [0, 1] cover the person box
    ``box_xyxy`` = (x0, y0, x1, y1) in frame pixels, as detectron2's DensePose gives them
    (``DensePoseChartResult.labels / .uv`` with ``instances.pred_boxes`` or ``pred_boxes_XYXY``).
    The box corner is truncated to whole pixels as DensePose's own ``make_int_box`` does. Pixels
    outside the box and background pixels (label 0) are 0.
    """
    labels, uv = np.asarray(labels), np.asarray(uv, dtype=np.float64)
    if labels.ndim != 2 or uv.shape != (2, *labels.shape):
        raise DataError(f"labels must be (h, w) and uv (2, h, w) of the same box, got {labels.shape} and {uv.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 24):
        raise DataError(f"labels must be DensePose part indices 0..24, got [{labels.min()}, {labels.max()}]")
    x0, y0, x1, y1 = (float(v) for v in box_xyxy)
    if abs((y1 - y0) - labels.shape[0]) > 1.5 or abs((x1 - x0) - labels.shape[1]) > 1.5:
        raise DataError(f"the result is {labels.shape[1]}x{labels.shape[0]} pixels but the box {box_xyxy} is "
                        f"{x1 - x0:.0f}x{y1 - y0:.0f}; pass the box as (x0, y0, x1, y1) (convert from x, y, w, h)")
    height, width = frame_hw
    ix, iy = int(np.floor(x0)), int(np.floor(y0))
    h, w = labels.shape
    out = np.zeros((height, width, 3), np.uint8)
    ys, xs = slice(max(iy, 0), min(iy + h, height)), slice(max(ix, 0), min(ix + w, width))
    if ys.start >= ys.stop or xs.start >= xs.stop:
        return out
    sy, sx = slice(ys.start - iy, ys.stop - iy), slice(xs.start - ix, xs.stop - ix)
    lab = labels[sy, sx].astype(np.uint8)
    fg = lab > 0
    out[ys, xs, 0] = lab
    out[ys, xs, 1] = np.where(fg, np.clip(np.round(uv[0][sy, sx] * 255), 0, 255), 0)
    out[ys, xs, 2] = np.where(fg, np.clip(np.round(uv[1][sy, sx] * 255), 0, 255), 0)
    return out
